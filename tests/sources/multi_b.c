/* multi_b.c: uses a function, a global and a hidden function of multi_a.c.
**   __tvm_ffi_multi_b(x) = oj_multi_helper(x) + 100*oj_multi_scale
**                          + oj_multi_hidden(x) + local_tweak(0) (= 0)
**   oj_multi_b_value(x) = x - 5 (used by multi_c.c) */
#include "ojt_ffi.h"

extern int oj_multi_scale;
int oj_multi_helper(int x);
__attribute__((visibility("hidden"))) int oj_multi_hidden(int x);

__attribute__((noinline)) static int local_tweak(int x) { return x * 3; }

int oj_multi_b_value(int x) { return x - 5; }

OJT_UNARY(multi_b, x,
          oj_multi_helper((int)x) + 100 * oj_multi_scale + oj_multi_hidden((int)x) +
              local_tweak(0))
