/* nopic_puts.c: -fno-pic code with an absolute relocation (the string),
** so it is placed below 2 GiB, that also reads the host's stdout
** PC-relatively, which cannot reach the C library from there: the load
** is refused. */
#include <stdio.h>

#include "ojt_ffi.h"

OJT_UNARY(nopic_puts, x, fputs("", stdout) >= 0 ? x : -1)
