/*
** add.c: the basic test object, written by hand against tvm/ffi/c_api.h.
**   __tvm_ffi_add(a, b)        a + b, checks num_args and type indexes
**   __tvm_ffi_raise_error()    raises ValueError, returns -1
**   __tvm_ffi_get_counter()    reads the global oj_add_counter
**   __tvm_ffi_digits(x)        strlen of snprintf("%lld", x) (libc from host)
**   oj_add_counter             a plain global int (41)
**   oj_plain_mul(a, b)         a plain C function
*/
#include <stdio.h>
#include <string.h>
#include <tvm/ffi/c_api.h>

int oj_add_counter = 41;

int oj_plain_mul(int a, int b) { return a * b; }

__attribute__((visibility("default"))) int __tvm_ffi_add(void *self,
                                                         const TVMFFIAny *args,
                                                         int32_t num_args,
                                                         TVMFFIAny *result) {
  (void)self;
  if (num_args != 2) {
    TVMFFIErrorSetRaisedFromCStr("TypeError", "add: expected 2 arguments");
    return -1;
  }
  if (args[0].type_index != kTVMFFIInt || args[1].type_index != kTVMFFIInt) {
    TVMFFIErrorSetRaisedFromCStr("TypeError", "add: expected int arguments");
    return -1;
  }
  result->type_index = kTVMFFIInt;
  result->zero_padding = 0;
  result->v_int64 = args[0].v_int64 + args[1].v_int64;
  return 0;
}

__attribute__((visibility("default"))) int __tvm_ffi_raise_error(
    void *self, const TVMFFIAny *args, int32_t num_args, TVMFFIAny *result) {
  (void)self, (void)args, (void)num_args, (void)result;
  TVMFFIErrorSetRaisedFromCStr("ValueError", "raised from JIT code: oj-sentinel-4711");
  return -1;
}

__attribute__((visibility("default"))) int __tvm_ffi_get_counter(
    void *self, const TVMFFIAny *args, int32_t num_args, TVMFFIAny *result) {
  (void)self, (void)args, (void)num_args;
  result->type_index = kTVMFFIInt;
  result->zero_padding = 0;
  result->v_int64 = oj_add_counter;
  return 0;
}

__attribute__((visibility("default"))) int __tvm_ffi_digits(
    void *self, const TVMFFIAny *args, int32_t num_args, TVMFFIAny *result) {
  char buf[64];
  (void)self;
  if (num_args != 1 || args[0].type_index != kTVMFFIInt) {
    TVMFFIErrorSetRaisedFromCStr("TypeError", "digits: expected one int");
    return -1;
  }
  snprintf(buf, sizeof buf, "%lld", (long long)args[0].v_int64);
  result->type_index = kTVMFFIInt;
  result->zero_padding = 0;
  result->v_int64 = (int64_t)strlen(buf);
  return 0;
}
