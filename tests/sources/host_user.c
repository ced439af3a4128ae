/* host_user.c: calls oj_test_host_callback, defined (and exported) by the
** test executable: resolved from the host process. */
#include "ojt_ffi.h"

int oj_test_host_callback(int x);

OJT_UNARY(call_host, x, oj_test_host_callback((int)x))
