// typed2.cc: the smallest C++ object of the load benchmark: two typed exports
// (TVM_FFI_DLL_EXPORT_TYPED_FUNC), one of them taking and returning an
// ffi::String.
#include <tvm/ffi/function.h>
#include <tvm/ffi/string.h>

#include <cstdint>
#include <string>

namespace {

int64_t AddInt(int64_t a, int64_t b) { return a + b; }

tvm::ffi::String Greet(tvm::ffi::String name) {
  return tvm::ffi::String("hello, " + std::string(name));
}

}  // namespace

TVM_FFI_DLL_EXPORT_TYPED_FUNC(add, AddInt);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(greet, Greet);
