/*
** oj_elf_reloc.c: the relocations of the ELF pre-pass (oj_elf.h): every
** relocation table and entry checked (bounds, symbol, what the relocation
** needs of its symbol), and the relocations that patch one section, sorted
** by offset, for the checks of .eh_frame and of init/fini tables.
**
** Thread-local relocations are checked in oj_elf_tls.c, and rewritten in
** oj_elf_image.c.
*/
#include <elf.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oj_elf_int.h"

/* ---- relocations ------------------------------------------------------- */

/* Bytes a relocation of this type writes (x86-64 psABI). */
static uint64_t oj_elf_reloc_width(uint32_t type) {
  switch (type) {
  case R_X86_64_NONE: return 0;
  case R_X86_64_64: case R_X86_64_PC64: case R_X86_64_GOTOFF64: case R_X86_64_GOTPC64:
  case R_X86_64_GOT64: case R_X86_64_GOTPCREL64: case R_X86_64_PLTOFF64:
  case R_X86_64_DTPMOD64: case R_X86_64_DTPOFF64: case R_X86_64_TPOFF64:
  case R_X86_64_SIZE64: case R_X86_64_GLOB_DAT: case R_X86_64_JUMP_SLOT:
  case R_X86_64_RELATIVE: case R_X86_64_IRELATIVE: case R_X86_64_RELATIVE64:
  case R_X86_64_GOTPLT64:
    return 8;
  case R_X86_64_16: case R_X86_64_PC16: return 2;
  case R_X86_64_8: case R_X86_64_PC8: return 1;
  default: return 4;
  }
}

static int oj_elf_reloc_cmp(const void *a, const void *b) {
  const oj_elf_rel *x = a, *y = b;
  if (x->off != y->off) return x->off < y->off ? -1 : 1;
  if (x->rsec != y->rsec) return x->rsec < y->rsec ? -1 : 1;
  return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* The relocations (R_X86_64_NONE left out) of every SHT_RELA section that
** patches section i, sorted by offset, into a malloc'd *out (NULL if none).
** Their tables were checked by oj_elf_reloc_check. */
int oj_elf_reloc_of(const oj_elf_ctx *c, uint32_t i, oj_elf_rel **out,
                    size_t *nout) {
  oj_elf_rel *rel = NULL;
  size_t nrel = 0;
  for (uint32_t r = 1; r < c->shnum; r++) {
    const Elf64_Shdr *rs = &c->sh[r];
    if (rs->sh_type != SHT_RELA || rs->sh_info != i) continue;
    size_t m = (size_t)(rs->sh_size / sizeof(Elf64_Rela));
    oj_elf_rel *grown = realloc(rel, (nrel + m + 1) * sizeof *rel);
    if (!grown) {
      free(rel);
      return oj_elf_nomem(c);
    }
    rel = grown;
    for (size_t k = 0; k < m; k++) {
      Elf64_Rela ra;
      memcpy(&ra, c->data + rs->sh_offset + k * sizeof ra, sizeof ra);
      if (ELF64_R_TYPE(ra.r_info) == R_X86_64_NONE) continue;
      rel[nrel].off = ra.r_offset;
      rel[nrel].type = (uint32_t)ELF64_R_TYPE(ra.r_info);
      rel[nrel].sym = (uint32_t)ELF64_R_SYM(ra.r_info);
      rel[nrel].addend = ra.r_addend;
      rel[nrel].idx = k;
      rel[nrel].rsec = r;
      nrel++;
    }
  }
  if (nrel) qsort(rel, nrel, sizeof *rel, oj_elf_reloc_cmp);
  *out = rel;
  *nout = nrel;
  return ORCJIT_OK;
}

int oj_elf_reloc_check(const oj_elf_ctx *c, oj_elf_object *out) {
  uint32_t i;
  uint64_t k, n;
  for (i = 1; i < c->shnum; i++) {
    const Elf64_Shdr *s = &c->sh[i];
    const unsigned char *p;
    if (s->sh_type == SHT_REL)
      return oj_elf_fail(c, ORCJIT_EUNSUPPORTED,
                         "%s holds SHT_REL relocations; x86-64 objects must "
                         "use SHT_RELA", oj_elf_sec(c, i).s);
    if (s->sh_type == SHT_CREL)
      return oj_elf_fail(c, ORCJIT_EUNSUPPORTED,
                         "%s holds compact relocations (SHT_CREL), which are "
                         "not supported; rebuild without --crel",
                         oj_elf_sec(c, i).s);
    if (s->sh_type != SHT_RELA) continue;
    if (s->sh_entsize != sizeof(Elf64_Rela) || s->sh_size % sizeof(Elf64_Rela))
      return oj_elf_fail(c, ORCJIT_EFORMAT,
                         OJ_ELF_CORRUPT "relocation %s has entry size "
                                        "%llu and size %llu (entries must be "
                                        "%zu bytes)",
                         oj_elf_sec(c, i).s, (unsigned long long)s->sh_entsize,
                         (unsigned long long)s->sh_size, sizeof(Elf64_Rela));
    if (!c->symtab || s->sh_link != c->symtab)
      return oj_elf_fail(c, ORCJIT_EFORMAT,
                         OJ_ELF_CORRUPT "relocation %s links to "
                                        "section %u, not the symbol table",
                         oj_elf_sec(c, i).s, (unsigned)s->sh_link);
    if (s->sh_info == 0 || s->sh_info >= c->shnum || s->sh_info == i)
      return oj_elf_fail(c, ORCJIT_EFORMAT,
                         OJ_ELF_CORRUPT "relocation %s applies to "
                                        "invalid section %u",
                         oj_elf_sec(c, i).s, (unsigned)s->sh_info);
    /* A zero-fill section has no bytes to patch: JITLink would write
    ** through a null block pointer. */
    if (c->sh[s->sh_info].sh_type == SHT_NOBITS && s->sh_size)
      return oj_elf_fail(c, ORCJIT_EFORMAT,
                         OJ_ELF_CORRUPT "relocation %s applies to section %u, "
                                        "which has no contents (SHT_NOBITS)",
                         oj_elf_sec(c, i).s, (unsigned)s->sh_info);
    p = c->data + s->sh_offset;
    n = s->sh_size / sizeof(Elf64_Rela);
    for (k = 0; k < n; k++) {
      Elf64_Xword info;
      Elf64_Addr roff;
      /* JITLink writes the fixup at r_offset without checking it against
      ** the target section: an out-of-range offset writes outside the
      ** section's memory.  The widest x86-64 fixup is 8 bytes. */
      uint64_t tsize = c->sh[s->sh_info].sh_size;
      memcpy(&info, p + k * sizeof(Elf64_Rela) + offsetof(Elf64_Rela, r_info),
             sizeof info);
      memcpy(&roff, p + k * sizeof(Elf64_Rela) + offsetof(Elf64_Rela, r_offset),
             sizeof roff);
      /* Unloaded sections too: a live block of code that refers to one
      ** keeps it in the link graph, and its fixups are applied. */
      if (roff > tsize || tsize - roff < oj_elf_reloc_width(ELF64_R_TYPE(info)))
        return oj_elf_fail(c, ORCJIT_EFORMAT,
                           OJ_ELF_CORRUPT "relocation %llu of %s has offset "
                                          "%llu outside its section (%llu bytes)",
                           (unsigned long long)k, oj_elf_sec(c, i).s,
                           (unsigned long long)roff, (unsigned long long)tsize);
      if ((c->sh[s->sh_info].sh_flags & SHF_ALLOC) &&
          (ELF64_R_TYPE(info) == R_X86_64_32 || ELF64_R_TYPE(info) == R_X86_64_32S))
        out->abs32 = 1;
      if (ELF64_R_SYM(info) >= c->nsyms)
        return oj_elf_fail(c, ORCJIT_EFORMAT,
                           OJ_ELF_CORRUPT "relocation %llu of %s refers to "
                                          "symbol %u, but there are %llu "
                                          "symbols",
                           (unsigned long long)k, oj_elf_sec(c, i).s,
                           (unsigned)ELF64_R_SYM(info),
                           (unsigned long long)c->nsyms);
      /* Relocations that need something of their symbol.  GOT: JITLink 22
      ** keys GOT entries by the target's name, so every nameless target (a
      ** section symbol, an unnamed local) shared one entry, and code read
      ** another object's address through it (found by review); compilers
      ** give GOT relocations named symbols.  SIZE: the size of a symbol of
      ** another library or of the host is not known here, and JITLink 22
      ** made it 0 without a word. */
      switch (ELF64_R_TYPE(info)) {
      case R_X86_64_GOT32: case R_X86_64_GOTPCREL: case R_X86_64_GOTPCRELX:
      case R_X86_64_REX_GOTPCRELX: case R_X86_64_GOT64: case R_X86_64_GOTPCREL64:
      case R_X86_64_GOTPLT64: case R_X86_64_SIZE32: case R_X86_64_SIZE64: {
        Elf64_Sym sym;
        uint32_t sec, type = (uint32_t)ELF64_R_TYPE(info);
        oj_elf_sym_at(c, ELF64_R_SYM(info), &sym, &sec);
        if (type == R_X86_64_SIZE32 || type == R_X86_64_SIZE64) {
          if (sec == SHN_UNDEF)
            return oj_elf_fail(c, ORCJIT_EUNSUPPORTED,
                               "relocation %llu of %s asks for the size of %s, "
                               "which is not defined in the object "
                               "(R_X86_64_SIZE32/64 of an undefined symbol is "
                               "not supported)",
                               (unsigned long long)k, oj_elf_sec(c, i).s,
                               oj_elf_symdesc(c, ELF64_R_SYM(info), sym.st_name).s);
        } else if (sym.st_name == 0 || c->str[sym.st_name] == '\0') {
          return oj_elf_fail(c, ORCJIT_EUNSUPPORTED,
                             "relocation %llu of %s (type %u) asks for a GOT "
                             "entry of %s, which has no name",
                             (unsigned long long)k, oj_elf_sec(c, i).s, (unsigned)type,
                             oj_elf_symdesc(c, ELF64_R_SYM(info), sym.st_name).s);
        }
        break;
      }
      default:
        break;
      }
    }
  }
  return ORCJIT_OK;
}

