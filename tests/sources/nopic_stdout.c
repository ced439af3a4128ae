/* nopic_stdout.c: -fno-pic code reading the host's stdout PC-relatively:
** below 2 GiB it cannot reach the C library, so the load is refused. */
#include <stdio.h>

#include "ojt_ffi.h"

OJT_UNARY(nopic_puts, x, fputs("", stdout) >= 0 ? x : -1)
