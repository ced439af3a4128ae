/* caller.c: a "caller library" object whose undefined symbols come from a
** base library through the link order.
**   __tvm_ffi_call_base(x) = oj_base_value(x) + oj_base_data */
#include "ojt_ffi.h"

int oj_base_value(int x);
extern int oj_base_data;

OJT_UNARY(call_base, x, oj_base_value((int)x) + oj_base_data)
