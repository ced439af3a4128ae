/* tls_pie.c: the object's own thread-locals as the compilers' default
** (PIE) code reaches them: test_tls.py builds it with -fpie, so they are
** reached with local-exec code (R_X86_64_TPOFF32), in .tdata and .tbss.
** -DPIE_BIG adds a 1 MiB thread-local array. */
#include "ffi_c.h"

__thread int64_t pie_counter = 5;
static __thread int64_t pie_zero;
#ifdef PIE_BIG
__thread char pie_big[1 << 20];
#endif

/* pie_bump(n): pie_counter += n, pie_zero += 1; returns
** pie_counter * 1000 + pie_zero. */
FFI_FN(pie_bump) {
  if (check_args("pie_bump", num_args, 1)) return -1;
  pie_counter += args[0].v_int64;
  pie_zero += 1;
#ifdef PIE_BIG
  pie_big[pie_zero & 0xfffff] = 1;
#endif
  ret_int(rv, pie_counter * 1000 + pie_zero);
  return 0;
}
