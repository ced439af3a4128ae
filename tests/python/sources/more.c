/* more.c: a second object for the same library as basic.c; uses its helper. */
#include "ffi_c.h"

int64_t helper_mul(int64_t a, int64_t b); /* defined in basic.c */

FFI_FN(sub_int) {
  if (check_args("sub_int", num_args, 2)) return -1;
  ret_int(rv, args[0].v_int64 - args[1].v_int64);
  return 0;
}
FFI_FN(square_via_helper) {
  if (check_args("square_via_helper", num_args, 1)) return -1;
  ret_int(rv, helper_mul(args[0].v_int64, args[0].v_int64));
  return 0;
}
