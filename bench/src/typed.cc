// typed.cc: a real C++ object for the load benchmark, using TVM-FFI's typed
// exports (TVM_FFI_DLL_EXPORT_TYPED_FUNC), std::string, std::vector,
// exceptions and a function-local static.
#include <tvm/ffi/error.h>
#include <tvm/ffi/function.h>
#include <tvm/ffi/string.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <numeric>
#include <string>
#include <vector>

namespace {

int64_t AddInt(int64_t a, int64_t b) { return a + b; }

double Axpy(double a, double x, double y) { return a * x + y; }

int64_t VecSum(int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), int64_t{0});
  return std::accumulate(v.begin(), v.end(), int64_t{0});
}

tvm::ffi::String Greet(tvm::ffi::String name) {
  static const std::string prefix = "hello, ";
  return tvm::ffi::String(prefix + std::string(name));
}

int64_t CountWords(tvm::ffi::String text) {
  std::map<std::string, int> seen;
  std::string cur;
  for (char c : std::string(text)) {
    if (c == ' ') {
      if (!cur.empty()) seen[cur]++;
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) seen[cur]++;
  return static_cast<int64_t>(seen.size());
}

int64_t CheckedDiv(int64_t a, int64_t b) {
  if (b == 0) TVM_FFI_THROW(ValueError) << "division by zero";
  return a / b;
}

int64_t SortedMedian(int64_t n) {
  std::vector<int64_t> v;
  for (int64_t i = 0; i < n; ++i) v.push_back((i * 7919) % (n + 1));
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

TVM_FFI_DLL_EXPORT_TYPED_FUNC(add, AddInt);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(axpy, Axpy);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(vec_sum, VecSum);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(greet, Greet);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(count_words, CountWords);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(checked_div, CheckedDiv);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(sorted_median, SortedMedian);
