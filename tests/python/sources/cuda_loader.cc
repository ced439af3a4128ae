/*
** cuda_loader.cc: a small loader for modules of kind "cuda", registered as
** ffi.Module.load_from_bytes.cuda, for the import-tree test when no
** installed package (TVM's CUDA runtime) provides one.  The payload is a
** fatbin (or cubin) as made by `nvcc -fatbin`; it is loaded with the CUDA
** runtime's library API (cudaLibraryLoadData, CUDA 12 and later), so only
** libcudart is needed.  Host C++ compiled by the plain C++ compiler.
**   __tvm_ffi_register_cuda_loader()  registers the loader (not overriding
**                                     one that exists); returns 1 if it did
**   module "cuda", function vadd(n)   oj_vadd_kernel on a[i] = i, b[i] = 2i,
**                                     checked on the host; returns sum(c)
*/
#include <cuda_runtime.h>
#include <tvm/ffi/cast.h>
#include <tvm/ffi/error.h>
#include <tvm/ffi/extra/module.h>
#include <tvm/ffi/function.h>

#include <cstdint>
#include <string>
#include <vector>

namespace {

using namespace tvm::ffi;

[[noreturn]] void ThrowCuda(const std::string& step, cudaError_t e) {
  TVM_FFI_THROW(RuntimeError) << "CUDA error in " << step << ": " << cudaGetErrorName(e) << " ("
                              << cudaGetErrorString(e) << ")";
  TVM_FFI_UNREACHABLE();
}

class CudaTestModuleObj : public ModuleObj {
 public:
  explicit CudaTestModuleObj(Bytes image) : image_(std::move(image)) {
    cudaError_t e = cudaLibraryLoadData(&lib_, image_.data(), nullptr, nullptr, 0, nullptr,
                                        nullptr, 0);
    if (e != cudaSuccess) ThrowCuda("cudaLibraryLoadData", e);
  }
  ~CudaTestModuleObj() {
    if (lib_) cudaLibraryUnload(lib_);
  }

  const char* kind() const final { return "cuda"; }

  Optional<Function> GetFunction(const String& name) final {
    if (name != "vadd") return std::nullopt;
    cudaKernel_t kernel = nullptr;
    cudaError_t e = cudaLibraryGetKernel(&kernel, lib_, "oj_vadd_kernel");
    if (e != cudaSuccess) ThrowCuda("cudaLibraryGetKernel(oj_vadd_kernel)", e);
    ObjectPtr<Object> keep = GetObjectPtr<Object>(this);
    return Function::FromTyped([keep, kernel](int64_t n) -> int64_t { return VAdd(kernel, n); });
  }

 private:
  static int64_t VAdd(cudaKernel_t kernel, int64_t n64) {
    if (n64 <= 0 || n64 > (1 << 22)) TVM_FFI_THROW(ValueError) << "vadd(n): 0 < n <= 2^22";
    int n = static_cast<int>(n64);
    std::vector<float> a(n), b(n), c(n, -1.0f);
    for (int i = 0; i < n; ++i) {
      a[i] = static_cast<float>(i);
      b[i] = 2.0f * static_cast<float>(i);
    }
    size_t bytes = sizeof(float) * n;
    float *da = nullptr, *db = nullptr, *dc = nullptr;
    std::string step = "cudaMalloc";
    cudaError_t e = cudaMalloc(&da, bytes);
    if (e == cudaSuccess) e = cudaMalloc(&db, bytes);
    if (e == cudaSuccess) e = cudaMalloc(&dc, bytes);
    if (e == cudaSuccess) {
      step = "cudaMemcpy to the device";
      e = cudaMemcpy(da, a.data(), bytes, cudaMemcpyHostToDevice);
      if (e == cudaSuccess) e = cudaMemcpy(db, b.data(), bytes, cudaMemcpyHostToDevice);
    }
    if (e == cudaSuccess) {
      step = "cudaLaunchKernel(oj_vadd_kernel)";
      void* args[] = {&da, &db, &dc, &n};
      e = cudaLaunchKernel(reinterpret_cast<const void*>(kernel), dim3((n + 255) / 256),
                           dim3(256), args, 0, nullptr);
    }
    if (e == cudaSuccess) {
      step = "cudaDeviceSynchronize";
      e = cudaDeviceSynchronize();
    }
    if (e == cudaSuccess) {
      step = "cudaMemcpy to the host";
      e = cudaMemcpy(c.data(), dc, bytes, cudaMemcpyDeviceToHost);
    }
    cudaFree(da);
    cudaFree(db);
    cudaFree(dc);
    if (e != cudaSuccess) ThrowCuda(step, e);
    int64_t sum = 0;
    for (int i = 0; i < n; ++i) {
      if (c[i] != 3.0f * static_cast<float>(i))
        TVM_FFI_THROW(RuntimeError) << "vadd: c[" << i << "] = " << c[i] << ", expected "
                                    << 3.0f * static_cast<float>(i);
      sum += static_cast<int64_t>(c[i]);
    }
    return sum;
  }

  Bytes image_; /* the runtime may read the image until the library is unloaded */
  cudaLibrary_t lib_ = nullptr;
};

}  // namespace

extern "C" __attribute__((visibility("default"))) int __tvm_ffi_register_cuda_loader(
    void*, const TVMFFIAny*, int32_t, TVMFFIAny* rv) {
  TVM_FFI_SAFE_CALL_BEGIN();
  const char* key = "ffi.Module.load_from_bytes.cuda";
  bool registered = false;
  if (!Function::GetGlobal(key).has_value()) {
    Function::SetGlobal(key, Function::FromTyped([](Bytes image) -> Module {
                          return Module(make_object<CudaTestModuleObj>(std::move(image)));
                        }));
    registered = true;
  }
  rv->type_index = kTVMFFIInt;
  rv->zero_padding = 0;
  rv->v_int64 = registered;
  TVM_FFI_SAFE_CALL_END();
}
