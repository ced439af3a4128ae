/* tls.c: thread-local data of a C object.  Compiled -fPIC, the accesses
** use the general-dynamic model (oj_tls_exported, and everything at -O0
** with gcc) and the local-dynamic model (the static ones, at -O2), in
** .tdata (initialised) and .tbss (zero). */
#include <stdint.h>

#include "ojt_ffi.h"

__attribute__((visibility("default"))) __thread int oj_tls_exported = 5;
static __thread int tls_zero;
static __thread long tls_table[64] = {1, 2, 3};

/* tls_bump() = ++tls_zero (this thread's). */
OJT_FFI_FUNC(tls_bump) {
  (void)self, (void)args, (void)num_args;
  return ojt_ret_int(result, ++tls_zero);
}

/* tls_table_sum() = the sum of this thread's table, then table[0]++. */
OJT_FFI_FUNC(tls_table_sum) {
  (void)self, (void)args, (void)num_args;
  long s = 0;
  for (int i = 0; i < 64; i++) s += tls_table[i];
  tls_table[0]++;
  return ojt_ret_int(result, s);
}

/* tls_exported() = oj_tls_exported. */
OJT_FFI_FUNC(tls_exported) {
  (void)self, (void)args, (void)num_args;
  return ojt_ret_int(result, oj_tls_exported);
}

/* tls_zero_addr() = the address of this thread's tls_zero. */
OJT_FFI_FUNC(tls_zero_addr) {
  (void)self, (void)args, (void)num_args;
  return ojt_ret_int(result, (int64_t)(intptr_t)&tls_zero);
}
