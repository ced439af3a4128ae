/* big_rodata.c: RODATA_MIB MiB of initialised read-only data
** (-DRODATA_MIB=N): a large object file (test_memory.py, peak memory). */
#include "ffi_c.h"

#ifndef RODATA_MIB
#define RODATA_MIB 1
#endif
#define RODATA_SIZE ((int64_t)RODATA_MIB << 20)

EXPORT const char big_rodata[RODATA_SIZE] = {1, 2, 3};

/* at(i): the byte at offset i. */
FFI_FN(at) {
  if (check_args("at", num_args, 1)) return -1;
  ret_int(rv, big_rodata[args[0].v_int64]);
  return 0;
}
