/*
** oj_error.c: the per-thread last error: a status code and a message.
** Owns nothing else.  Messages longer than the buffer are truncated with
** "..." (never an allocation on the error path, so ENOMEM can be reported).
*/
#include "oj_error.h"

#include <stdio.h>
#include <string.h>

#include "tvm_ffi_orcjit/orcjit.h"

#define OJ_ERROR_MAX 4096

static _Thread_local int oj_err_status;
static _Thread_local char oj_err_msg[OJ_ERROR_MAX];

/* Messages quote names from the input, ours printable already but LLVM's
** (section and symbol names in its link errors) raw; Python decodes the
** message as UTF-8.  So every message is made valid UTF-8 without control
** characters: a byte that does not belong to a well-formed sequence, or is
** a control character other than a newline or a tab, becomes '?'.  (A cut
** at the buffer's end may also have split a sequence.) */
static void oj_error_clean(char *s) {
  unsigned char *p = (unsigned char *)s;
  while (*p) {
    unsigned c = *p, n, i, cp;
    if (c < 0x80) {
      if (c < 0x20 && c != '\n' && c != '\t') *p = '?';
      if (c == 0x7f) *p = '?';
      p++;
      continue;
    }
    n = c >= 0xf0 && c <= 0xf4 ? 3 : c >= 0xe0 ? (c < 0xf0 ? 2 : 0) : c >= 0xc2 ? 1 : 0;
    cp = n == 3 ? c & 0x07 : n == 2 ? c & 0x0f : c & 0x1f;
    for (i = 1; i <= n; i++) {
      if ((p[i] & 0xc0) != 0x80) break;
      cp = cp << 6 | (p[i] & 0x3f);
    }
    /* complete, shortest form, not a surrogate, at most U+10FFFF */
    if (n == 0 || i <= n || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) {
      *p++ = '?';
      continue;
    }
    p += n + 1;
  }
}

static void oj_error_ellipsis(int n) {
  if (n >= OJ_ERROR_MAX) memcpy(oj_err_msg + OJ_ERROR_MAX - 4, "...", 4);
  oj_error_clean(oj_err_msg);
}

int oj_error_setv(int status, const char *fmt, va_list ap) {
  oj_err_status = status;
  oj_error_ellipsis(vsnprintf(oj_err_msg, sizeof oj_err_msg, fmt, ap));
  return status;
}

int oj_error_set(int status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  oj_error_setv(status, fmt, ap);
  va_end(ap);
  return status;
}

void oj_error_prefix(const char *fmt, ...) {
  char prefix[512], old[OJ_ERROR_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  memcpy(old, oj_err_msg, sizeof old);
  oj_error_ellipsis(snprintf(oj_err_msg, sizeof oj_err_msg, "%s: %s", prefix, old));
}

void oj_error_clear(void) {
  oj_err_status = ORCJIT_OK;
  oj_err_msg[0] = '\0';
}

int oj_error_status(void) { return oj_err_status; }
const char *oj_error_message(void) { return oj_err_msg; }

/* ---- public API ---- */

const char *orcjit_last_error(void) { return oj_err_msg; }
int orcjit_last_status(void) { return oj_err_status; }

int orcjit_set_error(int status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  oj_error_setv(status, fmt, ap);
  va_end(ap);
  return status;
}

const char *orcjit_status_name(int status) {
  static const char *const names[] = {
      "ORCJIT_OK",         "ORCJIT_EINVAL",     "ORCJIT_EIO",
      "ORCJIT_EFORMAT",    "ORCJIT_EDUPLICATE", "ORCJIT_EUNRESOLVED",
      "ORCJIT_ENOTFOUND",  "ORCJIT_ELINK",      "ORCJIT_EBUSY",
      "ORCJIT_ENOMEM",     "ORCJIT_EINIT",      "ORCJIT_EUNSUPPORTED"};
  if (status < 0 || (size_t)status >= sizeof names / sizeof names[0])
    return "ORCJIT_E?";
  return names[status];
}
