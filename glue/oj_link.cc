/*
** oj_link.cc: the JITLink plugin of a session's object layer.
**
** Why C++: LLVM's C API cannot add JITLink passes (ObjectLinkingLayer
** plugins exist only in C++).
**
** What it owns: one pass, run after JITLink has allocated a graph (its
** GOT and PLT entries built, its section start/end symbols defined), that
** binds each remaining external symbol of the
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
** It also adds objects to the JIT with their ORC interface (the symbols
** an object defines, and their flags) read straight from the object's ELF
** symbol table, by the rules LLVM's getObjectFileInterface follows for ELF
** (global, weak and unique symbols that are not undefined and not
** STT_FILE; weak and unique ones weak, SHN_COMMON ones common, default and
** protected ones exported, STT_FUNC/STT_GNU_IFUNC ones callable), with no
** initializer symbol since sessions have no ORC platform.  LLVM otherwise
** parses each object twice: once with its object library for the
** interface, once with JITLink to link it.  The image has been validated
** by the core's ELF pre-pass (src/oj_elf.c), so its tables are in bounds.
**
** What it does not own: names defined in the JITDylib (by the objects
** being added or by earlier ones) and names the search cannot find; those
** go through ORC as before, so duplicate, weak and missing-symbol handling
** and its error messages are unchanged.
*/
#include "oj_link.h"

#include <elf.h>
#include <stdint.h>
#include <string.h>

#include <utility>
#include <vector>

#include "llvm-c/Orc.h"
#include "llvm/ExecutionEngine/JITLink/JITLink.h"
#include "llvm/ExecutionEngine/JITLink/x86_64.h"
#include "llvm/ExecutionEngine/Orc/Core.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/ExecutionEngine/Orc/ObjectTransformLayer.h"
#include "llvm/Support/MemoryBuffer.h"

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
    /* After allocation: JITLink's own post-allocation passes have defined
    ** the __start_/__stop_ section symbols by then. */
    Config.PostAllocationPasses.push_back([JD](LinkGraph &G) { return bind(JD, G); });
    /* Runs after the target's pre-fixup passes (GOT and stub
    ** optimisation), before the layer's dependency scan. */
    Config.PreFixupPasses.push_back(applyFixupsEarly);
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
      if (*S->getName() == "_GLOBAL_OFFSET_TABLE_") continue; /* JITLink's */
      auto *E = orc::SymbolStringPoolEntryUnsafe::from(S->getName()).rawPtr();
      uint64_t Addr = 0;
      if (oj_resolve_external(JD, reinterpret_cast<LLVMOrcSymbolStringPoolEntryRef>(E),
                              &Addr))
        Bound.push_back({S, Addr});
    }
    for (auto &[S, Addr] : Bound) G.makeAbsolute(*S, orc::ExecutorAddr(Addr));
    return Error::success();
  }

  /* Applies every relocation edge now, as JITLink's applyFixups would right
  ** after the pre-fixup passes (same x86_64::applyFixup, same GOT symbol,
  ** same errors), then drops the edges.  The object layer's dependency
  ** scan, the next pre-fixup pass, then finds no edges: it walks every edge
  ** of the graph with hash sets per block (11% of the load of a small
  ** object, 29% for 3,000 functions), to tell ORC which symbols of other
  ** objects this one waits on.  Nothing here waits: every target is
  ** already linked, bound to an absolute address, or part of the same add,
  ** whose lookup completes only when all its objects are linked.  With no
  ** edges left, JITLink's own applyFixups has nothing to do.
  **
  ** With no edges left, the dependency scan would still give ORC one group
  ** (symbols, no dependencies) per block that defines a global, and ORC's
  ** emit bookkeeping (WaitingOnGraph: a node per group, merged and
  ** simplified) cost more than the scan itself: the two were 17% of the
  ** instructions of loading a C++ object with six typed exports, 5.5% after
  ** this pass (bench/src/containers.cc).  ORC gives every symbol of the
  ** object that is in no group to one node without dependencies, which is
  ** what each group was.  The scan puts only non-local symbols into groups;
  ** the layer has read the scopes already (notifyResolved, before the
  ** pre-fixup passes), and nothing after the scan reads them, so the
  ** symbols become local here.
  **
  ** Both in one walk over the defined symbols, each block fixed up at its
  ** first symbol: the graph keeps each section's blocks and symbols in hash
  ** sets of at least 64 buckets, and walking the blocks too cost as much
  ** again (a C++ object has a hundred sections).  After pruning every block
  ** holds a symbol (prune keeps only blocks reached through symbols; the
  ** GOT and stub entries made after it have theirs); a block without one
  ** would keep its edges, and JITLink would apply them as usual. */
  static Error applyFixupsEarly(LinkGraph &G) {
    if (G.getTargetTriple().getArch() != Triple::x86_64) return Error::success();
    const Symbol *GOT = nullptr;
    bool LookedForGOT = false;
    for (Symbol *S : G.defined_symbols()) {
      Block &B = S->getBlock();
      if (!B.edges_empty()) {
        if (B.getSection().getMemLifetime() == orc::MemLifetime::NoAlloc)
          (void)B.getMutableContent(G);
        for (const Edge &E : B.edges()) {
          if (!E.isRelocation()) continue;
          if (E.getKind() == x86_64::Delta64FromGOT && !GOT) {
            if (!LookedForGOT) GOT = findGOT(G);
            LookedForGOT = true;
            /* No GOT symbol: JITLink applies this block and the rest
            ** (those already applied have lost their edges). */
            if (!GOT) return Error::success();
          }
          if (auto Err = x86_64::applyFixup(G, B, E, GOT)) return Err;
        }
        while (!B.edges_empty()) B.removeEdge(std::prev(B.edges().end()));
      }
      if (S->getScope() != Scope::Local) S->setScope(Scope::Local);
    }
    return Error::success();
  }

  /* The symbol JITLink's x86-64 ELF backend gave _GLOBAL_OFFSET_TABLE_. */
  static const Symbol *findGOT(LinkGraph &G) {
    for (Symbol *S : G.defined_symbols())
      if (S->hasName() && *S->getName() == "_GLOBAL_OFFSET_TABLE_") return S;
    for (Symbol *S : G.absolute_symbols())
      if (S->hasName() && *S->getName() == "_GLOBAL_OFFSET_TABLE_") return S;
    return nullptr;
  }
};

} // namespace

std::shared_ptr<orc::ObjectLinkingLayer::Plugin> oj_link_make_plugin() {
  return std::make_shared<BindExternals>();
}

/* ---- adding objects ------------------------------------------------------ */

namespace {

template <typename T> bool readAt(const char *img, size_t size, uint64_t off, T *out) {
  if (off > size || size - off < sizeof(T)) return false;
  memcpy(out, img + off, sizeof(T));
  return true;
}

/* The interface getObjectFileInterface would compute for an ELF object;
** false if the image has no readable symbol table (LLVM then decides). */
bool elfInterface(orc::ExecutionSession &ES, const char *img, size_t size,
                  orc::MaterializationUnit::Interface &I) {
  Elf64_Ehdr eh;
  if (!readAt(img, size, 0, &eh) || eh.e_shentsize != sizeof(Elf64_Shdr)) return false;
  uint64_t shnum = eh.e_shnum;
  Elf64_Shdr sh0;
  if (shnum == 0 && eh.e_shoff && readAt(img, size, eh.e_shoff, &sh0)) shnum = sh0.sh_size;
  for (uint64_t i = 0; i < shnum; i++) {
    Elf64_Shdr sym, str;
    if (!readAt(img, size, eh.e_shoff + i * sizeof(Elf64_Shdr), &sym)) return false;
    if (sym.sh_type != SHT_SYMTAB) continue;
    if (sym.sh_link >= shnum || sym.sh_entsize != sizeof(Elf64_Sym) ||
        !readAt(img, size, eh.e_shoff + uint64_t(sym.sh_link) * sizeof(Elf64_Shdr), &str) ||
        str.sh_offset > size || size - str.sh_offset < str.sh_size || sym.sh_offset > size ||
        size - sym.sh_offset < sym.sh_size)
      return false;
    const char *names = img + str.sh_offset;
    uint64_t n = sym.sh_size / sizeof(Elf64_Sym);
    for (uint64_t k = 1; k < n; k++) {
      Elf64_Sym S;
      memcpy(&S, img + sym.sh_offset + k * sizeof(Elf64_Sym), sizeof S);
      unsigned bind = ELF64_ST_BIND(S.st_info), type = ELF64_ST_TYPE(S.st_info);
      unsigned vis = ELF64_ST_VISIBILITY(S.st_other);
      if (bind != STB_GLOBAL && bind != STB_WEAK && bind != STB_GNU_UNIQUE) continue;
      if (S.st_shndx == SHN_UNDEF || type == STT_FILE) continue;
      if (S.st_name >= str.sh_size) return false;
      size_t len = strnlen(names + S.st_name, str.sh_size - S.st_name);
      if (len == str.sh_size - S.st_name) return false; /* not terminated */
      JITSymbolFlags F = JITSymbolFlags::None;
      if (bind == STB_WEAK || bind == STB_GNU_UNIQUE) F |= JITSymbolFlags::Weak;
      if (S.st_shndx == SHN_COMMON) F |= JITSymbolFlags::Common;
      if (vis == STV_DEFAULT || vis == STV_PROTECTED) F |= JITSymbolFlags::Exported;
      if (type == STT_FUNC || type == STT_GNU_IFUNC) F |= JITSymbolFlags::Callable;
      I.SymbolFlags[ES.intern(StringRef(names + S.st_name, len))] = F;
    }
    return true;
  }
  return false;
}

} // namespace

/* ---- out of memory --------------------------------------------------------- */

extern "C" LLVMErrorRef oj_link_nomem_error(const char *what) {
  return wrap(make_error<StringError>(std::string("out of memory (") + what + ")",
                                      std::make_error_code(std::errc::not_enough_memory)));
}

extern "C" int oj_link_error_is_nomem(LLVMErrorRef err) {
  /* An LLVMErrorRef is the ErrorInfoBase it owns (llvm/Support/Error.h,
  ** wrap/unwrap); this reads it without taking it. */
  if (!err) return 0;
  auto *E = reinterpret_cast<ErrorInfoBase *>(err);
  if (E->isA<ErrorList>()) return 0; /* joined errors: not one cause */
  return E->convertToErrorCode() == std::errc::not_enough_memory;
}

extern "C" LLVMErrorRef oj_link_add_object(LLVMOrcLLJITRef jit, LLVMOrcResourceTrackerRef rt,
                                           const void *image, size_t size, const char *name) {
  auto &J = *reinterpret_cast<orc::LLJIT *>(jit);
  orc::ResourceTrackerSP RT(reinterpret_cast<orc::ResourceTracker *>(rt));
  /* Not copied: the image outlives the link (see oj_link.h). */
  auto Buf = MemoryBuffer::getMemBuffer(StringRef((const char *)image, size), name,
                                        /*RequiresNullTerminator=*/false);
  orc::MaterializationUnit::Interface I;
  auto &L = J.getObjTransformLayer();
  if (!elfInterface(J.getExecutionSession(), (const char *)image, size, I))
    return wrap(L.add(std::move(RT), std::move(Buf)));
  return wrap(L.add(std::move(RT), std::move(Buf), std::move(I)));
}
