// containers.cc: a C++ object of the load benchmark with six typed exports
// over ffi::Array and ffi::Map, plus the standard library (string, vector,
// map, sort) and an exception.
#include <tvm/ffi/container/array.h>
#include <tvm/ffi/container/map.h>
#include <tvm/ffi/error.h>
#include <tvm/ffi/function.h>
#include <tvm/ffi/string.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ffi = tvm::ffi;

namespace {

int64_t AddInt(int64_t a, int64_t b) { return a + b; }

int64_t ArraySum(ffi::Array<int64_t> xs) {
  int64_t total = 0;
  for (int64_t x : xs) total += x;
  return total;
}

ffi::Array<ffi::String> SortWords(ffi::Array<ffi::String> xs) {
  std::vector<std::string> v;
  for (const ffi::String& s : xs) v.emplace_back(s);
  std::sort(v.begin(), v.end());
  ffi::Array<ffi::String> out;
  for (const std::string& s : v) out.push_back(ffi::String(s));
  return out;
}

int64_t MapGet(ffi::Map<ffi::String, int64_t> m, ffi::String key) {
  auto it = m.find(key);
  if (it == m.end()) TVM_FFI_THROW(KeyError) << "no key " << key;
  return (*it).second;
}

ffi::Map<ffi::String, int64_t> WordCounts(ffi::String text) {
  std::map<std::string, int64_t> seen;
  std::string cur;
  for (char c : std::string(text)) {
    if (c == ' ') {
      if (!cur.empty()) seen[cur]++;
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) seen[cur]++;
  ffi::Map<ffi::String, int64_t> out;
  for (const auto& kv : seen) out.Set(ffi::String(kv.first), kv.second);
  return out;
}

ffi::Array<int64_t> Range(int64_t n) {
  ffi::Array<int64_t> out;
  for (int64_t i = 0; i < n; ++i) out.push_back(i);
  return out;
}

}  // namespace

TVM_FFI_DLL_EXPORT_TYPED_FUNC(add, AddInt);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(array_sum, ArraySum);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(sort_words, SortWords);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(map_get, MapGet);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(word_counts, WordCounts);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(range, Range);
