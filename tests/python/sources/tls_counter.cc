// tls_counter.cc: a C++ thread_local object behind TVM-FFI typed exports.
#include <tvm/ffi/function.h>

#include <string>
#include <vector>

namespace {
struct PerThread {
  std::vector<std::string> log;  // constructed on each thread's first use
};
thread_local PerThread state;
thread_local int64_t counter = 100;
}  // namespace

// tls_next(tag) appends tag to this thread's log and returns
// counter++ * 1000 + the log's length.
static int64_t tls_next(std::string tag) {
  state.log.push_back(std::move(tag));
  return counter++ * 1000 + static_cast<int64_t>(state.log.size());
}
TVM_FFI_DLL_EXPORT_TYPED_FUNC(tls_next, tls_next);
