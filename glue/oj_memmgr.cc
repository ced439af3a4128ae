/*
** oj_memmgr.cc: the JITLink memory manager of a session, and its object
** layer.
**
** Why C++: LLVM's C API can make a JITLink object layer only with the
** in-process memory manager, which maps every link graph wherever mmap puts
** it: nothing keeps a session's code and data within +-2 GiB of each other
** (PC-relative relocations of -O2 code then overflow), nor below 2 GiB for
** objects built with -fno-pic.  A jitlink::JITLinkMemoryManager and
** ObjectLinkingLayer plugins can only be written in C++.
**
** What this file owns: the adapter between a link graph and the process's
** JIT memory (src/oj_vmem.c owns the address space, the allocator, the
** protections and zeroing):
**   - per graph, where it may go, read from its edges: below 2 GiB when it
**     has an x86-64 Pointer32 / Pointer32Signed edge (R_X86_64_32 / 32S)
**     from allocated memory to its own code or data, or when the core
**     marked the JITDylib with oj_memmgr_set_dylib_low; anywhere
**     (OJ_VMEM_MOVABLE) when no 32-bit relative edge leaves the graph (its
**     calls and GOT loads to other code go through its own stubs and GOT);
**     else the shared near window;
**   - its segments handed to oj_vmem_alloc_segments, JITLink's content
**     copied in (BasicLayout::apply), allocation actions (eh-frame
**     registration among them) run at finalize, deallocation actions at
**     deallocate;
**   - the number of regions given back at releases, reported (and reset)
**     by oj_memmgr_clear_free_slabs;
**   - the object layer: an orc::ObjectLinkingLayer over this manager with
**     the EHFrameRegistrationPlugin (what LLJIT's default layer adds in
**     LLVM 22, so C++ exceptions thrown in JIT code keep working), a plugin
**     that keeps .eh_frame records packed (EHFramePacker) and the core's
**     binding plugin (glue/oj_link.cc).
**
** What it does not own: relocations that no placement can satisfy (an
** R_X86_64_32 to another graph or the host, a PC32 from low memory to host
** data): JITLink fails with its "out of range" error, which the core words;
** GOTPCRELX relaxation into absolute calls (LLVM #190968): the core's ELF
** pre-pass rewrites those.
*/
#include "oj_memmgr.h"
#include "oj_ehlink.h"
#include "oj_link.h"
#include "oj_vmem.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include <atomic>
#include <cstring>
#include <system_error>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

#include "llvm/ExecutionEngine/JITLink/JITLink.h"
#include "llvm/ExecutionEngine/JITLink/JITLinkMemoryManager.h"
#include "llvm/ExecutionEngine/JITLink/aarch64.h"
#include "llvm/ExecutionEngine/JITLink/x86_64.h"
#include "llvm/ExecutionEngine/Orc/Core.h"
#include "llvm/ExecutionEngine/Orc/EHFrameRegistrationPlugin.h"
#include "llvm/ExecutionEngine/Orc/ObjectLinkingLayer.h"
#include "llvm/ExecutionEngine/Orc/Shared/AllocationActions.h"

using namespace llvm;
using namespace llvm::jitlink;

namespace {

int toProt(orc::MemProt mp) {
  int p = 0;
  if ((mp & orc::MemProt::Read) != orc::MemProt::None) p |= PROT_READ;
  if ((mp & orc::MemProt::Write) != orc::MemProt::None) p |= PROT_WRITE;
  if ((mp & orc::MemProt::Exec) != orc::MemProt::None) p |= PROT_EXEC;
  return p;
}

/* A finalized allocation: its memory and its deallocation actions. */
struct Allocation {
  oj_vmem_alloc *mem;
  std::vector<orc::shared::WrapperFunctionCall> deallocActions;
};

/* "R_X86_64_32 in section .text to 'x'": an edge, for messages. */
std::string describeEdge(const char *kind, Block &B, Edge &E) {
  std::string s = std::string(kind) + " in section " + B.getSection().getName().str();
  Symbol &T = E.getTarget();
  if (T.hasName())
    s += " to '" + (*T.getName()).str() + "'";
  else if (T.isDefined())
    s += " to section " + T.getBlock().getSection().getName().str();
  return s;
}

bool allocatedHere(Symbol &T) {
  return T.isDefined() &&
         T.getBlock().getSection().getMemLifetime() != orc::MemLifetime::NoAlloc;
}

/* What an edge to outside the graph means for the graph's placement, by
** machine: "" if it has no range limit (absolute 64-bit, 64-bit deltas, page
** offsets, move-wide parts), else the relocation to name in messages. */
const char *edgeReachName(const Triple &TT, Edge::Kind K) {
  if (TT.getArch() == Triple::aarch64) {
    switch (K) {
    case aarch64::Pointer64:
    case aarch64::Delta64:
    case aarch64::NegDelta64:
    case aarch64::PageOffset12:
    case aarch64::MoveWide16:
      return "";
    case aarch64::Page21: /* ADRP: +-4 GiB */
      return "R_AARCH64_ADR_PREL_PG_HI21";
    case aarch64::Delta32:
      return "R_AARCH64_PREL32";
    default:
      return nullptr;
    }
  }
  switch (K) { /* x86-64 */
  case x86_64::Pointer64:
  case x86_64::Delta64:
  case x86_64::NegDelta64:
  case x86_64::Size64:
  case x86_64::Size32:
  case x86_64::Delta64FromGOT:
    return "";
  case x86_64::Delta32:
  case x86_64::PCRel32:
    return "R_X86_64_PC32";
  default:
    return nullptr;
  }
}

/* What G's edges from allocated memory say about where it may go, in one
** walk over its blocks (the graph keeps each section's blocks in a hash set
** of at least 64 buckets; walking them once for each question was 3% of
** loading a C++ object with a hundred sections):
**   needLow: an absolute 32-bit edge (x86-64 Pointer32 / Pointer32Signed)
**     to its own allocated code or data, so only an address below 2 GiB can
**     work (whereLow names the first one found);
**   reachesOut: an edge narrower than 64 bits (a 32-bit PC-relative one,
**     mostly) to something outside it (another graph, the host), so it must
**     stay in the shared window near both (whereOut names it).  Calls and
**     GOT loads to other code go through the graph's own stubs and GOT by
**     the time it is allocated, and do not count.  A machine other than
**     x86-64 and aarch64 always reaches out. */
struct Placement {
  bool needLow = false, reachesOut = false;
  std::string whereLow, whereOut;
};

Placement scanPlacement(LinkGraph &G) {
  Placement P;
  const Triple &TT = G.getTargetTriple();
  bool x86 = TT.getArch() == Triple::x86_64;
  if (!x86 && TT.getArch() != Triple::aarch64) {
    P.reachesOut = true;
    P.whereOut = "(not x86-64 or aarch64)";
  }
  for (Section &Sec : G.sections()) {
    if (Sec.getMemLifetime() == orc::MemLifetime::NoAlloc) continue;
    for (Block *B : Sec.blocks())
      for (Edge &E : B->edges()) {
        if (!E.isRelocation()) continue;
        bool here = allocatedHere(E.getTarget());
        if (here) {
          if (P.needLow || !x86) continue;
          if (E.getKind() != x86_64::Pointer32 && E.getKind() != x86_64::Pointer32Signed)
            continue;
          P.needLow = true;
          P.whereLow = describeEdge(
              E.getKind() == x86_64::Pointer32 ? "R_X86_64_32" : "R_X86_64_32S", *B, E);
        } else if (!P.reachesOut) {
          const char *name = edgeReachName(TT, E.getKind());
          if (name && !*name) continue;
          P.reachesOut = true;
          P.whereOut = describeEdge(name ? name : G.getEdgeKindName(E.getKind()), *B, E);
        }
        if (P.needLow && P.reachesOut) return P;
      }
  }
  return P;
}

class MemMgr final : public JITLinkMemoryManager {
public:
  explicit MemMgr(size_t slabSize) : SlabSize(slabSize) {}

  void allocate(const JITLinkDylib *JD, LinkGraph &G,
                OnAllocatedFunction OnAllocated) override;
  using JITLinkMemoryManager::allocate;
  void deallocate(std::vector<FinalizedAlloc> Allocs,
                  OnDeallocatedFunction OnDeallocated) override;
  using JITLinkMemoryManager::deallocate;

  void setDylibLow(const JITLinkDylib *JD, bool low) {
    std::lock_guard<std::mutex> Lock(Mutex);
    if (low)
      LowDylibs.insert(JD);
    else
      LowDylibs.erase(JD);
  }
  void setKeepCode(bool keep) { KeepCode = keep; }
  const std::atomic<bool> *keepCodeFlag() const { return &KeepCode; }
  size_t takeRegionsFreed() { return RegionsFreed.exchange(0); }

private:
  class InFlight;

  size_t SlabSize;
  std::mutex Mutex;
  std::unordered_set<const JITLinkDylib *> LowDylibs;
  std::atomic<bool> KeepCode{false};   /* oj_memmgr_set_keep_code */
  std::atomic<size_t> RegionsFreed{0}; /* unmapped at deallocate */
};

class MemMgr::InFlight final : public JITLinkMemoryManager::InFlightAlloc {
public:
  InFlight(LinkGraph &G, BasicLayout BL, oj_vmem_alloc *Mem)
      : G(&G), BL(std::move(BL)), Mem(Mem) {}

  ~InFlight() override { oj_vmem_free(Mem, 0); } /* neither finalized nor abandoned */

  void finalize(OnFinalizedFunction OnFinalized) override {
    if (oj_vmem_protect(Mem) != 0) {
      int e = errno;
      oj_vmem_free(Mem, 0);
      Mem = nullptr;
      OnFinalized(make_error<StringError>(
          G->getName() + ": cannot set JIT memory protections: " + strerror(e),
          inconvertibleErrorCode()));
      return;
    }
    auto DeallocActions = orc::shared::runFinalizeActions(BL.graphAllocActions());
    if (!DeallocActions) {
      oj_vmem_free(Mem, 0);
      Mem = nullptr;
      OnFinalized(DeallocActions.takeError());
      return;
    }
    /* Finalize-lifetime segments are not needed any more. */
    oj_vmem_drop_finalize_only(Mem);
    auto *A = new Allocation{Mem, std::move(*DeallocActions)};
    Mem = nullptr;
    OnFinalized(FinalizedAlloc(orc::ExecutorAddr::fromPtr(A)));
  }

  void abandon(OnAbandonedFunction OnAbandoned) override {
    oj_vmem_free(Mem, 0);
    Mem = nullptr;
    OnAbandoned(Error::success());
  }

private:
  LinkGraph *G;
  BasicLayout BL;
  oj_vmem_alloc *Mem;
};

void MemMgr::allocate(const JITLinkDylib *JD, LinkGraph &G,
                      OnAllocatedFunction OnAllocated) {
  BasicLayout BL(G);
  Placement P = scanPlacement(G);
  bool needLow = P.needLow;
  std::string &where = P.whereLow, &out = P.whereOut;
  if (!needLow) {
    std::lock_guard<std::mutex> Lock(Mutex);
    if (LowDylibs.count(JD)) {
      needLow = true;
      where = "(library marked for low memory)";
    }
  }
  bool movable = !needLow && !P.reachesOut;

  std::vector<oj_vmem_seg> segs;
  std::vector<BasicLayout::Segment *> dest;
  for (auto &KV : BL.segments()) {
    const orc::AllocGroup &AG = KV.first;
    if (AG.getMemLifetime() == orc::MemLifetime::NoAlloc) continue;
    auto &Seg = KV.second;
    oj_vmem_seg s = {};
    s.size = Seg.ContentSize + Seg.ZeroFillSize;
    if (s.size < Seg.ContentSize) s.size = SIZE_MAX; /* oj_vmem refuses it */
    s.align = Seg.Alignment.value();
    s.prot = toProt(AG.getMemProt());
    s.finalize_only = AG.getMemLifetime() == orc::MemLifetime::Finalize;
    segs.push_back(s);
    dest.push_back(&Seg);
  }
  char why[256] = "";
  oj_vmem_alloc *Mem = nullptr;
  int rc = oj_vmem_alloc_segments(segs.data(), segs.size(),
                                  (needLow ? OJ_VMEM_LOW : 0) | (movable ? OJ_VMEM_MOVABLE : 0) |
                                      (KeepCode ? OJ_VMEM_PLAIN : 0),
                                  SlabSize, &Mem, why, sizeof why);
  if (rc != 0) {
    std::string msg;
    if (rc == OJ_VMEM_ECOMMIT)
      msg = G.getName() + ": " + why;
    else if (needLow)
      msg = G.getName() +
            ": relocation R_X86_64_32/32S (absolute 32-bit) needs JIT memory below 2 GiB "
            "and none is available; build the object with -fPIC or -fPIE (" +
            (where.empty() ? std::string() : "first: " + where + "; ") + why + ")";
    else if (!movable)
      msg = G.getName() + ": cannot allocate JIT memory: " + why +
            "; it must lie within 2 GiB of libc and the other JIT code because of its "
            "32-bit relative relocations to code or data outside it (first: " + out + ")";
    else
      msg = G.getName() + ": cannot allocate JIT memory: " + why;
    /* The system refused address space or pages (ENOMEM, RLIMIT_AS) or
    ** malloc failed: the core reports ORCJIT_ENOMEM (oj_link_error_is_nomem). */
    bool nomem = std::strncmp(why, "cannot reserve", 14) == 0 ||
                 std::strcmp(why, "out of memory") == 0 ||
                 (rc == OJ_VMEM_ECOMMIT && std::strstr(why, std::strerror(ENOMEM)) != nullptr);
    OnAllocated(make_error<StringError>(
        msg, nomem ? std::make_error_code(std::errc::not_enough_memory)
                   : inconvertibleErrorCode()));
    return;
  }
  for (size_t i = 0; i < segs.size(); i++) {
    dest[i]->Addr = orc::ExecutorAddr(segs[i].addr);
    dest[i]->WorkingMem = reinterpret_cast<char *>(segs[i].work);
  }
  if (auto Err = BL.apply()) {
    oj_vmem_free(Mem, 0);
    OnAllocated(std::move(Err));
    return;
  }
  OnAllocated(std::make_unique<InFlight>(G, std::move(BL), Mem));
}

void MemMgr::deallocate(std::vector<FinalizedAlloc> Allocs,
                        OnDeallocatedFunction OnDeallocated) {
  Error Err = Error::success();
  for (auto &FA : Allocs) {
    std::unique_ptr<Allocation> A(FA.release().toPtr<Allocation *>());
    if (auto E = orc::shared::runDeallocActions(A->deallocActions))
      Err = joinErrors(std::move(Err), std::move(E));
    RegionsFreed += oj_vmem_free(A->mem, KeepCode);
  }
  OnDeallocated(std::move(Err));
}

/* Keeps a graph's .eh_frame records contiguous.  JITLink splits .eh_frame
** into one block per CIE/FDE record, each keeping the section's alignment
** (8) with its offset in it.  When pruning drops an FDE (that of a weak or
** COMDAT function whose copy from an earlier object of the library won),
** the layout pads the next record back to its old offset modulo 8: four
** zero bytes, which libgcc's __register_frame reads as the end of the
** section.  Every FDE after the hole is then never registered, and a C++
** exception unwinding through those functions ends in std::terminate.
** CFI records are 4-byte multiples and need no more than 4-byte alignment,
** so after pruning every record block gets alignment 4 (1 if a record is
** odd-sized), which packs them with no gap, as a static linker does. */
Error packEHFrame(LinkGraph &G) {
  Section *EH = G.findSectionByName(".eh_frame");
  if (!EH) return Error::success();
  uint64_t align = 4;
  for (Block *B : EH->blocks())
    if (B->getSize() % 4 != 0) align = 1;
  for (Block *B : EH->blocks()) {
    B->setAlignment(align);
    B->setAlignmentOffset(0);
  }
  return Error::success();
}

class EHFramePacker final : public orc::LinkGraphLinkingLayer::Plugin {
public:
  void modifyPassConfig(orc::MaterializationResponsibility &, LinkGraph &,
                        PassConfiguration &Config) override {
    Config.PostPrunePasses.push_back(packEHFrame);
  }
  Error notifyFailed(orc::MaterializationResponsibility &) override { return Error::success(); }
  Error notifyRemovingResources(orc::JITDylib &, orc::ResourceKey) override {
    return Error::success();
  }
  void notifyTransferringResources(orc::JITDylib &, orc::ResourceKey, orc::ResourceKey) override {}
};

} // namespace

struct oj_memmgr {
  MemMgr mm;
  explicit oj_memmgr(size_t slab) : mm(slab) {}
};

extern "C" {

oj_memmgr *oj_memmgr_create(size_t slab_size) {
  return new (std::nothrow) oj_memmgr(slab_size);
}

LLVMOrcObjectLayerRef oj_memmgr_create_object_layer(void *ctx,
                                                    LLVMOrcExecutionSessionRef es,
                                                    const char *triple) {
  auto *m = static_cast<oj_memmgr *>(ctx);
  auto &ES = *reinterpret_cast<orc::ExecutionSession *>(es);
  /* Without a manager: the executor's in-process one (LLJIT's default). */
  auto Layer = m ? std::make_unique<orc::ObjectLinkingLayer>(ES, m->mm)
                 : std::make_unique<orc::ObjectLinkingLayer>(ES);
  /* .eh_frame as one block (oj_ehlink.cc); the two plugins after it only
  ** see a .eh_frame that it left to JITLink (debugger sessions: keep-code
  ** is set for those, oj_session.c). */
  Layer->addPlugin(oj_ehlink_plugin(m ? m->mm.keepCodeFlag() : nullptr));
  Layer->addPlugin(std::make_shared<EHFramePacker>());
  /* As LLJIT's default JITLink layer: register eh-frames in process. */
  if (auto P = orc::EHFrameRegistrationPlugin::Create(ES))
    Layer->addPlugin(std::move(*P));
  else
    ES.reportError(P.takeError());
  /* Undefined symbols bound in the graph (glue/oj_link.cc). */
  Layer->addPlugin(oj_link_make_plugin());
  orc::ObjectLayer *L = Layer.release();
  return reinterpret_cast<LLVMOrcObjectLayerRef>(L);
}

void oj_memmgr_set_keep_code(oj_memmgr *m, int keep) {
  if (m) m->mm.setKeepCode(keep != 0);
}

void oj_memmgr_set_dylib_low(oj_memmgr *m, LLVMOrcJITDylibRef jd, int low) {
  if (!m || !jd) return;
  auto *JD = reinterpret_cast<orc::JITDylib *>(jd);
  m->mm.setDylibLow(static_cast<const JITLinkDylib *>(JD), low != 0);
}

size_t oj_memmgr_clear_free_slabs(oj_memmgr *m) {
  size_t n = oj_vmem_clear();
  return m ? n + m->mm.takeRegionsFreed() : n;
}

void oj_memmgr_destroy(oj_memmgr *m) { delete m; }

} // extern "C"
