/*
** oj_llvmasan.h: forced into every glue file (CMakeLists.txt, fuzz/run.sh);
** does something only when the file is compiled with AddressSanitizer.
**
** Why: LLVM's BumpPtrAllocator (llvm/Support/Allocator.h, inline) poisons
** each new slab and unpoisons each piece it hands out, but only in code
** compiled with ASan.  LLVM itself is not; the glue is.  When glue code
** makes a LinkGraph start a slab (createSection, allocateBuffer,
** addAnonymousSymbol...), the slab is poisoned, LLVM's own code then
** carves blocks and symbols out of it without unpoisoning them, and the
** glue's next read of one is reported as use-after-poison: a false report
** that hides real ones.  So poisoning is a no-op in the glue's copy of
** LLVM's headers; ASan still checks every heap access the glue makes.
** (Unpoisoning stays: it only ever makes memory readable.)
*/
#ifndef OJ_LLVMASAN_H
#define OJ_LLVMASAN_H
#if defined(__cplusplus) && defined(__has_feature)
#if __has_feature(address_sanitizer)
#define OJ_LLVMASAN 1
#endif
#endif
#if defined(__cplusplus) && !defined(OJ_LLVMASAN) && defined(__SANITIZE_ADDRESS__)
#define OJ_LLVMASAN 1
#endif
#ifdef OJ_LLVMASAN
#include "llvm/Support/Compiler.h" /* declares the function first */
#define __asan_poison_memory_region(p, size) ((void)(p), (void)(size))
#endif
#endif
