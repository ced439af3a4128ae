// mx_cpp_b.cc: second object of the C++ pair of the compile matrix (see
// mx_cpp.h and tests/c/test_matrix.c); it uses a.  Exports:
//   mx_shapes(n)       shapes i < n made here (Rect of a, Square and Circle
//                      of b), classified here with dynamic_cast (3 Square,
//                      2 Circle, 1 Rect) and measured by a's rect_width
//                      (dynamic_cast in a's code to a's Rect): sum of
//                      class * 10^6 + width * 10^4 + area * 10 +
//                      len(name()) + len(typeid(*s).name())
//   mx_catch(k)        an MxError thrown in a caught here by its type:
//                      code * 100 + len(what()) (code = 3k); plus 7 for the
//                      std::out_of_range of vector::at (thrown by the
//                      host's libstdc++), plus 50000 for an MxError thrown
//                      here and caught as std::exception
//   mx_escape(k)       calls mx::throw_in_a(k): the MxError escapes the
//                      function (TVM-FFI InternalError "thrown in a: k=<k>")
//   mx_counter_b(n), mx_counter_addr_b(), mx_fold_b(n): as in a, from b's
//                      COMDAT copies
#include <tvm/ffi/function.h>

#include <cstring>
#include <typeinfo>
#include <vector>

#include "mx_cpp.h"

namespace mx {

std::string Square::name() const { return "square"; }
int64_t Circle::area() const { return 3 * r * r; }
std::string Circle::name() const { return "circle"; }

int64_t classify(const Shape& s) {
  if (dynamic_cast<const Square*>(&s)) return 3;
  if (dynamic_cast<const Circle*>(&s)) return 2;
  if (dynamic_cast<const Rect*>(&s)) return 1;  // a's typeinfo
  return 0;
}

std::unique_ptr<Shape> make_shape(int64_t i) {
  switch (i % 3) {
    case 0: return std::make_unique<Rect>(i % 5 + 1, i % 7 + 2);
    case 1: return std::make_unique<Square>(i % 4 + 1);
    default: return std::make_unique<Circle>(i % 6 + 1);
  }
}

}  // namespace mx

namespace {

int64_t Shapes(int64_t n) {
  std::vector<std::unique_ptr<mx::Shape>> shapes;
  for (int64_t i = 0; i < n; ++i) shapes.push_back(mx::make_shape(i));
  int64_t sum = 0;
  for (const auto& s : shapes) {
    const mx::Shape& ref = *s;
    sum += mx::classify(ref) * 1000000 + mx::rect_width(ref) * 10000 + ref.area() * 10 +
           static_cast<int64_t>(ref.name().size()) +
           static_cast<int64_t>(std::strlen(typeid(ref).name()));
  }
  return sum;
}

int64_t Catch(int64_t k) {
  int64_t r = 0;
  try {
    mx::throw_in_a(k);
  } catch (const mx::MxError& e) {
    r += e.code() * 100 + static_cast<int64_t>(std::strlen(e.what()));
  }
  std::vector<int> v(3);
  try {
    r += v.at(static_cast<size_t>(k) + 3);
  } catch (const std::out_of_range&) {
    r += 7;
  }
  try {
    throw mx::MxError("thrown in b", k);
  } catch (const std::exception&) {
    r += 50000;
  }
  return r;
}

int64_t Escape(int64_t k) { mx::throw_in_a(k); }

int64_t CounterB(int64_t n) { return mx::counter() += n; }
int64_t CounterAddrB() { return static_cast<int64_t>(reinterpret_cast<uintptr_t>(&mx::counter())); }
int64_t FoldB(int64_t n) { return mx::fold_poly(n); }

}  // namespace

TVM_FFI_DLL_EXPORT_TYPED_FUNC(mx_shapes, Shapes);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(mx_catch, Catch);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(mx_escape, Escape);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(mx_counter_b, CounterB);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(mx_counter_addr_b, CounterAddrB);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(mx_fold_b, FoldB);
