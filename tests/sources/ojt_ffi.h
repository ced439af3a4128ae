/*
** ojt_ffi.h: small helpers for the hand-written C test objects in this
** directory.  Everything here is static inline, so each object that
** includes it carries its own private copy (local symbols, no clashes).
** The exported functions follow the TVM-FFI safe-call ABI of
** tvm/ffi/c_api.h: int f(void*, const TVMFFIAny*, int32_t, TVMFFIAny*).
*/
#ifndef OJT_FFI_H
#define OJT_FFI_H

#include <stdint.h>
#include <tvm/ffi/c_api.h>

#define OJT_CAT_(a, b) a##b
#define OJT_CAT(a, b) OJT_CAT_(a, b)

/* Declares the safe-call function exported as __tvm_ffi_<name>. */
#define OJT_FFI_FUNC(name)                                                   \
  __attribute__((visibility("default"))) int OJT_CAT(__tvm_ffi_, name)(      \
      void *self, const TVMFFIAny *args, int32_t num_args, TVMFFIAny *result)

/* Reads args[i] as an int; raises TypeError and returns -1 if it is not. */
static inline int ojt_arg_int(const TVMFFIAny *args, int32_t num_args,
                              int32_t i, int64_t *out) {
  if (i >= num_args) {
    TVMFFIErrorSetRaisedFromCStr("TypeError", "ojt: missing argument");
    return -1;
  }
  if (args[i].type_index != kTVMFFIInt) {
    TVMFFIErrorSetRaisedFromCStr("TypeError", "ojt: expected an int argument");
    return -1;
  }
  *out = args[i].v_int64;
  return 0;
}

static inline int ojt_ret_int(TVMFFIAny *result, int64_t v) {
  result->type_index = kTVMFFIInt;
  result->zero_padding = 0;
  result->v_int64 = v;
  return 0;
}

/* Body helper for a one-int-argument function returning EXPR(x). */
#define OJT_UNARY(name, x, expr)                                             \
  OJT_FFI_FUNC(name) {                                                       \
    int64_t x;                                                               \
    if (ojt_arg_int(args, num_args, 0, &x) != 0) return -1;                  \
    return ojt_ret_int(result, (expr));                                      \
  }

#endif /* OJT_FFI_H */
