/* mutual_even.c: with mutual_odd.c, two objects that call each other, which
** only a load of both at once can link.  is_even(n) through is_odd. */
#include "ffi_c.h"

int64_t mutual_is_odd(int64_t n); /* mutual_odd.c */

int64_t mutual_is_even(int64_t n) { return n == 0 ? 1 : mutual_is_odd(n - 1); }

FFI_FN(is_even) {
  if (check_args("is_even", num_args, 1)) return -1;
  ret_int(rv, mutual_is_even(args[0].v_int64));
  return 0;
}
