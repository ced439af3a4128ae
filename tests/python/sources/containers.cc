// containers.cc: C++ exports through TVM_FFI_DLL_EXPORT_TYPED_FUNC.
#include <tvm/ffi/cast.h>
#include <tvm/ffi/container/array.h>
#include <tvm/ffi/container/map.h>
#include <tvm/ffi/container/tuple.h>
#include <tvm/ffi/error.h>
#include <tvm/ffi/extra/c_env_api.h>
#include <tvm/ffi/function.h>
#include <tvm/ffi/string.h>

#include <stdexcept>
#include <string>

namespace ffi = tvm::ffi;

extern "C" {
TVM_FFI_DLL_EXPORT void* __tvm_ffi__library_ctx = nullptr;
}

static ffi::String Concat(ffi::String a, ffi::String b) {
  return ffi::String(std::string(a) + std::string(b));
}
static int64_t StrLen(ffi::String s) { return static_cast<int64_t>(s.size()); }
static int64_t ArraySum(ffi::Array<int64_t> xs) {
  int64_t total = 0;
  for (int64_t x : xs) total += x;
  return total;
}
static ffi::Array<int64_t> Range(int64_t n) {
  ffi::Array<int64_t> out;
  for (int64_t i = 0; i < n; ++i) out.push_back(i);
  return out;
}
static ffi::Array<ffi::String> Reverse(ffi::Array<ffi::String> xs) {
  ffi::Array<ffi::String> out;
  for (size_t i = xs.size(); i > 0; --i) out.push_back(xs[i - 1]);
  return out;
}
static int64_t MapGet(ffi::Map<ffi::String, int64_t> m, ffi::String key) {
  auto it = m.find(key);
  if (it == m.end()) TVM_FFI_THROW(KeyError) << "no key " << key;
  return (*it).second;
}
static ffi::Map<ffi::String, int64_t> MakeMap(ffi::String a, int64_t n) {
  ffi::Map<ffi::String, int64_t> m;
  m.Set(a, n);
  m.Set(ffi::String(std::string(a) + std::string(a)), n * 2);
  return m;
}
static ffi::Tuple<ffi::String, int64_t> Swap(ffi::Tuple<int64_t, ffi::String> t) {
  return ffi::Tuple<ffi::String, int64_t>(t.get<1>(), t.get<0>());
}
static int64_t ThrowValueError(ffi::String msg) {
  TVM_FFI_THROW(ValueError) << "C++ says: " << msg;
  return 0;
}
static int64_t ThrowStd(ffi::String msg) {
  throw std::runtime_error("std::runtime_error: " + std::string(msg));
}
static int64_t CatchInside(int64_t x) {
  try {
    if (x > 0) throw std::runtime_error("caught inside");
  } catch (const std::exception&) {
    return x * 2;
  }
  return -1;
}
// Looks a function up through the library context (imports, then globals).
static ffi::Any CtxCall(ffi::String name, int64_t x) {
  TVMFFIObjectHandle handle = nullptr;
  TVM_FFI_CHECK_SAFE_CALL(TVMFFIEnvModLookupFromImports(__tvm_ffi__library_ctx, name.c_str(), &handle));
  // The returned function is a weak reference owned by the module.
  ffi::Function f = ffi::GetRef<ffi::Function>(static_cast<ffi::FunctionObj*>(
      reinterpret_cast<ffi::Object*>(handle)));
  return f(x);
}

TVM_FFI_DLL_EXPORT_TYPED_FUNC(concat, Concat);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(str_len, StrLen);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(array_sum, ArraySum);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(range, Range);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(reverse, Reverse);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(map_get, MapGet);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(make_map, MakeMap);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(swap, Swap);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(throw_value_error, ThrowValueError);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(throw_std, ThrowStd);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(catch_inside, CatchInside);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(ctx_call, CtxCall);
