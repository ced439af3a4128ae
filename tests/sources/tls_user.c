/* tls_user.c: reads a thread-local of another library (tls.c's
** oj_tls_exported, through the link order) and one of the host process
** (oj_test_host_tls, defined by the test executable). */
#include "ojt_ffi.h"

extern __thread int oj_tls_exported;
extern __thread int oj_test_host_tls;

/* tls_user_exported() = oj_tls_exported (this thread's). */
OJT_FFI_FUNC(tls_user_exported) {
  (void)self, (void)args, (void)num_args;
  return ojt_ret_int(result, oj_tls_exported);
}

/* tls_host_bump() = ++oj_test_host_tls (this thread's). */
OJT_FFI_FUNC(tls_host_bump) {
  (void)self, (void)args, (void)num_args;
  return ojt_ret_int(result, ++oj_test_host_tls);
}
