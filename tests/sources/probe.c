/* probe.c, built as probe0.o .. probe15.o (OJ_PROBE=N): an object with
** symbols of its own, used to check that a library still accepts and runs a
** new object after a failure.  __tvm_ffi_probe<N>(x) = x + 1000*N + data. */
#include "ojt_ffi.h"

int OJT_CAT(oj_probe_data, OJ_PROBE) = OJ_PROBE;

OJT_UNARY(OJT_CAT(probe, OJ_PROBE), x, x + 1000 * OJ_PROBE + OJT_CAT(oj_probe_data, OJ_PROBE) - OJ_PROBE)
