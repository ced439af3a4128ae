/* weakdef.c: a weak definition of oj_wval (returns 1) and of the data
** oj_wdata (10).  With strongdef.o in the same library the strong ones win,
** as in a static link; alone, these are the definitions.
**   __tvm_ffi_weakdef_own() = oj_wval() + oj_wdata, seen from this object */
#include "ojt_ffi.h"

__attribute__((weak)) int oj_wdata = 10;

__attribute__((weak, noinline)) int oj_wval(void) { return 1; }

OJT_FFI_FUNC(weakdef_own) {
  (void)self, (void)args, (void)num_args;
  return ojt_ret_int(result, oj_wval() + oj_wdata);
}
