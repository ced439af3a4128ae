/* ctor_counter.c: counts the constructor and destructor runs of
** ctor_unres.c, which reaches ctor_runs and dtor_runs through a link order;
** read with ctor_runs() and dtor_runs(). */
#include "ffi_c.h"

EXPORT int64_t ctor_runs_count = 0;
EXPORT int64_t dtor_runs_count = 0;

FFI_FN(ctor_runs) {
  ret_int(rv, ctor_runs_count);
  return 0;
}
FFI_FN(dtor_runs) {
  ret_int(rv, dtor_runs_count);
  return 0;
}
