/* multi_a.c: first of three objects linked into one library.
**   oj_multi_scale (3), oj_multi_helper(x) = x*scale + 1,
**   hidden oj_multi_hidden(x) = x + 1000 (used by multi_b.c),
**   __tvm_ffi_multi_a(x) = oj_multi_helper(x) + local_tweak(0) (= 0). */
#include "ojt_ffi.h"

int oj_multi_scale = 3;

/* Same name as a static function in multi_b.c: local symbols never clash. */
__attribute__((noinline)) static int local_tweak(int x) { return x * 2; }

int oj_multi_helper(int x) { return x * oj_multi_scale + 1; }

__attribute__((visibility("hidden"))) int oj_multi_hidden(int x) { return x + 1000; }

OJT_UNARY(multi_a, x, oj_multi_helper((int)x) + local_tweak(0))
