/* tls.c: an object with its own thread-local variable (__thread).  Built
** with -ftls-model=initial-exec (-fPIC; R_X86_64_GOTTPOFF) as tls_ie.o and
** with -ftls-model=local-exec -fno-pic (R_X86_64_TPOFF32) as tls_le.o: the
** loader refuses both with ORCJIT_EUNSUPPORTED, naming the object, the
** symbol and TLS.  __tvm_ffi_tls_bump(x) adds x to the variable. */
#include "ojt_ffi.h"

__thread int oj_tls_counter = 5;

OJT_UNARY(tls_bump, x, oj_tls_counter += (int)x)
