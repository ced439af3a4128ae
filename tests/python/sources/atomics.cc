// atomics.cc: std::atomic and std::shared_ptr as compilers emit them by
// default.  On aarch64 gcc and clang call the outline-atomics helpers
// (__aarch64_ldadd8_acq_rel, __aarch64_cas4_acq, ...) of libgcc.a, which no
// shared library of a process exports: the loader provides them.
#include <tvm/ffi/function.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

namespace {
std::atomic<int64_t> total{0};
std::atomic<int32_t> flag{0};
}  // namespace

// Four threads add 1..n each through one shared_ptr'd atomic (copies of the
// shared_ptr bump its count atomically too), and one compare-exchange.
static int64_t atomic_sum(int64_t n) {
  auto cell = std::make_shared<std::atomic<int64_t>>(0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; t++)
    threads.emplace_back([cell, n] {
      for (int64_t i = 1; i <= n; i++) cell->fetch_add(i, std::memory_order_acq_rel);
    });
  for (auto &th : threads) th.join();
  int32_t expect = 0;
  flag.compare_exchange_strong(expect, 1);
  total.fetch_add(cell->load(), std::memory_order_relaxed);
  return cell->load() + cell.use_count() * 1000000000 + flag.exchange(0) * 100000000000;
}
TVM_FFI_DLL_EXPORT_TYPED_FUNC(atomic_sum, atomic_sum);
