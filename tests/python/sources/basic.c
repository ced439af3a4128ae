/* basic.c: hand-written C exports with the TVM-FFI safe-call ABI. */
#include <stdio.h>
#include "ffi_c.h"

/* TVM-FFI points this at the module that holds this object. */
EXPORT void* __tvm_ffi__library_ctx = NULL;
/* A context symbol bound by the loader (registered by the test with
** TVMFFIEnvModRegisterContextSymbol). */
EXPORT void* __orcjit_test_ctx_symbol = NULL;

static int64_t g_calls = 0;

/* A plain C helper, used by other objects and libraries. */
EXPORT int64_t helper_mul(int64_t a, int64_t b) { return a * b; }

FFI_FN(add_int) {
  if (check_args("add_int", num_args, 2)) return -1;
  ret_int(rv, args[0].v_int64 + args[1].v_int64);
  return 0;
}
FFI_FN(mul_float) {
  if (check_args("mul_float", num_args, 2)) return -1;
  ret_float(rv, as_float(&args[0]) * as_float(&args[1]));
  return 0;
}
FFI_FN(logical_not) {
  if (check_args("logical_not", num_args, 1)) return -1;
  ret_bool(rv, !args[0].v_int64);
  return 0;
}
FFI_FN(noop) {
  ++g_calls;
  ret_none(rv);
  return 0;
}
FFI_FN(num_calls) {
  ret_int(rv, g_calls);
  return 0;
}
FFI_FN(answer) {
  if (check_args("answer", num_args, 0)) return -1;
  ret_int(rv, 42);
  return 0;
}
FFI_FN(sum4) {
  if (check_args("sum4", num_args, 4)) return -1;
  ret_int(rv, args[0].v_int64 * 1000 + args[1].v_int64 * 100 + args[2].v_int64 * 10 +
                  args[3].v_int64);
  return 0;
}
FFI_FN(raise_value_error) {
  TVMFFIErrorSetRaisedFromCStr("ValueError", "bad value raised from C");
  return -1;
}
/* Calls the global function "testing.orcjit_py_callback" with one int. */
FFI_FN(call_py) {
  if (check_args("call_py", num_args, 1)) return -1;
  static const char name[] = "testing.orcjit_py_callback";
  TVMFFIByteArray name_arr = {name, sizeof(name) - 1};
  TVMFFIObjectHandle fn = NULL;
  if (TVMFFIFunctionGetGlobal(&name_arr, &fn) != 0) return -1;
  if (fn == NULL) {
    TVMFFIErrorSetRaisedFromCStr("RuntimeError", "testing.orcjit_py_callback is not registered");
    return -1;
  }
  TVMFFIAny arg = args[0];
  int rc = TVMFFIFunctionCall(fn, &arg, 1, rv);
  TVMFFIObjectDecRef(fn);
  return rc;
}
FFI_FN(has_ctx) {
  ret_bool(rv, __tvm_ffi__library_ctx != NULL);
  return 0;
}
FFI_FN(ctx_symbol) {
  ret_int(rv, (int64_t)(intptr_t)__orcjit_test_ctx_symbol);
  return 0;
}
