/* linked.c: needs helper_mul from another library (through the link order). */
#include "ffi_c.h"

int64_t helper_mul(int64_t a, int64_t b);

FFI_FN(call_helper) {
  if (check_args("call_helper", num_args, 2)) return -1;
  ret_int(rv, helper_mul(args[0].v_int64, args[1].v_int64) + 1);
  return 0;
}
