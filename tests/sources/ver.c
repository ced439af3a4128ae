/* ver.c, built twice: ver1.o (OJ_VERSION=1) and ver2.o (OJ_VERSION=2).
** Both define the same symbols, so they can only live in different
** libraries.  __tvm_ffi_version() = oj_version_fn() + oj_version = 11*V. */
#include "ojt_ffi.h"

int oj_version = OJ_VERSION;

int oj_version_fn(void) { return oj_version * 10; }

OJT_FFI_FUNC(version) {
  (void)self, (void)args, (void)num_args;
  return ojt_ret_int(result, oj_version_fn() + oj_version);
}
