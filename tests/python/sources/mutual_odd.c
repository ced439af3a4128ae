/* mutual_odd.c: the other half of mutual_even.c. */
#include "ffi_c.h"

int64_t mutual_is_even(int64_t n); /* mutual_even.c */

int64_t mutual_is_odd(int64_t n) { return n == 0 ? 0 : mutual_is_even(n - 1); }

FFI_FN(is_odd) {
  if (check_args("is_odd", num_args, 1)) return -1;
  ret_int(rv, mutual_is_odd(args[0].v_int64));
  return 0;
}
