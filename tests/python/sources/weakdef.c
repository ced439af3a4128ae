/* weakdef.c: a weak definition of val() (1).  strongdef.c's strong one
** (2) wins wherever both are in a library, as in a static link. */
#include "ffi_c.h"

__attribute__((weak, noinline)) int val(void) { return 1; }

FFI_FN(weakdef_own) {  /* val() as this object sees it */
  ret_int(rv, val());
  return 0;
}
