/* useval.c: getval() returns val(), defined elsewhere. */
#include "ffi_c.h"

int val(void);

FFI_FN(getval) {
  ret_int(rv, val());
  return 0;
}
