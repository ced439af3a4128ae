/*
** cuda_kernels.cu: the device code of the import-tree test, compiled with
** `nvcc -fatbin` into the payload of a "cuda" module in an object's
** __tvm_ffi__library_bin.  extern "C": the loader finds it by this name.
*/
extern "C" __global__ void oj_vadd_kernel(const float* a, const float* b, float* c, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) c[i] = a[i] + b[i];
}
