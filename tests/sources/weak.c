/* weak.c, built twice: weak1.o and weak2.o (OJ_WEAK=1/2).  Both define
** the weak function oj_weak_value and weak data oj_weak_data; the first
** definition loaded into a library wins.
**   __tvm_ffi_weak<N>() = oj_weak_value() + oj_weak_data  (11*W of the winner) */
#include "ojt_ffi.h"

__attribute__((weak)) int oj_weak_data = OJ_WEAK * 10;

__attribute__((weak, noinline)) int oj_weak_value(void) { return OJ_WEAK; }

OJT_FFI_FUNC(OJT_CAT(weak, OJ_WEAK)) {
  (void)self, (void)args, (void)num_args;
  return ojt_ret_int(result, oj_weak_value() + oj_weak_data);
}
