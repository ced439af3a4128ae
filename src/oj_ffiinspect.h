/*
** oj_ffiinspect.h: orcjit_inspect_* as TVM-FFI plain data, for the global
** function tvm_ffi_orcjit.InspectObject (oj_ffiinspect.c).
*/
#ifndef OJ_FFIINSPECT_H
#define OJ_FFIINSPECT_H

#include <tvm/ffi/c_api.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Describes input (a path: str; or the content: bytes, which name, or
** "<memory>" when it is empty, names in messages) without linking it:
**   {"name": str, "archive": bool, "tar": bool, "objects": [
**     {"name": str, "status": "" | "ORCJIT_E...", "error": str,
**      "symbols": [{"name": str, "undefined": bool, "weak": bool,
**                   "hidden": bool, "function": bool, "tls": bool,
**                   "ffi_function": bool, "runtime": bool, "host": bool}],
**      "initfini": [{"kind": ".init_array" | ".fini_array" | ".ctors" |
**                    ".dtors", "priority": int, "count": int}]}]}
** resolve: ORCJIT_INSPECT_RESOLVE.  *out receives the Map (owned).
** Returns 0, or -1 with the TVM-FFI error raised. */
int oj_ffiinspect(const TVMFFIAny *input, const char *name, int resolve, TVMFFIAny *out);

#ifdef __cplusplus
}
#endif
#endif /* OJ_FFIINSPECT_H */
