/* dup.c, built twice: dup1.o and dup2.o (OJ_DUP=1/2).  Both define the
** strong symbol oj_dup_value; each exports its own __tvm_ffi_dup<N>. */
#include "ojt_ffi.h"

int oj_dup_value(void) { return OJ_DUP; }

OJT_UNARY(OJT_CAT(dup, OJ_DUP), x, x * 10 + oj_dup_value())
