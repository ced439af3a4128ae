/* small.c: the "one small C object" of the load benchmarks.  Written by hand
** against tvm/ffi/c_api.h; the same source is built as small.o (loaded by
** this project and by the upstream package) and as small.so (dlopen,
** tvm_ffi.load_module). */
#include <stdint.h>
#include <tvm/ffi/c_api.h>

#define EXPORT __attribute__((visibility("default")))

EXPORT int __tvm_ffi_add(void *self, const TVMFFIAny *args, int32_t num_args,
                         TVMFFIAny *result) {
  (void)self;
  if (num_args != 2 || args[0].type_index != kTVMFFIInt ||
      args[1].type_index != kTVMFFIInt) {
    TVMFFIErrorSetRaisedFromCStr("TypeError", "add: expected 2 ints");
    return -1;
  }
  result->type_index = kTVMFFIInt;
  result->zero_padding = 0;
  result->v_int64 = args[0].v_int64 + args[1].v_int64;
  return 0;
}

EXPORT int __tvm_ffi_noop(void *self, const TVMFFIAny *args, int32_t num_args,
                          TVMFFIAny *result) {
  (void)self, (void)args, (void)num_args;
  result->type_index = kTVMFFINone;
  result->zero_padding = 0;
  result->v_int64 = 0;
  return 0;
}
