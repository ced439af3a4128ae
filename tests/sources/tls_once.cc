// tls_once.cc: C++ as code built for a position-independent executable
// reaches thread-locals (-fpie): std::call_once stores its callable in
// libstdc++'s thread-locals _ZSt15__once_callable and _ZSt11__once_call
// with initial-exec code (R_X86_64_GOTTPOFF), and this object's own
// thread_local variables (one with a constructor and a destructor that
// reports to the test executable with oj_test_host_note(1000)) are reached
// with local-exec code (R_X86_64_TPOFF32).
#include <tvm/ffi/function.h>

#include <mutex>
#include <string>

extern "C" void oj_test_host_note(int v);

namespace {
struct Tracker {
  std::string name{"tracker"};
  int uses = 0;
  ~Tracker() { oj_test_host_note(1000); }
};
thread_local Tracker tracker;
thread_local int counter = 10;
std::once_flag once;
int once_calls = 0;
}  // namespace

// tls_once_use() = once_calls * 10000 + name.size() * 1000 + (++uses) * 100 + counter++
// (once_calls is 1 after the first call in any thread).
static int64_t tls_once_use() {
  std::call_once(once, [] { once_calls++; });
  tracker.uses++;
  return once_calls * 10000 + static_cast<int64_t>(tracker.name.size()) * 1000 +
         tracker.uses * 100 + counter++;
}
TVM_FFI_DLL_EXPORT_TYPED_FUNC(tls_once_use, tls_once_use);
