// hello.cc: TVM-FFI functions written in C++ and exported with
// TVM_FFI_DLL_EXPORT_TYPED_FUNC, which generates __tvm_ffi_<name>.
#include <tvm/ffi/container/array.h>
#include <tvm/ffi/error.h>
#include <tvm/ffi/function.h>
#include <tvm/ffi/string.h>

#include <string>

namespace ffi = tvm::ffi;

// A static object with a constructor: runs when the object is loaded.
static const std::string kGreeting = "hello from JIT-linked C++";

static ffi::String Hello(ffi::String name) { return kGreeting + ", " + std::string(name) + "!"; }

static ffi::Array<int64_t> Squares(int64_t n) {
  if (n < 0) TVM_FFI_THROW(ValueError) << "squares(n) needs n >= 0, got " << n;
  ffi::Array<int64_t> out;
  for (int64_t i = 0; i < n; ++i) out.push_back(i * i);
  return out;
}

TVM_FFI_DLL_EXPORT_TYPED_FUNC(hello, Hello);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(squares, Squares);
