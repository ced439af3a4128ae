/* tls_model.c: a thread-local compiled with a TLS model that code loaded
** at run time cannot use (initial-exec or local-exec, chosen by the
** build's -ftls-model): the load must be refused. */
#include "ojt_ffi.h"

__thread int oj_tls_static_model = 3;

OJT_FFI_FUNC(tls_model_read) {
  (void)self, (void)args, (void)num_args;
  return ojt_ret_int(result, oj_tls_static_model);
}
