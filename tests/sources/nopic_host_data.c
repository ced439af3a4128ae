/* nopic_host_data.c, built with -O2 -fno-pic for the nopic_errors case:
** its own table is addressed with absolute 32-bit relocations
** (R_X86_64_32S, so the object must lie below 2 GiB) and the host's stdout
** is read PC-relatively (R_X86_64_PC32, which from below 2 GiB cannot
** reach the C library).  No placement satisfies both: the add must fail
** with an error naming the relocation and -fPIC. */
#define _POSIX_C_SOURCE 200809L /* fileno */
#include <stdio.h>

#include "ojt_ffi.h"

static const char *const oj_names[] = {"zero", "one", "two"};

OJT_FFI_FUNC(nopic_host_data) {
  int64_t x;
  (void)self;
  if (ojt_arg_int(args, num_args, 0, &x) != 0) return -1;
  return ojt_ret_int(result, fileno(stdout) + oj_names[x % 3][0]);
}
