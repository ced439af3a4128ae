/* nopic_stdout.c, built with -O2 -fno-pic for the nopic_errors case: reads
** the host's stdout PC-relatively and has no absolute relocation, so it is
** placed near the C library like -fPIC code and loads.
**   nopic_stdout() = fileno(stdout) */
#define _POSIX_C_SOURCE 200809L /* fileno */
#include <stdio.h>

#include "ojt_ffi.h"

OJT_FFI_FUNC(nopic_stdout) {
  (void)self, (void)args, (void)num_args;
  return ojt_ret_int(result, fileno(stdout));
}
