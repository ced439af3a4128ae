/* bss_big.c: a zero-fill array of BSS_MIB MiB (-DBSS_MIB=N), exported as
** TVM-FFI functions (test_memory.py). */
#include "ffi_c.h"

#ifndef BSS_MIB
#define BSS_MIB 1
#endif
#define BSS_SIZE ((int64_t)BSS_MIB << 20)

EXPORT char big_bss[BSS_SIZE];

FFI_FN(bss_size) {
  ret_int(rv, BSS_SIZE);
  return 0;
}

/* swap(at, v): writes v at byte `at` of the array, returns what was there. */
FFI_FN(swap) {
  if (check_args("swap", num_args, 2)) return -1;
  int64_t at = args[0].v_int64;
  int old = big_bss[at];
  big_bss[at] = (char)args[1].v_int64;
  ret_int(rv, old);
  return 0;
}
