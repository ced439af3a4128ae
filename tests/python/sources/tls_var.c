/* tls_var.c: the object's own thread-local variable.  test_bad_input.py
** builds it with -mtls-dialect=gnu2 (TLS descriptors), which is refused;
** test_tls.py with -ftls-model=initial-exec and -fno-pic
** -ftls-model=local-exec, which load. */
#include "ffi_c.h"

__thread int64_t tls_counter = 5;

FFI_FN(tls_bump) {
  if (check_args("tls_bump", num_args, 1)) return -1;
  tls_counter += args[0].v_int64;
  ret_int(rv, tls_counter);
  return 0;
}
