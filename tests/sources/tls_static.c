/* tls_static.c: thread-locals as code built for a position-independent
** executable reaches them (-fpie, the default of Debian's compilers):
** its own with local-exec code (R_X86_64_TPOFF32), in .tdata and .tbss,
** and the host's oj_test_host_tls (defined by the test executable) with
** initial-exec code (R_X86_64_GOTTPOFF).  -DOJ_TS_BIG adds a 1 MiB one,
** more static TLS than the C library has to spare. */
#include <stdint.h>

#include "ojt_ffi.h"

__attribute__((visibility("default"))) __thread int ts_init = 7;
static __thread long ts_zero;
static __thread int ts_table[8] = {1, 2, 3, 4};
extern __thread int oj_test_host_tls;
#ifdef OJ_TS_BIG
__thread char ts_big[1 << 20];
#endif

/* ts_state() = ts_init * 1000000 + ts_zero * 1000 + sum(ts_table):
** 7000010 while this thread's copies hold their initial values. */
static int64_t ts_state_now(void) {
  int64_t sum = 0;
  for (int i = 0; i < 8; i++) sum += ts_table[i];
#ifdef OJ_TS_BIG
  sum += ts_big[sum & 0xfffff];
#endif
  return (int64_t)ts_init * 1000000 + ts_zero * 1000 + sum;
}

OJT_FFI_FUNC(ts_state) {
  (void)self, (void)args, (void)num_args;
  return ojt_ret_int(result, ts_state_now());
}

/* ts_write(): ts_init += 1, ts_zero += 2, ts_table[7] += 3; the new state. */
OJT_FFI_FUNC(ts_write) {
  (void)self, (void)args, (void)num_args;
  ts_init += 1;
  ts_zero += 2;
  ts_table[7] += 3;
  return ojt_ret_int(result, ts_state_now());
}

/* ts_addr() = the address of this thread's ts_init. */
OJT_FFI_FUNC(ts_addr) {
  (void)self, (void)args, (void)num_args;
  return ojt_ret_int(result, (int64_t)(intptr_t)&ts_init);
}

/* ts_host_bump() = ++oj_test_host_tls (this thread's). */
OJT_FFI_FUNC(ts_host_bump) {
  (void)self, (void)args, (void)num_args;
  return ojt_ret_int(result, ++oj_test_host_tls);
}
