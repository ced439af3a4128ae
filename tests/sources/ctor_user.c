/* ctor_user.c: needs oj_ctor_unres_value, which the archive libojctor.a
** (member ctor_unres.o) provides: adding it pulls that member in.
**   __tvm_ffi_ctor_user(x) = oj_ctor_unres_value(x) + 1000 */
#include "ojt_ffi.h"

int oj_ctor_unres_value(int x);

OJT_UNARY(ctor_user, x, oj_ctor_unres_value((int)x) + 1000)
