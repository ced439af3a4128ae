/*
** oj_jit.h: the LLJIT builder settings that LLVM's C API cannot make (C
** interface to glue/oj_jit.cc).
**
** Use, before LLVMOrcCreateLLJIT:
**   LLVMOrcLLJITBuilderRef b = LLVMOrcCreateLLJITBuilder();
**   oj_jit_builder_objects_only(b);
*/
#ifndef OJ_JIT_H
#define OJ_JIT_H

#include <llvm-c/LLJIT.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Makes the LLJIT built from b one that links objects only: its data
** layout comes from the host triple and its IR compiler refuses every
** module with an error, so building it creates no TargetMachine and needs
** no LLVM target registered (no LLVMInitializeNativeTarget). */
void oj_jit_builder_objects_only(LLVMOrcLLJITBuilderRef b);

#ifdef __cplusplus
}
#endif
#endif /* OJ_JIT_H */
