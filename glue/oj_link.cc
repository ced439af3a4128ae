/*
** oj_link.cc: the JITLink plugin of a session's object layer.
**
** Why C++: LLVM's C API cannot add JITLink passes (ObjectLinkingLayer
** plugins exist only in C++).
**
** What it owns: one pass, run after JITLink has pruned a graph and built
** its GOT and PLT entries, that binds each remaining external symbol of the
** graph to an address, when the core's search (src/oj_resolve.c:
** oj_resolve_external: runtime shims, the library's link order, the host
** process) finds one and the library does not define the name itself.
** The symbol becomes a local absolute symbol of the graph, so JITLink has
** nothing left to look up in ORC for it.  Without the pass, every add ran a
** nested ORC lookup (the definition generator, an absolute-symbols
** materialization unit) for the object's undefined symbols, and ORC's
** bookkeeping of symbols waiting on them grew with every JITDylib that
** ever imported a symbol, slowing every later add of the session.
**
** What it does not own: names defined in the JITDylib (by the objects
** being added or by earlier ones) and names the search cannot find; those
** go through ORC as before, so duplicate, weak and missing-symbol handling
** and its error messages are unchanged.
*/
#include "oj_link.h"

#include <stdint.h>

#include <utility>
#include <vector>

#include "llvm-c/Orc.h"
#include "llvm/ExecutionEngine/JITLink/JITLink.h"
#include "llvm/ExecutionEngine/Orc/Core.h"

extern "C" int oj_resolve_external(LLVMOrcJITDylibRef jd, LLVMOrcSymbolStringPoolEntryRef name,
                                   uint64_t *addr);

using namespace llvm;
using namespace llvm::jitlink;

namespace {

class BindExternals final : public orc::ObjectLinkingLayer::Plugin {
public:
  void modifyPassConfig(orc::MaterializationResponsibility &MR, LinkGraph &G,
                        PassConfiguration &Config) override {
    auto *JD = reinterpret_cast<LLVMOrcJITDylibRef>(&MR.getTargetJITDylib());
    Config.PostPrunePasses.push_back([JD](LinkGraph &G) { return bind(JD, G); });
  }

  Error notifyFailed(orc::MaterializationResponsibility &) override {
    return Error::success();
  }
  Error notifyRemovingResources(orc::JITDylib &, orc::ResourceKey) override {
    return Error::success();
  }
  void notifyTransferringResources(orc::JITDylib &, orc::ResourceKey,
                                   orc::ResourceKey) override {}

private:
  static Error bind(LLVMOrcJITDylibRef JD, LinkGraph &G) {
    SmallVector<std::pair<Symbol *, uint64_t>, 16> Bound;
    for (Symbol *S : G.external_symbols()) {
      auto *E = orc::SymbolStringPoolEntryUnsafe::from(S->getName()).rawPtr();
      uint64_t Addr = 0;
      if (oj_resolve_external(JD, reinterpret_cast<LLVMOrcSymbolStringPoolEntryRef>(E),
                              &Addr))
        Bound.push_back({S, Addr});
    }
    for (auto &[S, Addr] : Bound) G.makeAbsolute(*S, orc::ExecutorAddr(Addr));
    return Error::success();
  }
};

} // namespace

std::shared_ptr<orc::ObjectLinkingLayer::Plugin> oj_link_make_plugin() {
  return std::make_shared<BindExternals>();
}
