/*
** oj_archive.c: splits a static archive (the `ar` format: GNU and BSD
** member names) into members.  It does not decide which members to link:
** oj_members.c does that, as a static linker would.
*/
#include "oj_archive.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oj_error.h"
#include "tvm_ffi_orcjit/orcjit.h"

#define OJ_AR_MAGIC "!<arch>\n"
#define OJ_AR_HDR 60

static int oj_ar_num(const unsigned char *p, size_t n, size_t *out) {
  size_t v = 0;
  size_t i = 0;
  while (i < n && p[i] == ' ') i++;
  if (i == n || p[i] < '0' || p[i] > '9') return -1;
  for (; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
    if (v > (SIZE_MAX - 9) / 10) return -1;
    v = v * 10 + (size_t)(p[i] - '0');
  }
  for (; i < n; i++)
    if (p[i] != ' ') return -1;
  *out = v;
  return 0;
}

void oj_archive_free(oj_ar_member *m, size_t n) {
  for (size_t i = 0; i < n; i++) free(m[i].name);
  free(m);
}

int oj_archive_parse(const void *data, size_t size, const char *what,
                     oj_ar_member **out, size_t *nout) {
  const unsigned char *p = data;
  const unsigned char *names = NULL; /* GNU long-name table */
  size_t names_size = 0, off = sizeof OJ_AR_MAGIC - 1, n = 0, cap = 0;
  oj_ar_member *m = NULL;
  *out = NULL;
  *nout = 0;
  if (size < off || memcmp(p, OJ_AR_MAGIC, off) != 0)
    return oj_error_set(ORCJIT_EFORMAT, "%s: not an archive", what);
  while (off < size) {
    if (size - off < OJ_AR_HDR) goto corrupt;
    const unsigned char *h = p + off;
    size_t msize;
    if (h[58] != '`' || h[59] != '\n' || oj_ar_num(h + 48, 10, &msize) != 0) goto corrupt;
    off += OJ_AR_HDR;
    if (msize > size - off) goto corrupt;
    const unsigned char *body = p + off;
    char name[256];
    size_t skip = 0;
    if (h[0] == '/' && (h[1] == ' ' || memcmp(h, "/SYM64/", 7) == 0)) {
      name[0] = '\0'; /* symbol index */
    } else if (h[0] == '/' && h[1] == '/') {
      names = body, names_size = msize, name[0] = '\0';
    } else if (h[0] == '/') {
      size_t at;
      if (oj_ar_num(h + 1, 15, &at) != 0 || !names || at >= names_size) goto corrupt;
      size_t len = 0;
      while (at + len < names_size && names[at + len] != '/' && names[at + len] != '\n') len++;
      snprintf(name, sizeof name, "%.*s", (int)(len < 255 ? len : 255), names + at);
    } else if (memcmp(h, "#1/", 3) == 0) {
      if (oj_ar_num(h + 3, 13, &skip) != 0 || skip > msize) goto corrupt;
      snprintf(name, sizeof name, "%.*s", (int)(skip < 255 ? skip : 255), body);
      name[strnlen(name, skip < 255 ? skip : 255)] = '\0';
    } else {
      size_t len = 0;
      while (len < 16 && h[len] != '/' && h[len] != ' ') len++;
      snprintf(name, sizeof name, "%.*s", (int)len, h);
    }
    if (name[0] && strncmp(name, "__.SYMDEF", 9) != 0) {
      if (n == cap) {
        size_t ncap = cap ? cap * 2 : 16;
        oj_ar_member *nm = realloc(m, ncap * sizeof *nm);
        if (!nm) goto nomem;
        m = nm, cap = ncap;
      }
      size_t len = strlen(what) + strlen(name) + 3;
      m[n].name = malloc(len);
      if (!m[n].name) goto nomem;
      snprintf(m[n].name, len, "%s(%s)", what, name);
      m[n].data = body + skip;
      m[n].size = msize - skip;
      n++;
    }
    off += msize + (msize & 1);
  }
  *out = m;
  *nout = n;
  return ORCJIT_OK;
corrupt:
  oj_archive_free(m, n);
  return oj_error_set(ORCJIT_EFORMAT, "%s: truncated or corrupt archive (at byte %zu)", what,
                      off);
nomem:
  oj_archive_free(m, n);
  return oj_error_set(ORCJIT_ENOMEM, "%s: out of memory", what);
}
