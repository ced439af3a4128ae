/*
** oj_llvmalloc.cc: LLVM's buffer allocator, for the statically linked LLVM
** of this library.
**
** Why C++: it defines llvm::allocate_buffer and llvm::deallocate_buffer
** (libLLVMSupport's MemAlloc.cpp, which the linker then leaves out), C++
** functions every DenseMap, StringMap and BumpPtrAllocator of LLVM grows
** through.  LLVM's own call the aligned operator new even for the 8- and
** 16-byte alignments that malloc already gives; glibc serves those through
** memalign's slow path (_mid_memalign), about 300 instructions a call
** against 60 for malloc.  A load of a small C object makes about 54 such
** calls: 6.5% of its instructions (callgrind, bench/profile.sh).
**
** The pair stays a pair: every buffer LLVM gets here it gives back here
** (the contract of MemAlloc.h), so malloc/free suit both.  Only with
** ORCJIT_STATIC_LLVM: a shared libLLVM keeps its own pair, and buffers
** allocated by inline code of this library and freed inside libLLVM would
** cross two allocators (AddressSanitizer reports the mismatch).
*/
#ifdef OJ_LLVM_STATIC
#include <cstddef>
#include <cstdlib>

#include "llvm/Support/ErrorHandling.h"
#include "llvm/Support/MemAlloc.h"

void *llvm::allocate_buffer(size_t Size, size_t Alignment) {
  void *P = nullptr;
  if (Alignment <= alignof(std::max_align_t)) {
    P = std::malloc(Size ? Size : 1);
  } else if (posix_memalign(&P, Alignment, Size ? Size : 1) != 0) {
    P = nullptr;
  }
  if (!P) llvm::report_bad_alloc_error("Buffer allocation failed");
  return P;
}

void llvm::deallocate_buffer(void *Ptr, size_t, size_t) { std::free(Ptr); }
#endif
