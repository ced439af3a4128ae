/* useval_weak.c: getval() returns val(), with a weak fallback of its own (3). */
#include "ffi_c.h"

__attribute__((weak, noinline)) int val(void) { return 3; }

FFI_FN(getval) {
  ret_int(rv, val());
  return 0;
}
