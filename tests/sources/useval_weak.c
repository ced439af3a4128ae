/* useval_weak.c: the user object with its own weak oj_wval (returns 3)
** and oj_wdata (30), as a header's fallback would give it.
**   __tvm_ffi_getval() = oj_wval() + oj_wdata: 22 when strongdef.o is in
**   the library, else the first weak definition's (33 here, 11 weakdef.o's) */
#include "ojt_ffi.h"

__attribute__((weak)) int oj_wdata = 30;

__attribute__((weak, noinline)) int oj_wval(void) { return 3; }

OJT_FFI_FUNC(getval) {
  (void)self, (void)args, (void)num_args;
  return ojt_ret_int(result, oj_wval() + oj_wdata);
}
