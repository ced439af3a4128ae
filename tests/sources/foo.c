/* foo.c: a good definition of oj_foo and __tvm_ffi_foo (x + 8). */
#include "ojt_ffi.h"

int oj_foo(void) { return 8; }

OJT_UNARY(foo, x, x + oj_foo())
