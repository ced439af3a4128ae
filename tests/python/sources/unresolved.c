/* unresolved.c: references a symbol that nothing defines. */
#include "ffi_c.h"

int64_t orcjit_test_undefined_symbol(int64_t x);

FFI_FN(use_undefined) {
  ret_int(rv, orcjit_test_undefined_symbol(args[0].v_int64));
  return 0;
}
