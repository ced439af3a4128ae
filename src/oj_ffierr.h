/*
** oj_ffierr.h: failures of the C API as TVM-FFI errors (oj_ffierr.c): the
** error kind (the Python exception class) of a status code and the message.
** The C++ binding (glue/oj_ffi*.cc) throws them; the C parts of the
** binding (oj_ffibin.c, oj_ffiinspect.c) raise them through tvm/ffi/c_api.h.
*/
#ifndef OJ_FFIERR_H
#define OJ_FFIERR_H

#include <stddef.h>
#include <stdint.h>

#include <tvm/ffi/c_api.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The error kind of a failed call of the C API that returned status.  For
** ORCJIT_EIO with a known path (else NULL), the cause is refined with
** stat(2): FileNotFoundError, PermissionError, IsADirectoryError. */
const char *oj_ffierr_kind(int status, const char *path);

/* The core's message for the last failure on this thread, verbatim; if
** there is none, "<ORCJIT_E...> in <what>", written into buf[cap]. */
const char *oj_ffierr_message(int status, const char *what, char *buf, size_t cap);

/* The type key of a TVM-FFI type, for messages ("int", "None", ...). */
const TVMFFIByteArray *oj_ffierr_type_key(int32_t type_index);

/* Raises, as the TVM-FFI error of this thread, the failure of `what` with
** its kind and message above.  Returns -1. */
int oj_ffierr_raise(int status, const char *what, const char *path);

/* Raises an error of the given kind with a formatted message.  Returns -1. */
int oj_ffierr_raisef(const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#ifdef __cplusplus
}
#endif
#endif /* OJ_FFIERR_H */
