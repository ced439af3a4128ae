// nopic_cpp.cc: C++ compiled with -fno-pic.  Its code holds 32-bit
// absolute addresses of its own data (placed below 2 GiB), of libstdc++
// typeinfo (bound to a copy below 2 GiB) and of host functions such as
// the std::string destructor and __gxx_personality_v0 (bound to stubs).
#include <stdexcept>
#include <string>
#include <vector>

#include "ojt_ffi.h"

static std::string greeting("hello");  // static ctor + dtor via __cxa_atexit

static int catch_int(int v) {
  try {
    throw v;
  } catch (int x) {
    return x + 1;
  }
}

// An exception thrown by libstdc++ (std::out_of_range) and caught here.
static int catch_library(size_t i) {
  std::vector<int> v{1, 2, 3};
  try {
    return v.at(i);
  } catch (const std::out_of_range &) {
    return -1;
  } catch (...) {
    return -2;
  }
}

static int counted() {
  static int calls = 0;  // function-local static
  return ++calls;
}

// nopic_cpp(x) = greeting.size() * 1000 + catch_int(x) * 10 + catch_library(x)
// + counted() * 100000
extern "C" OJT_UNARY(nopic_cpp, x,
                     (int64_t)greeting.size() * 1000 + catch_int((int)x) * 10 +
                         catch_library((size_t)x) + counted() * 100000)
