/* unres.c: defines oj_foo and __tvm_ffi_foo but needs two symbols that
** nothing provides (a function and a variable), so adding it must fail
** and leave nothing behind.  Its constructor must never run. */
#include "ojt_ffi.h"

int oj_missing_function_one(int x);
extern int oj_missing_variable_two;

int oj_unres_ctor_ran;
__attribute__((constructor)) static void unres_ctor(void) { oj_unres_ctor_ran = 1; }

int oj_foo(void) { return 7; }

OJT_UNARY(foo, x, oj_missing_function_one((int)x) + oj_missing_variable_two + oj_foo())
