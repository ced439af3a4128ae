/*
** oj_memmgr.cc: the JIT memory manager of a session.
**
** Why C++: LLVM's C API can make a JITLink object layer only with the
** in-process memory manager (LLVMOrcCreateObjectLinkingLayerWith-
** InProcessMemoryManager), which maps every link graph wherever mmap puts
** it: nothing keeps a session's code and data within +-2 GiB of each other
** (PC-relative relocations of -O2 code then overflow), nor below 2 GiB for
** objects built with -fno-pic.  A custom jitlink::JITLinkMemoryManager can
** only be written in C++; this file is the only C++ of the memory path and
** exposes a C interface (oj_memmgr.h) to the C core.
**
** What this file owns:
**   - the address space of a session: "slabs" reserved with mmap(PROT_NONE,
**     MAP_NORESERVE), in two windows.  The normal window is placed just
**     below libc (hint from dladdr(&printf), MAP_FIXED_NOREPLACE), and every
**     later slab is placed next to the earlier ones so that the window
**     (libc included when it could be) spans less than 2 GiB.  The low
**     window lies below 2 GiB (MAP_32BIT, then hints) and is reserved only
**     when a link graph needs it;
**   - a two-level allocator over the slabs: 1 MiB chunks, each owned by
**     one protection class (RX, R, RW, ...), and page runs inside them.
**     Segments of the same protection are thus packed together, and the
**     kernel merges them into few mappings (a few per session instead of
**     2 to 3 per object);
**   - the choice of window per link graph: low when the graph has an
**     x86-64 Pointer32 / Pointer32Signed edge (R_X86_64_32 / 32S) from
**     allocated memory to its own allocated code or data, or when the core
**     marked the JITDylib with oj_memmgr_set_dylib_low;
**   - the life of an allocation: pages made RW and zeroed for JITLink to
**     write into, final protections and allocation actions (eh-frame
**     registration among them) at finalize, deallocation actions and the
**     pages back in the free lists at deallocate.  Freed pages keep their
**     last protection and content until reused (immediately, first fit) or
**     given back with oj_memmgr_clear_free_slabs.  Under the debugger
**     (oj_memmgr_set_keep_code), freed executable pages are given back to
**     the OS at once and their addresses are never reused: gdb keeps
**     breakpoints of an unregistered JIT object inserted, and would write
**     its saved bytes into new code placed at the same address;
**   - the object layer: an orc::ObjectLinkingLayer over this manager with
**     the EHFrameRegistrationPlugin, which is what LLJIT's default layer
**     creator adds in LLVM 22 (LLJITBuilderState::prepareForConstruction),
**     so C++ exceptions thrown in JIT code keep working, and a plugin that
**     keeps .eh_frame records packed (EHFramePacker, below);
**
** What it does not own:
**   - the LLJIT, the ExecutionSession and the layer's lifetime (the LLJIT
**     owns the layer; the manager must outlive the LLJIT);
**   - relocations that no placement can satisfy: an R_X86_64_32 to a symbol
**     of another graph or of the host, or a PC32 from low memory to host
**     data at 0x7f...  (-fno-pic code reading stdout).  JITLink then fails
**     with its "out of range" error, which the core turns into its message;
**   - GOTPCRELX relaxation into absolute calls (LLVM #190968), which low
**     addresses would trigger: the core's ELF pre-pass rewrites those.
**
** Choices made (against the design brief):
**   - a JITLinkMemoryManager subclass rather than MapperJITLinkMemoryManager
**     with a custom MemoryMapper: the mapper cannot see the LinkGraph when
**     it reserves, so it cannot choose the low window, and it neither
**     packs by protection nor lets us return memory on demand.
**   - memory freed by deallocate stays committed (and is reused first);
**     oj_memmgr_clear_free_slabs gives it back and counts resident pages
**     with mincore, so the figure it returns is what the OS got back.
**     Pieces of 256 KiB or more are the exception: they are zeroed by
**     dropping their pages rather than by memset, and dropped again at
**     deallocate, so a large zero-fill section is resident only while and
**     where it is used (fuzz_load grew to 2.6 GB from inputs with huge
**     .bss sections that stayed committed after release).
*/
#include "oj_memmgr.h"
#include "oj_link.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "llvm/ExecutionEngine/JITLink/JITLink.h"
#include "llvm/ExecutionEngine/JITLink/JITLinkMemoryManager.h"
#include "llvm/ExecutionEngine/JITLink/x86_64.h"
#include "llvm/ExecutionEngine/Orc/Core.h"
#include "llvm/ExecutionEngine/Orc/EHFrameRegistrationPlugin.h"
#include "llvm/ExecutionEngine/Orc/ObjectLinkingLayer.h"
#include "llvm/ExecutionEngine/Orc/Shared/AllocationActions.h"
#include "llvm/Support/Memory.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

using namespace llvm;
using namespace llvm::jitlink;

namespace {

constexpr size_t kChunk = size_t(1) << 20;              /* 1 MiB */
constexpr size_t kDropAt = size_t(256) << 10;            /* 256 KiB: see allocate */
constexpr size_t kDefaultSlab = size_t(256) << 20;      /* 256 MiB */
constexpr uint64_t kSpanLimit = (uint64_t(1) << 31) - (uint64_t(16) << 20);
constexpr uint64_t kLowLimit = uint64_t(1) << 31;        /* end of low window */
constexpr unsigned kClasses = 8;                          /* R|W|X combinations */

size_t roundUp(size_t v, size_t a) { return (v + a - 1) / a * a; }
uintptr_t alignUp(uintptr_t v, size_t a) { return (v + a - 1) / a * a; }
uintptr_t alignDown(uintptr_t v, size_t a) { return v / a * a; }

/* Free address ranges, start -> size, coalesced. */
using FreeMap = std::map<uintptr_t, size_t>;

/* Inserts [a, a+n) and merges with its neighbours; returns the merged range. */
FreeMap::iterator fmInsert(FreeMap &fm, uintptr_t a, size_t n) {
  auto next = fm.lower_bound(a);
  if (next != fm.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second == a) {
      prev->second += n;
      if (next != fm.end() && prev->first + prev->second == next->first) {
        prev->second += next->second;
        fm.erase(next);
      }
      return prev;
    }
  }
  if (next != fm.end() && a + n == next->first) {
    n += next->second;
    fm.erase(next);
  }
  return fm.emplace(a, n).first;
}

/* First fit of n bytes aligned to align; removes it from fm. */
bool fmTake(FreeMap &fm, size_t n, size_t align, uintptr_t *out) {
  for (auto it = fm.begin(); it != fm.end(); ++it) {
    uintptr_t start = it->first, end = it->first + it->second;
    uintptr_t a = alignUp(start, align);
    if (a + n > end || a + n < a) continue;
    fm.erase(it);
    if (a > start) fm.emplace(start, a - start);
    if (a + n < end) fm.emplace(a + n, end - (a + n));
    *out = a;
    return true;
  }
  return false;
}

/* Removes [a, a+n), which must lie inside one free range. */
void fmRemove(FreeMap &fm, uintptr_t a, size_t n) {
  auto it = fm.upper_bound(a);
  --it;
  uintptr_t start = it->first, end = it->first + it->second;
  fm.erase(it);
  if (a > start) fm.emplace(start, a - start);
  if (a + n < end) fm.emplace(a + n, end - (a + n));
}

bool fmCovers(const FreeMap &fm, uintptr_t a, size_t n) {
  auto it = fm.upper_bound(a);
  if (it == fm.begin()) return false;
  --it;
  return it->first <= a && a + n <= it->first + it->second;
}

struct Slab {
  uintptr_t base;
  size_t size;
};

/* One window of address space: its slabs, free chunks and per-class pages. */
struct Arena {
  bool low = false;
  std::vector<Slab> slabs;
  FreeMap chunks;           /* free chunks, owned by no class */
  FreeMap pages[kClasses];  /* free pages inside chunks owned by a class */
  uintptr_t lo = 0, hi = 0; /* span of the slabs (and libc when nearLibc) */
  bool nearLibc = false;
};

struct Piece {
  uintptr_t addr;
  size_t size;
  unsigned cls;
  int prot;          /* PROT_* after finalize */
  bool finalizeOnly; /* MemLifetime::Finalize: freed after finalize */
};

struct Allocation {
  bool low;
  std::vector<Piece> pieces;
  std::vector<orc::shared::WrapperFunctionCall> deallocActions;
  const JITLinkDylib *jd;
};

int toProt(orc::MemProt mp) {
  int p = 0;
  if ((mp & orc::MemProt::Read) != orc::MemProt::None) p |= PROT_READ;
  if ((mp & orc::MemProt::Write) != orc::MemProt::None) p |= PROT_WRITE;
  if ((mp & orc::MemProt::Exec) != orc::MemProt::None) p |= PROT_EXEC;
  return p;
}

unsigned protClass(int prot) {
  return ((prot & PROT_READ) ? 1 : 0) | ((prot & PROT_WRITE) ? 2 : 0) |
         ((prot & PROT_EXEC) ? 4 : 0);
}

class MemMgr final : public JITLinkMemoryManager {
public:
  explicit MemMgr(size_t slabSize);
  ~MemMgr() override;

  void allocate(const JITLinkDylib *JD, LinkGraph &G,
                OnAllocatedFunction OnAllocated) override;
  using JITLinkMemoryManager::allocate;
  void deallocate(std::vector<FinalizedAlloc> Allocs,
                  OnDeallocatedFunction OnDeallocated) override;
  using JITLinkMemoryManager::deallocate;

  void setDylibLow(const JITLinkDylib *JD, bool low);
  void setKeepCode(bool keep) { KeepCode = keep; }
  size_t clearFreeSlabs();
  void stats(oj_memmgr_stats *out);

  /* Used by the in-flight allocation. */
  void freePieces(bool low, const std::vector<Piece> &pieces, bool onlyFinalize,
                  bool all);
  FinalizedAlloc makeFinalized(std::unique_ptr<Allocation> A);
  size_t pageSize() const { return PageSize; }

private:
  class InFlight;

  bool allocPiece(Arena &A, unsigned cls, size_t n, size_t align, uintptr_t *out,
                  std::string &why);
  bool reserveSlab(Arena &A, size_t size, std::string &why);
  void *tryMap(uintptr_t hint, size_t size, bool fixed, bool map32);
  bool graphNeedsLow(LinkGraph &G, std::string &where);

  size_t PageSize;
  size_t SlabSize;
  uintptr_t LibcBase = 0;
  std::mutex Mutex;
  Arena Normal, Low;
  std::unordered_map<const JITLinkDylib *, bool> LowDylibs;
  size_t Used = 0;
  size_t Live = 0;
  std::atomic<bool> KeepCode{false}; /* oj_memmgr_set_keep_code */
};

MemMgr::MemMgr(size_t slabSize) {
  long ps = sysconf(_SC_PAGESIZE);
  PageSize = ps > 0 ? size_t(ps) : 4096;
  SlabSize = roundUp(slabSize ? slabSize : kDefaultSlab, kChunk);
  Low.low = true;
  Dl_info info;
  if (dladdr((void *)&printf, &info) && info.dli_fbase)
    LibcBase = (uintptr_t)info.dli_fbase;
}

MemMgr::~MemMgr() {
  for (Arena *A : {&Normal, &Low})
    for (const Slab &S : A->slabs) munmap((void *)S.base, S.size);
}

void *MemMgr::tryMap(uintptr_t hint, size_t size, bool fixed, bool map32) {
  int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
  if (fixed) flags |= MAP_FIXED_NOREPLACE;
#ifdef MAP_32BIT
  if (map32) flags |= MAP_32BIT;
#endif
  void *p = mmap((void *)hint, size, PROT_NONE, flags, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  if (fixed && (uintptr_t)p != hint) { /* kernel without MAP_FIXED_NOREPLACE */
    munmap(p, size);
    return nullptr;
  }
  return p;
}

/* Reserves a slab of size bytes (a multiple of kChunk) in A.  The normal
** window keeps every slab (and libc, when the first slab could be put near
** it) within kSpanLimit; the low window stays below kLowLimit. */
bool MemMgr::reserveSlab(Arena &A, size_t size, std::string &why) {
  auto accept = [&](uintptr_t p, uintptr_t lo, uintptr_t hi) {
    uintptr_t nlo = lo ? std::min(lo, p) : p;
    uintptr_t nhi = std::max(hi, p + size);
    if (A.low) return p + size <= kLowLimit;
    return uint64_t(nhi - nlo) <= kSpanLimit;
  };
  auto commit = [&](uintptr_t p, bool nearLibc) {
    bool first = A.slabs.empty();
    A.slabs.push_back({p, size});
    fmInsert(A.chunks, p, size);
    if (first) {
      A.lo = p;
      A.hi = p + size;
      if (nearLibc) {
        A.nearLibc = true;
        A.lo = std::min(A.lo, LibcBase);
        A.hi = std::max(A.hi, LibcBase + kChunk);
      }
    } else {
      A.lo = std::min(A.lo, p);
      A.hi = std::max(A.hi, p + size);
    }
    return true;
  };
  /* Exact candidates first (MAP_FIXED_NOREPLACE), then a plain mapping. */
  std::vector<uintptr_t> cands;
  if (A.low) {
#ifdef MAP_32BIT
    if (void *p = tryMap(0, size + kChunk, false, true)) {
      uintptr_t b = alignUp((uintptr_t)p, kChunk);
      /* trim to a chunk-aligned slab */
      if (b > (uintptr_t)p) munmap(p, b - (uintptr_t)p);
      uintptr_t e = (uintptr_t)p + size + kChunk;
      if (e > b + size) munmap((void *)(b + size), e - (b + size));
      if (b + size <= kLowLimit) return commit(b, false);
      munmap((void *)b, size);
    }
#endif
    for (uintptr_t top = kLowLimit; top >= size + (uintptr_t(64) << 20);
         top -= std::max(size, size_t(64) << 20))
      cands.push_back(alignDown(top - size, kChunk));
  } else if (A.slabs.empty()) {
    if (LibcBase > size + kChunk) {
      for (unsigned k = 0; k < 16; k++) {
        uintptr_t off = size + kChunk + uint64_t(k) * size;
        if (off > kSpanLimit || off >= LibcBase) break;
        cands.push_back(alignDown(LibcBase - off, kChunk));
      }
    }
  } else {
    for (unsigned k = 0; k < 16; k++) {
      uintptr_t step = uint64_t(k) * size;
      /* Chunk-aligned: A.lo/A.hi take in libc's base, which is only
      ** page-aligned (an unaligned slab cannot hold a piece as large). */
      if (A.lo > size + step) cands.push_back(alignDown(A.lo - size - step, kChunk));
      cands.push_back(alignUp(A.hi + step, kChunk));
    }
  }
  for (uintptr_t c : cands) {
    if (!accept(c, A.lo, A.hi)) continue;
    if (tryMap(c, size, true, false))
      return commit(c, !A.low && A.slabs.empty() && LibcBase != 0);
  }
  /* Anywhere, then check. */
  void *p = tryMap(0, size + kChunk, false, false);
  if (!p) {
    why = "cannot reserve " + std::to_string(size >> 20) + " MiB of address space";
    return false;
  }
  uintptr_t b = alignUp((uintptr_t)p, kChunk);
  if (b > (uintptr_t)p) munmap(p, b - (uintptr_t)p);
  uintptr_t e = (uintptr_t)p + size + kChunk;
  if (e > b + size) munmap((void *)(b + size), e - (b + size));
  if (A.low) {
    if (b + size <= kLowLimit) return commit(b, false);
  } else if (A.slabs.empty()) {
    uintptr_t d = b > LibcBase ? b + size - LibcBase : LibcBase + kChunk - b;
    return commit(b, LibcBase && d <= kSpanLimit);
  } else if (accept(b, A.lo, A.hi)) {
    return commit(b, false);
  }
  munmap((void *)b, size);
  why = A.low ? "no address space is free below 2 GiB"
              : "no address space is free within 2 GiB of the session's other "
                "JIT code (" +
                    std::to_string((A.hi - A.lo) >> 20) + " MiB in use)";
  return false;
}

/* Takes n bytes (page multiple) aligned to align for class cls. */
bool MemMgr::allocPiece(Arena &A, unsigned cls, size_t n, size_t align,
                        uintptr_t *out, std::string &why) {
  if (fmTake(A.pages[cls], n, align, out)) return true;
  size_t want = roundUp(n + (align > PageSize ? align : 0), kChunk);
  uintptr_t c;
  if (!fmTake(A.chunks, want, kChunk, &c)) {
    size_t slab = std::max(SlabSize, want);
    if (A.low) slab = std::max(std::min(slab, size_t(256) << 20), want);
    if (!reserveSlab(A, slab, why)) return false;
    if (!fmTake(A.chunks, want, kChunk, &c)) {
      why = "internal error: fresh slab too small";
      return false;
    }
  }
  fmInsert(A.pages[cls], c, want);
  if (!fmTake(A.pages[cls], n, align, out)) {
    why = "internal error: fresh chunk too small";
    return false;
  }
  return true;
}

void MemMgr::freePieces(bool low, const std::vector<Piece> &pieces,
                        bool onlyFinalize, bool all) {
  std::lock_guard<std::mutex> Lock(Mutex);
  Arena &A = low ? Low : Normal;
  for (const Piece &P : pieces) {
    if (!all && P.finalizeOnly != onlyFinalize) continue;
    Used -= P.size;
    auto it = fmInsert(A.pages[P.cls], P.addr, P.size);
    /* Whole chunks go back to the shared pool, for any class. */
    uintptr_t s = it->first, e = it->first + it->second;
    uintptr_t cs = alignUp(s, kChunk), ce = alignDown(e, kChunk);
    if (cs < ce) {
      A.pages[P.cls].erase(it);
      if (s < cs) A.pages[P.cls].emplace(s, cs - s);
      if (ce < e) A.pages[P.cls].emplace(ce, e - ce);
      fmInsert(A.chunks, cs, ce - cs);
    }
  }
}

/* True when G has an absolute 32-bit edge from allocated memory to its own
** allocated code or data: then only an address below 2 GiB can work. */
bool MemMgr::graphNeedsLow(LinkGraph &G, std::string &where) {
  if (G.getTargetTriple().getArch() != Triple::x86_64) return false;
  for (Block *B : G.blocks()) {
    if (B->getSection().getMemLifetime() == orc::MemLifetime::NoAlloc) continue;
    for (Edge &E : B->edges()) {
      if (E.getKind() != x86_64::Pointer32 && E.getKind() != x86_64::Pointer32Signed)
        continue;
      Symbol &T = E.getTarget();
      if (!T.isDefined()) continue;
      if (T.getBlock().getSection().getMemLifetime() == orc::MemLifetime::NoAlloc)
        continue;
      where = std::string(E.getKind() == x86_64::Pointer32 ? "R_X86_64_32" : "R_X86_64_32S") +
              " in section " + B->getSection().getName().str();
      if (T.hasName())
        where += " to '" + (*T.getName()).str() + "'";
      else
        where += " to section " + T.getBlock().getSection().getName().str();
      return true;
    }
  }
  return false;
}

void MemMgr::setDylibLow(const JITLinkDylib *JD, bool low) {
  std::lock_guard<std::mutex> Lock(Mutex);
  if (low)
    LowDylibs[JD] = true;
  else
    LowDylibs.erase(JD);
}

JITLinkMemoryManager::FinalizedAlloc MemMgr::makeFinalized(std::unique_ptr<Allocation> A) {
  {
    std::lock_guard<std::mutex> Lock(Mutex);
    Live++;
  }
  return FinalizedAlloc(orc::ExecutorAddr::fromPtr(A.release()));
}

class MemMgr::InFlight final : public JITLinkMemoryManager::InFlightAlloc {
public:
  InFlight(MemMgr &M, LinkGraph &G, BasicLayout BL, std::unique_ptr<Allocation> A)
      : M(M), G(&G), BL(std::move(BL)), A(std::move(A)) {}

  ~InFlight() override {
    /* Neither finalized nor abandoned (should not happen): free the pages. */
    if (A) M.freePieces(A->low, A->pieces, false, true);
  }

  void finalize(OnFinalizedFunction OnFinalized) override {
    for (const Piece &P : A->pieces) {
      if (mprotect((void *)P.addr, P.size, P.prot) != 0) {
        int e = errno;
        M.freePieces(A->low, A->pieces, false, true);
        A.reset();
        OnFinalized(make_error<StringError>(
            G->getName() + ": cannot set JIT memory protections: " + strerror(e),
            inconvertibleErrorCode()));
        return;
      }
      if (P.prot & PROT_EXEC) sys::Memory::InvalidateInstructionCache((void *)P.addr, P.size);
    }
    auto DeallocActions = orc::shared::runFinalizeActions(BL.graphAllocActions());
    if (!DeallocActions) {
      M.freePieces(A->low, A->pieces, false, true);
      A.reset();
      OnFinalized(DeallocActions.takeError());
      return;
    }
    /* Finalize-lifetime segments are not needed any more. */
    M.freePieces(A->low, A->pieces, true, false);
    std::vector<Piece> keep;
    for (const Piece &P : A->pieces)
      if (!P.finalizeOnly) keep.push_back(P);
    A->pieces = std::move(keep);
    A->deallocActions = std::move(*DeallocActions);
    OnFinalized(M.makeFinalized(std::move(A)));
  }

  void abandon(OnAbandonedFunction OnAbandoned) override {
    if (A) M.freePieces(A->low, A->pieces, false, true);
    A.reset();
    OnAbandoned(Error::success());
  }

private:
  MemMgr &M;
  LinkGraph *G;
  BasicLayout BL;
  std::unique_ptr<Allocation> A;
};

void MemMgr::allocate(const JITLinkDylib *JD, LinkGraph &G,
                      OnAllocatedFunction OnAllocated) {
  BasicLayout BL(G);
  auto A = std::make_unique<Allocation>();
  A->jd = JD;
  std::string where;
  bool needLow = graphNeedsLow(G, where);
  std::string why;
  bool failed = false;
  {
    std::lock_guard<std::mutex> Lock(Mutex);
    if (!needLow) {
      auto it = LowDylibs.find(JD);
      if (it != LowDylibs.end() && it->second) {
        needLow = true;
        where = "(library marked for low memory)";
      }
    }
    A->low = needLow;
    Arena &Ar = needLow ? Low : Normal;
    {
      for (auto &KV : BL.segments()) {
        const orc::AllocGroup &AG = KV.first;
        auto &Seg = KV.second;
        if (AG.getMemLifetime() == orc::MemLifetime::NoAlloc) continue;
        size_t align = std::max<size_t>(Seg.Alignment.value(), PageSize);
        if (align > kChunk) {
          why = "segment alignment " + std::to_string(Seg.Alignment.value()) +
                " is larger than 1 MiB";
          failed = true;
          break;
        }
        /* The core's ELF pre-pass bounds this; a segment this large would
        ** wrap the sizes below around zero. */
        if (Seg.ContentSize > kSpanLimit || Seg.ZeroFillSize > kSpanLimit - Seg.ContentSize) {
          why = "a segment of " + std::to_string(Seg.ContentSize) + " + " +
                std::to_string(Seg.ZeroFillSize) + " bytes is larger than 2 GiB";
          failed = true;
          break;
        }
        size_t size = roundUp(std::max<size_t>(Seg.ContentSize + Seg.ZeroFillSize, 1), PageSize);
        int prot = toProt(AG.getMemProt());
        unsigned cls = protClass(prot);
        uintptr_t addr;
        if (!allocPiece(Ar, cls, size, align, &addr, why)) {
          failed = true;
          break;
        }
        Used += size;
        A->pieces.push_back(
            {addr, size, cls, prot, AG.getMemLifetime() == orc::MemLifetime::Finalize});
        Seg.Addr = orc::ExecutorAddr(addr);
        Seg.WorkingMem = (char *)addr;
      }
    }
  }
  if (failed) {
    freePieces(A->low, A->pieces, false, true);
    std::string msg;
    if (needLow)
      msg = G.getName() +
            ": relocation R_X86_64_32/32S (absolute 32-bit) needs JIT memory below 2 GiB "
            "and none is available; build the object with -fPIC or -fPIE (" +
            (where.empty() ? std::string() : "first: " + where + "; ") +
            why + ")";
    else
      msg = G.getName() + ": cannot allocate JIT memory: " + why;
    /* The system refused address space (ENOMEM, RLIMIT_AS): the core
    ** reports ORCJIT_ENOMEM (oj_link_error_is_nomem). */
    bool nomem = why.compare(0, 14, "cannot reserve") == 0;
    OnAllocated(make_error<StringError>(
        msg, nomem ? std::make_error_code(std::errc::not_enough_memory)
                   : inconvertibleErrorCode()));
    return;
  }
  /* Make the pages writable and clean for JITLink (outside the lock). */
  for (const Piece &P : A->pieces) {
    if (mprotect((void *)P.addr, P.size, PROT_READ | PROT_WRITE) != 0) {
      int e = errno;
      freePieces(A->low, A->pieces, false, true);
      OnAllocated(make_error<StringError>(
          G.getName() + ": cannot commit JIT memory: " + strerror(e),
          e == ENOMEM ? std::make_error_code(std::errc::not_enough_memory)
                      : inconvertibleErrorCode()));
      return;
    }
    /* Large pieces are zeroed by dropping their pages (private anonymous
    ** memory reads back as zero): a big .bss then costs no resident memory
    ** until the code touches it, as with dlopen. */
    if (P.size >= kDropAt)
      madvise((void *)P.addr, P.size, MADV_DONTNEED);
    else
      memset((void *)P.addr, 0, P.size);
  }
  if (auto Err = BL.apply()) {
    freePieces(A->low, A->pieces, false, true);
    OnAllocated(std::move(Err));
    return;
  }
  OnAllocated(std::make_unique<InFlight>(*this, G, std::move(BL), std::move(A)));
}

void MemMgr::deallocate(std::vector<FinalizedAlloc> Allocs,
                        OnDeallocatedFunction OnDeallocated) {
  Error Err = Error::success();
  for (auto &FA : Allocs) {
    std::unique_ptr<Allocation> A(FA.release().toPtr<Allocation *>());
    if (auto E = orc::shared::runDeallocActions(A->deallocActions))
      Err = joinErrors(std::move(Err), std::move(E));
    if (KeepCode) {
      /* Executable pages are retired: their memory goes back to the OS,
      ** their addresses are never handed out again. */
      std::vector<Piece> rest;
      for (const Piece &P : A->pieces) {
        if (!(P.prot & PROT_EXEC)) {
          rest.push_back(P);
          continue;
        }
        madvise((void *)P.addr, P.size, MADV_DONTNEED);
        std::lock_guard<std::mutex> Lock(Mutex);
        Used -= P.size;
      }
      A->pieces = std::move(rest);
    }
    /* Large pieces give their pages back at once; small ones stay
    ** committed for the next load (the common, fast case). */
    for (const Piece &P : A->pieces)
      if (P.size >= kDropAt) madvise((void *)P.addr, P.size, MADV_DONTNEED);
    freePieces(A->low, A->pieces, false, true);
    std::lock_guard<std::mutex> Lock(Mutex);
    Live--;
  }
  OnDeallocated(std::move(Err));
}

size_t MemMgr::clearFreeSlabs() {
  std::lock_guard<std::mutex> Lock(Mutex);
  size_t released = 0;
  std::vector<unsigned char> vec;
  auto drop = [&](uintptr_t a, size_t n) {
    vec.resize(n / PageSize);
    if (mincore((void *)a, n, vec.data()) == 0)
      for (unsigned char v : vec)
        if (v & 1) released += PageSize;
    madvise((void *)a, n, MADV_DONTNEED);
  };
  for (Arena *A : {&Normal, &Low}) {
    for (auto &fm : A->pages)
      for (auto &KV : fm) drop(KV.first, KV.second);
    for (auto &KV : A->chunks) drop(KV.first, KV.second);
    /* Unmap wholly free slabs; the normal window keeps its first one. */
    std::vector<Slab> keep;
    for (size_t i = 0; i < A->slabs.size(); i++) {
      const Slab &S = A->slabs[i];
      bool anchor = !A->low && i == 0;
      if (!anchor && fmCovers(A->chunks, S.base, S.size)) {
        fmRemove(A->chunks, S.base, S.size);
        munmap((void *)S.base, S.size);
      } else {
        keep.push_back(S);
      }
    }
    A->slabs = std::move(keep);
  }
  return released;
}

void MemMgr::stats(oj_memmgr_stats *out) {
  std::lock_guard<std::mutex> Lock(Mutex);
  memset(out, 0, sizeof *out);
  for (Arena *A : {&Normal, &Low})
    for (const Slab &S : A->slabs) {
      out->reserved += S.size;
      if (A->low) out->reserved_low += S.size;
      out->slabs++;
    }
  out->used = Used;
  out->allocations = Live;
  if (!Normal.slabs.empty()) {
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    for (const Slab &S : Normal.slabs) {
      lo = std::min(lo, S.base);
      hi = std::max(hi, S.base + S.size);
    }
    out->lowest = lo;
    out->highest = hi;
  }
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

size_t oj_memmgr_clear_free_slabs(oj_memmgr *m) { return m ? m->mm.clearFreeSlabs() : 0; }

void oj_memmgr_get_stats(oj_memmgr *m, oj_memmgr_stats *out) {
  if (!out) return;
  if (!m) {
    memset(out, 0, sizeof *out);
    return;
  }
  m->mm.stats(out);
}

void oj_memmgr_destroy(oj_memmgr *m) { delete m; }

} // extern "C"
