// small.cc: a seed object with the C++ features whose ELF shapes the
// pre-pass must handle: COMDAT groups (inline functions, templates,
// vtables, typeinfo), .init_array with priorities, exception tables,
// thread_local (TLS relocations), function-local statics, weak symbols.
#include <stdexcept>
#include <string>
#include <vector>

struct Base {
  virtual ~Base() {}
  virtual int f(int x) { return x + 1; }
};
struct Derived : Base {
  int f(int x) override { return x * 2; }
};
template <typename T> T twice(T x) { return x + x; }

static std::vector<int> g_vec{1, 2, 3};
__attribute__((init_priority(200))) static std::string g_str("seed");
thread_local int tl_counter = 5;

__attribute__((constructor(150))) static void early(void) { tl_counter++; }
__attribute__((destructor)) static void late(void) { tl_counter--; }
extern "C" __attribute__((weak)) int seed_weak(void) { return 7; }
extern "C" int seed_undef(int);

extern "C" int seed_entry(int x) {
  static Derived d;
  Base *b = &d;
  try {
    if (x < 0) throw std::runtime_error("neg");
  } catch (const std::exception &e) {
    return -1;
  }
  return b->f(x) + twice(x) + (int)g_vec.size() + (int)g_str.size() +
         tl_counter++ + seed_weak() + seed_undef(x);
}
