/* ffi_c.h: helpers for writing TVM-FFI safe-call functions by hand in C. */
#ifndef ORCJIT_TEST_FFI_C_H
#define ORCJIT_TEST_FFI_C_H
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <tvm/ffi/c_api.h>

#define EXPORT __attribute__((visibility("default")))
#define FFI_FN(name) \
  EXPORT int __tvm_ffi_##name(void* self, const TVMFFIAny* args, int32_t num_args, TVMFFIAny* rv)

static inline int check_args(const char* fn, int32_t got, int32_t want) {
  if (got != want) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s expects %d arguments, got %d", fn, (int)want, (int)got);
    TVMFFIErrorSetRaisedFromCStr("TypeError", msg);
    return -1;
  }
  return 0;
}
static inline void ret_int(TVMFFIAny* rv, int64_t v) {
  rv->type_index = kTVMFFIInt; rv->zero_padding = 0; rv->v_int64 = v;
}
static inline void ret_float(TVMFFIAny* rv, double v) {
  rv->type_index = kTVMFFIFloat; rv->zero_padding = 0; rv->v_float64 = v;
}
static inline void ret_bool(TVMFFIAny* rv, int v) {
  rv->type_index = kTVMFFIBool; rv->zero_padding = 0; rv->v_int64 = v != 0;
}
static inline void ret_none(TVMFFIAny* rv) {
  rv->type_index = kTVMFFINone; rv->zero_padding = 0; rv->v_int64 = 0;
}
static inline double as_float(const TVMFFIAny* a) {
  return a->type_index == kTVMFFIFloat ? a->v_float64 : (double)a->v_int64;
}
#endif
