/*
** cuda_add.cu: TVM-FFI exports whose work runs on the GPU, compiled with
** `nvcc -c` into one object: host code, the host stubs of the kernel and
** the embedded fatbin, registered with the CUDA runtime by the object's
** constructor (__cudaRegisterFatBinary) and unregistered at release.
** Written against the C ABI of tvm/ffi/c_api.h (no C++ headers of TVM-FFI).
**   device_count()      cudaGetDeviceCount; a CUDA error raises RuntimeError
**   vadd_checksum(n)    c = a + b on the device for a[i] = i, b[i] = 2i
**                       (exact in float for n <= 2^22), checked element by
**                       element on the host; returns sum(c) = 3 n (n-1) / 2
*/
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>
#include <tvm/ffi/c_api.h>

#define EXPORT extern "C" __attribute__((visibility("default")))

__global__ void oj_vadd(const float* a, const float* b, float* c, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) c[i] = a[i] + b[i];
}

static int raise_cuda(const char* step, cudaError_t e) {
  char msg[256];
  snprintf(msg, sizeof msg, "CUDA error in %s: %s (%s)", step, cudaGetErrorName(e),
           cudaGetErrorString(e));
  TVMFFIErrorSetRaisedFromCStr("RuntimeError", msg);
  return -1;
}

static void ret_int(TVMFFIAny* rv, int64_t v) {
  rv->type_index = kTVMFFIInt;
  rv->zero_padding = 0;
  rv->v_int64 = v;
}

EXPORT int __tvm_ffi_device_count(void*, const TVMFFIAny*, int32_t, TVMFFIAny* rv) {
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) return raise_cuda("cudaGetDeviceCount", e);
  ret_int(rv, count);
  return 0;
}

EXPORT int __tvm_ffi_vadd_checksum(void*, const TVMFFIAny* args, int32_t num_args,
                                   TVMFFIAny* rv) {
  if (num_args != 1 || args[0].type_index != kTVMFFIInt || args[0].v_int64 <= 0 ||
      args[0].v_int64 > (1 << 22)) {
    TVMFFIErrorSetRaisedFromCStr("ValueError", "vadd_checksum(n): 0 < n <= 2^22");
    return -1;
  }
  int n = (int)args[0].v_int64;
  size_t bytes = sizeof(float) * (size_t)n;
  float* h = (float*)malloc(3 * bytes);
  if (!h) {
    TVMFFIErrorSetRaisedFromCStr("MemoryError", "vadd_checksum: out of host memory");
    return -1;
  }
  float *ha = h, *hb = h + n, *hc = h + 2 * n;
  for (int i = 0; i < n; i++) {
    ha[i] = (float)i;
    hb[i] = 2.0f * (float)i;
    hc[i] = -1.0f;
  }
  float *da = NULL, *db = NULL, *dc = NULL;
  const char* step = "cudaMalloc";
  cudaError_t e = cudaMalloc((void**)&da, bytes);
  if (e == cudaSuccess) e = cudaMalloc((void**)&db, bytes);
  if (e == cudaSuccess) e = cudaMalloc((void**)&dc, bytes);
  if (e == cudaSuccess) {
    step = "cudaMemcpy to the device";
    e = cudaMemcpy(da, ha, bytes, cudaMemcpyHostToDevice);
    if (e == cudaSuccess) e = cudaMemcpy(db, hb, bytes, cudaMemcpyHostToDevice);
  }
  if (e == cudaSuccess) {
    step = "the kernel launch";
    oj_vadd<<<(n + 255) / 256, 256>>>(da, db, dc, n);
    e = cudaGetLastError();
  }
  if (e == cudaSuccess) {
    step = "cudaDeviceSynchronize";
    e = cudaDeviceSynchronize();
  }
  if (e == cudaSuccess) {
    step = "cudaMemcpy to the host";
    e = cudaMemcpy(hc, dc, bytes, cudaMemcpyDeviceToHost);
  }
  cudaFree(da);
  cudaFree(db);
  cudaFree(dc);
  if (e != cudaSuccess) {
    free(h);
    return raise_cuda(step, e);
  }
  int64_t sum = 0;
  for (int i = 0; i < n; i++) {
    if (hc[i] != 3.0f * (float)i) {
      char msg[128];
      snprintf(msg, sizeof msg, "vadd_checksum: c[%d] = %g, expected %g", i, hc[i],
               3.0f * (float)i);
      free(h);
      TVMFFIErrorSetRaisedFromCStr("RuntimeError", msg);
      return -1;
    }
    sum += (int64_t)hc[i];
  }
  free(h);
  ret_int(rv, sum);
  return 0;
}
