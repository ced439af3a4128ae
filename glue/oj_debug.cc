/*
** oj_debug.cc: debugger (GDB JIT interface) and profiler (perf map)
** support, as a JITLink plugin of a session's object layer.
**
** Why C++: it needs a hook into each JITLink link (the object's bytes, the
** address every block was given, the defined symbols with their sizes, and
** the resource keys that free an object), which only a C++
** ObjectLinkingLayer::Plugin receives; LLVM's C API has no plugin call.
** (llvm-c/LLJITUtils.h's LLVMOrcLLJITEnableDebugSupport installs LLVM's own
** ELFDebugObjectPlugin, see below for why it is not used.)
**
** What this file owns: the plugin, i.e. when an object gets its entries
** and which blocks and symbols feed them.  The rest is C:
**   src/oj_gdbjit.c     gdb's list (__jit_debug_descriptor) and its lock;
**   src/oj_elf_debug.c  the image gdb reads (section addresses, markers
**                       hidden, section lookup by file offset or name);
**   src/oj_perfmap.c    the lines of /tmp/perf-<pid>.map and their write.
** Per linked object, when the session asked for the debugger, the image is
** registered once the object is emitted and unregistered when ORC removes
** the object's resources (library release, failed add, end of the
** session), before its memory is freed and reused.  For the perf map, every
** named function (STT_FUNC, nonzero size, local ones included) of an
** emitted object whose code was kept gets a line.
**
** Mapping blocks to ELF sections: JITLink makes one block per ELF section
** (more for a split .eh_frame) whose content points into the object buffer
** it links until the block is allocated.  After dead-stripping, each
** block's content offset names its section; after allocation, the block's
** address minus its offset in the section is the section's address.  Zero-
** fill blocks (.bss) carry no content and are matched by section name.
**
** Why not LLVM's ELFDebugObjectPlugin (LLVM 22): its registration function
** (llvm_orc_registerJITLoaderGDBAllocAction) only ever adds entries; when
** an object is removed the plugin frees the memory of its debug object but
** the entry stays in gdb's list, pointing at memory that the session reuses
** at once; and the entries leak.  It also registers only objects with
** DWARF sections, and patches sections by name (the first of two sections
** with one name wins).
*/
#include "oj_debug.h"

#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "llvm/ExecutionEngine/JITLink/JITLink.h"
#include "llvm/ExecutionEngine/Orc/Core.h"
#include "llvm/ExecutionEngine/Orc/ObjectLinkingLayer.h"
#include "oj_elf.h"
#include "oj_elf_debug.h"
#include "oj_gdbjit.h"
#include "oj_perfmap.h"
#include "tvm_ffi_orcjit/orcjit.h"

using namespace llvm;

namespace {

/* ---- the plugin -------------------------------------------------------- */

class DebugPlugin final : public orc::ObjectLinkingLayer::Plugin {
 public:
  explicit DebugPlugin(unsigned flags) : Flags(flags) {}

  ~DebugPlugin() override {
    /* The session's end removed every object already; this is a backstop. */
    for (auto &kv : Registered)
      for (oj_gdbjit_entry *e : kv.second) oj_gdbjit_unregister(e);
  }

  void notifyMaterializing(orc::MaterializationResponsibility &MR, jitlink::LinkGraph &G,
                           jitlink::JITLinkContext &Ctx, MemoryBufferRef Obj) override {
    auto P = std::make_unique<Pending>();
    if (Flags & ORCJIT_SESSION_DEBUGGER) {
      P->In = Obj.getBufferStart();
      P->InSize = Obj.getBufferSize();
      /* not ELF64, or no memory: no entry */
      P->HasImage = oj_elf_debug_open(&P->Dbg, Obj.getBufferStart(), Obj.getBufferSize()) == 0;
    }
    std::lock_guard<std::mutex> lock(M);
    PendingObjs[&MR] = std::move(P);
  }

  void modifyPassConfig(orc::MaterializationResponsibility &MR, jitlink::LinkGraph &G,
                        jitlink::PassConfiguration &Config) override {
    if (Flags & ORCJIT_SESSION_PERF_MAP)
      Config.PrePrunePasses.push_back(
          [this, &MR](jitlink::LinkGraph &G) { return listFunctions(MR, G); });
    Config.PostPrunePasses.push_back(
        [this, &MR](jitlink::LinkGraph &G) { return mapBlocks(MR, G); });
    Config.PostAllocationPasses.push_back(
        [this, &MR](jitlink::LinkGraph &G) { return recordAddresses(MR, G); });
  }

  Error notifyEmitted(orc::MaterializationResponsibility &MR) override {
    std::unique_ptr<Pending> P = take(MR);
    if (!P) return Error::success();
    oj_perfmap_flush(&P->Perf);
    if (!P->HasImage) return Error::success();
    P->HasImage = false;
    oj_elf_debug_hide_markers(&P->Dbg);
    size_t size = 0;
    unsigned char *image = oj_elf_debug_take(&P->Dbg, &size);
    Error Err = MR.withResourceKeyDo([&](orc::ResourceKey K) {
      std::lock_guard<std::mutex> lock(M);
      oj_gdbjit_entry *E = oj_gdbjit_register(image, size);
      image = nullptr;
      if (E) Registered[K].push_back(E);
    });
    free(image); /* not registered: no resource key */
    return Err;
  }

  Error notifyFailed(orc::MaterializationResponsibility &MR) override {
    take(MR);
    return Error::success();
  }

  Error notifyRemovingResources(orc::JITDylib &JD, orc::ResourceKey K) override {
    std::vector<oj_gdbjit_entry *> gone;
    {
      std::lock_guard<std::mutex> lock(M);
      auto it = Registered.find(K);
      if (it == Registered.end()) return Error::success();
      gone.swap(it->second);
      Registered.erase(it);
    }
    for (oj_gdbjit_entry *e : gone) oj_gdbjit_unregister(e);
    return Error::success();
  }

  void notifyTransferringResources(orc::JITDylib &JD, orc::ResourceKey Dst,
                                   orc::ResourceKey Src) override {
    std::lock_guard<std::mutex> lock(M);
    auto it = Registered.find(Src);
    if (it == Registered.end()) return;
    std::vector<oj_gdbjit_entry *> moved = std::move(it->second);
    Registered.erase(it);
    auto &dst = Registered[Dst];
    dst.insert(dst.end(), moved.begin(), moved.end());
  }

 private:
  /* What one link in progress has gathered. */
  struct Pending {
    Pending() {
      memset(&Dbg, 0, sizeof Dbg);
      memset(&Perf, 0, sizeof Perf);
    }
    ~Pending() {
      oj_elf_debug_free(&Dbg);
      oj_perfmap_drop(&Perf);
    }
    Pending(const Pending &) = delete;
    Pending &operator=(const Pending &) = delete;
    const char *In = nullptr; /* the buffer JITLink links (alive until then) */
    size_t InSize = 0;
    bool HasImage = false;    /* Dbg holds the copy for gdb */
    oj_elf_debug Dbg;
    struct Ref {
      jitlink::Block *B;
      uint32_t Sec;
      uint64_t Delta; /* offset of the block in its section */
    };
    std::vector<Ref> Refs;
    struct Func {
      jitlink::Block *B; /* compared only: it may have been dead-stripped */
      uint64_t Offset, Size;
      std::string Name;
    };
    std::vector<Func> Funcs; /* named functions, before dead-stripping */
    oj_perfmap_lines Perf;   /* perf map lines */
  };

  Pending *find(orc::MaterializationResponsibility &MR) {
    std::lock_guard<std::mutex> lock(M);
    auto it = PendingObjs.find(&MR);
    return it == PendingObjs.end() ? nullptr : it->second.get();
  }

  std::unique_ptr<Pending> take(orc::MaterializationResponsibility &MR) {
    std::lock_guard<std::mutex> lock(M);
    auto it = PendingObjs.find(&MR);
    if (it == PendingObjs.end()) return nullptr;
    std::unique_ptr<Pending> P = std::move(it->second);
    PendingObjs.erase(it);
    return P;
  }

  /* Before dead-stripping, which drops the names of local functions that
  ** are called through their section symbol (gcc does that): every named
  ** function with a size. */
  Error listFunctions(orc::MaterializationResponsibility &MR, jitlink::LinkGraph &G) {
    Pending *P = find(MR);
    if (!P) return Error::success();
    for (jitlink::Symbol *S : G.defined_symbols()) {
      if (!S->isCallable() || !S->hasName() || S->getSize() == 0) continue;
      StringRef name = *S->getName();
      if (name.starts_with(OJ_ELF_MARKER_PREFIX)) continue;
      P->Funcs.push_back({&S->getBlock(), S->getOffset(), S->getSize(), name.str()});
    }
    return Error::success();
  }

  /* After dead-stripping, before allocation: the functions whose code
  ** stays, and the section of each block. */
  Error mapBlocks(orc::MaterializationResponsibility &MR, jitlink::LinkGraph &G) {
    Pending *P = find(MR);
    if (!P) return Error::success();
    if (!P->Funcs.empty()) {
      std::unordered_set<const jitlink::Block *> live(G.blocks().begin(), G.blocks().end());
      P->Funcs.erase(std::remove_if(P->Funcs.begin(), P->Funcs.end(),
                                    [&](const Pending::Func &f) { return !live.count(f.B); }),
                     P->Funcs.end());
    }
    if (!P->HasImage) return Error::success();
    for (jitlink::Block *B : G.blocks()) {
      uint32_t sec;
      uint64_t delta;
      if (B->isZeroFill()) {
        StringRef name = B->getSection().getName();
        if (oj_elf_debug_nobits_named(&P->Dbg, name.data(), name.size(), &sec))
          P->Refs.push_back({B, sec, 0});
        continue;
      }
      const char *c = B->getContent().data();
      if (c < P->In || c >= P->In + P->InSize) continue; /* made by JITLink */
      if (oj_elf_debug_section_at(&P->Dbg, static_cast<uint64_t>(c - P->In), &sec, &delta))
        P->Refs.push_back({B, sec, delta});
    }
    return Error::success();
  }

  /* After allocation: section addresses into the image, perf map lines. */
  Error recordAddresses(orc::MaterializationResponsibility &MR, jitlink::LinkGraph &G) {
    Pending *P = find(MR);
    if (!P) return Error::success();
    if (P->HasImage) {
      for (const Pending::Ref &r : P->Refs)
        oj_elf_debug_place(&P->Dbg, r.Sec, r.Delta, r.B->getAddress().getValue());
      P->Refs.clear();
    }
    for (const Pending::Func &f : P->Funcs)
      oj_perfmap_add(&P->Perf, f.B->getAddress().getValue() + f.Offset, f.Size, f.Name.data(),
                     f.Name.size());
    P->Funcs.clear();
    return Error::success();
  }

  const unsigned Flags;
  std::mutex M; /* guards PendingObjs and Registered */
  std::unordered_map<orc::MaterializationResponsibility *, std::unique_ptr<Pending>> PendingObjs;
  std::unordered_map<orc::ResourceKey, std::vector<oj_gdbjit_entry *>> Registered;
};

} // namespace

extern "C" int oj_debug_attach(LLVMOrcObjectLayerRef layer, unsigned flags) {
  flags &= ORCJIT_SESSION_DEBUGGER | ORCJIT_SESSION_PERF_MAP;
  if (!flags) return ORCJIT_OK;
  auto *L = reinterpret_cast<orc::ObjectLayer *>(layer);
  auto *OLL = L ? dyn_cast<orc::ObjectLinkingLayer>(L) : nullptr;
  if (!OLL)
    return orcjit_set_error(ORCJIT_EUNSUPPORTED,
                            "debugger/perf support needs a JITLink object layer");
  /* fail early if the perf map cannot be written */
  if ((flags & ORCJIT_SESSION_PERF_MAP) && oj_perfmap_check() != ORCJIT_OK) return ORCJIT_EIO;
  OLL->addPlugin(std::make_shared<DebugPlugin>(flags));
  return ORCJIT_OK;
}
