/* tls_model.c: a thread-local compiled with the TLS model the build
** chooses: -ftls-model=initial-exec or -fno-pic -ftls-model=local-exec
** (both load: static TLS), -mtls-dialect=gnu2 (TLS descriptors: refused).
** With -fpie and -DOJ_TLS_ADDR it also has a thread-local initialised with
** an address (a relocation in .tdata), with -DOJ_TLS_WEAK a weak one:
** both refused in static TLS. */
#include "ojt_ffi.h"

__thread int oj_tls_static_model = 3;
#if defined(OJ_TLS_ADDR)
__thread const char *oj_tls_addr = "abc";
#elif defined(OJ_TLS_WEAK)
__attribute__((weak)) __thread int oj_tls_weak = 4;
#endif

OJT_FFI_FUNC(tls_model_read) {
  (void)self, (void)args, (void)num_args;
#if defined(OJ_TLS_ADDR)
  return ojt_ret_int(result, oj_tls_static_model + oj_tls_addr[0]);
#elif defined(OJ_TLS_WEAK)
  return ojt_ret_int(result, oj_tls_static_model + oj_tls_weak);
#else
  return ojt_ret_int(result, oj_tls_static_model);
#endif
}
