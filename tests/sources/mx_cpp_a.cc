// mx_cpp_a.cc: first object of the C++ pair of the compile matrix (see
// mx_cpp.h and tests/c/test_matrix.c); it needs nothing of b.  Exports
// (TVM_FFI_DLL_EXPORT_TYPED_FUNC):
//   mx_words(n)        words "w<7i mod 13>" written to a std::ostringstream,
//                      read back with std::istringstream, counted in a
//                      std::map: sum over the sorted words of
//                      rank * count * length
//   mx_static_local(k) a function-local static std::map (built once):
//                      (k mod 4) + 1 + 100 * how many times it was built
//   mx_counter_a(n)    adds n to the COMDAT counter, returns it
//   mx_counter_addr_a() where the counter is, as a's code sees it
//   mx_fold_a(n)       mx::fold_poly(n) from a's COMDAT copies
//   mx_iostream(n)     (without MX_NO_HOST_REFS) std::cout redirected into a
//                      string: the length of "n=<n>\n"
#include <tvm/ffi/function.h>

#include <map>
#include <sstream>
#include <string>

#ifndef MX_NO_HOST_REFS
#include <iostream>
#endif

#include "mx_cpp.h"

namespace mx {

Shape::~Shape() {}
int64_t Rect::area() const { return w * h; }
std::string Rect::name() const { return "rect"; }

MxError::MxError(const std::string& what, int64_t code) : std::runtime_error(what), code_(code) {}
MxError::~MxError() {}

void throw_in_a(int64_t k) { throw MxError("thrown in a: k=" + std::to_string(k), k * 3); }

int64_t rect_width(const Shape& s) {
  const Rect* r = dynamic_cast<const Rect*>(&s);  // s may be a Square of b
  return r ? r->w : -1;
}

}  // namespace mx

namespace {

int64_t Words(int64_t n) {
  std::ostringstream os;
  for (int64_t i = 0; i < n; ++i) os << 'w' << (i * 7 % 13) << ' ';
  std::istringstream is(os.str());
  std::map<std::string, int64_t> counts;
  std::string w;
  while (is >> w) ++counts[w];
  int64_t rank = 0, sum = 0;
  for (const auto& kv : counts) sum += ++rank * kv.second * static_cast<int64_t>(kv.first.size());
  return sum;
}

int64_t table_builds = 0;

const std::map<std::string, int64_t>& Table() {
  static const std::map<std::string, int64_t> table = [] {
    ++table_builds;
    return std::map<std::string, int64_t>{{"one", 1}, {"two", 2}, {"three", 3}, {"four", 4}};
  }();
  return table;
}

int64_t StaticLocal(int64_t k) {
  static const char* const keys[] = {"one", "two", "three", "four"};
  return Table().at(keys[k % 4]) + 100 * table_builds;
}

int64_t CounterA(int64_t n) { return mx::counter() += n; }
int64_t CounterAddrA() { return static_cast<int64_t>(reinterpret_cast<uintptr_t>(&mx::counter())); }
int64_t FoldA(int64_t n) { return mx::fold_poly(n); }

#ifndef MX_NO_HOST_REFS
int64_t IoStream(int64_t n) {
  std::ostringstream capture;
  std::streambuf* old = std::cout.rdbuf(capture.rdbuf());
  std::cout << "n=" << n << std::endl;
  std::cout.rdbuf(old);
  return static_cast<int64_t>(capture.str().size());
}
#endif

}  // namespace

TVM_FFI_DLL_EXPORT_TYPED_FUNC(mx_words, Words);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(mx_static_local, StaticLocal);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(mx_counter_a, CounterA);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(mx_counter_addr_a, CounterAddrA);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(mx_fold_a, FoldA);
#ifndef MX_NO_HOST_REFS
TVM_FFI_DLL_EXPORT_TYPED_FUNC(mx_iostream, IoStream);
#endif
