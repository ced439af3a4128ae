/*
** oj_jit.cc: the LLJIT builder settings of a session.
**
** Why C++: LLVM's C API builds an LLJIT only with LLJIT's defaults, and
** those make an X86 TargetMachine twice per session (for the data layout
** in LLJITBuilderState::prepareForConstruction and for the IR compiler in
** LLJIT::createCompileFunction).  A TargetMachine needs the X86 code
** generator registered (LLVMInitializeNativeTarget), which drags all of
** LLVM's code generation into a statically linked library.  We never
** compile IR: objects go straight to JITLink.  LLJITBuilder's setDataLayout
** and setCompileFunctionCreator, which only C++ can call, remove both uses.
**
** What this file owns: the data layout of a session's LLJIT (computed from
** the process triple, the same string X86TargetMachine would give) and
** the IR compiler that refuses every module.
**
** What it does not own: the rest of the builder (oj_session.c) and the
** object layer (oj_memmgr.cc).
*/
#include "oj_jit.h"

#include <memory>
#include <string>

#include "llvm/ExecutionEngine/Orc/IRCompileLayer.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/IR/DataLayout.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/Error.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/Triple.h"

using namespace llvm;

namespace {

/* LLJIT's compile layer with no code generator behind it.  Nothing of ours
** adds IR; should LLVM ever hand one a module, the error says why. */
class oj_jit_no_compiler final : public orc::IRCompileLayer::IRCompiler {
 public:
  oj_jit_no_compiler() : IRCompiler(orc::IRSymbolMapper::ManglingOptions()) {}
  Expected<std::unique_ptr<MemoryBuffer>> operator()(Module &M) override {
    return make_error<StringError>(
        "tvm-ffi-orcjit links object files only: LLVM IR module '" +
            M.getModuleIdentifier() + "' cannot be compiled",
        inconvertibleErrorCode());
  }
};

}  // namespace

extern "C" void oj_jit_builder_objects_only(LLVMOrcLLJITBuilderRef b) {
  /* LLVMOrcLLJITBuilderRef is an LLJITBuilder* (OrcV2CBindings.cpp). */
  auto *B = reinterpret_cast<orc::LLJITBuilder *>(b);
  Triple TT(sys::getProcessTriple());
  B->setDataLayout(DataLayout(TT.computeDataLayout()));
  B->setCompileFunctionCreator(
      [](orc::JITTargetMachineBuilder)
          -> Expected<std::unique_ptr<orc::IRCompileLayer::IRCompiler>> {
        return std::make_unique<oj_jit_no_compiler>();
      });
}
