/* useval.c: uses oj_wval and oj_wdata, defined elsewhere.
**   __tvm_ffi_getval() = oj_wval() + oj_wdata: 22 with strongdef.o,
**   11 with only weakdef.o */
#include "ojt_ffi.h"

int oj_wval(void);
extern int oj_wdata;

OJT_FFI_FUNC(getval) {
  (void)self, (void)args, (void)num_args;
  return ojt_ret_int(result, oj_wval() + oj_wdata);
}
