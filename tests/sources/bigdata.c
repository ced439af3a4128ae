/*
** bigdata.c: a large object for the address-space limit tests
** (test_nomem.c, case address_limit): OJ_BIG_MB MiB of initialised
** read-only data, so the object file itself is that large.
**   __tvm_ffi_big_get(i)   big[i] (big[0..2] = 1, 2, 3; the rest 0)
*/
#include "ojt_ffi.h"

#ifndef OJ_BIG_MB
#define OJ_BIG_MB 32
#endif

const char oj_big[(size_t)OJ_BIG_MB << 20] = {1, 2, 3};

OJT_FFI_FUNC(big_get) {
  int64_t i;
  if (ojt_arg_int(args, num_args, 0, &i)) return -1;
  return ojt_ret_int(result, i >= 0 && i < (int64_t)sizeof oj_big ? oj_big[i] : -1);
}
