/* multi_c.c: depends on multi_a.c and multi_b.c.
**   __tvm_ffi_multi_c(x) = 2 * oj_multi_b_value(x) + oj_multi_helper(1) */
#include "ojt_ffi.h"

int oj_multi_helper(int x);
int oj_multi_b_value(int x);

OJT_UNARY(multi_c, x, 2 * oj_multi_b_value((int)x) + oj_multi_helper(1))
