/* add.c: a TVM-FFI function written by hand in C.
**
** The TVM-FFI safe-call ABI: every exported function is
**   int __tvm_ffi_<name>(void* self, const TVMFFIAny* args, int32_t num_args,
**                        TVMFFIAny* result)
** returning 0 on success, or -1 after TVMFFIErrorSetRaisedFromCStr.
*/
#include <stdint.h>
#include <tvm/ffi/c_api.h>

__attribute__((visibility("default")))
int __tvm_ffi_add(void* self, const TVMFFIAny* args, int32_t num_args, TVMFFIAny* result) {
  if (num_args != 2 || args[0].type_index != kTVMFFIInt || args[1].type_index != kTVMFFIInt) {
    TVMFFIErrorSetRaisedFromCStr("TypeError", "add(a: int, b: int) takes two integers");
    return -1;
  }
  result->type_index = kTVMFFIInt;
  result->zero_padding = 0;
  result->v_int64 = args[0].v_int64 + args[1].v_int64;
  return 0;
}
