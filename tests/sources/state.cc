// state.cc, built as state1.o and state2.o (OJ_STATE=1, 2): a library with
// static state, for the static_state case (tests/c/test_life2.c).  Both
// define the same names: each goes into its own library.  Events go to
// oj_state_log(OJ_STATE, event), a function of the test executable:
//   +1 / -1  a global object (dynamic initialisation; its destructor is
//            registered with __cxa_atexit)
//   +2 / -2  a C-style constructor / destructor (.init_array / .fini_array)
//   +3 / -3  a function-local static object, built by the first state_bump
// At release: -3, then -1 (exit handlers, last registered first), then -2.
// Exports:  state_bump(x)  adds x to the global object's value and returns
//                          it (it starts at 100 * OJ_STATE)
//           state_count()  the number of bumps, as counted by three pieces
//                          of static state (they must agree, else -1)
#include <tvm/ffi/function.h>

#include <cstdint>
#include <vector>

extern "C" void oj_state_log(int id, int event);

namespace {

struct Tracked {
  Tracked(int64_t v, int event) : value(v), event(event) { oj_state_log(OJ_STATE, event); }
  ~Tracked() { oj_state_log(OJ_STATE, -event); }
  int64_t value;
  int event;
};

Tracked g_tracked(100 * OJ_STATE, 1);
std::vector<int64_t> g_history;
int64_t c_counter;

__attribute__((constructor)) void CInit() {
  c_counter = 1000 * OJ_STATE;
  oj_state_log(OJ_STATE, 2);
}
__attribute__((destructor)) void CFini() { oj_state_log(OJ_STATE, -2); }

Tracked& Local() {
  static Tracked t(0, 3);
  return t;
}

int64_t Bump(int64_t x) {
  g_history.push_back(x);
  ++c_counter;
  ++Local().value;
  return g_tracked.value += x;
}

int64_t Count() {
  int64_t n = static_cast<int64_t>(g_history.size());
  if (c_counter - 1000 * OJ_STATE != n || Local().value != n) return -1;
  return n;
}

}  // namespace

TVM_FFI_DLL_EXPORT_TYPED_FUNC(state_bump, Bump);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(state_count, Count);
