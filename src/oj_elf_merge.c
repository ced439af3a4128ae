/*
** oj_elf_merge.c: the last step of the ELF pre-pass (oj_elf.h): the
** image's allocated sections merged into one per kind (code, read-only
** data, writable data, zero-fill), as a static linker's output has them.
**
** Why: JITLink makes a section, a block, hash sets of blocks and symbols
** and a layout entry for every ELF section, and walks each of them in
** every pass.  C++ objects carry a section per inline function, per
** exception table, per template instance (COMDAT groups, 100 to 400 in
** the benchmark objects), so that per-section work was about 40% of a
** C++ load: typed2.o 1.95M -> 1.21M instructions per load, containers.o
** 5.91M -> 3.11M, measured with the objects merged by ld -r first
** (docs/design.md, "Load cost").
**
** How, editing the finished image (oj_elf_image.c):
**   - a section merges when it is allocated, PROGBITS or NOBITS, not TLS,
**     not SHF_LINK_ORDER or SHF_EXCLUDE, and its name says nothing: not
**     .eh_frame, not an init/fini table (.init_array*, .ctors*, ...), not
**     a C identifier (its __start_/__stop_ symbols name it);
**   - per kind (write, execute, zero-fill), the first such section takes
**     the others, each at an offset aligned to its own alignment; their
**     bytes are copied to the end of the image; the others become
**     SHT_NULL;
**   - every symbol of a merged section moves (section index, value +
**     offset), section symbols included: JITLink reads a section symbol as
**     an anonymous symbol at its value, so relocations against it (with
**     any addend, any type) still mean the same address; the relocation
**     tables of a merged section point at the one that took it, their
**     offsets moved by the same amount;
**   - static-TLS patch offsets (out->tls_patch) follow their bytes;
**   - where the machine says so (oj_arch.rodata_in_code: x86-64), read-only
**     data joins the code, and a relocation of the code to a symbol of the
**     same section that binds there (string constants, jump tables, local
**     and global functions, calls to COMDAT functions) is resolved here,
**     S + A - P written in place, and dropped from its table
**     (oj_merge_relocs);
**   - (oj_arch.call_stub: x86-64) calls to another object's function from
**     two sites or more of the merged code go through one stub each,
**     appended to the code (oj_merge_stubs);
**   - outside debugger sessions (OJ_ELF_KEEP_DEBUG), sections that are not
**     loaded are dropped (oj_merge_drop_debug) and local symbols nothing
**     refers to become placeholders.
** Read-only data is then mapped executable, as GNU ld laid out the text
** segment before -z separate-code and as literal pools sit in the code of
** ARM and of most JITs; no page is ever writable and executable.  What it
** buys: JITLink makes an edge of every relocation and walks it in every
** pass (about 300 instructions each, before its fixup): a C object's
** relocations are mostly code to its constants (large.o: 9,000 of 12,000,
** a TVM kernel 170 of 180).
** What it costs: the merged sections' bytes copied once (data sections
** over 64 KiB stay apart: no copy, and no gain to be had).  What changes for
** JITLink: pruning works per block, so a function whose weak definition
** lost to another object's stays in memory as dead code (it was dropped).
** Nothing merges in an object with an extended section index table or a
** SHT_REL table (neither is made by the compilers of the supported
** machines), or when the copy cannot be allocated.
*/
#include <elf.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oj_elf_int.h"
#include "oj_hash.h"

#ifndef SHF_EXCLUDE
#define SHF_EXCLUDE 0x80000000u
#endif

#define OJ_MERGE_KINDS 8 /* execute | write << 1 | zero-fill << 2 */
#define OJ_MERGE_MAX ((uint64_t)64 << 10) /* larger sections stay apart */

static int oj_merge_prefix(const char *name, const char *p) {
  return strncmp(name, p, strlen(p)) == 0;
}

/* A C identifier: __start_<name> and __stop_<name> may refer to it. */
static int oj_merge_cident(const char *s) {
  if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_')) return 0;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
          *s == '_'))
      return 0;
  return 1;
}

/* The kind section s merges into, or -1 (ro_code: read-only data is code). */
static int oj_merge_kind(const Elf64_Shdr *s, const char *name, int ro_code) {
  if (!(s->sh_flags & SHF_ALLOC)) return -1;
  if (s->sh_type != SHT_PROGBITS && s->sh_type != SHT_NOBITS) return -1;
  if (s->sh_flags & (SHF_TLS | SHF_LINK_ORDER | SHF_EXCLUDE)) return -1;
  if (s->sh_addralign > OJ_ELF_ALIGN_MAX) return -1;
  /* A large section costs JITLink no more than a small one, and its bytes
  ** would be copied: it stays on its own.  Not large code where read-only
  ** data joins it: its relocations to the data are what merging resolves. */
  if (s->sh_size > OJ_MERGE_MAX && !(ro_code && (s->sh_flags & SHF_EXECINSTR))) return -1;
  if (!name || oj_merge_cident(name)) return -1;
  /* The names below all start with '.' and one of these letters. */
  if (name[0] == '.' && strchr("cdefip", name[1]) && name[1] &&
      (strcmp(name, ".eh_frame") == 0 ||
      strcmp(name, ".init") == 0 || strcmp(name, ".fini") == 0 ||
      oj_merge_prefix(name, ".init_array") || oj_merge_prefix(name, ".fini_array") ||
      oj_merge_prefix(name, ".preinit_array") || oj_merge_prefix(name, ".ctors") ||
      oj_merge_prefix(name, ".dtors")))
    return -1;
  int k = ((s->sh_flags & SHF_EXECINSTR) ? 1 : 0) | ((s->sh_flags & SHF_WRITE) ? 2 : 0) |
          (s->sh_type == SHT_NOBITS ? 4 : 0);
  return k == 0 && ro_code ? 1 : k;
}

static uint64_t oj_merge_up(uint64_t v, uint64_t a) { return a > 1 ? (v + a - 1) & ~(a - 1) : v; }

/* JITLink 22 makes one graph section of all the sections of a name,
** loaded or not as the first says (oj_elf_read.c refuses a loaded section
** named like an earlier unloaded one).  Emptying a section (SHT_NULL, which
** JITLink skips) may leave an unloaded one first of its name, before a
** loaded one: then nothing merges.  1 if the merge keeps the rule. */
static int oj_merge_names_ok(const Elf64_Shdr *sh, uint64_t shnum, const char *shstr,
                             uint64_t shstrend, const signed char *kind, const uint32_t *into) {
  uint64_t mask = 15;
  while (mask < 2 * shnum) mask = mask * 2 + 1;
  uint32_t *first = calloc((size_t)mask + 1, sizeof *first);
  if (!first) return 0;
  int ok = 1;
  for (uint64_t i = 1; i < shnum && ok; i++) {
    if (sh[i].sh_type == SHT_NULL || (kind[i] >= 0 && into[i] != i)) continue; /* skipped */
    const char *name = sh[i].sh_name < shstrend ? shstr + sh[i].sh_name : "";
    uint64_t h = oj_hash_bytes(name, strlen(name));
    uint32_t x;
    for (h &= mask; (x = first[h]) != 0; h = (h + 1) & mask) {
      const char *o = sh[x].sh_name < shstrend ? shstr + sh[x].sh_name : "";
      if (strcmp(o, name) == 0) break;
    }
    if (!x) first[h] = (uint32_t)i;
    else if (!(sh[x].sh_flags & SHF_ALLOC) && (sh[i].sh_flags & SHF_ALLOC)) ok = 0;
  }
  free(first);
  return ok;
}

uint64_t oj_elf_merge_room(const Elf64_Shdr *sh, uint64_t shnum) {
  uint64_t room = 16 * (OJ_MERGE_KINDS + 2);
  for (uint64_t i = 1; i < shnum; i++) {
    if (sh[i].sh_type != SHT_PROGBITS || !(sh[i].sh_flags & SHF_ALLOC)) continue;
    uint64_t a = sh[i].sh_addralign > OJ_ELF_ALIGN_MAX ? 0 : sh[i].sh_addralign;
    if (sh[i].sh_size > (uint64_t)1 << 40 || room > (uint64_t)1 << 40) return 0; /* no room: realloc */
    room += sh[i].sh_size + a;
  }
  for (uint64_t i = 1; i < shnum; i++) /* call stubs: 16 bytes a symbol at most */
    if (sh[i].sh_type == SHT_SYMTAB && sh[i].sh_size < (uint64_t)1 << 36)
      room += 16 + 16 * (sh[i].sh_size / sizeof(Elf64_Sym));
  return room;
}

/* The section index of symbol j of the table at syms. */
static Elf64_Section oj_merge_shndx(const unsigned char *syms, uint64_t j) {
  Elf64_Section x;
  memcpy(&x, syms + j * sizeof(Elf64_Sym) + offsetof(Elf64_Sym, st_shndx), sizeof x);
  return x;
}

/* The symbol at q made a placeholder: local, nameless, absolute 0,
** STT_FILE, which JITLink skips and the pre-pass accepts again. */
static void oj_merge_placeholder(unsigned char *q) {
  Elf64_Sym sym;
  memset(&sym, 0, sizeof sym);
  sym.st_info = ELF64_ST_INFO(STB_LOCAL, STT_FILE);
  sym.st_shndx = SHN_ABS;
  memcpy(q, &sym, sizeof sym);
}

/* S + A - P written at `at` as 4 signed bytes; 0 (nothing written) if it
** does not fit. */
static int oj_merge_put_pcrel32(unsigned char *at, uint64_t s, int64_t a, uint64_t p) {
  int64_t v = (int64_t)(s + (uint64_t)a - p);
  if (v < INT32_MIN || v > INT32_MAX) return 0;
  int32_t w = (int32_t)v;
  memcpy(at, &w, 4);
  return 1;
}

/* Calls of the code to functions it does not define (arch->r_call with
** the usual addend, to an undefined symbol): a stub number per symbol
** (index + 1, 0: none), *n of them; NULL when there is none or no memory.
** A function called from one site only gets none.
** JITLink makes an edge of every call site and looks up its stub table for
** each: 895 of a C++ object's 1,141 relocations were such calls, to 60
** functions of libstdc++.  With a stub of our own per function at the end
** of the code, each call site is resolved here and JITLink links one jump
** per function.  __tls_get_addr keeps its calls (they are part of TLS
** sequences). */
static uint32_t *oj_merge_stubs(const oj_arch *arch, const unsigned char *img, uint64_t size,
                                const Elf64_Shdr *sh, uint64_t shnum, uint32_t symtab,
                                const signed char *kind, int ck, uint64_t *n) {
  const Elf64_Shdr *st = &sh[symtab];
  *n = 0;
  if (!oj_elf_inside(st->sh_offset, st->sh_size, size) || st->sh_link >= shnum) return NULL;
  const Elf64_Shdr *ss = &sh[st->sh_link];
  if (!oj_elf_inside(ss->sh_offset, ss->sh_size, size)) return NULL;
  const char *str = (const char *)img + ss->sh_offset;
  uint64_t strend = oj_elf_strend(str, ss->sh_size);
  uint64_t nsym = st->sh_size / sizeof(Elf64_Sym), nlocal = st->sh_info < nsym ? st->sh_info : nsym;
  uint32_t *stub = calloc(nsym ? (size_t)nsym : 1, sizeof *stub);
  if (!stub) return NULL;
  for (uint64_t i = 1; i < shnum; i++) {
    const Elf64_Shdr *rs = &sh[i];
    if (rs->sh_type != SHT_RELA || rs->sh_link != symtab || rs->sh_info >= shnum ||
        kind[rs->sh_info] != ck || !oj_elf_inside(rs->sh_offset, rs->sh_size, size))
      continue;
    const unsigned char *p = img + rs->sh_offset;
    for (uint64_t j = 0, m = rs->sh_size / sizeof(Elf64_Rela); j < m; j++) {
      Elf64_Rela r;
      memcpy(&r, p + j * sizeof r, sizeof r);
      uint64_t si = ELF64_R_SYM(r.r_info);
      if (ELF64_R_TYPE(r.r_info) != arch->r_call || r.r_addend != arch->call_addend ||
          si < nlocal || si >= nsym || stub[si] >= 2)
        continue;
      if (stub[si] == 1) { /* a second call site: worth a stub */
        stub[si] = 2;
        continue;
      }
      Elf64_Sym sym;
      memcpy(&sym, img + st->sh_offset + si * sizeof sym, sizeof sym);
      if (sym.st_shndx != SHN_UNDEF || sym.st_name == 0 || sym.st_name >= strend ||
          (ELF64_ST_BIND(sym.st_info) != STB_GLOBAL && ELF64_ST_BIND(sym.st_info) != STB_WEAK) ||
          strcmp(str + sym.st_name, "__tls_get_addr") == 0)
        continue;
      stub[si] = 1;
    }
  }
  /* Stubs for the functions called from two sites or more; numbered. */
  for (uint64_t si = nlocal; si < nsym; si++)
    stub[si] = stub[si] == 2 && *n < UINT32_MAX / 2 ? (uint32_t)++*n : 0;
  if (*n == 0) {
    free(stub);
    return NULL;
  }
  return stub;
}

/* One walk over every relocation table, after the symbols have moved:
**   - a table follows the section it patches into the merged one (into,
**     base: NULL when nothing merged), its offsets moved;
**   - a relocation of code to a symbol of its own section that binds there
**     (see `binds` below) is resolved, S + A - P written into the code, and
**     dropped, where the type is OJ_RF_INPLACE and the value fits.  Not for
**     IFUNC symbols (a call must reach what the resolver returns) nor TLS
**     ones;
**   - a call site of the merged code to a function with a call stub
**     (oj_merge_stubs) is resolved to the stub; the first one's entry
**     becomes the stub's relocation;
**   - (outside debugger sessions, whose image gdb reads) local data and
**     section symbols that no kept relocation refers to become placeholders
**     JITLink skips (nameless STT_FILE), and named local data symbols
**     become anonymous: JITLink interns every
**     name it meets in the session's string pool (a lock, a hash, a map)
**     and keeps a named symbol in its tables, while an anonymous one is
**     only a position in its block.  Nothing looks a local symbol up by
**     name except JITLink's GOT and TLS entries, which it keys by name: a
**     symbol that a kept relocation of another class than absolute,
**     PC-relative or branch refers to keeps its name, as do local
**     functions (debuggers and perf maps show them).
** sh: the final headers; tables' new sizes and targets are left in it. */
static void oj_merge_relocs(const oj_arch *arch, unsigned char *img, uint64_t size,
                            Elf64_Shdr *sh, uint64_t shnum, uint32_t symtab,
                            const uint32_t *into, const uint64_t *base,
                            const unsigned char *comdat, int merged, int keep_names,
                            uint32_t *stub, uint32_t stubsec, uint64_t stubbase) {
  const Elf64_Shdr *st = &sh[symtab];
  if (!oj_elf_inside(st->sh_offset, st->sh_size, size)) return;
  const unsigned char *syms = img + st->sh_offset;
  uint64_t nsym = st->sh_size / sizeof(Elf64_Sym), nlocal = st->sh_info < nsym ? st->sh_info : nsym;
  uint64_t inplace = 0; /* the OJ_RF_INPLACE types below 64 */
  for (uint32_t t = 0; t < 64 && t < arch->nrelocs; t++)
    if (arch->relocs[t].flags & OJ_RF_INPLACE) inplace |= (uint64_t)1 << t;
  /* NULL: no local symbol changed */
  unsigned char *keep = keep_names ? NULL : calloc(nlocal ? (size_t)nlocal : 1, 1);
  /* Sections symbols are defined in, and sections other relocation
  ** tables patch: such a relocation table (no compiler makes one) keeps its
  ** size, or the symbol or the other table's offsets would lie outside it. */
  unsigned char *symin = calloc(shnum, 1); /* NULL: nothing resolved */
  for (uint64_t j = 1; symin && j < nsym; j++) {
    Elf64_Section shndx = oj_merge_shndx(syms, j);
    if (shndx < shnum) symin[shndx] = 1;
  }
  for (uint64_t i = 1; symin && i < shnum; i++)
    if (sh[i].sh_type == SHT_RELA && sh[i].sh_info < shnum) symin[sh[i].sh_info] = 1;
  for (uint64_t i = 1; i < shnum; i++) {
    Elf64_Shdr *rs = &sh[i];
    if (rs->sh_type != SHT_RELA || rs->sh_info >= shnum ||
        !oj_elf_inside(rs->sh_offset, rs->sh_size, size))
      continue;
    int ours = rs->sh_link == symtab; /* its symbols are the ones read here */
    uint64_t shift = 0;
    if (into && into[rs->sh_info]) {
      shift = base[rs->sh_info];
      rs->sh_info = into[rs->sh_info];
    }
    const Elf64_Shdr *t = &sh[rs->sh_info];
    int code = ours && inplace && symin && !symin[i] && rs->sh_info != 0 &&
               t->sh_type == SHT_PROGBITS &&
               (t->sh_flags & (SHF_ALLOC | SHF_EXECINSTR | SHF_TLS)) ==
                   (SHF_ALLOC | SHF_EXECINSTR) &&
               oj_elf_inside(t->sh_offset, t->sh_size, size);
    unsigned char *p = img + rs->sh_offset;
    uint64_t n = rs->sh_size / sizeof(Elf64_Rela), kept = 0;
    for (uint64_t j = 0; j < n; j++) {
      Elf64_Rela r;
      memcpy(&r, p + j * sizeof r, sizeof r);
      r.r_offset += shift;
      uint64_t si = ELF64_R_SYM(r.r_info), type = ELF64_R_TYPE(r.r_info);
      if (code && stub && rs->sh_info == stubsec && si < nsym && stub[si] &&
          type == arch->r_call &&
          r.r_addend == arch->call_addend && r.r_offset <= t->sh_size &&
          t->sh_size - r.r_offset >= 4) {
        /* A call to another object's function: to its stub.  The first
        ** call site's entry becomes the stub's relocation. */
        uint64_t at = stubbase + (uint64_t)((stub[si] & 0x7fffffffu) - 1) * arch->call_stub_size;
        if (oj_merge_put_pcrel32(img + t->sh_offset + r.r_offset, at, r.r_addend, r.r_offset)) {
          if (stub[si] & 0x80000000u) continue; /* its stub has its relocation */
          stub[si] |= 0x80000000u;
          r.r_offset = at + arch->call_stub_at;
          if (kept != j) memcpy(p + kept * sizeof r, p + j * sizeof r, sizeof r);
          memcpy(p + kept * sizeof r, &r.r_offset, sizeof r.r_offset);
          kept++;
          continue;
        }
      }
      if (code && type < 64 && ((inplace >> type) & 1) && si != 0 && si < nsym &&
          r.r_offset <= t->sh_size && t->sh_size - r.r_offset >= 4) {
        Elf64_Sym sym;
        memcpy(&sym, syms + si * sizeof sym, sizeof sym);
        int stype = ELF64_ST_TYPE(sym.st_info), bind = ELF64_ST_BIND(sym.st_info);
        /* Which references bind here as a static linker would bind them:
        ** to a local symbol; to a global one (a second strong definition in
        ** the library is refused); and calls to a function of a COMDAT group
        ** (C++ inline functions, template instances), weak, whose copies are
        ** one function by the ODR.  Not a plain weak definition, which a
        ** strong one elsewhere overrides, nor the address of a weak one,
        ** which must be the winner's everywhere. */
        int binds = bind == STB_LOCAL || bind == STB_GLOBAL ||
                    (bind == STB_WEAK && stype == STT_FUNC &&
                     oj_arch_reloc_of(arch, (uint32_t)type)->rclass == OJ_RC_BRANCH &&
                     (merged ? comdat && comdat[si]
                             : sym.st_shndx < shnum && (sh[sym.st_shndx].sh_flags & SHF_GROUP)));
        if (binds && sym.st_shndx == rs->sh_info && stype != STT_GNU_IFUNC && stype != STT_TLS &&
            oj_merge_put_pcrel32(img + t->sh_offset + r.r_offset, sym.st_value, r.r_addend,
                                 r.r_offset))
          continue; /* resolved: dropped */
      }
      if (ours && keep && si != 0 && si < nlocal && keep[si] != 3) {
        const oj_arch_reloc *d = oj_arch_reloc_of(arch, (uint32_t)type);
        int plain = (d->flags & ~OJ_RF_INPLACE) == 0 &&
                    (d->rclass == OJ_RC_NONE || d->rclass == OJ_RC_ABS ||
                     d->rclass == OJ_RC_ABS32_LOW || d->rclass == OJ_RC_PCREL ||
                     d->rclass == OJ_RC_BRANCH);
        keep[si] |= plain ? 1 : 3; /* 1: referred to, 2: by name */
      }
      /* From the table itself, the offset on its own: r copied back whole
      ** after the 8-byte store into it stalled on store forwarding (4% of
      ** a C++ load, perf). */
      if (kept != j) memcpy(p + kept * sizeof r, p + j * sizeof r, sizeof r); /* kept < j */
      if (shift) memcpy(p + kept * sizeof r, &r.r_offset, sizeof r.r_offset);
      kept++;
    }
    rs->sh_size = kept * sizeof(Elf64_Rela);
  }
  for (uint64_t j = 1; keep && j < nlocal; j++) {
    unsigned char *q = img + st->sh_offset + j * sizeof(Elf64_Sym);
    Elf64_Sym sym;
    memcpy(&sym, q, sizeof sym);
    int type = ELF64_ST_TYPE(sym.st_info);
    if (ELF64_ST_BIND(sym.st_info) != STB_LOCAL || sym.st_shndx == SHN_UNDEF ||
        sym.st_shndx >= SHN_LORESERVE)
      continue;
    if (!keep[j] && (type == STT_NOTYPE || type == STT_OBJECT || type == STT_SECTION)) {
      oj_merge_placeholder(q); /* nothing refers to it */
      continue;
    }
    if ((keep[j] & 2) || sym.st_name == 0 || (type != STT_NOTYPE && type != STT_OBJECT)) continue;
    Elf64_Word none = 0;
    memcpy(q + offsetof(Elf64_Sym, st_name), &none, sizeof none);
  }
  free(keep);
  free(symin);
}

/* Sections that are not loaded (PROGBITS without SHF_ALLOC: DWARF's
** .debug_*, .comment, .note.GNU-stack) and their relocation tables emptied
** (SHT_NULL), unless a global symbol is defined in one or a loaded section
** refers to a symbol of it.  Their local symbols become placeholders
** (oj_merge_placeholder).  JITLink 22 makes a
** graph section and blocks of them, edges of their relocations, and applies
** those: a quarter of a TVM kernel's load (TVM's code generator writes
** DWARF).  Debugger sessions keep them (OJ_ELF_KEEP_DEBUG): gdb reads DWARF
** from the image. */
static void oj_merge_drop_debug(unsigned char *img, uint64_t size, Elf64_Shdr *sh,
                                uint64_t shnum, uint32_t symtab) {
  const Elf64_Shdr *st = &sh[symtab];
  if (!oj_elf_inside(st->sh_offset, st->sh_size, size)) return;
  unsigned char *drop = calloc(shnum, 1);
  if (!drop) return; /* an optimisation: skipped */
  int any = 0;
  for (uint64_t i = 1; i < shnum; i++)
    if (!(sh[i].sh_flags & SHF_ALLOC) && sh[i].sh_type == SHT_PROGBITS) drop[i] = any = 1;
  for (uint64_t i = 1; any && i < shnum; i++) /* their relocation tables */
    if (sh[i].sh_type == SHT_RELA && sh[i].sh_info < shnum && drop[sh[i].sh_info]) drop[i] = 1;
  const unsigned char *syms = img + st->sh_offset;
  uint64_t n = st->sh_size / sizeof(Elf64_Sym), nlocal = st->sh_info < n ? st->sh_info : n;
  for (uint64_t j = nlocal; any && j < n; j++) { /* the global ones keep their section */
    Elf64_Section shndx = oj_merge_shndx(syms, j);
    if (shndx < shnum) drop[shndx] = 0;
  }
  int locals = 0; /* a local symbol in a section to drop: references to it are looked for */
  for (uint64_t j = 1; any && j < nlocal && !locals; j++) {
    Elf64_Section shndx = oj_merge_shndx(syms, j);
    locals = shndx < shnum && drop[shndx];
  }
  for (uint64_t i = 1; locals && i < shnum; i++) { /* from the tables that stay */
    if (sh[i].sh_type != SHT_RELA || drop[i] ||
        !oj_elf_inside(sh[i].sh_offset, sh[i].sh_size, size))
      continue;
    const unsigned char *p = img + sh[i].sh_offset;
    for (uint64_t k = 0, m = sh[i].sh_size / sizeof(Elf64_Rela); k < m; k++) {
      uint64_t info;
      memcpy(&info, p + k * sizeof(Elf64_Rela) + offsetof(Elf64_Rela, r_info), sizeof info);
      uint64_t si = ELF64_R_SYM(info);
      if (si == 0 || si >= nlocal) continue;
      Elf64_Section shndx = oj_merge_shndx(syms, si);
      if (shndx < shnum) drop[shndx] = 0;
    }
  }
  /* A section and its tables go together: one kept keeps the others. */
  for (uint64_t i = 1; any && i < shnum; i++)
    if (sh[i].sh_type == SHT_RELA && sh[i].sh_info < shnum && !drop[i]) drop[sh[i].sh_info] = 0;
  for (uint64_t i = 1; any && i < shnum; i++)
    if (sh[i].sh_type == SHT_RELA && sh[i].sh_info < shnum && !drop[sh[i].sh_info]) drop[i] = 0;
  for (uint64_t j = 1; locals && j < nlocal; j++) {
    unsigned char *q = img + st->sh_offset + j * sizeof(Elf64_Sym);
    Elf64_Section shndx = oj_merge_shndx(syms, j);
    if (shndx < shnum && drop[shndx]) oj_merge_placeholder(q);
  }
  for (uint64_t i = 1; any && i < shnum; i++)
    if (drop[i]) memset(&sh[i], 0, sizeof sh[i]); /* SHT_NULL, no name: JITLink skips it */
  free(drop);
}

int oj_elf_merge(const oj_arch *arch, unsigned flags, oj_elf_object *out) {
  unsigned char *img = out->image;
  uint64_t size = out->image_size;
  Elf64_Ehdr eh;
  Elf64_Shdr s0;
  if (size < sizeof eh) return ORCJIT_OK;
  memcpy(&eh, img, sizeof eh);
  uint64_t shnum = eh.e_shnum;
  if (eh.e_shoff > size || size - eh.e_shoff < sizeof s0) return ORCJIT_OK;
  memcpy(&s0, img + eh.e_shoff, sizeof s0);
  if (shnum == 0) shnum = s0.sh_size;
  if (shnum < 3 || shnum > (size - eh.e_shoff) / sizeof s0) return ORCJIT_OK;
  uint32_t shstrndx = eh.e_shstrndx == SHN_XINDEX ? s0.sh_link : eh.e_shstrndx;

  Elf64_Shdr *sh = malloc(shnum * sizeof *sh);
  unsigned char *comdat = NULL; /* per symbol: defined in a COMDAT group's section */
  uint32_t *stub = NULL;         /* per symbol: its call stub (oj_merge_stubs) */
  uint64_t nstub = 0, stubbase = 0;
  unsigned char *grp = calloc(shnum, 1); /* per section: SHF_GROUP, before the merge */
  uint32_t *into = calloc(shnum, sizeof *into); /* merged into (0: not) */
  uint64_t *base = calloc(shnum, sizeof *base);  /* its offset there */
  signed char *kind = malloc(shnum);
  if (!sh || !into || !base || !kind) goto done; /* an optimisation: skipped */
  memcpy(sh, img + eh.e_shoff, shnum * sizeof *sh);
  for (uint64_t i = 0; grp && i < shnum; i++) grp[i] = (sh[i].sh_flags & SHF_GROUP) != 0;

  uint32_t symtab = 0;
  for (uint64_t i = 1; i < shnum; i++) {
    if (sh[i].sh_type == SHT_SYMTAB_SHNDX || sh[i].sh_type == SHT_REL) goto done;
    if (sh[i].sh_type == SHT_SYMTAB) symtab = (uint32_t)i;
  }
  if (!symtab || shstrndx == 0 || shstrndx >= shnum) goto done;
  if (!oj_elf_inside(sh[shstrndx].sh_offset, sh[shstrndx].sh_size, size)) goto done;
  const char *shstr = (const char *)img + sh[shstrndx].sh_offset;
  uint64_t shstrend = oj_elf_strend(shstr, sh[shstrndx].sh_size);
  if (!(flags & OJ_ELF_KEEP_DEBUG))
    oj_merge_drop_debug(img, size, sh, shnum, symtab);

  /* Per kind: the first section, the layout of the others after it. */
  uint32_t first[OJ_MERGE_KINDS] = {0};
  uint64_t total[OJ_MERGE_KINDS] = {0}, align[OJ_MERGE_KINDS] = {0};
  unsigned members[OJ_MERGE_KINDS] = {0};
  kind[0] = -1;
  for (uint64_t i = 1; i < shnum; i++) {
    const char *name = sh[i].sh_name < shstrend ? shstr + sh[i].sh_name : NULL;
    int k = oj_merge_kind(&sh[i], name, arch->rodata_in_code);
    uint64_t a = sh[i].sh_addralign ? sh[i].sh_addralign : 1;
    kind[i] = -1;
    if (k < 0 || (a & (a - 1))) continue;
    if (sh[i].sh_type != SHT_NOBITS && !oj_elf_inside(sh[i].sh_offset, sh[i].sh_size, size))
      continue; /* its bytes are not all in the image: stays as it is */
    uint64_t at = oj_merge_up(total[k], a);
    if (at < total[k] || sh[i].sh_size > UINT64_MAX - at) continue;
    if (!first[k]) first[k] = (uint32_t)i;
    kind[i] = (signed char)k;
    into[i] = first[k];
    base[i] = at;
    total[k] = at + sh[i].sh_size;
    if (a > align[k]) align[k] = a;
    members[k]++;
  }
  /* A kind of one section stays as it is. */
  uint64_t grow = 0;
  unsigned merging = 0;
  for (int k = 0; k < OJ_MERGE_KINDS; k++)
    if (members[k] >= 2) merging++;
  for (uint64_t i = 1; i < shnum; i++)
    if (kind[i] >= 0 && members[kind[i]] < 2) {
      kind[i] = -1;
      into[i] = 0;
      base[i] = 0;
    }
  /* Call stubs at the end of the merged code (kind 1). */
  if (arch->call_stub_size && members[1] >= 2 && !(flags & OJ_ELF_KEEP_DEBUG)) {
    stub = oj_merge_stubs(arch, img, size, sh, shnum, symtab, kind, 1, &nstub);
    if (stub) {
      stubbase = oj_merge_up(total[1], 16);
      total[1] = stubbase + nstub * arch->call_stub_size;
      if (align[1] < 16) align[1] = 16;
    }
  }
  for (int k = 0; k < OJ_MERGE_KINDS; k++)
    if (members[k] >= 2 && !(k & 4)) grow = oj_merge_up(grow, 16) + total[k];
  if (!merging || ((flags & OJ_ELF_MIXED_NAMES) &&
                   !oj_merge_names_ok(sh, shnum, shstr, shstrend, kind, into)))
    goto resolve;
  uint64_t at = oj_merge_up(size, 16);
  if (grow > SIZE_MAX - 16 - at) goto resolve;
  unsigned char *nimg = oj_elf_grow(img, (size_t)(at + grow + 16));
  if (!nimg) goto resolve;
  img = out->image = nimg; /* shstr points into the old block from here */

  /* The bytes of each kind, in section order, at their offsets. */
  uint64_t kindoff[OJ_MERGE_KINDS] = {0};
  for (int k = 0; k < OJ_MERGE_KINDS; k++) {
    if (members[k] < 2 || (k & 4)) continue;
    at = oj_merge_up(at, 16);
    kindoff[k] = at;
    at += total[k];
  }
  memset(img + size, 0, (size_t)(oj_merge_up(size, 16) - size));
  uint64_t end[OJ_MERGE_KINDS] = {0}; /* bytes of each kind written so far */
  for (uint64_t i = 1; i < shnum; i++) {
    if (kind[i] < 0 || sh[i].sh_type == SHT_NOBITS) continue;
    unsigned char *d = img + kindoff[kind[i]];
    memset(d + end[kind[i]], 0, (size_t)(base[i] - end[kind[i]])); /* alignment */
    memcpy(d + base[i], img + sh[i].sh_offset, (size_t)sh[i].sh_size);
    end[kind[i]] = base[i] + sh[i].sh_size;
  }
  for (int k = 0; k < OJ_MERGE_KINDS; k++) { /* up to the next kind's start */
    if (!kindoff[k]) continue;
    uint64_t e = kindoff[k] + end[k];
    memset(img + e, 0, (size_t)(oj_merge_up(kindoff[k] + total[k], 16) - e));
  }
  for (uint64_t i = 0; i < nstub; i++)
    memcpy(img + kindoff[1] + stubbase + i * arch->call_stub_size, arch->call_stub,
           arch->call_stub_size);
  /* Static-TLS patches in merged bytes follow them. */
  for (size_t j = 0; j < out->ntls_patch; j++) {
    uint64_t off = out->tls_patch[j].off;
    for (uint64_t i = 1; i < shnum; i++)
      if (kind[i] >= 0 && sh[i].sh_type != SHT_NOBITS && off >= sh[i].sh_offset &&
          off - sh[i].sh_offset < sh[i].sh_size) {
        out->tls_patch[j].off = kindoff[kind[i]] + base[i] + (off - sh[i].sh_offset);
        break;
      }
  }
  /* Headers: the first of each kind takes all; the others are emptied. */
  for (uint64_t i = 1; i < shnum; i++) {
    if (kind[i] < 0) continue;
    int k = kind[i];
    if (into[i] == i) {
      if (!(k & 4)) sh[i].sh_offset = kindoff[k];
      sh[i].sh_size = total[k];
      sh[i].sh_addralign = align[k];
      sh[i].sh_entsize = 0;
      sh[i].sh_flags &= SHF_ALLOC | SHF_WRITE | SHF_EXECINSTR;
      if (k & 1) sh[i].sh_flags |= SHF_EXECINSTR; /* read-only data first */
    } else {
      sh[i].sh_type = SHT_NULL;
      sh[i].sh_name = 0; /* a name it shares stays an allocated section's */
      sh[i].sh_flags = 0;
      sh[i].sh_offset = 0;
      sh[i].sh_size = 0;
      sh[i].sh_addralign = 0;
      sh[i].sh_entsize = 0;
    }
  }
  /* Symbols follow their section. */
  const Elf64_Shdr *st = &sh[symtab];
  if (oj_elf_inside(st->sh_offset, st->sh_size, size)) {
    uint64_t n = st->sh_size / sizeof(Elf64_Sym);
    comdat = calloc(n ? (size_t)n : 1, 1); /* NULL: no weak call resolved */
    /* Fields written in place: a whole Elf64_Sym copied back after a
    ** 2-byte store stalls on store forwarding. */
    for (uint64_t j = 0; j < n; j++) {
      unsigned char *p = img + st->sh_offset + j * sizeof(Elf64_Sym);
      Elf64_Section shndx;
      memcpy(&shndx, p + offsetof(Elf64_Sym, st_shndx), sizeof shndx);
      if (shndx == SHN_UNDEF || shndx >= SHN_LORESERVE || shndx >= shnum || !into[shndx])
        continue;
      if (comdat && grp && grp[shndx]) comdat[j] = 1;
      Elf64_Addr value;
      memcpy(&value, p + offsetof(Elf64_Sym, st_value), sizeof value);
      value += base[shndx];
      memcpy(p + offsetof(Elf64_Sym, st_value), &value, sizeof value);
      Elf64_Section to = (Elf64_Section)into[shndx];
      memcpy(p + offsetof(Elf64_Sym, st_shndx), &to, sizeof to);
    }
  }
  /* Sections ordered after a merged one (SHF_LINK_ORDER) name the merged. */
  for (uint64_t i = 1; i < shnum; i++)
    if ((sh[i].sh_flags & SHF_LINK_ORDER) && sh[i].sh_link < shnum && into[sh[i].sh_link])
      sh[i].sh_link = into[sh[i].sh_link];
  out->image_size = (size_t)at;
  oj_merge_relocs(arch, img, out->image_size, sh, shnum, symtab, into, base,
                  comdat, 1, (flags & OJ_ELF_KEEP_DEBUG) != 0, stub, first[1], stubbase);
  memcpy(img + eh.e_shoff, sh, shnum * sizeof *sh);
  goto done;
resolve: /* nothing merged */
  oj_merge_relocs(arch, img, out->image_size, sh, shnum, symtab, NULL, NULL, NULL, 0,
                  (flags & OJ_ELF_KEEP_DEBUG) != 0, NULL, 0, 0);
  memcpy(img + eh.e_shoff, sh, shnum * sizeof *sh);
done:
  free(sh);
  free(into);
  free(base);
  free(kind);
  free(grp);
  free(comdat);
  free(stub);
  return ORCJIT_OK;
}
