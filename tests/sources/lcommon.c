/* lcommon.c: a large common symbol.  Built with gcc -mcmodel=medium
** -fcommon, oj_big_common is in SHN_X86_64_LCOMMON (the "large common"
** section index), which the loader refuses with ORCJIT_EUNSUPPORTED. */
#include "ojt_ffi.h"

int oj_big_common[100000];

OJT_UNARY(big_get, x, oj_big_common[x & 1023])
