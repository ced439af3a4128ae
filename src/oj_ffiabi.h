/*
** oj_ffiabi.h: TVM-FFI Functions over JIT code, and the care that objects
** and errors made by JIT code need (oj_ffiabi.c).  Used by the C API
** (orcjit_library_get_ffi_function) and by the Python/TVM-FFI glue
** (glue/oj_ffi_module.cc) alike.
*/
#ifndef OJ_FFIABI_H
#define OJ_FFIABI_H

#include <stdint.h>

#include <tvm/ffi/c_api.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What keeps JIT code loaded: a Function over it and every object its code
** returned hold one reference (retain/release on ctx). */
typedef struct oj_ffiabi_owner {
  void *ctx;
  void (*retain)(void *ctx);
  void (*release)(void *ctx);
} oj_ffiabi_owner;

/* A Function that calls fn (TVM-FFI safe-call ABI, self NULL) and holds a
** reference to owner.  Objects fn returns whose deleter is JIT code (and
** their container elements) are adopted: each holds owner until it is
** freed.  An error fn raises from JIT code is replaced by an equal one made
** by libtvm_ffi, so it may outlive the code.  Returns 0, or -1 with the
** TVM-FFI error raised. */
int oj_ffiabi_function(void *fn, const oj_ffiabi_owner *owner, TVMFFIObjectHandle *out);

/* One call of fn with the same care, without making a Function. */
int oj_ffiabi_call(void *fn, const oj_ffiabi_owner *owner, const TVMFFIAny *args,
                   int32_t num_args, TVMFFIAny *rv);

/* Container elements (Array, List, Map, Dict) need TVM-FFI's C++ types:
** the glue installs a visitor that calls push(stack, child) for each
** object element of obj.  Without one, elements are not adopted. */
typedef void (*oj_ffiabi_push)(void *stack, TVMFFIObject *child);
void oj_ffiabi_set_children(void (*children)(const TVMFFIObject *obj, oj_ffiabi_push push,
                                             void *stack));

#ifdef __cplusplus
}
#endif
#endif /* OJ_FFIABI_H */
