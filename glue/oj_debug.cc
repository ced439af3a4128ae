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
** What this file owns:
**   - the entries of the process's GDB JIT interface.  The list itself,
**     __jit_debug_descriptor, and the function gdb breaks on,
**     __jit_debug_register_code, are LLVM's (JITLoaderGDB.cpp: exported by
**     libLLVM.so, or linked into this library from a static LLVM, where
**     LLJIT's default executor pulls them in; so they cannot be defined
**     here too).  A static build must keep both names in the dynamic
**     symbol table, where gdb finds them in a stripped library.  One
**     process-wide mutex serialises our changes to the list (LLVM's own
**     registration, which this project never calls, has another);
**   - per linked object, when the session asked for the debugger: a copy of
**     the object that was linked (the ELF pre-pass output), whose allocated
**     sections' sh_addr are set to where JITLink put them and whose
**     loader-made marker symbols (__orcjit.*) are made undefined so that gdb
**     never names code after them.  gdb reads it as a relocatable object
**     file: symbols, DWARF and .eh_frame are placed by those addresses.  The
**     entry is registered once the object is emitted and unregistered when
**     ORC removes the object's resources (library release, failed add, end
**     of the session), before its memory is freed and reused;
**   - the perf map: for every named function (STT_FUNC, nonzero size, local
**     ones included) of an emitted object whose code was kept,
**     "START SIZE name\n" in hex is appended to /tmp/perf-<pid>.map, one write() per object under the same mutex, the
**     file opened O_APPEND for each object (so a removed file is created
**     again, and a forked child writes its own).  perf has no unload record:
**     entries stay after release.
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

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <map>
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
#include "llvm/ExecutionEngine/Orc/TargetProcess/JITLoaderGDB.h"
#include "tvm_ffi_orcjit/orcjit.h"

using namespace llvm;

/* ---- the GDB JIT interface (see gdb's manual, "JIT Interface") --------- */

/* gdb looks for these two names.  LLVM defines them (JITLoaderGDB.cpp, in
** libLLVM.so or pulled from libLLVMOrcTargetProcess.a by LLJIT's default
** executor, with default visibility), and a process must have one pair per
** object file, so this file uses LLVM's rather than defining its own (a
** static LLVM link would then see two definitions).  The entry and
** descriptor layouts are gdb's, declared by JITLoaderGDB.h. */
extern "C" {
extern struct jit_descriptor __jit_debug_descriptor;
void __jit_debug_register_code(void);
}

namespace {

/* Guards the descriptor's list and the perf map file, process-wide. */
std::mutex &debugLock() {
  static std::mutex *m = new std::mutex; /* never destroyed: used at exit */
  return *m;
}

/* A registered object: the entry gdb reads and the bytes it points at. */
struct GdbEntry {
  jit_code_entry entry;
  std::vector<char> image;
};

void gdbRegister(GdbEntry *e) {
  std::lock_guard<std::mutex> lock(debugLock());
  jit_descriptor &d = __jit_debug_descriptor;
  e->entry.symfile_addr = e->image.data();
  e->entry.symfile_size = e->image.size();
  e->entry.prev_entry = nullptr;
  e->entry.next_entry = d.first_entry;
  if (d.first_entry) d.first_entry->prev_entry = &e->entry;
  d.first_entry = &e->entry;
  d.relevant_entry = &e->entry;
  d.action_flag = JIT_REGISTER_FN;
  __jit_debug_register_code();
  d.action_flag = JIT_NOACTION;
  d.relevant_entry = nullptr;
}

void gdbUnregister(GdbEntry *e) {
  std::lock_guard<std::mutex> lock(debugLock());
  jit_descriptor &d = __jit_debug_descriptor;
  if (e->entry.prev_entry) e->entry.prev_entry->next_entry = e->entry.next_entry;
  else d.first_entry = e->entry.next_entry;
  if (e->entry.next_entry) e->entry.next_entry->prev_entry = e->entry.prev_entry;
  d.relevant_entry = &e->entry;
  d.action_flag = JIT_UNREGISTER_FN;
  __jit_debug_register_code();
  d.action_flag = JIT_NOACTION;
  d.relevant_entry = nullptr;
}

/* ---- the perf map file ------------------------------------------------- */

/* Opens /tmp/perf-<pid>.map for appending (created if missing: the file
** may have been removed, or this may be a forked child).  -1 and a message
** on failure. */
int perfOpen() {
  char path[64];
  snprintf(path, sizeof path, "/tmp/perf-%ld.map", (long)getpid());
  int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0)
    orcjit_set_error(ORCJIT_EIO, "cannot open the perf map file %s: %s", path, strerror(errno));
  return fd;
}

/* Appends the lines of one object; a failure costs the names, not the link. */
void perfWrite(const std::string &lines) {
  if (lines.empty()) return;
  std::lock_guard<std::mutex> lock(debugLock());
  int fd = perfOpen();
  if (fd < 0) return;
  const char *p = lines.data();
  size_t left = lines.size();
  while (left > 0) {
    ssize_t n = write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    p += n;
    left -= static_cast<size_t>(n);
  }
  close(fd);
}

/* ---- reading the (already validated) ELF image ------------------------- */

struct Sec {
  uint64_t offset, size, flags;
  uint32_t type;
  std::string name;
};

template <typename T> bool readAt(const std::vector<char> &img, uint64_t off, T *out) {
  if (off > img.size() || img.size() - off < sizeof(T)) return false;
  memcpy(out, img.data() + off, sizeof(T));
  return true;
}

/* The section headers of img; false if it is not a readable ELF64. */
bool readSections(const std::vector<char> &img, std::vector<Sec> *out) {
  Elf64_Ehdr eh;
  if (!readAt(img, 0, &eh) || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
      eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_shentsize != sizeof(Elf64_Shdr))
    return false;
  std::vector<Elf64_Shdr> sh(eh.e_shnum);
  for (size_t i = 0; i < sh.size(); ++i)
    if (!readAt(img, eh.e_shoff + i * sizeof(Elf64_Shdr), &sh[i])) return false;
  if (eh.e_shstrndx >= sh.size()) return false;
  const Elf64_Shdr &strs = sh[eh.e_shstrndx];
  out->resize(sh.size());
  for (size_t i = 0; i < sh.size(); ++i) {
    Sec &s = (*out)[i];
    s.offset = sh[i].sh_offset;
    s.size = sh[i].sh_size;
    s.flags = sh[i].sh_flags;
    s.type = sh[i].sh_type;
    uint64_t at = strs.sh_offset + sh[i].sh_name;
    if (sh[i].sh_name < strs.sh_size && at < img.size()) {
      size_t n = strnlen(img.data() + at, img.size() - at);
      s.name.assign(img.data() + at, n);
    }
  }
  return true;
}

void setSectionAddr(std::vector<char> &img, size_t index, uint64_t addr) {
  Elf64_Ehdr eh;
  memcpy(&eh, img.data(), sizeof eh);
  uint64_t at = eh.e_shoff + index * sizeof(Elf64_Shdr) + offsetof(Elf64_Shdr, sh_addr);
  memcpy(img.data() + at, &addr, sizeof addr);
}

/* Makes the loader's marker symbols (__orcjit.*) undefined in img, so that
** gdb sees only the object's own names.  img was validated by the ELF
** pre-pass; every read is still bounds-checked. */
void hideMarkers(std::vector<char> &img, const std::vector<Sec> &secs) {
  Elf64_Ehdr eh;
  memcpy(&eh, img.data(), sizeof eh);
  for (size_t i = 0; i < secs.size(); ++i) {
    if (secs[i].type != SHT_SYMTAB) continue;
    Elf64_Shdr sh;
    if (!readAt(img, eh.e_shoff + i * sizeof(Elf64_Shdr), &sh) || sh.sh_link >= secs.size())
      return;
    const Sec &str = secs[sh.sh_link];
    for (uint64_t off = sh.sh_offset; off + sizeof(Elf64_Sym) <= sh.sh_offset + sh.sh_size;
         off += sizeof(Elf64_Sym)) {
      Elf64_Sym sym;
      if (!readAt(img, off, &sym)) return;
      uint64_t at = str.offset + sym.st_name;
      static const char kPrefix[] = "__orcjit.";
      if (sym.st_name >= str.size || at + sizeof kPrefix > img.size() ||
          memcmp(img.data() + at, kPrefix, sizeof kPrefix - 1) != 0)
        continue;
      sym.st_shndx = SHN_UNDEF;
      sym.st_value = 0;
      sym.st_size = 0;
      memcpy(img.data() + off, &sym, sizeof sym);
    }
  }
}

/* ---- the plugin -------------------------------------------------------- */

class DebugPlugin final : public orc::ObjectLinkingLayer::Plugin {
 public:
  explicit DebugPlugin(unsigned flags) : Flags(flags) {}

  ~DebugPlugin() override {
    /* The session's end removed every object already; this is a backstop. */
    for (auto &kv : Registered)
      for (GdbEntry *e : kv.second) {
        gdbUnregister(e);
        delete e;
      }
  }

  void notifyMaterializing(orc::MaterializationResponsibility &MR, jitlink::LinkGraph &G,
                           jitlink::JITLinkContext &Ctx, MemoryBufferRef Obj) override {
    auto P = std::make_unique<Pending>();
    if (Flags & ORCJIT_SESSION_DEBUGGER) {
      P->In = Obj.getBufferStart();
      P->InSize = Obj.getBufferSize();
      P->Image.assign(Obj.getBufferStart(), Obj.getBufferEnd());
      if (!readSections(P->Image, &P->Secs)) P->Image.clear(); /* not ELF64: no entry */
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
    perfWrite(P->Perf);
    if (P->Image.empty()) return Error::success();
    hideMarkers(P->Image, P->Secs);
    auto *E = new GdbEntry;
    E->image = std::move(P->Image);
    bool added = false;
    Error Err = MR.withResourceKeyDo([&](orc::ResourceKey K) {
      std::lock_guard<std::mutex> lock(M);
      Registered[K].push_back(E);
      added = true;
      gdbRegister(E);
    });
    if (!added) delete E;
    return Err;
  }

  Error notifyFailed(orc::MaterializationResponsibility &MR) override {
    take(MR);
    return Error::success();
  }

  Error notifyRemovingResources(orc::JITDylib &JD, orc::ResourceKey K) override {
    std::vector<GdbEntry *> gone;
    {
      std::lock_guard<std::mutex> lock(M);
      auto it = Registered.find(K);
      if (it == Registered.end()) return Error::success();
      gone.swap(it->second);
      Registered.erase(it);
    }
    for (GdbEntry *e : gone) {
      gdbUnregister(e);
      delete e;
    }
    return Error::success();
  }

  void notifyTransferringResources(orc::JITDylib &JD, orc::ResourceKey Dst,
                                   orc::ResourceKey Src) override {
    std::lock_guard<std::mutex> lock(M);
    auto it = Registered.find(Src);
    if (it == Registered.end()) return;
    std::vector<GdbEntry *> moved = std::move(it->second);
    Registered.erase(it);
    auto &dst = Registered[Dst];
    dst.insert(dst.end(), moved.begin(), moved.end());
  }

 private:
  /* What one link in progress has gathered. */
  struct Pending {
    const char *In = nullptr; /* the buffer JITLink links (alive until then) */
    size_t InSize = 0;
    std::vector<char> Image;  /* the copy for gdb; empty: none */
    std::vector<Sec> Secs;
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
    std::string Perf;        /* perf map lines */
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
      if (name.starts_with("__orcjit.")) continue;
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
    if (P->Image.empty()) return Error::success();
    /* Allocated sections with content, by file offset. */
    std::vector<std::pair<uint64_t, uint32_t>> byOffset;
    for (size_t i = 0; i < P->Secs.size(); ++i) {
      const Sec &s = P->Secs[i];
      if ((s.flags & SHF_ALLOC) && s.type != SHT_NOBITS && s.size > 0)
        byOffset.emplace_back(s.offset, static_cast<uint32_t>(i));
    }
    std::sort(byOffset.begin(), byOffset.end());
    for (jitlink::Block *B : G.blocks()) {
      if (B->isZeroFill()) {
        StringRef name = B->getSection().getName();
        for (size_t i = 0; i < P->Secs.size(); ++i)
          if (P->Secs[i].type == SHT_NOBITS && (P->Secs[i].flags & SHF_ALLOC) &&
              name == P->Secs[i].name) {
            P->Refs.push_back({B, static_cast<uint32_t>(i), 0});
            break;
          }
        continue;
      }
      const char *c = B->getContent().data();
      if (c < P->In || c >= P->In + P->InSize) continue; /* made by JITLink */
      uint64_t off = static_cast<uint64_t>(c - P->In);
      auto it = std::upper_bound(byOffset.begin(), byOffset.end(),
                                 std::make_pair(off, UINT32_MAX));
      if (it == byOffset.begin()) continue;
      --it;
      const Sec &s = P->Secs[it->second];
      if (off - s.offset < s.size) P->Refs.push_back({B, it->second, off - s.offset});
    }
    return Error::success();
  }

  /* After allocation: section addresses into the image, perf map lines. */
  Error recordAddresses(orc::MaterializationResponsibility &MR, jitlink::LinkGraph &G) {
    Pending *P = find(MR);
    if (!P) return Error::success();
    if (!P->Image.empty()) {
      std::vector<uint64_t> lowest(P->Secs.size(), UINT64_MAX);
      for (const Pending::Ref &r : P->Refs) {
        if (r.Delta >= lowest[r.Sec]) continue;
        lowest[r.Sec] = r.Delta;
        setSectionAddr(P->Image, r.Sec, r.B->getAddress().getValue() - r.Delta);
      }
      P->Refs.clear();
    }
    char line[64];
    for (const Pending::Func &f : P->Funcs) {
      snprintf(line, sizeof line, "%" PRIx64 " %" PRIx64 " ",
               f.B->getAddress().getValue() + f.Offset, f.Size);
      P->Perf += line;
      for (char ch : f.Name) P->Perf += (ch == '\n' || ch == '\r') ? '?' : ch; /* one line */
      P->Perf += '\n';
    }
    P->Funcs.clear();
    return Error::success();
  }

  const unsigned Flags;
  std::mutex M; /* guards PendingObjs and Registered */
  std::unordered_map<orc::MaterializationResponsibility *, std::unique_ptr<Pending>> PendingObjs;
  std::unordered_map<orc::ResourceKey, std::vector<GdbEntry *>> Registered;
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
  if (flags & ORCJIT_SESSION_PERF_MAP) { /* fail early if it cannot be written */
    int fd = perfOpen();
    if (fd < 0) return ORCJIT_EIO;
    close(fd);
  }
  OLL->addPlugin(std::make_shared<DebugPlugin>(flags));
  return ORCJIT_OK;
}
