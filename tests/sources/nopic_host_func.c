/* nopic_host_func.c, built with -O2 -fno-pic for the nopic_errors case:
** the code stores the address of the host's sqrt with an absolute 32-bit
** relocation (R_X86_64_32S against sqrt), which cannot hold the address
** of the C library's function: the loader binds sqrt to a jump stub below
** 2 GiB (src/oj_resolve.c), and the call through the pointer works. */
#include <math.h>

#include "ojt_ffi.h"

double (*volatile oj_nopic_fp)(double);

OJT_FFI_FUNC(nopic_host_func) {
  (void)self, (void)args, (void)num_args;
  oj_nopic_fp = sqrt;
  return ojt_ret_int(result, (int64_t)oj_nopic_fp(16.0));
}
