/* ctors.c: static constructors and destructors of a C object.
** Constructors record into oj_ctor_log (exported, read by the test after
** the add).  Destructors and an atexit handler (registered by the plain
** constructor) record into a buffer of the test, set with oj_ctors_set_log,
** because the object's own memory is gone once they have run.
**   constructors:  101 -> 101, 200 -> 200, plain -> 1   (declared 200 first)
**   destructors:   101 -> -101, 200 -> -200, plain -> -1, atexit -> -7 */
#include <stdlib.h>

#include "ojt_ffi.h"

int oj_ctor_log[16];
int oj_ctor_count;

/* The volatile access keeps compilers (clang's GlobalOpt at -O2) from
** evaluating the constructors at compile time into initialised data. */
static volatile int ctor_sink;
static int *dtor_log;
static int *dtor_count;

static void ctor_rec(int v) {
  ctor_sink = v;
  v = ctor_sink;
  if (oj_ctor_count < 16) oj_ctor_log[oj_ctor_count] = v;
  oj_ctor_count++;
}
static void dtor_rec(int v) {
  if (!dtor_log) return;
  if (*dtor_count < 16) dtor_log[*dtor_count] = v;
  (*dtor_count)++;
}

void oj_ctors_set_log(int *log, int *count) {
  dtor_log = log;
  dtor_count = count;
}

static void at_exit_handler(void) { dtor_rec(-7); }

__attribute__((constructor(200))) static void ctor_200(void) { ctor_rec(200); }
__attribute__((constructor(101))) static void ctor_101(void) { ctor_rec(101); }
__attribute__((constructor)) static void ctor_plain(void) {
  ctor_rec(1);
  atexit(at_exit_handler);
}

__attribute__((destructor(200))) static void dtor_200(void) { dtor_rec(-200); }
__attribute__((destructor(101))) static void dtor_101(void) { dtor_rec(-101); }
__attribute__((destructor)) static void dtor_plain(void) { dtor_rec(-1); }

/* __tvm_ffi_ctor_count() = how many constructors had run. */
OJT_FFI_FUNC(ctor_count) {
  (void)self, (void)args, (void)num_args;
  return ojt_ret_int(result, oj_ctor_count);
}
