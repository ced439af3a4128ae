// cpp_add.cc: C++ test object using TVM_FFI_DLL_EXPORT_TYPED_FUNC.
//   add_cpp(a, b)     a + b
//   vec_sum(n)        0 + 1 + ... + n-1 through std::vector and std::string
//   twice_or_throw(x) 2x, or throws ValueError "negative input <x>" if x < 0
//   catch_inside(x)   throws and catches a C++ exception inside, returns x+1
#include <tvm/ffi/error.h>
#include <tvm/ffi/function.h>

#include <cstdint>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

int64_t AddCpp(int64_t a, int64_t b) { return a + b; }

int64_t VecSum(int64_t n) {
  std::vector<int64_t> v;
  for (int64_t i = 0; i < n; ++i) v.push_back(i);
  std::string s = std::to_string(n);  // exercises libstdc++ from the host
  if (s.empty()) return -1;
  return std::accumulate(v.begin(), v.end(), int64_t{0});
}

int64_t TwiceOrThrow(int64_t x) {
  if (x < 0) {
    TVM_FFI_THROW(ValueError) << "negative input " << x;
  }
  return 2 * x;
}

int64_t CatchInside(int64_t x) {
  try {
    if (x >= 0) throw std::runtime_error("inside");
    return -100;
  } catch (const std::exception &e) {
    return x + 1;
  }
}

}  // namespace

TVM_FFI_DLL_EXPORT_TYPED_FUNC(add_cpp, AddCpp);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(vec_sum, VecSum);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(twice_or_throw, TwiceOrThrow);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(catch_inside, CatchInside);
