/* ctor_unres.c: a constructor and a destructor that report to the host
** (oj_test_host_note: +100, -100), and a symbol, oj_ctor_need, that only
** ctor_need.o provides.  Added without it, the add fails and the
** constructor must not run; added after it, it runs exactly once.
**   oj_ctor_unres_value(x)    = oj_ctor_need(x) + 1
**   __tvm_ffi_ctor_unres(x)   = oj_ctor_unres_value(x) */
#include "ojt_ffi.h"

void oj_test_host_note(int v);
int oj_ctor_need(int x);

__attribute__((constructor)) static void ctor_unres_init(void) { oj_test_host_note(100); }
__attribute__((destructor)) static void ctor_unres_fini(void) { oj_test_host_note(-100); }

int oj_ctor_unres_value(int x) { return oj_ctor_need(x) + 1; }

OJT_UNARY(ctor_unres, x, oj_ctor_unres_value((int)x))
