/* arch_user.c: __tvm_ffi_arch_user(x) = oj_arch_a(x) + oj_arch_b(x)
** = (x + 11) + (x + 33), both from the archive libojarch.a. */
#include "ojt_ffi.h"

int oj_arch_a(int x);
int oj_arch_b(int x);

OJT_UNARY(arch_user, x, oj_arch_a((int)x) + oj_arch_b((int)x))
