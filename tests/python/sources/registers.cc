// registers.cc: registers a global function with TVM-FFI from a static
// initializer, as TVM_FFI_STATIC_INIT_BLOCK code does (REG_NAME, one name
// per compiler: TVM-FFI refuses a second registration of a name).
#include <tvm/ffi/function.h>
#include <tvm/ffi/reflection/registry.h>
#include <tvm/ffi/string.h>

#include <string>

#ifndef REG_NAME
#define REG_NAME "orcjit_test.triple"
#endif

namespace ffi = tvm::ffi;

namespace {
std::string tag = "tripled by a JIT library";  // freed by its destructor
struct UnloadReporter {
  ~UnloadReporter() {
    if (auto f = ffi::Function::GetGlobal("testing.orcjit_reg_unloaded")) (*f)();
  }
} reporter;
}  // namespace

static ffi::String Triple(int64_t x) { return std::to_string(3 * x) + " " + tag; }
static int64_t Answer() { return 42; }

TVM_FFI_STATIC_INIT_BLOCK() { ffi::reflection::GlobalDef().def(REG_NAME, Triple); }
TVM_FFI_DLL_EXPORT_TYPED_FUNC(answer, Answer);
