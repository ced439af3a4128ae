/*
** oj_ffierr.c: failures of the C API as TVM-FFI errors: which exception
** class a status code is (with stat(2) to tell a missing file from an
** unreadable one or a directory), the message, and raising it through
** tvm/ffi/c_api.h for the parts of the binding written in C.  Throwing
** them as C++ exceptions is the glue's (glue/oj_ffi_int.h: ThrowStatus).
*/
#include "oj_ffierr.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <tvm/ffi/c_api.h>

#include "tvm_ffi_orcjit/orcjit.h"

/* What an ORCJIT_EIO on path was, from stat(2) (and open(2)), if known. */
static const char *oj_ffierr_io_kind(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return "FileNotFoundError";
    if (errno == EACCES) return "PermissionError";
  } else if (S_ISDIR(st.st_mode)) {
    return "IsADirectoryError";
  } else if (S_ISREG(st.st_mode)) {
    /* stat needs no read permission; open tells (with this thread's
    ** file-system identity, as the failed open had). */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0 && errno == EACCES) return "PermissionError";
    if (fd >= 0) close(fd);
  }
  return NULL;
}

const char *oj_ffierr_kind(int status, const char *path) {
  switch (status) {
    case ORCJIT_EINVAL:
    case ORCJIT_EFORMAT:
      return "ValueError";
    case ORCJIT_EIO: {
      const char *kind = path ? oj_ffierr_io_kind(path) : NULL;
      return kind ? kind : "OSError";
    }
    case ORCJIT_ENOTFOUND:
      return "KeyError";
    case ORCJIT_ENOMEM:
      return "MemoryError";
    case ORCJIT_EUNSUPPORTED:
      return "NotImplementedError";
    default: /* EDUPLICATE, EUNRESOLVED, ELINK, EBUSY, EINIT */
      return "RuntimeError";
  }
}

const char *oj_ffierr_message(int status, const char *what, char *buf, size_t cap) {
  const char *msg = orcjit_last_error();
  if (msg && msg[0]) return msg;
  const char *name = orcjit_status_name(status);
  snprintf(buf, cap, "%s in %s", name ? name : "orcjit error", what);
  return buf;
}

const TVMFFIByteArray *oj_ffierr_type_key(int32_t type_index) {
  return &TVMFFIGetTypeInfo(type_index)->type_key;
}

int oj_ffierr_raise(int status, const char *what, const char *path) {
  char buf[256];
  const char *kind = oj_ffierr_kind(status, path);
  TVMFFIErrorSetRaisedFromCStr(kind, oj_ffierr_message(status, what, buf, sizeof buf));
  return -1;
}

int oj_ffierr_raisef(const char *kind, const char *fmt, ...) {
  char small[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  char *msg = small;
  if (n >= (int)sizeof small && (msg = malloc((size_t)n + 1)) != NULL) {
    va_start(ap, fmt);
    vsnprintf(msg, (size_t)n + 1, fmt, ap);
    va_end(ap);
  }
  TVMFFIErrorSetRaisedFromCStr(kind, msg ? msg : small);
  if (msg && msg != small) free(msg);
  return -1;
}
