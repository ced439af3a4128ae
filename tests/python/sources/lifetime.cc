// lifetime.cc: reports its unloading, and returns objects made by JIT code.
#include <tvm/ffi/container/array.h>
#include <tvm/ffi/error.h>
#include <tvm/ffi/function.h>
#include <tvm/ffi/string.h>

#include <string>

namespace ffi = tvm::ffi;

namespace {
// Destroyed when the library is unloaded: calls testing.orcjit_unloaded().
struct UnloadReporter {
  ~UnloadReporter() {
    if (auto f = ffi::Function::GetGlobal("testing.orcjit_unloaded")) (*f)();
  }
} reporter;
}  // namespace

static ffi::String MakeString(int64_t n) { return ffi::String(std::string(n, 'y')); }
static ffi::Array<ffi::String> MakeStrings(int64_t n) {
  ffi::Array<ffi::String> out;
  for (int64_t i = 0; i < n; ++i) out.push_back(ffi::String(std::string(20 + i, 'z')));
  return out;
}
static ffi::Function MakeAdder(int64_t k) {
  return ffi::Function::FromTyped([k](int64_t x) { return x + k; });
}
static int64_t Fail(ffi::String msg) {
  TVM_FFI_THROW(ValueError) << "lifetime: " << msg;
  return 0;
}

TVM_FFI_DLL_EXPORT_TYPED_FUNC(make_string, MakeString);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(make_strings, MakeStrings);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(make_adder, MakeAdder);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(fail, Fail);
