/*
** loop_obj.c: the object that loop.c and stress.c load over and over.
** Built by run.sh with clang-22 -c -O2 -fPIC, as loop_obj<N>.o with
** -DLOOP_ID=N (distinct symbol names, so several can share a library).
** It exercises the paths that hold memory per library: a constructor and a
** destructor (.init_array/.fini_array), an atexit and a __cxa_atexit
** handler (run at release), host libc (snprintf), a global written by the
** constructor, and a TVM-FFI safe-call function:
**   __tvm_ffi_loop_add<N>(a, b) = a + b + loop_state<N> (loop_state = 1000
**   after the constructor ran).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tvm/ffi/c_api.h>

#ifndef LOOP_ID
#define LOOP_ID 0
#endif
#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)

int CAT(loop_state, LOOP_ID);
static char loop_buf[64];

static void loop_atexit(void) { CAT(loop_state, LOOP_ID) = -1; }

__attribute__((constructor)) static void loop_ctor(void) {
  CAT(loop_state, LOOP_ID) = 1000;
  atexit(loop_atexit);
}

__attribute__((destructor)) static void loop_dtor(void) {
  snprintf(loop_buf, sizeof loop_buf, "bye %d", CAT(loop_state, LOOP_ID));
}

__attribute__((visibility("default"))) int CAT(__tvm_ffi_loop_add, LOOP_ID)(
    void *self, const TVMFFIAny *args, int32_t num_args, TVMFFIAny *result) {
  char buf[32]; /* local: several threads call this at once */
  (void)self;
  if (num_args != 2 || args[0].type_index != kTVMFFIInt ||
      args[1].type_index != kTVMFFIInt) {
    TVMFFIErrorSetRaisedFromCStr("TypeError", "loop_add: expected 2 ints");
    return -1;
  }
  snprintf(buf, sizeof buf, "%lld", (long long)args[0].v_int64);
  result->type_index = kTVMFFIInt;
  result->zero_padding = 0;
  result->v_int64 = args[0].v_int64 + args[1].v_int64 + CAT(loop_state, LOOP_ID) +
                    (long long)strlen(buf) * 0;
  return 0;
}
