/*
** oj_elf.c: the ELF pre-pass (interface and rationale in oj_elf.h).
**
** This file owns:
**   - recognising input bytes as an ELF object or an ar archive;
**   - validating an x86-64 ELF relocatable object completely: every header,
**     section, symbol, name and relocation is bounds-checked with
**     overflow-safe arithmetic before anything else looks at it;
**   - producing the rewritten image handed to JITLink (GOTPCRELX -> GOTPCREL,
**     STV_INTERNAL -> STV_HIDDEN, marker symbols for init/fini sections, TLS
**     sections and the anchor, local-dynamic TLS made general-dynamic);
**   - the layout of the object's thread-local sections as one block;
**   - the lists of defined and undefined global symbols of the object.
**
** How the image is built: it is a copy of the input, edited in place, with
** new copies of the symbol table, its string table and (if there is one)
** its SHT_SYMTAB_SHNDX table appended at 8-byte aligned offsets; the
** section headers of those tables are pointed at the new copies.  Old
** entries keep their indices, so relocations, groups and address-significance
** tables stay valid.  Only an object without any symbol table gets new
** sections (.symtab, .strtab), and then a new section header table.
**
** ELF structures are copied out of the input with memcpy, so unaligned
** offsets in corrupt files are harmless.  No global state.
*/
#include "oj_elf.h"

#include <elf.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oj_error.h"
#include "tvm_ffi_orcjit/orcjit.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "oj_elf.c reads little-endian ELF structures directly"
#endif

#ifndef SHT_CREL
#define SHT_CREL 0x40000014u /* LLVM compact relocations */
#endif
#ifndef SHN_X86_64_LCOMMON
#define SHN_X86_64_LCOMMON 0xff02u /* large common symbols */
#endif

#define OJ_ELF_CORRUPT "truncated or corrupt ELF: "
#define OJ_ELF_NOPRIO 65536u /* plain sections: after every numbered one, as ld puts them */

/* A global symbol of the input, before deduplication. */
typedef struct oj_elf_cand {
  const char *s; /* the name, inside the input's string table */
  size_t len;
  uint32_t hash;
  unsigned flags;
} oj_elf_cand;

/* Everything learnt about the input while validating it. */
typedef struct oj_elf_ctx {
  const unsigned char *data;
  size_t size;
  const char *what;
  const char *tag;
  Elf64_Ehdr eh;
  Elf64_Shdr *sh;     /* copy of the section headers, shnum entries */
  uint32_t shnum;
  int names_ok;       /* section names have been validated */
  const char *shstr;  /* section name table or NULL */
  uint64_t shstrsize;
  uint64_t shstrend;  /* names at offsets < shstrend are NUL-terminated */
  uint32_t symtab;    /* index of the SHT_SYMTAB section, 0 if none */
  uint32_t strtab;    /* its string table */
  uint32_t shndx;     /* its SHT_SYMTAB_SHNDX section, 0 if none */
  uint64_t nsyms;
  const char *str;
  uint64_t strsize;
  uint64_t strend;
  oj_elf_cand *cand;  /* defined at [0, ndef), undefined at the end */
  size_t ndef, nund;
  uint32_t anchor;    /* section of the anchor marker, 0 if none */
  uint64_t need;      /* bytes of JIT memory the loaded sections ask for */
  uint64_t *tlsvoff;  /* per section: offset in the TLS block, or
                         OJ_ELF_NOTLS; NULL if the object has no TLS */
  uint32_t *tlssec;   /* section of each out->tls entry */
} oj_elf_ctx;

#define OJ_ELF_NOTLS UINT64_MAX

static void oj_elf_sym_at(const oj_elf_ctx *c, uint64_t i, Elf64_Sym *sym,
                          uint32_t *sec);
/* A session's JIT memory is one 2 GiB window of 1 MiB chunks (see
** glue/oj_memmgr.cc): the most it holds and the largest alignment. */
#define OJ_ELF_JIT_MAX ((uint64_t)1 << 31)
#define OJ_ELF_ALIGN_MAX ((uint64_t)1 << 20)
/* The largest TLS block accepted: every thread gets a copy. */
#define OJ_ELF_TLS_MAX ((uint64_t)1 << 30)

/* A short printable description ("section 5 (.text)"), by value so that it
** can be used inside an argument list. */
typedef struct oj_elf_desc {
  char s[128];
} oj_elf_desc;

static int oj_elf_fail(const oj_elf_ctx *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int oj_elf_fail(const oj_elf_ctx *c, int status, const char *fmt,
                       ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return oj_error_set(status, "%s: %s", c->what, buf);
}

static int oj_elf_nomem(const oj_elf_ctx *c) {
  return oj_elf_fail(c, ORCJIT_ENOMEM, "out of memory while preparing the "
                                       "object");
}

/* True if [off, off+len) lies inside a buffer of size bytes. */
static int oj_elf_inside(uint64_t off, uint64_t len, uint64_t size) {
  return off <= size && len <= size - off;
}

/* Offset one past the last NUL of p[0..n), 0 if there is none: a string
** starting at an offset below it is terminated inside the table. */
static uint64_t oj_elf_strend(const char *p, uint64_t n) {
  while (n > 0 && p[n - 1] != '\0') n--;
  return n;
}

/* Copies s into d (size n) replacing unprintable bytes, "..." if cut. */
static void oj_elf_printable(char *d, size_t n, const char *s) {
  size_t i;
  for (i = 0; i + 1 < n && s[i]; i++) {
    unsigned char ch = (unsigned char)s[i];
    d[i] = (ch < 0x20 || ch >= 0x7f) ? '?' : (char)ch;
  }
  d[i] = '\0';
  if (s[i] && n >= 4) memcpy(d + n - 4, "...", 4);
}

static const char *oj_elf_secname(const oj_elf_ctx *c, uint32_t i) {
  if (!c->names_ok || !c->shstr || i == 0 || i >= c->shnum) return "";
  return c->shstr + c->sh[i].sh_name;
}

static oj_elf_desc oj_elf_sec(const oj_elf_ctx *c, uint32_t i) {
  oj_elf_desc d;
  const char *name = oj_elf_secname(c, i);
  int n = snprintf(d.s, sizeof d.s, "section %u", (unsigned)i);
  if (*name && n > 0 && (size_t)n + 4 < sizeof d.s) {
    d.s[n] = ' ';
    d.s[n + 1] = '(';
    oj_elf_printable(d.s + n + 2, sizeof d.s - (size_t)n - 3, name);
    strcat(d.s, ")");
  }
  return d;
}

static oj_elf_desc oj_elf_symdesc(const oj_elf_ctx *c, uint64_t i,
                                  uint32_t st_name) {
  oj_elf_desc d;
  int n = snprintf(d.s, sizeof d.s, "symbol %llu", (unsigned long long)i);
  if (st_name != 0 && st_name < c->strend && c->str[st_name] && n > 0 &&
      (size_t)n + 4 < sizeof d.s) {
    d.s[n] = ' ';
    d.s[n + 1] = '(';
    oj_elf_printable(d.s + n + 2, sizeof d.s - (size_t)n - 3,
                     c->str + st_name);
    strcat(d.s, ")");
  }
  return d;
}

static const char *oj_elf_machine_name(unsigned m) {
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
  case EM_RISCV: return "RISC-V";
  case 258: return "LoongArch";
  default: return NULL;
  }
}

/* ---- header ------------------------------------------------------------ */

static int oj_elf_check_header(oj_elf_ctx *c) {
  const unsigned char *d = c->data;
  const char *mname;
  if (c->size < SELFMAG || memcmp(d, ELFMAG, SELFMAG) != 0)
    return oj_elf_fail(c, ORCJIT_EFORMAT, "not an ELF file (bad magic)");
  if (c->size > EI_CLASS && d[EI_CLASS] == ELFCLASS32)
    return oj_elf_fail(c, ORCJIT_EUNSUPPORTED,
                       "is a 32-bit ELF object (ELFCLASS32); only 64-bit "
                       "x86-64 objects are supported");
  if (c->size <= EI_DATA)
    return oj_elf_fail(c, ORCJIT_EFORMAT,
                       OJ_ELF_CORRUPT "file is shorter than the ELF header");
  if (d[EI_CLASS] != ELFCLASS64)
    return oj_elf_fail(c, ORCJIT_EFORMAT, OJ_ELF_CORRUPT "invalid ELF class %u",
                       (unsigned)d[EI_CLASS]);
  if (d[EI_DATA] == ELFDATA2MSB)
    return oj_elf_fail(c, ORCJIT_EUNSUPPORTED,
                       "is a big-endian ELF object (ELFDATA2MSB); only "
                       "little-endian x86-64 objects are supported");
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
  if (c->eh.e_machine != EM_X86_64) {
    mname = oj_elf_machine_name(c->eh.e_machine);
    if (mname)
      return oj_elf_fail(c, ORCJIT_EUNSUPPORTED,
                         "object is for %s (e_machine %u); only x86-64 is "
                         "supported", mname, (unsigned)c->eh.e_machine);
    return oj_elf_fail(c, ORCJIT_EUNSUPPORTED,
                       "object is for machine %u (e_machine); only x86-64 is "
                       "supported", (unsigned)c->eh.e_machine);
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
typedef struct oj_elf_span {
  uint64_t off, end;
  uint32_t sec; /* section index; UINT32_MAX: the ELF header, 0: the table */
} oj_elf_span;

static int oj_elf_span_cmp(const void *a, const void *b) {
  const oj_elf_span *x = a, *y = b;
  return x->off < y->off ? -1 : x->off > y->off;
}

static oj_elf_desc oj_elf_spandesc(const oj_elf_ctx *c, uint32_t sec) {
  oj_elf_desc d;
  if (sec == UINT32_MAX) snprintf(d.s, sizeof d.s, "the ELF header");
  else if (sec == 0) snprintf(d.s, sizeof d.s, "the section header table");
  else d = oj_elf_sec(c, sec);
  return d;
}

static int oj_elf_check_overlaps(const oj_elf_ctx *c) {
  oj_elf_span *v = malloc(((size_t)c->shnum + 1) * sizeof *v), *wide;
  uint32_t i, n = 0;
  if (!v) return oj_elf_nomem(c);
  v[n++] = (oj_elf_span){0, sizeof(Elf64_Ehdr), UINT32_MAX};
  if (c->shnum)
    v[n++] = (oj_elf_span){c->eh.e_shoff,
                           c->eh.e_shoff + (uint64_t)c->shnum * sizeof(Elf64_Shdr), 0};
  for (i = 1; i < c->shnum; i++) {
    const Elf64_Shdr *s = &c->sh[i];
    if (s->sh_type == SHT_NOBITS || s->sh_type == SHT_NULL || s->sh_size == 0)
      continue; /* (bounds checked by the caller) */
    v[n++] = (oj_elf_span){s->sh_offset, s->sh_offset + s->sh_size, i};
  }
  qsort(v, n, sizeof *v, oj_elf_span_cmp);
  for (wide = v, i = 1; i < n; i++) { /* wide: the span reaching furthest */
    if (v[i].off < wide->end) {
      int rc = oj_elf_fail(c, ORCJIT_EFORMAT,
                           OJ_ELF_CORRUPT "%s overlaps %s in the file",
                           oj_elf_spandesc(c, v[i].sec).s,
                           oj_elf_spandesc(c, wide->sec).s);
      free(v);
      return rc;
    }
    if (v[i].end > wide->end) wide = &v[i];
  }
  free(v);
  return ORCJIT_OK;
}

static int oj_elf_load_sections(oj_elf_ctx *c) {
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
  ** fuzz_load).  The image gets 0 everywhere (oj_elf_edit). */
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
  /* What the loaded sections need must fit in a session's JIT memory (one
  ** 2 GiB window).  Zero-fill sizes are not bounded by the file: a .bss of
  ** nearly 2^64 bytes wrapped JITLink's layout and the memory manager's
  ** sizes around zero (found by fuzz_load: a block laid out past its
  ** segment, and a corrupted free list). */
  {
    uint64_t need = 0;
    for (i = 1; i < c->shnum; i++) {
      const Elf64_Shdr *s = &c->sh[i];
      if (!(s->sh_flags & SHF_ALLOC)) continue;
      if (s->sh_size > OJ_ELF_JIT_MAX - need) {
        need = UINT64_MAX;
        break;
      }
      need += s->sh_size;
    }
    if (need > OJ_ELF_JIT_MAX)
      return oj_elf_fail(c, ORCJIT_EUNSUPPORTED,
                         "its loaded sections need more than 2 GiB of memory "
                         "(the total passes 2 GiB at %s, of %llu bytes); a "
                         "session's JIT memory spans at most 2 GiB",
                         oj_elf_sec(c, i).s, (unsigned long long)c->sh[i].sh_size);
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
    if (!(s->sh_flags & SHF_ALLOC) && strcmp(oj_elf_secname(c, i), ".eh_frame") == 0)
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

/* ---- symbols ----------------------------------------------------------- */

/* JITLink 22 puts sections of the same name into one graph section, which
** is loaded or not as the first of them says: a loaded section named like
** an earlier unloaded one got no memory, and copying into it crashed
** (found by fuzz_load).  So a loaded section may not follow an unloaded
** one of its name.  (The reverse only loads bytes nobody reads, and is
** what the symbol table added by this pre-pass looks like when an object
** without one has a loaded section named .strtab.) */
static int oj_elf_name_cmp(const void *a, const void *b, void *ctx) {
  const oj_elf_ctx *c = ctx;
  int r = strcmp(oj_elf_secname(c, *(const uint32_t *)a),
                 oj_elf_secname(c, *(const uint32_t *)b));
  if (r) return r;
  return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1;
}

/* Section names JITLink 22 gives its own sections: its x86-64 GOT, stub
** and TLS tables, and the section of common symbols.  It looks them up by
** name and adopts a section of the object that has one: its GOT and stub
** builders then take the object's blocks for table entries and read edges
** they do not have (SEGV in registerExistingEntries), and common symbols
** land in whatever section of the object is called .common, loaded or not
** (SEGV copying a zero-fill block of an unloaded one).  Found by review. */
static const char *const oj_elf_reserved_sections[] = {"$__GOT", "$__STUBS",
                                                       "$__TLSINFO", ".common"};

static int oj_elf_check_same_names(oj_elf_ctx *c) {
  uint32_t i, first, n = 0, *v;
  for (i = 1; i < c->shnum; i++)
    for (size_t k = 0; k < sizeof oj_elf_reserved_sections / sizeof *oj_elf_reserved_sections; k++)
      if (strcmp(oj_elf_secname(c, i), oj_elf_reserved_sections[k]) == 0)
        return oj_elf_fail(c, ORCJIT_EFORMAT,
                           OJ_ELF_CORRUPT "%s has a name JITLink 22 keeps for "
                                          "its own sections",
                           oj_elf_sec(c, i).s);
  v = malloc((size_t)c->shnum * sizeof *v);
  if (!v) return oj_elf_nomem(c);
  for (i = 1; i < c->shnum; i++)
    if (c->sh[i].sh_type != SHT_NULL) v[n++] = i; /* JITLink skips SHT_NULL */
  qsort_r(v, n, sizeof *v, oj_elf_name_cmp, c);
  for (i = 1, first = 0; i < n; i++) {
    if (strcmp(oj_elf_secname(c, v[i - 1]), oj_elf_secname(c, v[i])) != 0) {
      first = i; /* the first section of this name (sorted by index) */
      continue;
    }
    if (!(c->sh[v[first]].sh_flags & SHF_ALLOC) && (c->sh[v[i]].sh_flags & SHF_ALLOC)) {
      uint32_t x = v[first], y = v[i];
      free(v);
      return oj_elf_fail(c, ORCJIT_EFORMAT,
                         OJ_ELF_CORRUPT "section %u is allocated (SHF_ALLOC) but "
                                        "has the name of %s, which is not",
                         (unsigned)y, oj_elf_sec(c, x).s);
    }
  }
  free(v);
  return ORCJIT_OK;
}

static int oj_elf_find_symtab(oj_elf_ctx *c) {
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
  ** null symbol only if its name is empty (see oj_elf_check_symbols).
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

/* Validates every symbol and records the global ones as candidates. */
static int oj_elf_check_symbols(oj_elf_ctx *c) {
  const unsigned char *base, *xbase = NULL;
  uint64_t i;
  size_t und_at;
  if (c->nsyms == 0) return ORCJIT_OK;
  base = c->data + c->sh[c->symtab].sh_offset;
  if (c->shndx) xbase = c->data + c->sh[c->shndx].sh_offset;
  c->cand = malloc((size_t)c->nsyms * sizeof(oj_elf_cand));
  if (!c->cand) return oj_elf_nomem(c);
  und_at = (size_t)c->nsyms;
  for (i = 0; i < c->nsyms; i++) {
    Elf64_Sym sym;
    uint32_t sec;
    unsigned bind, type, vis, flags = 0;
    memcpy(&sym, base + i * sizeof sym, sizeof sym);
    /* Symbol 0 is the null symbol, all zero and nameless.  JITLink 22
    ** makes no graph symbol of one that is not, and a relocation against it
    ** then makes it dereference a null pointer while formatting its error
    ** (found by fuzz_load). */
    if (i == 0 && (sym.st_name || sym.st_info || sym.st_other || sym.st_shndx ||
                   sym.st_value || sym.st_size))
      return oj_elf_fail(c, ORCJIT_EFORMAT,
                         OJ_ELF_CORRUPT "symbol 0 is not the null symbol (all "
                                        "its fields must be zero)");
    if (sym.st_name != 0 && sym.st_name >= c->strend)
      return oj_elf_fail(c, ORCJIT_EFORMAT,
                         OJ_ELF_CORRUPT "symbol %llu has a name offset (%u) "
                                        "outside its string table (%s)",
                         (unsigned long long)i, (unsigned)sym.st_name,
                         oj_elf_sec(c, c->strtab).s);
    sec = sym.st_shndx;
    if (sec == SHN_XINDEX) {
      if (!xbase)
        return oj_elf_fail(c, ORCJIT_EFORMAT,
                           OJ_ELF_CORRUPT "%s uses SHN_XINDEX but there is no "
                                          "SHT_SYMTAB_SHNDX section",
                           oj_elf_symdesc(c, i, sym.st_name).s);
      memcpy(&sec, xbase + i * 4, 4);
      /* Index 0 would make it undefined here but defined for LLVM. */
      if (sec == SHN_UNDEF)
        return oj_elf_fail(c, ORCJIT_EFORMAT,
                           OJ_ELF_CORRUPT "%s uses SHN_XINDEX but its "
                                          "extended section index is 0",
                           oj_elf_symdesc(c, i, sym.st_name).s);
      if (sec >= c->shnum)
        return oj_elf_fail(c, ORCJIT_EFORMAT,
                           OJ_ELF_CORRUPT "%s has section index %u, out of "
                                          "range (%u sections)",
                           oj_elf_symdesc(c, i, sym.st_name).s, (unsigned)sec,
                           (unsigned)c->shnum);
    } else if (sec >= SHN_LORESERVE) {
      if (sec == SHN_X86_64_LCOMMON)
        return oj_elf_fail(c, ORCJIT_EUNSUPPORTED,
                           "%s is a large common symbol "
                           "(SHN_X86_64_LCOMMON), which is not supported; "
                           "compile with -fno-common",
                           oj_elf_symdesc(c, i, sym.st_name).s);
      if (sec != SHN_ABS && sec != SHN_COMMON)
        return oj_elf_fail(c, ORCJIT_EFORMAT,
                           OJ_ELF_CORRUPT "%s has reserved section index "
                                          "0x%x",
                           oj_elf_symdesc(c, i, sym.st_name).s, (unsigned)sec);
      /* A common symbol is a zero-fill block JITLink makes of st_size
      ** bytes aligned to st_value: it counts against the same 2 GiB as the
      ** sections.  Unchecked, sizes near 2^63 summed past 2^64 in JITLink's
      ** layout and the segment wrapped to a few bytes. */
      if (sec == SHN_COMMON) {
        if (sym.st_value > OJ_ELF_ALIGN_MAX)
          return oj_elf_fail(c, ORCJIT_EUNSUPPORTED,
                             "%s is a common symbol aligned to %llu; the most "
                             "JIT memory gives is 1 MiB",
                             oj_elf_symdesc(c, i, sym.st_name).s,
                             (unsigned long long)sym.st_value);
        if (sym.st_size > OJ_ELF_JIT_MAX - c->need ||
            sym.st_value > OJ_ELF_JIT_MAX - c->need - sym.st_size)
          return oj_elf_fail(c, ORCJIT_EUNSUPPORTED,
                             "%s is a common symbol of %llu bytes aligned to "
                             "%llu; with the loaded sections that is more "
                             "than the 2 GiB of a session's JIT memory",
                             oj_elf_symdesc(c, i, sym.st_name).s,
                             (unsigned long long)sym.st_size,
                             (unsigned long long)sym.st_value);
        c->need += sym.st_size + sym.st_value;
      }
    } else if (sec >= c->shnum) {
      return oj_elf_fail(c, ORCJIT_EFORMAT,
                         OJ_ELF_CORRUPT "%s has section index %u, out of "
                                        "range (%u sections)",
                         oj_elf_symdesc(c, i, sym.st_name).s, (unsigned)sec,
                         (unsigned)c->shnum);
    }
    bind = ELF64_ST_BIND(sym.st_info);
    /* JITLink 22 fails to build the graph on any other binding, and ORC's
    ** cleanup of that failure released one of the object's interned names
    ** once too often (found by fuzz_load: a later add of the same name
    ** tripped SymbolStringPtr's zero-count assertion). */
    if (bind != STB_LOCAL && bind != STB_GLOBAL && bind != STB_WEAK &&
        bind != STB_GNU_UNIQUE)
      return oj_elf_fail(c, ORCJIT_EFORMAT,
                         OJ_ELF_CORRUPT "%s has binding %u (st_info), not "
                                        "local, global, weak or unique",
                         oj_elf_symdesc(c, i, sym.st_name).s, bind);
    type = ELF64_ST_TYPE(sym.st_info);
    /* LLVM takes any symbol of type STT_COMMON for a common one, wherever
    ** it is defined: JITLink 22 makes a zero-fill block of st_size for it,
    ** outside the 2 GiB count above (found by review). */
    if (type == STT_COMMON && sec != SHN_COMMON)
      return oj_elf_fail(c, ORCJIT_EFORMAT,
                         OJ_ELF_CORRUPT "%s has type STT_COMMON but is not "
                                        "in SHN_COMMON",
                         oj_elf_symdesc(c, i, sym.st_name).s);
    /* A symbol must lie inside its section: JITLink 22's own check,
    ** st_value + st_size against the block size, wraps around 2^64 and
    ** then places the symbol outside its block (found by review). */
    if (sec != SHN_UNDEF && sec < SHN_LORESERVE &&
        (sym.st_value > c->sh[sec].sh_size ||
         sym.st_size > c->sh[sec].sh_size - sym.st_value))
      return oj_elf_fail(c, ORCJIT_EFORMAT,
                         OJ_ELF_CORRUPT "%s (value %llu, size %llu) does not "
                                        "lie inside %s (%llu bytes)",
                         oj_elf_symdesc(c, i, sym.st_name).s,
                         (unsigned long long)sym.st_value,
                         (unsigned long long)sym.st_size, oj_elf_sec(c, sec).s,
                         (unsigned long long)c->sh[sec].sh_size);
    /* Names the loader or JITLink defines: a library's own __dso_handle
    ** (an object's copy made __cxa_atexit hand its destructors to the C
    ** library, which ran them after the library's memory was gone), and
    ** the GOT (JITLink's GOT relocations use its own, GOTPC64 took the
    ** object's: wild GOT reads).  Found by review. */
    if (sec != SHN_UNDEF && sym.st_name &&
        (strcmp(c->str + sym.st_name, "__dso_handle") == 0 ||
         strcmp(c->str + sym.st_name, "_GLOBAL_OFFSET_TABLE_") == 0))
      return oj_elf_fail(c, ORCJIT_EUNSUPPORTED,
                         "%s is defined in the object; that name is the "
                         "loader's (__dso_handle, one per library) or "
                         "JITLink's (_GLOBAL_OFFSET_TABLE_)",
                         oj_elf_symdesc(c, i, sym.st_name).s);
    if (bind == STB_LOCAL) continue;
    /* A global defined in a section that is not loaded has no address,
    ** yet ORC lists it as a definition of the object: a lookup of it links
    ** a graph with nothing to allocate, which crashes JITLink 22 on the
    ** first error (see above).  No compiler makes one.  Nameless ones too:
    ** ORC lists "" as well. */
    if (sec != SHN_UNDEF && sym.st_shndx != SHN_ABS && sym.st_shndx != SHN_COMMON &&
        !(c->sh[sec].sh_flags & SHF_ALLOC))
      return oj_elf_fail(c, ORCJIT_EFORMAT,
                         OJ_ELF_CORRUPT "%s is defined in %s, which is not "
                                        "loaded (no SHF_ALLOC)",
                         oj_elf_symdesc(c, i, sym.st_name).s,
                         oj_elf_sec(c, sec).s);
    /* JITLink 22 makes no graph symbol of an absolute one, yet ORC lists a
    ** global one as a definition of the object: looking it up fails ("missing
    ** definitions"), and when the object has nothing to allocate JITLink's
    ** bail-out calls abandon() on a null allocation (SEGV, found by review).
    ** An assembler makes one from ".globl x; .set x, 5". */
    if (sym.st_shndx == SHN_ABS)
      return oj_elf_fail(c, ORCJIT_EUNSUPPORTED,
                         "%s is a global absolute symbol (SHN_ABS), which is "
                         "not supported: JITLink 22 does not define them",
                         oj_elf_symdesc(c, i, sym.st_name).s);
    if (sym.st_name == 0 || c->str[sym.st_name] == '\0') continue;
    /* The loader's marker names (oj_elf.h) are looked up in the library:
    ** an object that defined one of them steered the init/fini or TLS
    ** ranges recorded for another object, and a lookup then copied a
    ** thread-local image from the wrong place (found by review). */
    if (strncmp(c->str + sym.st_name, OJ_ELF_MARKER_PREFIX,
                sizeof OJ_ELF_MARKER_PREFIX - 1) == 0)
      return oj_elf_fail(c, ORCJIT_EUNSUPPORTED,
                         "%s has a name the loader keeps for itself (prefix "
                         "\"" OJ_ELF_MARKER_PREFIX "\")",
                         oj_elf_symdesc(c, i, sym.st_name).s);
    /* A global's type and its section must agree on thread-locality: the
    ** core gives a TLS symbol's lookup the calling thread's copy, found
    ** through its section (a TLS symbol elsewhere looked up as NULL), and
    ** a data or function symbol its address (in a TLS section, that of the
    ** initial image every thread copies).  Untyped ones are left alone: the
    ** markers are untyped. */
    if (sec != SHN_UNDEF && sec < SHN_LORESERVE &&
        (type == STT_TLS || type == STT_OBJECT || type == STT_FUNC) &&
        (type == STT_TLS) != ((c->sh[sec].sh_flags & SHF_TLS) != 0))
      return oj_elf_fail(c, ORCJIT_EFORMAT,
                         OJ_ELF_CORRUPT "%s %s thread-local (STT_TLS) but %s "
                                        "%s",
                         oj_elf_symdesc(c, i, sym.st_name).s,
                         type == STT_TLS ? "is" : "is not",
                         oj_elf_sec(c, sec).s,
                         type == STT_TLS ? "is not (no SHF_TLS)" : "is (SHF_TLS)");
    if (sec == SHN_UNDEF && bind == STB_GNU_UNIQUE)
      return oj_elf_fail(c, ORCJIT_EFORMAT,
                         OJ_ELF_CORRUPT "%s is undefined with binding "
                                        "STB_GNU_UNIQUE",
                         oj_elf_symdesc(c, i, sym.st_name).s);
    vis = ELF64_ST_VISIBILITY(sym.st_other);
    if (bind == STB_WEAK || bind == STB_GNU_UNIQUE) flags |= OJ_ELF_SYM_WEAK; /* one copy wins */
    if (type == STT_TLS) flags |= OJ_ELF_SYM_TLS;
    if (sec == SHN_UNDEF) {
      oj_elf_cand *u = &c->cand[--und_at];
      u->s = c->str + sym.st_name;
      u->flags = flags;
      c->nund++;
      continue;
    }
    if (vis == STV_HIDDEN || vis == STV_INTERNAL) flags |= OJ_ELF_SYM_HIDDEN;
    if (type == STT_FUNC || type == STT_GNU_IFUNC) flags |= OJ_ELF_SYM_FUNC;
    c->cand[c->ndef].s = c->str + sym.st_name;
    c->cand[c->ndef].flags = flags;
    c->ndef++;
  }
  /* Undefined candidates were stored backwards from the end. */
  {
    oj_elf_cand *u = c->cand + und_at, t;
    size_t a = 0, b = c->nund;
    while (b > a + 1) {
      t = u[a];
      u[a++] = u[--b];
      u[b] = t;
    }
  }
  return ORCJIT_OK;
}

/* Deduplicates v[0..n) by name in place (first one wins) and copies the
** result into one allocation: the array followed by its strings. */
static int oj_elf_make_list(const oj_elf_ctx *c, oj_elf_cand *v, size_t n,
                            uint32_t *slots, size_t cap, oj_elf_sym **out,
                            size_t *nout) {
  size_t i, k = 0, j, mask = cap - 1;
  uint64_t total = 0, work = 0, limit;
  oj_elf_sym *syms;
  char *pool;
  if (n == 0) return ORCJIT_OK;
  /* Names may share bytes in the string table (tail merging), so their
  ** total can exceed the file size, but not absurdly: the limit keeps a
  ** crafted file from costing more than a few times its size in time
  ** (work, which counts duplicates too) and memory (total). */
  limit = (uint64_t)c->size > (UINT64_MAX >> 5)
              ? UINT64_MAX
              : (uint64_t)c->size * 16 + ((uint64_t)1 << 20);
  memset(slots, 0, cap * sizeof *slots);
  for (i = 0; i < n; i++) {
    const unsigned char *p = (const unsigned char *)v[i].s;
    uint32_t h = 2166136261u;
    size_t len = 0;
    while (p[len]) h = (h ^ p[len++]) * 16777619u;
    work += len + 1;
    if (work > limit)
      return oj_elf_fail(c, ORCJIT_EFORMAT,
                         OJ_ELF_CORRUPT "symbol names are implausibly long "
                                        "for a %zu-byte file", c->size);
    j = h & mask;
    while (slots[j]) {
      const oj_elf_cand *e = &v[slots[j] - 1];
      if (e->hash == h && e->len == len && memcmp(e->s, p, len) == 0) break;
      j = (j + 1) & mask;
    }
    if (slots[j]) continue; /* duplicate name */
    v[k] = v[i];
    v[k].len = len;
    v[k].hash = h;
    slots[j] = (uint32_t)(k + 1);
    k++;
    total += len + 1;
  }
  syms = malloc(k * sizeof *syms + (size_t)total);
  if (!syms) return oj_elf_nomem(c);
  pool = (char *)(syms + k);
  for (i = 0; i < k; i++) {
    memcpy(pool, v[i].s, v[i].len + 1);
    syms[i].name = pool;
    syms[i].flags = v[i].flags;
    pool += v[i].len + 1;
  }
  *out = syms;
  *nout = k;
  return ORCJIT_OK;
}

static int oj_elf_make_lists(oj_elf_ctx *c, oj_elf_object *out) {
  size_t big = c->ndef > c->nund ? c->ndef : c->nund, cap = 16;
  uint32_t *slots;
  int rc;
  if (big == 0) return ORCJIT_OK;
  while (cap < 2 * big) cap *= 2;
  slots = malloc(cap * sizeof *slots);
  if (!slots) return oj_elf_nomem(c);
  rc = oj_elf_make_list(c, c->cand, c->ndef, slots, cap, &out->defined,
                        &out->ndefined);
  if (rc == ORCJIT_OK)
    rc = oj_elf_make_list(c, c->cand + (size_t)c->nsyms - c->nund, c->nund,
                          slots, cap, &out->undefined, &out->nundefined);
  free(slots);
  return rc;
}

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

/* Reads a LEB128 at *at in p[0..n); 0 if it does not end inside. */
static int oj_elf_leb(const unsigned char *p, uint64_t n, uint64_t *at) {
  while (*at < n)
    if (!(p[(*at)++] & 0x80)) return 1;
  return 0;
}

/* What oj_elf_cie_check finds wrong with a CIE. */
#define OJ_ELF_CIE_OK (-1)
#define OJ_ELF_CIE_LETTERS 256 /* else: a pointer encoding without a size */

/* A CIE (body p[0..n), after its id).  JITLink 22 copies each L, P and R
** of the augmentation string into an array of four bytes without a bounds
** check, with or without a 'z' and before it knows where the string ends:
** more letters overwrite its stack (found by review: "z" and 64 'R's
** ended in __stack_chk_fail), and four leave the array unterminated.  It
** then reads an FDE's pointers with any encoding the CIE names and reaches
** llvm_unreachable (a trap) on a size it does not know (found by
** fuzz_load).  Returns OJ_ELF_CIE_LETTERS when L, P or R occurs twice, the
** first unusable encoding, or OJ_ELF_CIE_OK.  The rest of a CIE is left to
** JITLink, whose reads are bounds-checked. */
static int oj_elf_cie_check(const unsigned char *p, uint64_t n, int *fde_enc) {
  uint64_t at = 1; /* after the version byte */
  unsigned seen = 0;
  const char *z;
  *fde_enc = 0x00; /* DW_EH_PE_absptr unless 'R' says otherwise */
  for (; at < n && p[at]; at++) {
    unsigned bit = p[at] == 'L' ? 1u : p[at] == 'P' ? 2u : p[at] == 'R' ? 4u : 0u;
    if (seen & bit) return OJ_ELF_CIE_LETTERS;
    seen |= bit;
  }
  /* JITLink reads the fields of L, P and R in their order whenever the
  ** string has a 'z' anywhere ("Rz" too). */
  if (n < 2) return OJ_ELF_CIE_OK;
  z = (const char *)p + 1;
  if (at++ >= n || !strchr(z, 'z')) return OJ_ELF_CIE_OK;
  if (strstr(z, "eh")) at += 8;
  /* code and data alignment factors, the return address register (one
  ** byte, as JITLink reads it), the augmentation data length */
  if (!oj_elf_leb(p, n, &at) || !oj_elf_leb(p, n, &at)) return OJ_ELF_CIE_OK;
  at++;
  if (!oj_elf_leb(p, n, &at)) return OJ_ELF_CIE_OK;
  for (; *z; z++) {
    unsigned enc;
    if (*z == 'z' || *z == 'e' || *z == 'h') continue;
    if (*z != 'L' && *z != 'P' && *z != 'R') return OJ_ELF_CIE_OK;
    if (at >= n) return OJ_ELF_CIE_OK;
    enc = p[at++];
    if (enc == 0xff) continue; /* DW_EH_PE_omit */
    switch (enc & 0x0f) {
    case 0x0: case 0x3: case 0x4: case 0xb: case 0xc: break; /* 4 or 8 bytes */
    default: return (int)enc;
    }
    if (*z == 'P') at += (enc & 0x0f) == 0x3 || (enc & 0x0f) == 0xb ? 4 : 8;
    if (*z == 'R') *fde_enc = (int)enc;
  }
  return OJ_ELF_CIE_OK;
}

/* A relocation that patches one section, as oj_elf_relas_of lists them. */
typedef struct oj_elf_rel {
  uint64_t off;
  uint32_t type, sym;
  int64_t addend;
  uint64_t idx;  /* its index in its relocation section */
  uint32_t rsec; /* that section */
} oj_elf_rel;

static int oj_elf_rel_cmp(const void *a, const void *b) {
  const oj_elf_rel *x = a, *y = b;
  if (x->off != y->off) return x->off < y->off ? -1 : 1;
  if (x->rsec != y->rsec) return x->rsec < y->rsec ? -1 : 1;
  return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* The relocations (R_X86_64_NONE left out) of every SHT_RELA section that
** patches section i, sorted by offset, into a malloc'd *out (NULL if none).
** Their tables were checked by oj_elf_check_relocs. */
static int oj_elf_relas_of(const oj_elf_ctx *c, uint32_t i, oj_elf_rel **out,
                           size_t *nout) {
  oj_elf_rel *rel = NULL;
  size_t nrel = 0;
  *out = NULL; /* also on failure: callers free *out and walk *nout */
  *nout = 0;
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
  if (nrel) qsort(rel, nrel, sizeof *rel, oj_elf_rel_cmp);
  *out = rel;
  *nout = nrel;
  return ORCJIT_OK;
}

/* 1 if sym, defined in section sec, is code of this object: a function,
** code label or section symbol of a loaded, executable section with
** contents, not thread-local.  What an FDE or a constructor entry may
** point at. */
static int oj_elf_is_code(const oj_elf_ctx *c, const Elf64_Sym *sym, uint32_t sec) {
  unsigned type = ELF64_ST_TYPE(sym->st_info);
  const Elf64_Shdr *s;
  if (sec == SHN_UNDEF || sec >= c->shnum) return 0;
  s = &c->sh[sec];
  return (s->sh_flags & SHF_ALLOC) && (s->sh_flags & SHF_EXECINSTR) &&
         !(s->sh_flags & SHF_TLS) && s->sh_type != SHT_NOBITS &&
         (type == STT_FUNC || type == STT_NOTYPE || type == STT_SECTION);
}

/* The FDE of `rec` (its PC-begin field at offset `at` of .eh_frame, its
** CIE's pointer encoding `enc`): libgcc registers it, and every exception
** of the process that unwinds through its range uses its rules.  JITLink
** 22 checks neither its target nor its range: an FDE over a host function
** (an undefined target) or with a range far past its code (1 GiB) made
** the next C++ exception thrown anywhere in the process crash (found by
** review).  So PC-begin must carry one relocation of its encoding's width
** and kind against code of this object, and the range must end inside
** that code's section.  NULL if fine, else what is wrong. */
static const char *oj_elf_fde_bad(const oj_elf_ctx *c, const unsigned char *p, uint64_t n,
                                  uint64_t at, int enc, const oj_elf_rel *rel,
                                  size_t nrel) {
  int pcrel = (enc & 0x70) == 0x10;
  uint64_t width = (enc & 0x0f) == 0x3 || (enc & 0x0f) == 0xb ? 4 : 8;
  size_t lo = 0, hi = nrel;
  Elf64_Sym sym;
  uint32_t sec, want;
  uint64_t start, range;
  if (enc == 0xff || (enc & 0x70) > 0x10) return "its CIE gives no usable address encoding";
  if (at > n || n - at < 2 * width) return "it is too short for its address and range";
  while (lo < hi) { /* the first relocation at or after `at` */
    size_t mid = lo + (hi - lo) / 2;
    if (rel[mid].off < at) lo = mid + 1;
    else hi = mid;
  }
  if (lo == nrel || rel[lo].off != at) return "its start address has no relocation";
  if (lo + 1 < nrel && rel[lo + 1].off < at + 2 * width)
    return "more than one relocation patches its address and range";
  want = pcrel ? (width == 4 ? R_X86_64_PC32 : R_X86_64_PC64)
               : (width == 4 ? R_X86_64_32 : R_X86_64_64);
  if (rel[lo].type != want) return "the relocation of its start address does not match its encoding";
  oj_elf_sym_at(c, rel[lo].sym, &sym, &sec);
  if (!oj_elf_is_code(c, &sym, sec)) return "it does not describe code of this object";
  /* st_value <= sh_size: oj_elf_check_symbols */
  if (rel[lo].addend < 0 && (uint64_t)-(rel[lo].addend + 1) >= sym.st_value)
    return "it starts before its code's section";
  start = sym.st_value + (uint64_t)rel[lo].addend;
  if (width == 4) {
    uint32_t r32;
    memcpy(&r32, p + at + 4, 4);
    range = (enc & 0x08) && (r32 & 0x80000000u) ? UINT64_MAX : r32;
  } else {
    memcpy(&range, p + at + 8, 8);
    if ((enc & 0x08) && (range >> 63)) range = UINT64_MAX;
  }
  if (start > c->sh[sec].sh_size || range > c->sh[sec].sh_size - start)
    return "its address range does not end inside its code's section";
  return NULL;
}

/* .eh_frame, record by record: each length inside the section, each
** FDE's CIE pointer at the start of a CIE record before it, and each CIE's
** pointer encodings.  JITLink 22 follows a CIE pointer that points
** elsewhere (for example into the middle of a record) and reads out of
** bounds (SEGV in EHFrameEdgeFixer::processFDE, found by fuzz_load).  The
** rest of the records is left to JITLink, which reads them with bounds
** checks. */
static int oj_elf_check_eh_frame(const oj_elf_ctx *c, uint32_t i) {
  const Elf64_Shdr *s = &c->sh[i];
  const unsigned char *p;
  uint64_t n = s->sh_size, off = 0;
  unsigned char *cie, *cieenc;
  oj_elf_rel *rel;
  size_t nrel;
  int rc;
  /* JITLink merges sections of one name; two CIEs at offset 0 of two
  ** .eh_frame sections collided in its table, and an FDE was read with the
  ** other's encoding (found by review).  Compilers make one. */
  for (uint32_t j = i + 1; j < c->shnum; j++)
    if (strcmp(oj_elf_secname(c, j), ".eh_frame") == 0)
      return oj_elf_fail(c, ORCJIT_EFORMAT,
                         OJ_ELF_CORRUPT "%s and %s are both named .eh_frame",
                         oj_elf_sec(c, i).s, oj_elf_sec(c, j).s);
  /* A zero-fill section's sh_offset is unchecked: no pointer from it. */
  if (s->sh_type == SHT_NOBITS)
    return n ? oj_elf_fail(c, ORCJIT_EFORMAT,
                           OJ_ELF_CORRUPT "%s has no contents (SHT_NOBITS)",
                           oj_elf_sec(c, i).s)
             : ORCJIT_OK;
  p = c->data + s->sh_offset;
  rc = oj_elf_relas_of(c, i, &rel, &nrel);
  if (rc != ORCJIT_OK) return rc;
  cie = calloc((size_t)(n / 8 + 1), 1); /* a bit per offset: a CIE starts there */
  cieenc = calloc((size_t)n + 1, 1);    /* its FDE address encoding */
  if (!cie || !cieenc) {
    free(cie);
    free(cieenc);
    free(rel);
    return oj_elf_nomem(c);
  }
  while (off < n) {
    uint32_t len32, id;
    uint64_t len, hdr = 4;
    if (n - off < 4) goto bad;
    memcpy(&len32, p + off, 4);
    len = len32;
    if (len32 == 0) { /* a terminator */
      off += 4;
      continue;
    }
    if (len32 == 0xffffffffu) { /* 64-bit length */
      if (n - off < 12) goto bad;
      memcpy(&len, p + off + 4, 8);
      hdr = 12;
    }
    if (len < 4 || len > n - off - hdr) goto bad;
    memcpy(&id, p + off + hdr, 4);
    if (id == 0) {
      int enc, bad = oj_elf_cie_check(p + off + hdr + 4, len - 4, &enc);
      cieenc[off] = (unsigned char)enc;
      if (bad == OJ_ELF_CIE_LETTERS) {
        free(cie);
        free(cieenc);
        free(rel);
        return oj_elf_fail(c, ORCJIT_EFORMAT,
                           OJ_ELF_CORRUPT "%s: the CIE at offset %llu has an "
                                          "augmentation string that names "
                                          "L, P or R more than once",
                           oj_elf_sec(c, i).s, (unsigned long long)off);
      }
      if (bad != OJ_ELF_CIE_OK) {
        free(cie);
        free(cieenc);
        free(rel);
        return oj_elf_fail(c, ORCJIT_EFORMAT,
                           OJ_ELF_CORRUPT "%s: the CIE at offset %llu has "
                                          "pointer encoding 0x%02x, which "
                                          "has no size",
                           oj_elf_sec(c, i).s, (unsigned long long)off, bad);
      }
      cie[off / 8] |= (unsigned char)(1u << (off % 8));
    } else {
      uint64_t at = off + hdr; /* the CIE pointer counts back from here */
      uint64_t target = at - id;
      if (id > at || !(cie[target / 8] & (1u << (target % 8)))) {
        free(cie);
        free(cieenc);
        free(rel);
        return oj_elf_fail(c, ORCJIT_EFORMAT,
                           OJ_ELF_CORRUPT "%s: the FDE at offset %llu points to "
                                          "no CIE (CIE pointer %u)",
                           oj_elf_sec(c, i).s, (unsigned long long)off,
                           (unsigned)id);
      }
      const char *why = oj_elf_fde_bad(c, p, off + hdr + len, at + 4, cieenc[target],
                                       rel, nrel);
      if (why) {
        rc = oj_elf_fail(c, ORCJIT_EFORMAT,
                         OJ_ELF_CORRUPT "%s: the FDE at offset %llu is unusable: "
                                        "%s",
                         oj_elf_sec(c, i).s, (unsigned long long)off, why);
        break;
      }
    }
    off += hdr + len;
  }
  free(cie);
  free(cieenc);
  free(rel);
  return rc;
bad:
  free(cie);
  free(cieenc);
  free(rel);
  return oj_elf_fail(c, ORCJIT_EFORMAT,
                     OJ_ELF_CORRUPT "%s: the record at offset %llu extends past "
                                    "the end of the section",
                     oj_elf_sec(c, i).s, (unsigned long long)off);
}

static int oj_elf_check_relocs(const oj_elf_ctx *c, oj_elf_object *out) {
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

/* ---- init/fini sections and the anchor --------------------------------- */

/* Classifies a section name: 1 and *kind, *prio if it is an init/fini
** section name (".init_array", ".init_array.<digits>" and so on). */
static int oj_elf_initfini_name(const char *name, int *kind, uint32_t *prio) {
  static const struct {
    const char *prefix;
    size_t len;
    int kind;
  } tab[] = {{".init_array", 11, OJ_ELF_INIT_ARRAY},
             {".fini_array", 11, OJ_ELF_FINI_ARRAY},
             {".ctors", 6, OJ_ELF_CTORS},
             {".dtors", 6, OJ_ELF_DTORS}};
  size_t t;
  if (name[0] != '.' || !strchr("ifcd", name[1]) || name[1] == '\0')
    return 0; /* quick exit for the usual .text.foo */
  for (t = 0; t < sizeof tab / sizeof tab[0]; t++) {
    const char *p = name + tab[t].len;
    uint32_t v = 0;
    if (strncmp(name, tab[t].prefix, tab[t].len) != 0) continue;
    if (*p == '\0') {
      *kind = tab[t].kind;
      *prio = OJ_ELF_NOPRIO;
      return 1;
    }
    if (*p++ != '.' || *p == '\0') return 0;
    for (; *p; p++) {
      if (*p < '0' || *p > '9') return 0;
      v = v * 10 + (uint32_t)(*p - '0');
      if (v > 65535) return 0;
    }
    *kind = tab[t].kind;
    /* As GNU ld's SORT_BY_INIT_PRIORITY: .ctors.N and .dtors.N hold
    ** priority 65535 - N (constructor(101) was .ctors.65434). */
    *prio = tab[t].kind == OJ_ELF_CTORS || tab[t].kind == OJ_ELF_DTORS ? 65535u - v : v;
    return 1;
  }
  return 0;
}

static int oj_elf_is_initfini(const oj_elf_ctx *c, uint32_t i, int *kind,
                              uint32_t *prio) {
  const Elf64_Shdr *s = &c->sh[i];
  if (!(s->sh_flags & SHF_ALLOC) || (s->sh_flags & SHF_TLS) || s->sh_size == 0)
    return 0;
  if (s->sh_type != SHT_INIT_ARRAY && s->sh_type != SHT_FINI_ARRAY &&
      s->sh_type != SHT_PROGBITS)
    return 0;
  return oj_elf_initfini_name(oj_elf_secname(c, i), kind, prio);
}

/* The first init/fini section after section `after`, 0 if none. */
static uint32_t oj_elf_next_initfini(const oj_elf_ctx *c, uint32_t after) {
  uint32_t i, prio;
  int kind;
  for (i = after + 1; i < c->shnum; i++)
    if (oj_elf_is_initfini(c, i, &kind, &prio)) return i;
  return 0;
}

/* Every entry of the init/fini sections: the core calls each one that is
** neither 0 nor all ones, so each must be the address of code of this
** object, not a value JITLink computed from anything else.  An entry is
** either 0 (or all ones) with no relocation, or patched by one
** R_X86_64_64 against a function, code label or code section symbol of an
** executable section of the object, with an addend that stays inside that
** section.  A weak target is refused: another object can define the name
** as data.  Compilers emit exactly this; anything else made the loader
** call garbage, data, the host (an undefined target) or address 0 + addend
** (found by review). */
static int oj_elf_check_initfini(const oj_elf_ctx *c) {
  for (uint32_t i = 1; i < c->shnum; i++) {
    const Elf64_Shdr *s = &c->sh[i];
    int kind;
    uint32_t prio;
    if (!oj_elf_is_initfini(c, i, &kind, &prio)) {
      /* A table the core does not run must not look like one it does:
      ** ld would run .preinit_array and sort odd names its own way. */
      static const char *const like[] = {".init_array", ".fini_array", ".ctors",
                                         ".dtors", ".preinit_array"};
      const char *name = oj_elf_secname(c, i);
      int looks = s->sh_type == SHT_INIT_ARRAY || s->sh_type == SHT_FINI_ARRAY ||
                  s->sh_type == SHT_PREINIT_ARRAY;
      for (size_t k = 0; k < sizeof like / sizeof *like; k++)
        if (strncmp(name, like[k], strlen(like[k])) == 0 &&
            (s->sh_type == SHT_PROGBITS || s->sh_type == SHT_NOBITS))
          looks = 1;
      if (looks && (s->sh_flags & SHF_ALLOC) && s->sh_size)
        return oj_elf_fail(c, ORCJIT_EUNSUPPORTED,
                           "%s (type %u) looks like a constructor or "
                           "destructor table but is not one the loader runs: "
                           ".init_array, .fini_array, .ctors or .dtors, "
                           "optionally with a priority .N up to 65535, of "
                           "type SHT_PROGBITS, SHT_INIT_ARRAY or "
                           "SHT_FINI_ARRAY (.preinit_array is not supported)",
                           oj_elf_sec(c, i).s, (unsigned)s->sh_type);
      continue;
    }
    if (s->sh_size % 8 != 0) continue; /* refused by oj_elf_make_markers */
    oj_elf_rel *rel;
    size_t nrel, j = 0;
    int rc = oj_elf_relas_of(c, i, &rel, &nrel);
    for (size_t k = 0; k < nrel && rc == ORCJIT_OK; k++) {
      const oj_elf_rel *r = &rel[k];
      Elf64_Sym sym;
      uint32_t sec;
      if (r->type != R_X86_64_64 || r->off % 8 != 0) {
        rc = oj_elf_fail(c, ORCJIT_EFORMAT,
                         OJ_ELF_CORRUPT "relocation %llu of %s patches "
                                        "the constructor table %s at offset "
                                        "%llu with type %u; only R_X86_64_64 "
                                        "of a whole entry makes a function "
                                        "address",
                         (unsigned long long)r->idx, oj_elf_sec(c, r->rsec).s,
                         oj_elf_sec(c, i).s, (unsigned long long)r->off, r->type);
        break;
      }
      if (k > 0 && rel[k - 1].off == r->off) {
        rc = oj_elf_fail(c, ORCJIT_EFORMAT,
                         OJ_ELF_CORRUPT "two relocations patch the entry at "
                                        "offset %llu of %s",
                         (unsigned long long)r->off, oj_elf_sec(c, i).s);
        break;
      }
      oj_elf_sym_at(c, r->sym, &sym, &sec);
      if (!oj_elf_is_code(c, &sym, sec) || ELF64_ST_BIND(sym.st_info) == STB_WEAK ||
          ELF64_ST_BIND(sym.st_info) == STB_GNU_UNIQUE) {
        rc = oj_elf_fail(c, ORCJIT_EFORMAT,
                         OJ_ELF_CORRUPT "the entry at offset %llu of %s "
                                        "refers to %s, which is not a "
                                        "function of this object (a local "
                                        "or global, not weak, function in "
                                        "an executable section)",
                         (unsigned long long)r->off, oj_elf_sec(c, i).s,
                         oj_elf_symdesc(c, r->sym, sym.st_name).s);
        break;
      }
      /* st_value <= sh_size: oj_elf_check_symbols */
      if (r->addend < 0 || (uint64_t)r->addend >= c->sh[sec].sh_size - sym.st_value)
        rc = oj_elf_fail(c, ORCJIT_EFORMAT,
                         OJ_ELF_CORRUPT "the entry at offset %llu of %s "
                                        "points %lld bytes from %s, outside "
                                        "%s",
                         (unsigned long long)r->off, oj_elf_sec(c, i).s,
                         (long long)r->addend, oj_elf_symdesc(c, r->sym, sym.st_name).s,
                         oj_elf_sec(c, sec).s);
    }
    /* Entries no relocation patches (rel is sorted by offset). */
    for (uint64_t at = 0; at < s->sh_size && rc == ORCJIT_OK; at += 8) {
      uint64_t v;
      while (j < nrel && rel[j].off < at) j++;
      if (j < nrel && rel[j].off == at) continue;
      memcpy(&v, c->data + s->sh_offset + at, 8);
      if (v != 0 && v != UINT64_MAX)
        rc = oj_elf_fail(c, ORCJIT_EFORMAT,
                         OJ_ELF_CORRUPT "the entry at offset %llu of %s holds "
                                        "0x%llx and no relocation patches it: "
                                        "not a function address",
                         (unsigned long long)at, oj_elf_sec(c, i).s,
                         (unsigned long long)v);
    }
    free(rel);
    if (rc != ORCJIT_OK) return rc;
  }
  return ORCJIT_OK;
}

/* Rank of section i as the anchor's home: 0 unusable, higher is better.
** Plain code or data first; TLS, unwind tables, notes and excluded sections
** only if there is nothing else; zero-fill sections last. */
static int oj_elf_anchor_rank(const oj_elf_ctx *c, uint32_t i) {
  const Elf64_Shdr *s = &c->sh[i];
  if (!(s->sh_flags & SHF_ALLOC) || s->sh_size == 0) return 0;
  if (s->sh_type == SHT_NOBITS) return 1;
  if ((s->sh_flags & (SHF_TLS | SHF_EXCLUDE)) || s->sh_type == SHT_NOTE ||
      s->sh_type == SHT_X86_64_UNWIND || s->sh_type == SHT_GROUP ||
      strcmp(oj_elf_secname(c, i), ".eh_frame") == 0)
    return 2;
  return 3;
}

static size_t oj_elf_marker_len(const char *tag, uint32_t sec) {
  int n = sec ? snprintf(NULL, 0, OJ_ELF_MARKER_PREFIX "%s.%u", tag, (unsigned)sec)
              : snprintf(NULL, 0, OJ_ELF_MARKER_PREFIX "%s.anchor", tag);
  return n < 0 ? 0 : (size_t)n;
}

static int oj_elf_make_markers(oj_elf_ctx *c, oj_elf_object *out) {
  uint32_t i, prio;
  size_t n = 0, total = 0, k = 0, len;
  int kind, rank, best = 0;
  char *pool;
  for (i = 1; i < c->shnum; i++) {
    rank = best == 3 ? 0 : oj_elf_anchor_rank(c, i); /* first best wins */
    if (rank > best) {
      best = rank;
      c->anchor = i;
    }
    if (!oj_elf_is_initfini(c, i, &kind, &prio)) continue;
    if (c->sh[i].sh_size % 8 != 0)
      return oj_elf_fail(c, ORCJIT_EFORMAT,
                         OJ_ELF_CORRUPT "%s has size %llu, not a multiple of "
                                        "8 (pointer size)",
                         oj_elf_sec(c, i).s,
                         (unsigned long long)c->sh[i].sh_size);
    if (c->sh[i].sh_size / 8 > UINT32_MAX)
      return oj_elf_fail(c, ORCJIT_EFORMAT,
                         OJ_ELF_CORRUPT "%s has too many entries",
                         oj_elf_sec(c, i).s);
    n++;
    total += oj_elf_marker_len(c->tag, i) + 1;
  }
  if (n > 0) {
    out->initfini = malloc(n * sizeof(oj_elf_initfini) + total);
    if (!out->initfini) return oj_elf_nomem(c);
    pool = (char *)(out->initfini + n);
    for (i = oj_elf_next_initfini(c, 0); i && k < n;
         i = oj_elf_next_initfini(c, i)) {
      oj_elf_initfini *e = &out->initfini[k];
      oj_elf_is_initfini(c, i, &kind, &prio);
      e->kind = kind;
      e->priority = prio;
      e->count = (uint32_t)(c->sh[i].sh_size / 8);
      e->marker = pool;
      len = oj_elf_marker_len(c->tag, i);
      snprintf(pool, len + 1, OJ_ELF_MARKER_PREFIX "%s.%u", c->tag, (unsigned)i);
      pool += len + 1;
      k++;
    }
    out->ninitfini = n;
  }
  if (c->anchor) {
    len = oj_elf_marker_len(c->tag, 0);
    out->anchor = malloc(len + 1);
    if (!out->anchor) return oj_elf_nomem(c);
    snprintf(out->anchor, len + 1, OJ_ELF_MARKER_PREFIX "%s.anchor", c->tag);
  }
  return ORCJIT_OK;
}

/* ---- thread-local storage --------------------------------------------- */

/* Symbol i of the validated symbol table, with SHN_XINDEX resolved. */
static void oj_elf_sym_at(const oj_elf_ctx *c, uint64_t i, Elf64_Sym *sym,
                          uint32_t *sec) {
  memcpy(sym, c->data + c->sh[c->symtab].sh_offset + i * sizeof *sym,
         sizeof *sym);
  *sec = sym->st_shndx;
  if (*sec == SHN_XINDEX && c->shndx)
    memcpy(sec, c->data + c->sh[c->shndx].sh_offset + i * 4, 4);
}

/* Lays the SHF_TLS sections out as one block in section order (each at
** its alignment, as a static linker lays out PT_TLS) and names a marker
** for each one with contents. */
static int oj_elf_make_tls(oj_elf_ctx *c, oj_elf_object *out) {
  uint32_t i;
  uint64_t at = 0, align = 1, a;
  size_t n = 0, total = 0, k, len;
  char *pool;
  for (i = 1; i < c->shnum; i++) {
    const Elf64_Shdr *s = &c->sh[i];
    if ((s->sh_flags & (SHF_TLS | SHF_ALLOC)) != (SHF_TLS | SHF_ALLOC)) continue;
    if (!c->tlsvoff) {
      c->tlsvoff = malloc((size_t)c->shnum * sizeof *c->tlsvoff);
      if (!c->tlsvoff) return oj_elf_nomem(c);
      for (k = 0; k < c->shnum; k++) c->tlsvoff[k] = OJ_ELF_NOTLS;
    }
    a = s->sh_addralign ? s->sh_addralign : 1;
    if (a & (a - 1))
      return oj_elf_fail(c, ORCJIT_EFORMAT,
                         OJ_ELF_CORRUPT "%s has alignment %llu, not a power "
                                        "of two",
                         oj_elf_sec(c, i).s, (unsigned long long)a);
    if (a > 4096)
      return oj_elf_fail(c, ORCJIT_EUNSUPPORTED,
                         "thread-local section %s asks for %llu-byte "
                         "alignment; at most 4096 is supported",
                         oj_elf_sec(c, i).s, (unsigned long long)a);
    at = (at + a - 1) & ~(a - 1);
    if (s->sh_size > OJ_ELF_TLS_MAX - at)
      return oj_elf_fail(c, ORCJIT_EUNSUPPORTED,
                         "thread-local data (%s and before) exceed %llu "
                         "bytes, the most one object may have per thread",
                         oj_elf_sec(c, i).s,
                         (unsigned long long)OJ_ELF_TLS_MAX);
    c->tlsvoff[i] = at;
    at += s->sh_size;
    if (a > align) align = a;
    if (s->sh_size) {
      n++;
      total += oj_elf_marker_len(c->tag, i) + 1;
    }
  }
  if (!c->tlsvoff) return ORCJIT_OK;
  out->tls_size = at;
  out->tls_align = align;
  if (n == 0) return ORCJIT_OK;
  out->tls = malloc(n * sizeof *out->tls + total);
  c->tlssec = malloc(n * sizeof *c->tlssec);
  if (!out->tls || !c->tlssec) return oj_elf_nomem(c);
  pool = (char *)(out->tls + n);
  for (i = 1, k = 0; i < c->shnum && k < n; i++) {
    oj_elf_tls *e = &out->tls[k];
    if (c->tlsvoff[i] == OJ_ELF_NOTLS || c->sh[i].sh_size == 0) continue;
    e->size = c->sh[i].sh_size;
    e->voff = c->tlsvoff[i];
    e->nobits = c->sh[i].sh_type == SHT_NOBITS;
    e->marker = pool;
    len = oj_elf_marker_len(c->tag, i);
    snprintf(pool, len + 1, OJ_ELF_MARKER_PREFIX "%s.%u", c->tag, (unsigned)i);
    pool += len + 1;
    c->tlssec[k++] = i;
  }
  out->ntls = n;
  return ORCJIT_OK;
}

/* What a relocation type means for thread-local storage. */
enum { OJ_TLS_NONE, OJ_TLS_GD, OJ_TLS_LD, OJ_TLS_DTPOFF, OJ_TLS_BAD };

static int oj_elf_tls_kind(uint32_t type, const char **model) {
  switch (type) {
  case R_X86_64_TLSGD: return OJ_TLS_GD;
  case R_X86_64_TLSLD: return OJ_TLS_LD;
  case R_X86_64_DTPOFF32: case R_X86_64_DTPOFF64: return OJ_TLS_DTPOFF;
  case R_X86_64_GOTTPOFF: *model = "initial-exec (R_X86_64_GOTTPOFF)"; break;
  case R_X86_64_TPOFF32: *model = "local-exec (R_X86_64_TPOFF32)"; break;
  case R_X86_64_TPOFF64: *model = "local-exec (R_X86_64_TPOFF64)"; break;
  case R_X86_64_DTPMOD64: *model = "module-id (R_X86_64_DTPMOD64)"; break;
  case R_X86_64_GOTPC32_TLSDESC: case R_X86_64_TLSDESC_CALL: case R_X86_64_TLSDESC:
    *model = "TLS-descriptor (-mtls-dialect=gnu2)";
    break;
  default: return OJ_TLS_NONE;
  }
  return OJ_TLS_BAD;
}

/* The value of a DTPOFF relocation: the offset of symbol symi + addend in
** the object's TLS block; ORCJIT_OK or a failure naming the relocation. */
static int oj_elf_dtpoff(const oj_elf_ctx *c, uint32_t rsec, uint64_t k,
                         uint64_t symi, int64_t addend, int64_t *value) {
  Elf64_Sym sym;
  uint32_t sec;
  oj_elf_sym_at(c, symi, &sym, &sec);
  if (sec == SHN_UNDEF || sec >= c->shnum || !c->tlsvoff ||
      c->tlsvoff[sec] == OJ_ELF_NOTLS)
    return oj_elf_fail(c, ORCJIT_EUNSUPPORTED,
                       "relocation %llu of %s takes the thread-local offset "
                       "of %s, which is not defined in a thread-local "
                       "section of this object",
                       (unsigned long long)k, oj_elf_sec(c, rsec).s,
                       oj_elf_symdesc(c, symi, sym.st_name).s);
  if (sym.st_value > c->sh[sec].sh_size)
    return oj_elf_fail(c, ORCJIT_EFORMAT,
                       OJ_ELF_CORRUPT "%s lies outside its section",
                       oj_elf_symdesc(c, symi, sym.st_name).s);
  /* Both terms are below 2^31 here; the addend is arbitrary. */
  *value = (int64_t)(c->tlsvoff[sec] + sym.st_value) + addend;
  return ORCJIT_OK;
}

/* Checks every TLS relocation; the rewrite itself is in oj_elf_edit. */
static int oj_elf_check_tls_relocs(const oj_elf_ctx *c, const oj_elf_object *out) {
  uint32_t i;
  uint64_t k, n;
  for (i = 1; i < c->shnum; i++) {
    const Elf64_Shdr *s = &c->sh[i];
    if (s->sh_type != SHT_RELA) continue;
    n = s->sh_size / sizeof(Elf64_Rela);
    for (k = 0; k < n; k++) {
      Elf64_Rela r;
      Elf64_Sym sym;
      uint32_t sec, type;
      const char *model = "";
      int kind;
      int64_t v;
      memcpy(&r, c->data + s->sh_offset + k * sizeof r, sizeof r);
      type = (uint32_t)ELF64_R_TYPE(r.r_info);
      kind = oj_elf_tls_kind(type, &model);
      if (kind == OJ_TLS_NONE) continue;
      if (ELF64_R_SYM(r.r_info) == 0)
        return oj_elf_fail(c, ORCJIT_EFORMAT,
                           OJ_ELF_CORRUPT "thread-local relocation %llu of "
                                          "%s has no symbol",
                           (unsigned long long)k, oj_elf_sec(c, i).s);
      oj_elf_sym_at(c, ELF64_R_SYM(r.r_info), &sym, &sec);
      if (kind == OJ_TLS_BAD)
        return oj_elf_fail(
            c, ORCJIT_EUNSUPPORTED,
            "thread-local %s uses the %s TLS model, which needs space "
            "reserved when the process started; loaded objects support "
            "general- and local-dynamic TLS only: rebuild with -fPIC "
            "(and without -ftls-model=initial-exec/local-exec or "
            "-mtls-dialect=gnu2)",
            oj_elf_symdesc(c, ELF64_R_SYM(r.r_info), sym.st_name).s, model);
      if (kind == OJ_TLS_LD && out->ntls == 0)
        return oj_elf_fail(c, ORCJIT_EFORMAT,
                           OJ_ELF_CORRUPT "relocation %llu of %s is "
                                          "local-dynamic TLS, but the object "
                                          "has no thread-local data",
                           (unsigned long long)k, oj_elf_sec(c, i).s);
      if (kind == OJ_TLS_GD && sec != SHN_UNDEF &&
          (sec >= c->shnum || !c->tlsvoff || c->tlsvoff[sec] == OJ_ELF_NOTLS ||
           c->sh[sec].sh_size == 0))
        return oj_elf_fail(c, ORCJIT_EFORMAT,
                           OJ_ELF_CORRUPT "relocation %llu of %s is "
                                          "thread-local, but %s is not "
                                          "thread-local data",
                           (unsigned long long)k, oj_elf_sec(c, i).s,
                           oj_elf_symdesc(c, ELF64_R_SYM(r.r_info), sym.st_name).s);
      if (kind != OJ_TLS_DTPOFF) continue;
      {
        /* Patched here, so it must fit in its section's bytes. */
        const Elf64_Shdr *t = &c->sh[s->sh_info];
        uint64_t w = type == R_X86_64_DTPOFF32 ? 4 : 8;
        if (t->sh_type == SHT_NOBITS || r.r_offset > t->sh_size ||
            t->sh_size - r.r_offset < w)
          return oj_elf_fail(c, ORCJIT_EFORMAT,
                             OJ_ELF_CORRUPT "relocation %llu of %s has "
                                            "offset %llu outside its section",
                             (unsigned long long)k, oj_elf_sec(c, i).s,
                             (unsigned long long)r.r_offset);
        /* Only into code or data (.text, .debug_info): patched into an
        ** unwind table, a symbol, string or relocation table, it would
        ** change what the checks above have passed (found by fuzz_elf: a
        ** DTPOFF64 over the first .eh_frame record's length). */
        if (t->sh_type != SHT_PROGBITS ||
            strcmp(oj_elf_secname(c, s->sh_info), ".eh_frame") == 0)
          return oj_elf_fail(c, ORCJIT_EFORMAT,
                             OJ_ELF_CORRUPT "relocation %llu of %s puts a "
                                            "thread-local offset into %s, "
                                            "which is not code or data",
                             (unsigned long long)k, oj_elf_sec(c, i).s,
                             oj_elf_sec(c, s->sh_info).s);
      }
      if (oj_elf_dtpoff(c, i, k, ELF64_R_SYM(r.r_info), r.r_addend, &v) != ORCJIT_OK)
        return oj_error_status();
      if (type == R_X86_64_DTPOFF32 && (v < INT32_MIN || v > INT32_MAX))
        return oj_elf_fail(c, ORCJIT_EFORMAT,
                           OJ_ELF_CORRUPT "relocation %llu of %s: offset "
                                          "%lld does not fit in 32 bits",
                           (unsigned long long)k, oj_elf_sec(c, i).s,
                           (long long)v);
    }
  }
  return ORCJIT_OK;
}

/* ---- the image --------------------------------------------------------- */

/* *at = align8(*at) + n, reporting overflow; *off gets the aligned start. */
static int oj_elf_reserve(uint64_t *at, uint64_t n, uint64_t *off) {
  uint64_t a = *at;
  if (a > UINT64_MAX - 7) return 0;
  a = (a + 7) & ~(uint64_t)7;
  if (n > UINT64_MAX - a || a + n > SIZE_MAX) return 0;
  *off = a;
  *at = a + n;
  return 1;
}

static void oj_elf_put_shdr(unsigned char *img, uint64_t shoff, uint32_t i,
                            const Elf64_Shdr *s) {
  memcpy(img + shoff + (uint64_t)i * sizeof *s, s, sizeof *s);
}

/* The in-place edits: relocation types, TLS offsets and symbol
** visibility.  tls_sym is the index of the marker symbol at offset 0 of
** the TLS block (used only if the object has local-dynamic TLS, which
** oj_elf_check_tls_relocs has checked). */
static void oj_elf_edit(const oj_elf_ctx *c, unsigned char *img,
                        uint64_t tls_sym) {
  uint32_t i;
  uint64_t k, n;
  for (i = 0; i < c->shnum; i++) /* no addresses: see oj_elf_load_sections */
    memset(img + c->eh.e_shoff + (uint64_t)i * sizeof(Elf64_Shdr) +
               offsetof(Elf64_Shdr, sh_addr),
           0, sizeof(Elf64_Addr));
  for (i = 1; i < c->shnum; i++) {
    const Elf64_Shdr *s = &c->sh[i];
    if (s->sh_type != SHT_RELA) continue;
    n = s->sh_size / sizeof(Elf64_Rela);
    for (k = 0; k < n; k++) {
      unsigned char *p = img + s->sh_offset + k * sizeof(Elf64_Rela);
      Elf64_Rela r;
      int64_t v;
      memcpy(&r, p, sizeof r);
      switch (ELF64_R_TYPE(r.r_info)) {
      case R_X86_64_GOTPCRELX:
      case R_X86_64_REX_GOTPCRELX:
        r.r_info = ELF64_R_INFO(ELF64_R_SYM(r.r_info), R_X86_64_GOTPCREL);
        break;
      case R_X86_64_TLSLD: /* the block's address = the marker's */
        r.r_info = ELF64_R_INFO(tls_sym, R_X86_64_TLSGD);
        break;
      case R_X86_64_DTPOFF32:
      case R_X86_64_DTPOFF64: {
        unsigned char *at = img + c->sh[s->sh_info].sh_offset + r.r_offset;
        if (oj_elf_dtpoff(c, i, k, ELF64_R_SYM(r.r_info), r.r_addend, &v) != ORCJIT_OK)
          continue; /* cannot happen: checked */
        if (ELF64_R_TYPE(r.r_info) == R_X86_64_DTPOFF32) {
          int32_t v32 = (int32_t)v;
          memcpy(at, &v32, 4);
        } else {
          memcpy(at, &v, 8);
        }
        r.r_info = ELF64_R_INFO(ELF64_R_SYM(r.r_info), R_X86_64_NONE);
        break;
      }
      default:
        continue;
      }
      memcpy(p, &r, sizeof r);
    }
  }
  if (c->symtab) {
    unsigned char *p = img + c->sh[c->symtab].sh_offset +
                       offsetof(Elf64_Sym, st_other);
    for (k = 0; k < c->nsyms; k++, p += sizeof(Elf64_Sym))
      if (ELF64_ST_VISIBILITY(*p) == STV_INTERNAL)
        *p = (unsigned char)((*p & ~3u) | STV_HIDDEN);
  }
}

static int oj_elf_make_image(oj_elf_ctx *c, oj_elf_object *out) {
  size_t nnew = out->ninitfini + out->ntls + (out->anchor ? 1 : 0), k;
  uint64_t at = c->size, symoff = 0, stroff = 0, xoff = 0, shsoff = 0;
  uint64_t shoff = 0, oldsyms, nsyms, pre, strsize, shssize = 0, pad, namesz;
  uint32_t shnum = c->shnum, newsym = 0, newstr = 0;
  uint32_t shstrndx = c->eh.e_shstrndx;
  int addsec = (c->symtab == 0);
  unsigned char *img;
  Elf64_Shdr s;
  static const char secnames[] = ".symtab\0.strtab";

  if (nnew == 0) {
    out->image = malloc(c->size);
    if (!out->image) return oj_elf_nomem(c);
    memcpy(out->image, c->data, c->size);
    out->image_size = c->size;
    oj_elf_edit(c, out->image, 0);
    return ORCJIT_OK;
  }
  if (shstrndx == SHN_XINDEX) shstrndx = c->sh[0].sh_link;

  /* Sections needing an extended index need the SHT_SYMTAB_SHNDX table. */
  if (!c->shndx) {
    uint32_t big = c->anchor, sec = 0;
    for (k = 0; k < out->ninitfini; k++) sec = oj_elf_next_initfini(c, sec);
    if (sec > big) big = sec;
    if (out->ntls && c->tlssec[out->ntls - 1] > big) big = c->tlssec[out->ntls - 1];
    if (big >= SHN_LORESERVE)
      return oj_elf_fail(c, ORCJIT_EUNSUPPORTED,
                         "%s needs an extended section index, but the object "
                         "has no SHT_SYMTAB_SHNDX section",
                         oj_elf_sec(c, big).s);
  }

  /* Layout: the input, then the new tables. */
  oldsyms = c->nsyms;
  pre = oldsyms == 0 ? 1 : 0; /* a null symbol 0 if the table is empty */
  nsyms = pre + oldsyms + nnew;
  namesz = 0;
  for (k = 0; k < out->ninitfini; k++)
    namesz += strlen(out->initfini[k].marker) + 1;
  for (k = 0; k < out->ntls; k++) namesz += strlen(out->tls[k].marker) + 1;
  if (out->anchor) namesz += strlen(out->anchor) + 1;
  pad = (c->strsize == 0 || c->str[c->strsize - 1] != '\0') ? 1 : 0;
  strsize = c->strsize + pad + namesz;
  if (strsize > UINT32_MAX) /* st_name is 32 bits */
    return oj_elf_fail(c, ORCJIT_EUNSUPPORTED,
                       "string table %s is too large to extend",
                       oj_elf_sec(c, c->strtab).s);
  if (!oj_elf_reserve(&at, nsyms * sizeof(Elf64_Sym), &symoff) ||
      !oj_elf_reserve(&at, strsize, &stroff) ||
      (c->shndx && !oj_elf_reserve(&at, nsyms * 4, &xoff)))
    return oj_elf_nomem(c);
  if (addsec) {
    newsym = shnum;
    newstr = shnum + 1;
    if (shstrndx != 0) {
      shssize = c->shstrsize + (c->shstrend == c->shstrsize ? 0 : 1) +
                sizeof secnames;
      if (!oj_elf_reserve(&at, shssize, &shsoff)) return oj_elf_nomem(c);
    }
    if (!oj_elf_reserve(&at, ((uint64_t)shnum + 2) * sizeof(Elf64_Shdr),
                        &shoff))
      return oj_elf_nomem(c);
  }

  img = calloc(1, (size_t)at);
  if (!img) return oj_elf_nomem(c);
  memcpy(img, c->data, c->size);
  oj_elf_edit(c, img, pre + oldsyms + out->ninitfini); /* the first TLS marker */

  /* The symbol table: old entries (edited), then the markers. */
  if (oldsyms)
    memcpy(img + symoff, img + c->sh[c->symtab].sh_offset,
           (size_t)oldsyms * sizeof(Elf64_Sym));
  /* The string table: old bytes, then the marker names. */
  if (c->strsize) memcpy(img + stroff, c->str, (size_t)c->strsize);
  if (c->shndx && oldsyms)
    memcpy(img + xoff, c->data + c->sh[c->shndx].sh_offset,
           (size_t)oldsyms * 4);
  {
    uint64_t name = c->strsize + pad, idx = pre + oldsyms;
    uint32_t sec = 0;
    /* Markers: init/fini sections, TLS sections, the anchor. */
    for (k = 0; k < nnew; k++, idx++) {
      size_t t = k - out->ninitfini;
      const char *m = k < out->ninitfini ? out->initfini[k].marker
                      : t < out->ntls    ? out->tls[t].marker
                                         : out->anchor;
      size_t len = strlen(m);
      Elf64_Sym sym;
      if (k < out->ninitfini) sec = oj_elf_next_initfini(c, sec);
      else sec = t < out->ntls ? c->tlssec[t] : c->anchor;
      memset(&sym, 0, sizeof sym);
      sym.st_name = (Elf64_Word)name;
      sym.st_info = ELF64_ST_INFO(STB_GLOBAL, STT_NOTYPE);
      sym.st_other = STV_DEFAULT;
      sym.st_shndx = (Elf64_Section)(sec >= SHN_LORESERVE ? SHN_XINDEX : sec);
      memcpy(img + symoff + idx * sizeof sym, &sym, sizeof sym);
      if (c->shndx) {
        uint32_t x = sec >= SHN_LORESERVE ? sec : 0;
        memcpy(img + xoff + idx * 4, &x, 4);
      }
      memcpy(img + stroff + name, m, len + 1);
      name += len + 1;
    }
  }

  if (!addsec) {
    s = c->sh[c->symtab];
    s.sh_offset = symoff;
    s.sh_size = nsyms * sizeof(Elf64_Sym);
    if (pre) s.sh_info = 1;
    oj_elf_put_shdr(img, c->eh.e_shoff, c->symtab, &s);
    s = c->sh[c->strtab];
    s.sh_offset = stroff;
    s.sh_size = strsize;
    oj_elf_put_shdr(img, c->eh.e_shoff, c->strtab, &s);
    if (c->shndx) {
      s = c->sh[c->shndx];
      s.sh_offset = xoff;
      s.sh_size = nsyms * 4;
      oj_elf_put_shdr(img, c->eh.e_shoff, c->shndx, &s);
    }
  } else {
    /* No symbol table: add .symtab and .strtab in a new header table. */
    Elf64_Ehdr eh = c->eh;
    uint64_t nm = 0;
    memcpy(img + shoff, c->sh, (size_t)shnum * sizeof(Elf64_Shdr));
    if (shstrndx != 0) {
      nm = shssize - sizeof secnames;
      memcpy(img + shsoff, c->shstr, (size_t)c->shstrsize);
      memcpy(img + shsoff + nm, secnames, sizeof secnames);
      s = c->sh[shstrndx];
      s.sh_offset = shsoff;
      s.sh_size = shssize;
      oj_elf_put_shdr(img, shoff, shstrndx, &s);
    }
    memset(&s, 0, sizeof s);
    s.sh_name = shstrndx ? (Elf64_Word)nm : 0;
    s.sh_type = SHT_SYMTAB;
    s.sh_offset = symoff;
    s.sh_size = nsyms * sizeof(Elf64_Sym);
    s.sh_link = newstr;
    s.sh_info = 1;
    s.sh_addralign = 8;
    s.sh_entsize = sizeof(Elf64_Sym);
    oj_elf_put_shdr(img, shoff, newsym, &s);
    memset(&s, 0, sizeof s);
    s.sh_name = shstrndx ? (Elf64_Word)(nm + 8) : 0;
    s.sh_type = SHT_STRTAB;
    s.sh_offset = stroff;
    s.sh_size = strsize;
    s.sh_addralign = 1;
    oj_elf_put_shdr(img, shoff, newstr, &s);
    eh.e_shoff = shoff;
    if (shnum + 2 >= SHN_LORESERVE || eh.e_shnum == 0) {
      s = c->sh[0];
      s.sh_size = shnum + 2;
      oj_elf_put_shdr(img, shoff, 0, &s);
      eh.e_shnum = 0;
    } else {
      eh.e_shnum = (Elf64_Half)(shnum + 2);
    }
    memcpy(img, &eh, sizeof eh);
  }
  out->image = img;
  out->image_size = (size_t)at;
  return ORCJIT_OK;
}

/* ---- public ------------------------------------------------------------ */

int oj_elf_classify(const void *data, size_t size) {
  if (!data) return OJ_ELF_KIND_UNKNOWN;
  if (size >= SELFMAG && memcmp(data, ELFMAG, SELFMAG) == 0)
    return OJ_ELF_KIND_RELOCATABLE;
  if (size >= 8 && memcmp(data, "!<arch>\n", 8) == 0)
    return OJ_ELF_KIND_ARCHIVE;
  return OJ_ELF_KIND_UNKNOWN;
}

int oj_elf_prepare(const void *data, size_t size, const char *what,
                   const char *tag, oj_elf_object *out) {
  oj_elf_ctx c;
  int rc;
  memset(out, 0, sizeof *out);
  memset(&c, 0, sizeof c);
  c.data = data;
  c.size = size;
  c.what = what ? what : "<memory>";
  c.tag = tag ? tag : "";
  if (size == 0) return oj_elf_fail(&c, ORCJIT_EFORMAT, "empty file");
  if (!data) return oj_elf_fail(&c, ORCJIT_EINVAL, "no data");
  rc = oj_elf_check_header(&c);
  if (rc == ORCJIT_OK) rc = oj_elf_load_sections(&c);
  if (rc == ORCJIT_OK) rc = oj_elf_check_same_names(&c);
  if (rc == ORCJIT_OK) rc = oj_elf_find_symtab(&c);
  if (rc == ORCJIT_OK) rc = oj_elf_check_symbols(&c);
  if (rc == ORCJIT_OK) rc = oj_elf_check_relocs(&c, out);
  for (uint32_t i = 1; rc == ORCJIT_OK && i < c.shnum; i++)
    if (strcmp(oj_elf_secname(&c, i), ".eh_frame") == 0) rc = oj_elf_check_eh_frame(&c, i);
  if (rc == ORCJIT_OK) rc = oj_elf_make_markers(&c, out);
  if (rc == ORCJIT_OK) rc = oj_elf_check_initfini(&c);
  if (rc == ORCJIT_OK) rc = oj_elf_make_tls(&c, out);
  if (rc == ORCJIT_OK) rc = oj_elf_check_tls_relocs(&c, out);
  if (rc == ORCJIT_OK) rc = oj_elf_make_lists(&c, out);
  /* Last of the checks (each earlier one still meets the inputs it was
  ** written for), but before anything is edited. */
  if (rc == ORCJIT_OK) rc = oj_elf_check_overlaps(&c);
  if (rc == ORCJIT_OK) rc = oj_elf_make_image(&c, out);
  free(c.cand);
  free(c.sh);
  free(c.tlsvoff);
  free(c.tlssec);
  if (rc != ORCJIT_OK) oj_elf_object_free(out);
  return rc;
}

void oj_elf_object_free(oj_elf_object *obj) {
  if (!obj) return;
  free(obj->image);
  free(obj->defined);
  free(obj->undefined);
  free(obj->initfini);
  free(obj->anchor);
  free(obj->tls);
  memset(obj, 0, sizeof *obj);
}
