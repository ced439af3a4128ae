/* vadd_cpu.c: vadd(n) = sum of a[i] + b[i] for a[i] = i, b[i] = 2i, on the
** CPU: the stand-in for the CUDA module of the import-tree test, embedded
** as a module of kind "o" where the GPU test embeds a fatbin. */
#include "ffi_c.h"

FFI_FN(vadd) {
  if (check_args("vadd", num_args, 1) != 0) return -1;
  int64_t n = args[0].v_int64, sum = 0;
  for (int64_t i = 0; i < n; i++) sum += i + 2 * i;
  ret_int(rv, sum);
  return 0;
}
