// tls_once.cc: C++ as the compilers' default (PIE) code reaches
// thread-locals; test_tls.py builds it with -fpie.  std::call_once stores
// its callable in libstdc++'s thread-locals (_ZSt15__once_callable,
// _ZSt11__once_call) with initial-exec code (R_X86_64_GOTTPOFF); the
// object's own thread_local values are reached with local-exec code.
#include <tvm/ffi/function.h>

#include <mutex>
#include <string>

namespace {
std::once_flag once;
int64_t once_calls = 0;
thread_local std::string note = "init";
thread_local int64_t counter = 100;
}  // namespace

// once_next(tag): runs the call_once body once per process; appends tag
// to this thread's note; returns once_calls * 1000000 + counter++ * 1000
// + note's length.
static int64_t once_next(std::string tag) {
  std::call_once(once, [] { once_calls++; });
  note += tag;
  return once_calls * 1000000 + counter++ * 1000 + static_cast<int64_t>(note.size());
}
TVM_FFI_DLL_EXPORT_TYPED_FUNC(once_next, once_next);
