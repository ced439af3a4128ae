// mx_cpp.h: what mx_cpp_a.cc and mx_cpp_b.cc (the C++ pair of the compile
// matrix, one library) share.  Classes have their key function, hence their
// vtable and typeinfo, in one object and are used from the other; the
// inline function and templates at the end are emitted in both objects
// (COMDAT) and must end up as one copy in the library.  b uses a, a does
// not use b: a is added first, then b.
#ifndef MX_CPP_H
#define MX_CPP_H

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace mx {

struct Shape {  // vtable and typeinfo in a (key function: the destructor)
  virtual ~Shape();
  virtual int64_t area() const = 0;
  virtual std::string name() const = 0;
};

struct Rect : Shape {  // a
  Rect(int64_t w, int64_t h) : w(w), h(h) {}
  int64_t area() const override;
  std::string name() const override;
  int64_t w, h;
};

struct Square : Rect {  // b, derived from a class of a
  explicit Square(int64_t s) : Rect(s, s) {}
  std::string name() const override;
};

struct Circle : Shape {  // b
  explicit Circle(int64_t r) : r(r) {}
  int64_t area() const override;  // 3 r^2
  std::string name() const override;
  int64_t r;
};

// Typeinfo in a (key function: the destructor); thrown in a, caught in b.
class MxError : public std::runtime_error {
 public:
  MxError(const std::string& what, int64_t code);
  ~MxError() override;
  int64_t code() const { return code_; }

 private:
  int64_t code_;
};

// a
[[noreturn]] void throw_in_a(int64_t k);  // MxError("thrown in a: k=<k>", 3k)
int64_t rect_width(const Shape& s);       // dynamic_cast to Rect: w, or -1
// b
int64_t classify(const Shape& s);  // dynamic_cast: 3 Square, 2 Circle, 1 Rect
std::unique_ptr<Shape> make_shape(int64_t i);

// COMDAT: one counter for the whole library, whichever object calls it.
inline int64_t& counter() {
  static int64_t c = 0;
  return c;
}

template <typename T>
T fold(const std::vector<T>& v, T seed) {
  for (const T& x : v) seed = seed * 31 + x;
  return seed;
}

template <int N>
struct Poly {  // x^N + ... evaluated by Horner: ((1*x + 1)*x + 2)*x ... + N
  static int64_t eval(int64_t x) { return Poly<N - 1>::eval(x) * x + N; }
};
template <>
struct Poly<0> {
  static int64_t eval(int64_t) { return 1; }
};

// fold of 0..n-1 (seed 7) mod 1000003, plus Poly<5>(n mod 10): both objects
// export it under their own name from their own COMDAT copies.
inline int64_t fold_poly(int64_t n) {
  std::vector<uint64_t> v;
  for (int64_t i = 0; i < n; ++i) v.push_back(static_cast<uint64_t>(i));
  return static_cast<int64_t>(fold<uint64_t>(v, 7) % 1000003u) + Poly<5>::eval(n % 10);
}

}  // namespace mx

#endif  // MX_CPP_H
