/*
** rocode.c: code that reaches its read-only data, its jump tables and its
** static functions PC-relatively.  On x86-64 the pre-pass resolves those
** relocations itself (read-only data joins the code: src/oj_elf_merge.c);
** each address computed so is compared with the same address stored in
** writable data, which JITLink relocates.  Built plain and with
** -ffunction-sections -fdata-sections (rocode_fs.o: many sections merged).
**   __tvm_ffi_ro_pick(i)  i in 0..11: a dense switch (a jump table at -O2)
**                         over the tables and functions below; else -1.
**                         10 and 11 call snprintf twice each, from code
**                         in a section of its own (not merged) and from
**                         .text: x86-64 routes the calls from .text
**                         through one stub (src/oj_elf_merge.c)
**   __tvm_ffi_ro_same()   0 when every pair of addresses agrees, else a
**                         bit per pair that does not
*/
#include <stdio.h>

#include "ojt_ffi.h"

static const long oj_ro_table[4] = {101, 202, 303, 404};
static const char oj_ro_text[] = "read-only bytes";

static __attribute__((noinline)) long oj_ro_twice(long x) { return 2 * x; }
static __attribute__((noinline)) long oj_ro_thrice(long x) { return 3 * x; }

/* The same addresses, in writable data. */
const void *volatile oj_ro_addrs[4] = {oj_ro_table, oj_ro_text, (const void *)oj_ro_twice,
                                       (const void *)oj_ro_thrice};

/* A C identifier names this section: it is not merged. */
__attribute__((section("oj_ro_own"), noinline)) long oj_ro_digits_own(long x) {
  char b[32];
  return snprintf(b, sizeof b, "%ld", x) + snprintf(b, sizeof b, "%ld", -x);
}

static __attribute__((noinline)) long oj_ro_digits(long x) {
  char b[32];
  return snprintf(b, sizeof b, "%ld", x) * 100 + snprintf(b, sizeof b, "%ld", x * 10);
}

static long oj_ro_case(long i) {
  switch (i) {
  case 0: return oj_ro_table[0];
  case 1: return oj_ro_table[1] + 1;
  case 2: return oj_ro_twice(oj_ro_table[2]);
  case 3: return oj_ro_thrice(oj_ro_table[3]);
  case 4: return (long)sizeof oj_ro_text;
  case 5: return oj_ro_text[5];
  case 6: return 66;
  case 7: return 777;
  case 8: return -8;
  case 9: return oj_ro_twice(oj_ro_thrice(9));
  case 10: return oj_ro_digits_own(12345);
  case 11: return oj_ro_digits(123);
  default: return -1;
  }
}

OJT_UNARY(ro_pick, i, oj_ro_case(i))

OJT_FFI_FUNC(ro_same) {
  (void)self, (void)args, (void)num_args;
  const void *volatile here[4];
  here[0] = oj_ro_table;
  here[1] = oj_ro_text;
  here[2] = (const void *)oj_ro_twice;
  here[3] = (const void *)oj_ro_thrice;
  long bad = 0;
  for (int i = 0; i < 4; i++)
    if (here[i] != oj_ro_addrs[i]) bad |= 1L << i;
  return ojt_ret_int(result, bad);
}
