/* ctor_host.c: a constructor and a destructor that report to the host
** through oj_test_host_note (defined by the test executable): +1 when the
** constructor runs, -1 when the destructor runs.  __tvm_ffi_ctor_host(x) = x */
#include "ojt_ffi.h"

void oj_test_host_note(int v);

__attribute__((constructor)) static void ctor_host_init(void) { oj_test_host_note(1); }
__attribute__((destructor)) static void ctor_host_fini(void) { oj_test_host_note(-1); }

OJT_UNARY(ctor_host, x, x)
