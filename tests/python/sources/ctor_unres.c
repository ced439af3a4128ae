/* ctor_unres.c: a constructor and a destructor that count their runs in
** ctor_counter.c's library, and a function, ctor_need, that only
** ctor_need.c defines: without it the load fails and the constructor
** must not run.  ctor_value(x) = ctor_need(x) + 1. */
#include "ffi_c.h"

extern int64_t ctor_runs_count;
extern int64_t dtor_runs_count;
int64_t ctor_need(int64_t x);

__attribute__((constructor)) static void count_ctor(void) { ctor_runs_count++; }
__attribute__((destructor)) static void count_dtor(void) { dtor_runs_count++; }

FFI_FN(ctor_value) {
  if (check_args("ctor_value", num_args, 1)) return -1;
  ret_int(rv, ctor_need(args[0].v_int64) + 1);
  return 0;
}
