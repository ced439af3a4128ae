/*
** oj_ehlink.cc: an object's .eh_frame linked as one plain block, and
** registered with the unwinder, instead of JITLink's record-by-record
** handling.
**
** Why C++: JITLink passes and ORC object-layer plugins have no C API.
**
** JITLink 22 splits .eh_frame into a block per CIE and FDE record
** (DWARFRecordSectionSplitter), re-reads every record to make edges it
** mostly has already (EHFrameEdgeFixer), then prunes, lays out, fixes up
** and destroys those blocks one by one: 10% of the instructions of a
** small C object's load, 12% of a C++ one's (callgrind, docs/design.md,
** "Load cost").  A static linker copies .eh_frame whole.  So does this
** plugin: before JITLink's own passes it moves the section's block into a
** section of another name, where those passes do not look, and anchors it
** live; the block's relocations are ordinary fixups.  A four-byte zero
** appended to it ends the table, as crtend.o's does, and allocation actions
** register the whole range with libgcc's __register_frame at finalize and
** deregister it at release (the functions ORC's EHFrameRegistrationPlugin
** calls).
**
** What JITLink's splitting also did: drop the FDE of a function whose
** definition lost to another (a weak or COMDAT copy an earlier object of
** the library defined first; ORC turns such symbols external before
** pruning).  Kept, that FDE would describe the winning copy with this
** copy's unwind rules.  After that decision, such an FDE gets a zero
** address range, starting at itself: it describes no code.
**
** Debugger sessions keep JITLink's way (oj_ehlink.h says why).
**
** The ELF pre-pass (src/oj_ehframe.c) has checked every record: lengths
** inside the section, 32-bit records, FDEs of code of this object.
*/
#include "oj_ehlink.h"

#include <cstdint>
#include <algorithm>
#include <cstring>
#include <vector>

#include "llvm/ExecutionEngine/JITLink/JITLink.h"
#include "llvm/ExecutionEngine/JITLink/aarch64.h"
#include "llvm/ExecutionEngine/JITLink/x86_64.h"
#include "llvm/ExecutionEngine/Orc/Shared/AllocationActions.h"
#include "llvm/ExecutionEngine/Orc/Shared/WrapperFunctionUtils.h"
#include "llvm/ExecutionEngine/Orc/TargetProcess/RegisterEHFrames.h"

using namespace llvm;
using namespace llvm::jitlink;

namespace {

const char WholeEHFrame[] = ".orcjit.eh_frame";

/* Bytes a pc_begin edge covers; 0 for a kind that cannot be one. */
size_t fieldSize(const LinkGraph &G, Edge::Kind K) {
  switch (G.getTargetTriple().getArch()) {
  case Triple::x86_64:
    if (K == x86_64::Delta32 || K == x86_64::Pointer32) return 4;
    if (K == x86_64::Delta64 || K == x86_64::Pointer64) return 8;
    return 0;
  case Triple::aarch64:
    if (K == aarch64::Delta32 || K == aarch64::Pointer32) return 4;
    if (K == aarch64::Delta64 || K == aarch64::Pointer64) return 8;
    return 0;
  default:
    return 0;
  }
}

uint32_t read32(const char *p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

/* First of the pre-prune passes: .eh_frame becomes one live block of
** another section, with the terminator appended to it. */
Error takeEHFrame(LinkGraph &G) {
  Section *EH = G.findSectionByName(".eh_frame");
  if (!EH) return Error::success();
  if (EH->blocks_size() != 1 || (*EH->blocks().begin())->isZeroFill())
    return Error::success(); /* not as an ELF object has it: JITLink's way */
  Block &B = **EH->blocks().begin();
  /* Within the block: in a separate block, the terminator could be laid
  ** out apart from the table (blocks of a segment are ordered by section
  ** ordinal, then by address). */
  MutableArrayRef<char> Buf = G.allocateBuffer(B.getSize() + 4);
  std::memcpy(Buf.data(), B.getContent().data(), B.getSize());
  std::memset(Buf.data() + B.getSize(), 0, 4);
  B.setMutableContent(Buf);
  auto Ordinal = EH->getOrdinal();
  Section &Whole = G.createSection(WholeEHFrame, EH->getMemProt());
  G.mergeSections(Whole, *EH); /* .eh_frame is gone */
  /* Its ordinal: the next section created (the GOT) takes the count of
  ** sections as its own, which Whole had. */
  Whole.setOrdinal(Ordinal);
  G.addAnonymousSymbol(B, 0, B.getSize(), false, true);
  return Error::success();
}

/* After ORC's decision on weak definitions: the FDEs of functions whose
** definition is now another's describe nothing. */
Error dropLostFDEs(LinkGraph &G) {
  Section *Whole = G.findSectionByName(WholeEHFrame);
  if (!Whole) return Error::success();
  for (Block *B : Whole->blocks()) {
    if (B->edges_empty()) continue;
    /* The offsets of the FDEs' pc_begin fields, ascending. */
    std::vector<uint64_t> PCBegin;
    const char *C = B->getContent().data();
    uint64_t N = B->getSize();
    for (uint64_t At = 0; At + 8 <= N;) {
      uint32_t Len = read32(C + At);
      if (Len == 0 || Len == 0xffffffffu || Len > N - At - 4) break;
      if (read32(C + At + 4) != 0) PCBegin.push_back(At + 8);
      At += 4 + uint64_t(Len);
    }
    std::vector<Block::edge_iterator> Lost;
    for (auto E = B->edges().begin(); E != B->edges().end(); ++E)
      if (!E->getTarget().isDefined() && fieldSize(G, E->getKind()) &&
          std::binary_search(PCBegin.begin(), PCBegin.end(), uint64_t(E->getOffset())))
        Lost.push_back(E);
    if (Lost.empty()) continue;
    MutableArrayRef<char> M = B->getMutableContent(G);
    /* From the last: removing an edge moves the ones after it. */
    for (auto It = Lost.rbegin(); It != Lost.rend(); ++It) {
      uint64_t Off = (*It)->getOffset();
      size_t Size = fieldSize(G, (*It)->getKind());
      if (Off + 2 * Size <= M.size()) std::memset(M.data() + Off, 0, 2 * Size);
      B->removeEdge(*It);
    }
  }
  return Error::success();
}

/* Before fixups: register the table at finalize, deregister at release. */
Error registerWhole(LinkGraph &G) {
  Section *Whole = G.findSectionByName(WholeEHFrame);
  if (!Whole) return Error::success();
  using namespace orc::shared;
  auto R = SectionRange(*Whole).getRange();
  auto Reg = WrapperFunctionCall::Create<SPSArgList<SPSExecutorAddrRange>>(
      orc::ExecutorAddr::fromPtr(&llvm_orc_registerEHFrameSectionAllocAction), R);
  auto Dereg = WrapperFunctionCall::Create<SPSArgList<SPSExecutorAddrRange>>(
      orc::ExecutorAddr::fromPtr(&llvm_orc_deregisterEHFrameSectionAllocAction), R);
  if (!Reg) return Reg.takeError();
  if (!Dereg) return Dereg.takeError();
  G.allocActions().push_back({std::move(*Reg), std::move(*Dereg)});
  return Error::success();
}

class WholeEHFramePlugin final : public orc::LinkGraphLinkingLayer::Plugin {
public:
  explicit WholeEHFramePlugin(const std::atomic<bool> *Debugger) : Debugger(Debugger) {}
  void modifyPassConfig(orc::MaterializationResponsibility &, LinkGraph &,
                        PassConfiguration &Config) override {
    if (Debugger && Debugger->load()) return;
    Config.PrePrunePasses.insert(Config.PrePrunePasses.begin(), takeEHFrame);
    Config.PrePrunePasses.push_back(dropLostFDEs);
    Config.PostAllocationPasses.push_back(registerWhole);
  }
  Error notifyFailed(orc::MaterializationResponsibility &) override { return Error::success(); }
  Error notifyRemovingResources(orc::JITDylib &, orc::ResourceKey) override {
    return Error::success();
  }
  void notifyTransferringResources(orc::JITDylib &, orc::ResourceKey, orc::ResourceKey) override {}

private:
  const std::atomic<bool> *Debugger;
};

} // namespace

std::shared_ptr<orc::LinkGraphLinkingLayer::Plugin>
oj_ehlink_plugin(const std::atomic<bool> *Debugger) {
  return std::make_shared<WholeEHFramePlugin>(Debugger);
}
