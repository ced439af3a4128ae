/*
** dbg.c: the debugger and perf map test object.  Two plain functions that
** stay two frames on one stack at every optimisation level, a static one,
** a data symbol (not a function: must not reach the perf map), and a
** TVM-FFI export that calls through them.
**   oj_dbg_outer(x)      returns 2 * oj_dbg_target(x + 1)
**   oj_dbg_target(x)     returns 3 * x + 1 (the breakpoint of the gdb tests)
**   oj_dbg_helper(x)     static, x ^ 0x5a
**   __tvm_ffi_dbg_run(x) oj_dbg_outer(x)
*/
#include "ojt_ffi.h"

int oj_dbg_data = 17;

__attribute__((noinline)) static int oj_dbg_helper(int x) {
  __asm__ volatile("" ::: "memory");
  return x ^ 0x5a;
}

__attribute__((noinline)) int oj_dbg_target(int x) {
  volatile int y = x * 3;
  return y + 1 + (oj_dbg_helper(oj_dbg_data) != 0x5a ? 0 : 1000);
}

__attribute__((noinline)) int oj_dbg_outer(int x) {
  int r = oj_dbg_target(x + 1);
  __asm__ volatile("" ::: "memory"); /* no tail call: keep this frame */
  return 2 * r;
}

OJT_UNARY(dbg_run, x, oj_dbg_outer((int)x))
