// tls_cpp.cc: C++ thread_local objects with constructors and destructors
// (__cxa_thread_atexit), through TVM-FFI typed exports.  Each destructor
// reports to the test executable with oj_test_host_note(1000).
#include <tvm/ffi/function.h>

#include <string>
#include <vector>

extern "C" void oj_test_host_note(int v);

namespace {
struct Tracker {
  std::string name{"thread"};
  std::vector<int> values{1, 2, 3};
  int uses = 0;
  ~Tracker() { oj_test_host_note(1000); }
};
thread_local Tracker tracker;
thread_local int counter = 10;
}  // namespace

// tls_cpp_use() = name.size() + values.size() + (++uses) * 100 + counter++
static int64_t tls_cpp_use() {
  tracker.uses++;
  return static_cast<int64_t>(tracker.name.size() + tracker.values.size()) +
         tracker.uses * 100 + counter++;
}
TVM_FFI_DLL_EXPORT_TYPED_FUNC(tls_cpp_use, tls_cpp_use);
