/*
** oj_elf_read.c: the first steps of the ELF pre-pass (oj_elf.h): the ELF
** header, the section header table, section names, the bounds and
** overlaps of section contents, the names JITLink keeps for itself, and
** finding the symbol table.
**
** It does not look at symbols (oj_elf_sym.c) or relocations
** (oj_elf_reloc.c).
*/
#include <elf.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oj_elf_int.h"

static const char *oj_elf_read_machine(unsigned m) {
  switch (m) {
  case EM_386: return "i386";
  case EM_68K: return "m68k";
  case EM_MIPS: return "MIPS";
  case EM_PPC: return "PowerPC";
  case EM_PPC64: return "PowerPC64";
  case EM_S390: return "s390";
  case EM_ARM: return "ARM";
  case EM_SPARCV9: return "SPARC64";
  case EM_IA_64: return "IA-64";
  case EM_AARCH64: return "AArch64";
  case EM_X86_64: return "x86-64";
  case EM_RISCV: return "RISC-V";
  case 258: return "LoongArch";
  default: return NULL;
  }
}

/* ---- header ------------------------------------------------------------ */

int oj_elf_read_header(oj_elf_ctx *c) {
  const unsigned char *d = c->data;
  const char *mname;
  if (c->size < SELFMAG || memcmp(d, ELFMAG, SELFMAG) != 0)
    return oj_elf_fail(c, ORCJIT_EFORMAT, "not an ELF file (bad magic)");
  if (c->size > EI_CLASS && d[EI_CLASS] == ELFCLASS32)
    return oj_elf_fail(c, ORCJIT_EUNSUPPORTED,
                       "is a 32-bit ELF object (ELFCLASS32); only 64-bit "
                       "%s objects are supported", c->arch->name);
  if (c->size <= EI_DATA)
    return oj_elf_fail(c, ORCJIT_EFORMAT,
                       OJ_ELF_CORRUPT "file is shorter than the ELF header");
  if (d[EI_CLASS] != ELFCLASS64)
    return oj_elf_fail(c, ORCJIT_EFORMAT, OJ_ELF_CORRUPT "invalid ELF class %u",
                       (unsigned)d[EI_CLASS]);
  if (d[EI_DATA] == ELFDATA2MSB)
    return oj_elf_fail(c, ORCJIT_EUNSUPPORTED,
                       "is a big-endian ELF object (ELFDATA2MSB); only "
                       "little-endian %s objects are supported", c->arch->name);
  if (d[EI_DATA] != ELFDATA2LSB)
    return oj_elf_fail(c, ORCJIT_EFORMAT,
                       OJ_ELF_CORRUPT "invalid ELF data encoding %u",
                       (unsigned)d[EI_DATA]);
  if (c->size < sizeof(Elf64_Ehdr))
    return oj_elf_fail(c, ORCJIT_EFORMAT,
                       OJ_ELF_CORRUPT "file is shorter than the ELF header "
                                      "(%zu bytes)", c->size);
  memcpy(&c->eh, d, sizeof c->eh);
  switch (c->eh.e_type) {
  case ET_REL: break;
  case ET_DYN:
    return oj_elf_fail(c, ORCJIT_EFORMAT, "is a shared library (ET_DYN), not "
                                          "a relocatable object (.o)");
  case ET_EXEC:
    return oj_elf_fail(c, ORCJIT_EFORMAT, "is an executable (ET_EXEC), not a "
                                          "relocatable object (.o)");
  case ET_CORE:
    return oj_elf_fail(c, ORCJIT_EFORMAT, "is a core dump (ET_CORE), not a "
                                          "relocatable object (.o)");
  default:
    return oj_elf_fail(c, ORCJIT_EFORMAT, "has ELF type %u (e_type), not a "
                                          "relocatable object (.o)",
                       (unsigned)c->eh.e_type);
  }
  if (c->eh.e_machine != c->arch->e_machine) {
    mname = oj_elf_read_machine(c->eh.e_machine);
    if (mname)
      return oj_elf_fail(c, ORCJIT_EUNSUPPORTED,
                         "object is for %s (e_machine %u); only %s is "
                         "supported", mname, (unsigned)c->eh.e_machine, c->arch->name);
    return oj_elf_fail(c, ORCJIT_EUNSUPPORTED,
                       "object is for machine %u (e_machine); only %s is "
                       "supported", (unsigned)c->eh.e_machine, c->arch->name);
  }
  return ORCJIT_OK;
}

/* ---- sections ---------------------------------------------------------- */

/* Section contents may not overlap each other, the ELF header or the
** section header table.  No compiler or assembler writes such a file, and
** the pre-pass edits relocations and resolved TLS offsets in place: an edit
** through one section would change another one, or the header, after it
** was checked (found by fuzz_elf: a DTPOFF32 resolved into a .text.startup
** at offset 0 overwrote the ELF magic). */
typedef struct oj_elf_read_span {
  uint64_t off, end;
  uint32_t sec; /* section index; UINT32_MAX: the ELF header, 0: the table */
} oj_elf_read_span;

/* The order of v[0..n) by offset, stable: a bottom-up merge sort of
** positions (a and b: room for n each; the result is one of them).
** qsort's comparison calls were most of this step for a C++ object's
** hundreds of sections. */
static const uint32_t *oj_elf_read_span_msort(const oj_elf_read_span *v, uint32_t n,
                                              uint32_t *a, uint32_t *b) {
  uint32_t i, w;
  for (i = 0; i < n; i++) a[i] = i;
  for (w = 1; w < n; w *= 2) {
    for (i = 0; i < n; i += 2 * w) {
      uint32_t l = i, m = i + w < n ? i + w : n, r = i + 2 * w < n ? i + 2 * w : n;
      uint32_t x = l, y = m, k = l;
      while (x < m && y < r) b[k++] = v[a[y]].off < v[a[x]].off ? a[y++] : a[x++];
      while (x < m) b[k++] = a[x++];
      while (y < r) b[k++] = a[y++];
    }
    uint32_t *t = a;
    a = b;
    b = t;
  }
  return a;
}

/* The same order, faster for what compilers write: the file offsets of
** sections in index order interleave a few increasing sequences (code and
** data, their relocations, groups: 2 to 5 for g++ and clang++ objects, yet
** runs of one or two in a row), so each span joins the first of at most
** OJ_ELF_RUNS increasing runs it extends, and the runs are merged, smallest
** (offset, position) first.  Past OJ_ELF_RUNS runs, the merge sort. */
#define OJ_ELF_RUNS 8
static const uint32_t *oj_elf_read_span_order(const oj_elf_read_span *v, uint32_t n,
                                              uint32_t *a, uint32_t *b) {
  uint32_t head[OJ_ELF_RUNS], tail[OJ_ELF_RUNS], nruns = 0, i, r;
  uint64_t last[OJ_ELF_RUNS]; /* offset of each run's tail, then of its head */
  uint32_t *next = b; /* next[p]: the position after p in its run, n at the end */
  for (i = 0; i < n; i++) {
    uint64_t off = v[i].off;
    for (r = 0; r < nruns && last[r] > off; r++) {}
    if (r == nruns) {
      if (nruns == OJ_ELF_RUNS) return oj_elf_read_span_msort(v, n, a, b);
      head[nruns++] = i;
    } else {
      next[tail[r]] = i;
    }
    tail[r] = i;
    last[r] = off;
    next[i] = n;
  }
  /* Offsets are below the file size, so UINT64_MAX marks a run used up.
  ** Of equal offsets the lower run's comes first: a span joins the first
  ** run it can, so an equal one after it never joins an earlier run. */
  for (r = 0; r < nruns; r++) last[r] = v[head[r]].off;
  for (i = 0; i < n; i++) {
    uint32_t best = 0;
    for (r = 1; r < nruns; r++)
      if (last[r] < last[best]) best = r;
    a[i] = head[best];
    head[best] = next[head[best]];
    last[best] = head[best] < n ? v[head[best]].off : UINT64_MAX;
  }
  return a;
}

static oj_elf_desc oj_elf_read_spandesc(const oj_elf_ctx *c, uint32_t sec) {
  oj_elf_desc d;
  if (sec == UINT32_MAX) snprintf(d.s, sizeof d.s, "the ELF header");
  else if (sec == 0) snprintf(d.s, sizeof d.s, "the section header table");
  else d = oj_elf_sec(c, sec);
  return d;
}

int oj_elf_read_overlaps(const oj_elf_ctx *c) {
  oj_elf_read_span *v = malloc(((size_t)c->shnum + 1) * sizeof *v);
  const oj_elf_read_span *wide, *at;
  uint32_t i, n = 0, *pos = NULL;
  const uint32_t *ord = NULL; /* NULL: v is in order already */
  if (!v) return oj_elf_nomem(c);
  v[n++] = (oj_elf_read_span){0, sizeof(Elf64_Ehdr), UINT32_MAX};
  if (c->shnum)
    v[n++] = (oj_elf_read_span){c->eh.e_shoff,
                           c->eh.e_shoff + (uint64_t)c->shnum * sizeof(Elf64_Shdr), 0};
  for (i = 1; i < c->shnum; i++) {
    const Elf64_Shdr *s = &c->sh[i];
    if (s->sh_type == SHT_NOBITS || s->sh_type == SHT_NULL || s->sh_size == 0)
      continue; /* (bounds checked by the caller) */
    v[n++] = (oj_elf_read_span){s->sh_offset, s->sh_offset + s->sh_size, i};
  }
  for (i = 1; i < n && v[i - 1].off <= v[i].off; i++) {}
  if (i < n) {
    pos = malloc(2 * (size_t)n * sizeof *pos);
    if (!pos) {
      free(v);
      return oj_elf_nomem(c);
    }
    ord = oj_elf_read_span_order(v, n, pos, pos + n);
  }
  for (wide = &v[ord ? ord[0] : 0], i = 1; i < n; i++) { /* wide: the span reaching furthest */
    at = &v[ord ? ord[i] : i];
    if (at->off < wide->end) {
      int rc = oj_elf_fail(c, ORCJIT_EFORMAT,
                           OJ_ELF_CORRUPT "%s overlaps %s in the file",
                           oj_elf_read_spandesc(c, at->sec).s,
                           oj_elf_read_spandesc(c, wide->sec).s);
      free(pos);
      free(v);
      return rc;
    }
    if (at->end > wide->end) wide = at;
  }
  free(pos);
  free(v);
  return ORCJIT_OK;
}

int oj_elf_read_sections(oj_elf_ctx *c) {
  uint64_t shoff = c->eh.e_shoff, n = c->eh.e_shnum;
  uint32_t strndx = c->eh.e_shstrndx, i;
  Elf64_Shdr s0;

  if (shoff == 0) {
    if (n != 0)
      return oj_elf_fail(c, ORCJIT_EFORMAT,
                         OJ_ELF_CORRUPT "e_shnum is %llu but there is no "
                                        "section header table",
                         (unsigned long long)n);
    return ORCJIT_OK; /* no sections at all: nothing to look at */
  }
  if (c->eh.e_shentsize != sizeof(Elf64_Shdr))
    return oj_elf_fail(c, ORCJIT_EFORMAT,
                       OJ_ELF_CORRUPT "section header size (e_shentsize) is "
                                      "%u, expected %zu",
                       (unsigned)c->eh.e_shentsize, sizeof(Elf64_Shdr));
  if (!oj_elf_inside(shoff, sizeof s0, c->size))
    return oj_elf_fail(c, ORCJIT_EFORMAT,
                       OJ_ELF_CORRUPT "section header table (offset %llu) "
                                      "extends past end of file",
                       (unsigned long long)shoff);
  memcpy(&s0, c->data + shoff, sizeof s0);
  if (n == 0) { /* extended numbering: the count is in section 0 */
    n = s0.sh_size;
    if (n == 0)
      return oj_elf_fail(c, ORCJIT_EFORMAT,
                         OJ_ELF_CORRUPT "e_shnum is 0 and section 0 holds no "
                                        "section count");
  }
  if (n > (c->size - shoff) / sizeof(Elf64_Shdr) || n > UINT32_MAX)
    return oj_elf_fail(c, ORCJIT_EFORMAT,
                       OJ_ELF_CORRUPT "section header table (%llu sections at "
                                      "offset %llu) extends past end of file",
                       (unsigned long long)n, (unsigned long long)shoff);
  c->shnum = (uint32_t)n;
  if (strndx == SHN_XINDEX) strndx = s0.sh_link;
  if (strndx >= c->shnum)
    return oj_elf_fail(c, ORCJIT_EFORMAT,
                       OJ_ELF_CORRUPT "section name table index (e_shstrndx) "
                                      "%u is out of range (%u sections)",
                       (unsigned)strndx, (unsigned)c->shnum);
  c->sh = malloc((size_t)n * sizeof(Elf64_Shdr));
  if (!c->sh) return oj_elf_nomem(c);
  memcpy(c->sh, c->data + shoff, (size_t)n * sizeof(Elf64_Shdr));
  /* A relocatable object's sections have no address (sh_addr 0), but
  ** JITLink 22 starts each block at its section's sh_addr: near 2^64 the
  ** block's range wrapped and EHFrameEdgeFixer crashed (found by
  ** fuzz_load).  The image gets 0 everywhere (oj_elf_image_edit). */
  for (i = 0; i < n; i++) c->sh[i].sh_addr = 0;

  /* The section name table first, so that later messages can name
  ** sections. */
  if (strndx != 0) {
    const Elf64_Shdr *s = &c->sh[strndx];
    if (s->sh_type != SHT_STRTAB)
      return oj_elf_fail(c, ORCJIT_EFORMAT,
                         OJ_ELF_CORRUPT "section name table (section %u) is "
                                        "not a string table",
                         (unsigned)strndx);
    if (!oj_elf_inside(s->sh_offset, s->sh_size, c->size))
      return oj_elf_fail(c, ORCJIT_EFORMAT,
                         OJ_ELF_CORRUPT "section name table (section %u) "
                                        "extends past end of file",
                         (unsigned)strndx);
    c->shstr = (const char *)c->data + s->sh_offset;
    c->shstrsize = s->sh_size;
    c->shstrend = oj_elf_strend(c->shstr, c->shstrsize);
    for (i = 1; i < c->shnum; i++)
      if (c->sh[i].sh_name >= c->shstrend)
        return oj_elf_fail(c, ORCJIT_EFORMAT,
                           OJ_ELF_CORRUPT "section %u has a name offset (%u) "
                                          "outside the section name table",
                           (unsigned)i, (unsigned)c->sh[i].sh_name);
  } else {
    for (i = 1; i < c->shnum; i++)
      if (c->sh[i].sh_name != 0)
        return oj_elf_fail(c, ORCJIT_EFORMAT,
                           OJ_ELF_CORRUPT "section %u has a name but there "
                                          "is no section name table",
                           (unsigned)i);
  }
  c->names_ok = 1;
  /* What the loaded sections need must fit in what JIT memory gives one
  ** object (jit_max).  Zero-fill sizes are not bounded by the file: a .bss of
  ** nearly 2^64 bytes wrapped JITLink's layout and the memory manager's
  ** sizes around zero (found by fuzz_load: a block laid out past its
  ** segment, and a corrupted free list). */
  {
    uint64_t need = 0;
    for (i = 1; i < c->shnum; i++) {
      const Elf64_Shdr *s = &c->sh[i];
      if (!(s->sh_flags & SHF_ALLOC)) continue;
      if (s->sh_size > c->arch->jit_max - need) {
        need = UINT64_MAX;
        break;
      }
      need += s->sh_size;
    }
    if (need > c->arch->jit_max) {
      unsigned gib = (unsigned)(c->arch->jit_max >> 30);
      return oj_elf_fail(c, ORCJIT_EUNSUPPORTED,
                         "its loaded sections need more than %u GiB of memory "
                         "(the total passes %u GiB at %s, of %llu bytes), the "
                         "most JIT memory gives one object",
                         gib, gib, oj_elf_sec(c, i).s,
                         (unsigned long long)c->sh[i].sh_size);
    }
    c->need = need;
  }
  /* Section 0 holds the extended counts, not a section, and must have type
  ** SHT_NULL: JITLink reads a section 0 of type SHT_RELA as relocations,
  ** which the checks below (from section 1) would never have seen. */
  if (c->sh[0].sh_type != SHT_NULL)
    return oj_elf_fail(c, ORCJIT_EFORMAT,
                       OJ_ELF_CORRUPT "section 0 has type %u; it must be "
                                      "SHT_NULL",
                       (unsigned)c->sh[0].sh_type);
  /* Bounds of every section with contents. */
  for (i = 1; i < c->shnum; i++) {
    const Elf64_Shdr *s = &c->sh[i];
    if (s->sh_type != SHT_NOBITS &&
        !oj_elf_inside(s->sh_offset, s->sh_size, c->size))
      return oj_elf_fail(c, ORCJIT_EFORMAT,
                         OJ_ELF_CORRUPT "%s extends past end of file",
                         oj_elf_sec(c, i).s);
    /* JITLink makes no graph section of an SHT_NULL one (nor, in newer
    ** LLVM, of a compressed one): its symbols would be missing, and a graph
    ** left without an allocated section crashes JITLink 22 on the first
    ** error (a null allocation in abandonAllocAndBailOut).  Neither may be
    ** allocated (ELF gABI). */
    if ((s->sh_flags & SHF_ALLOC) &&
        (s->sh_type == SHT_NULL || (s->sh_flags & SHF_COMPRESSED)))
      return oj_elf_fail(c, ORCJIT_EFORMAT,
                         OJ_ELF_CORRUPT "%s is allocated (SHF_ALLOC) but %s",
                         oj_elf_sec(c, i).s,
                         s->sh_type == SHT_NULL ? "has type SHT_NULL"
                                                : "compressed (SHF_COMPRESSED)");
    /* JITLink finds unwind tables by name and registers them with the C
    ** library's unwinder at their address: one that is not loaded has
    ** none (__register_frame(0) crashed, found by fuzz_load). */
    if (!(s->sh_flags & SHF_ALLOC) && oj_elf_is_eh_frame(c, i))
      return oj_elf_fail(c, ORCJIT_EFORMAT,
                         OJ_ELF_CORRUPT "%s is not allocated (no SHF_ALLOC); "
                                        "unwind tables must be",
                         oj_elf_sec(c, i).s);
    /* JITLink 22 keeps an unloaded section that live code refers to, and
    ** before applying fixups copies every unloaded block's contents to
    ** memory of its own: for a zero-fill block that copy reads from a null
    ** pointer (SEGV in fixUpBlocks, found by fuzz_load).  A zero-fill
    ** section that is not loaded has neither bytes nor memory. */
    if (!(s->sh_flags & SHF_ALLOC) && s->sh_type == SHT_NOBITS && s->sh_size)
      return oj_elf_fail(c, ORCJIT_EFORMAT,
                         OJ_ELF_CORRUPT "%s is zero-fill (SHT_NOBITS) but "
                                        "not allocated (no SHF_ALLOC)",
                         oj_elf_sec(c, i).s);
    if ((s->sh_flags & SHF_ALLOC) && (s->sh_addralign & (s->sh_addralign - 1)))
      return oj_elf_fail(c, ORCJIT_EFORMAT,
                         OJ_ELF_CORRUPT "%s has alignment %llu, not a power "
                                        "of two",
                         oj_elf_sec(c, i).s,
                         (unsigned long long)s->sh_addralign);
    /* JITLink 22 keeps log2 of an alignment in 5 bits: 2^32 became 1 and
    ** the sections of an object overlapped (found by review). */
    if ((s->sh_flags & SHF_ALLOC) && s->sh_addralign > OJ_ELF_ALIGN_MAX)
      return oj_elf_fail(c, ORCJIT_EUNSUPPORTED,
                         "%s asks for alignment %llu; the most JIT memory "
                         "gives is 1 MiB",
                         oj_elf_sec(c, i).s, (unsigned long long)s->sh_addralign);
  }
  return ORCJIT_OK;
}

/* Section names JITLink 22 gives its own sections (the machine's
** reserved_sections: on x86-64 its GOT, stub and TLS tables, and the
** section of common symbols).  It looks them up by
** name and adopts a section of the object that has one: its GOT and stub
** builders then take the object's blocks for table entries and read edges
** they do not have (SEGV in registerExistingEntries), and common symbols
** land in whatever section of the object is called .common, loaded or not
** (SEGV copying a zero-fill block of an unloaded one).  Found by review.
**
** JITLink 22 also puts sections of the same name into one graph section,
** which is loaded or not as the first of them says: a loaded section named
** like an earlier unloaded one got no memory, and copying into it crashed
** (found by fuzz_load).  So a loaded section may not follow an unloaded
** one of its name.  (The reverse only loads bytes nobody reads, and is
** what the symbol table added by this pre-pass looks like when an object
** without one has a loaded section named .strtab.)  Sections are visited
** in index order with a hash table of the names seen (the first section of
** each name); a C++ object has hundreds of sections, and sorting their
** names was a fifth of this pre-pass. */
static uint32_t oj_elf_read_hash(const char *p) {
  /* The length and the first and last 8 bytes: C++ section names are long
  ** and differ mostly in their (mangled) ends. */
  size_t n = strlen(p);
  uint64_t a = 0, b = 0;
  memcpy(&a, p, n < 8 ? n : 8);
  if (n > 8) memcpy(&b, p + n - 8, 8);
  uint64_t h = (a ^ (b * 0x9e3779b97f4a7c15u) ^ n) * 0xff51afd7ed558ccdu;
  return (uint32_t)(h >> 32);
}

int oj_elf_read_names(oj_elf_ctx *c) {
  const char *const *reserved = c->arch->reserved_sections;
  uint32_t i, nres = 0, *first, mask = 15;
  while (reserved && reserved[nres]) nres++;
  while (mask < 2 * ((uint64_t)c->shnum + nres)) mask = mask * 2 + 1;
  /* Entries: a section index; shnum + k for reserved[k]; 0 if empty. */
  first = calloc((size_t)mask + 1, sizeof *first);
  if (!first) return oj_elf_nomem(c);
  for (i = 0; i < nres; i++) {
    uint32_t h = oj_elf_read_hash(reserved[i]) & mask;
    while (first[h]) h = (h + 1) & mask;
    first[h] = c->shnum + i;
  }
  for (i = 1; i < c->shnum; i++) {
    const char *name = oj_elf_secname(c, i);
    uint32_t h = oj_elf_read_hash(name) & mask, x;
    for (; (x = first[h]) != 0; h = (h + 1) & mask)
      if (strcmp(x < c->shnum ? oj_elf_secname(c, x) : reserved[x - c->shnum], name) == 0)
        break;
    if (x >= c->shnum) {
      free(first);
      return oj_elf_fail(c, ORCJIT_EFORMAT,
                         OJ_ELF_CORRUPT "%s has a name JITLink 22 keeps for "
                                        "its own sections",
                         oj_elf_sec(c, i).s);
    }
    if (c->sh[i].sh_type == SHT_NULL) continue; /* JITLink skips SHT_NULL */
    if (!x) {
      first[h] = i;
      continue;
    }
    if (!(c->sh[x].sh_flags & SHF_ALLOC) != !(c->sh[i].sh_flags & SHF_ALLOC))
      c->flags |= OJ_ELF_MIXED_NAMES;
    if (!(c->sh[x].sh_flags & SHF_ALLOC) && (c->sh[i].sh_flags & SHF_ALLOC)) {
      free(first);
      return oj_elf_fail(c, ORCJIT_EFORMAT,
                         OJ_ELF_CORRUPT "section %u is allocated (SHF_ALLOC) but "
                                        "has the name of %s, which is not",
                         (unsigned)i, oj_elf_sec(c, x).s);
    }
  }
  free(first);
  return ORCJIT_OK;
}

int oj_elf_read_symtab(oj_elf_ctx *c) {
  uint32_t i;
  const Elf64_Shdr *s;
  for (i = 1; i < c->shnum; i++) {
    if (c->sh[i].sh_type != SHT_SYMTAB) continue;
    if (c->symtab)
      return oj_elf_fail(c, ORCJIT_EFORMAT,
                         OJ_ELF_CORRUPT "more than one symbol table: %s and "
                                        "%s",
                         oj_elf_sec(c, c->symtab).s, oj_elf_sec(c, i).s);
    c->symtab = i;
  }
  for (i = 1; i < c->shnum; i++) {
    s = &c->sh[i];
    if (s->sh_type != SHT_SYMTAB_SHNDX) continue;
    if (!c->symtab || s->sh_link != c->symtab)
      return oj_elf_fail(c, ORCJIT_EFORMAT,
                         OJ_ELF_CORRUPT "%s (SHT_SYMTAB_SHNDX) does not belong "
                                        "to the symbol table",
                         oj_elf_sec(c, i).s);
    if (c->shndx)
      return oj_elf_fail(c, ORCJIT_EFORMAT,
                         OJ_ELF_CORRUPT "more than one SHT_SYMTAB_SHNDX "
                                        "section (%s and %s)",
                         oj_elf_sec(c, c->shndx).s, oj_elf_sec(c, i).s);
    c->shndx = i;
  }
  if (!c->symtab) return ORCJIT_OK;

  s = &c->sh[c->symtab];
  if (s->sh_entsize != sizeof(Elf64_Sym) || s->sh_size % sizeof(Elf64_Sym))
    return oj_elf_fail(c, ORCJIT_EFORMAT,
                       OJ_ELF_CORRUPT "symbol table %s has entry size %llu "
                                      "and size %llu (entries must be %zu "
                                      "bytes)",
                       oj_elf_sec(c, c->symtab).s,
                       (unsigned long long)s->sh_entsize,
                       (unsigned long long)s->sh_size, sizeof(Elf64_Sym));
  c->nsyms = s->sh_size / sizeof(Elf64_Sym);
  if (c->nsyms >= UINT32_MAX)
    return oj_elf_fail(c, ORCJIT_EFORMAT, OJ_ELF_CORRUPT "too many symbols");
  if (s->sh_info > c->nsyms)
    return oj_elf_fail(c, ORCJIT_EFORMAT,
                       OJ_ELF_CORRUPT "symbol table %s says its first global "
                                      "symbol is %u but it has %llu symbols",
                       oj_elf_sec(c, c->symtab).s, (unsigned)s->sh_info,
                       (unsigned long long)c->nsyms);
  if (s->sh_link == 0 || s->sh_link >= c->shnum ||
      c->sh[s->sh_link].sh_type != SHT_STRTAB)
    return oj_elf_fail(c, ORCJIT_EFORMAT,
                       OJ_ELF_CORRUPT "symbol table %s links to section %u, "
                                      "which is not a string table",
                       oj_elf_sec(c, c->symtab).s, (unsigned)s->sh_link);
  c->strtab = s->sh_link;
  c->str = (const char *)c->data + c->sh[c->strtab].sh_offset;
  c->strsize = c->sh[c->strtab].sh_size;
  c->strend = oj_elf_strend(c->str, c->strsize);
  /* Name offset 0 is the empty name: JITLink 22 takes symbol 0 for the
  ** null symbol only if its name is empty (see oj_elf_sym_check).
  ** Also with no symbols: the image may add a null symbol 0 and markers
  ** that use this table (found by fuzz_elf). */
  if ((c->nsyms && c->strsize == 0) || (c->strsize && c->str[0] != '\0'))
    return oj_elf_fail(c, ORCJIT_EFORMAT,
                       OJ_ELF_CORRUPT "string table %s does not start with "
                                      "a NUL byte",
                       oj_elf_sec(c, c->strtab).s);
  if (c->shndx) {
    s = &c->sh[c->shndx];
    if ((s->sh_entsize != 0 && s->sh_entsize != 4) ||
        s->sh_size != c->nsyms * 4)
      return oj_elf_fail(c, ORCJIT_EFORMAT,
                         OJ_ELF_CORRUPT "%s (SHT_SYMTAB_SHNDX) has size %llu, "
                                        "expected %llu (4 bytes per symbol)",
                         oj_elf_sec(c, c->shndx).s,
                         (unsigned long long)s->sh_size,
                         (unsigned long long)c->nsyms * 4);
  }
  return ORCJIT_OK;
}
