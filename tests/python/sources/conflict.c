/* conflict.c: defines the same exported symbol as basic.c, differently. */
#include "ffi_c.h"

FFI_FN(add_int) {
  if (check_args("add_int", num_args, 2)) return -1;
  ret_int(rv, args[0].v_int64 + args[1].v_int64 + 1000);
  return 0;
}
