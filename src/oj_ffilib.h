/*
** oj_ffilib.h: what the ffi.Module of kind "orcjit" does with its library
** and its session that C can do (oj_ffilib.c): make a session, add TVM-FFI
** values (str: a path, bytes: the content), find a function; each failure
** raised as a TVM-FFI error.
** Used by glue/oj_ffi_module.cc; oj_ffilib_content by oj_ffiinspect.c too.
*/
#ifndef OJ_FFILIB_H
#define OJ_FFILIB_H

#include <stddef.h>
#include <stdint.h>

#include <tvm/ffi/c_api.h>

#include "oj_ffibin.h"
#include "tvm_ffi_orcjit/orcjit.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 1 if v is a str (a path), 2 if bytes (a content), else 0; *out then
** holds its bytes (not NUL-terminated). */
int oj_ffilib_content(const TVMFFIAny *v, TVMFFIByteArray *out);

/* A new session (tvm_ffi_orcjit.ExecutionSession): orc_rt is None, or the
** path of the ORC runtime as str or bytes (empty: none); slab_size < 0
** means the default, as 0 (upstream: it disables its slab allocator);
** flags: ORCJIT_SESSION_*.  Returns 0, or -1 with the error raised. */
int oj_ffilib_session(const TVMFFIAny *orc_rt, int64_t slab_size, unsigned flags,
                      orcjit_session **out);

/* Adds items[0 .. n) to lib: one with orcjit_library_add_file or
** _add_memory (deferred: orcjit_library_add_deferred), several as one link
** (orcjit_library_add_many).  Bytes are named "<memory>", or
** "<memory #i>" among several.  A failed add (other than ORCJIT_EBUSY:
** another thread's add, not ours) forgets the waiting import trees of
** bins; a successful one expands them (oj_ffibin_expand with self, the
** module; *other_root as there).  Returns 0, or -1 with the error raised. */
int oj_ffilib_add(orcjit_library *lib, const TVMFFIAny *items, size_t n, int deferred,
                  oj_ffibin_set *bins, TVMFFIObjectHandle self, TVMFFIObjectHandle *other_root);

/* The address of the function exported as __tvm_ffi_<name> (linking what
** it needs).  Returns 0, or -1 with the error raised: an AttributeError
** naming the function and the library when there is none. */
int oj_ffilib_get_function(orcjit_library *lib, const char *name, void **fn);

#ifdef __cplusplus
}
#endif
#endif /* OJ_FFILIB_H */
