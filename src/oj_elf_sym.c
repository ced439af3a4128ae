/*
** oj_elf_sym.c: the symbols of the ELF pre-pass (oj_elf.h): every symbol
** of the symbol table validated, the object's defined and undefined global
** symbols listed once each, and reading one symbol with its extended
** section index resolved.
**
** It does not edit the symbol table (oj_elf_image.c).
*/
#include <elf.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oj_elf_int.h"
#include "oj_hash.h"

/* Symbol i of the validated symbol table, with SHN_XINDEX resolved. */
void oj_elf_sym_at(const oj_elf_ctx *c, uint64_t i, Elf64_Sym *sym,
                   uint32_t *sec) {
  memcpy(sym, c->data + c->sh[c->symtab].sh_offset + i * sizeof *sym,
         sizeof *sym);
  *sec = sym->st_shndx;
  if (*sec == SHN_XINDEX && c->shndx)
    memcpy(sec, c->data + c->sh[c->shndx].sh_offset + i * 4, 4);
}


/* 1 if sym, defined in section sec, is code of this object: a function,
** code label or section symbol of a loaded, executable section with
** contents, not thread-local.  What an FDE or a constructor entry may
** point at. */
int oj_elf_sym_is_code(const oj_elf_ctx *c, const Elf64_Sym *sym, uint32_t sec) {
  unsigned type = ELF64_ST_TYPE(sym->st_info);
  const Elf64_Shdr *s;
  if (sec == SHN_UNDEF || sec >= c->shnum) return 0;
  s = &c->sh[sec];
  return (s->sh_flags & SHF_ALLOC) && (s->sh_flags & SHF_EXECINSTR) &&
         !(s->sh_flags & SHF_TLS) && s->sh_type != SHT_NOBITS &&
         (type == STT_FUNC || type == STT_NOTYPE || type == STT_SECTION);
}



/* Validates every symbol and records the global ones as candidates. */
int oj_elf_sym_check(oj_elf_ctx *c) {
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
      if (c->arch->shn_large_common && sec == c->arch->shn_large_common)
        return oj_elf_fail(c, ORCJIT_EUNSUPPORTED,
                           "%s is a large common symbol "
                           "(%s), which is not supported; "
                           "compile with -fno-common",
                           oj_elf_symdesc(c, i, sym.st_name).s,
                           c->arch->shn_large_common_name);
      if (sec != SHN_ABS && sec != SHN_COMMON)
        return oj_elf_fail(c, ORCJIT_EFORMAT,
                           OJ_ELF_CORRUPT "%s has reserved section index "
                                          "0x%x",
                           oj_elf_symdesc(c, i, sym.st_name).s, (unsigned)sec);
      /* A common symbol is a zero-fill block JITLink makes of st_size
      ** bytes aligned to st_value: it counts against the same jit_max as the
      ** sections.  Unchecked, sizes near 2^63 summed past 2^64 in JITLink's
      ** layout and the segment wrapped to a few bytes. */
      if (sec == SHN_COMMON) {
        if (sym.st_value > OJ_ELF_ALIGN_MAX)
          return oj_elf_fail(c, ORCJIT_EUNSUPPORTED,
                             "%s is a common symbol aligned to %llu; the most "
                             "JIT memory gives is 1 MiB",
                             oj_elf_symdesc(c, i, sym.st_name).s,
                             (unsigned long long)sym.st_value);
        if (sym.st_size > c->arch->jit_max - c->need ||
            sym.st_value > c->arch->jit_max - c->need - sym.st_size)
          return oj_elf_fail(c, ORCJIT_EUNSUPPORTED,
                             "%s is a common symbol of %llu bytes aligned to "
                             "%llu; with the loaded sections that is more "
                             "than the %u GiB JIT memory gives one object",
                             oj_elf_symdesc(c, i, sym.st_name).s,
                             (unsigned long long)sym.st_size,
                             (unsigned long long)sym.st_value,
                             (unsigned)(c->arch->jit_max >> 30));
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
    ** outside the jit_max count above (found by review). */
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
    if (sec != SHN_UNDEF && sym.st_name && c->str[sym.st_name] == '_' &&
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
static int oj_elf_sym_list(const oj_elf_ctx *c, oj_elf_cand *v, size_t n,
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
    const char *p = v[i].s;
    size_t len = strlen(p);
    uint32_t h;
    work += len + 1;
    if (work > limit)
      return oj_elf_fail(c, ORCJIT_EFORMAT,
                         OJ_ELF_CORRUPT "symbol names are implausibly long "
                                        "for a %zu-byte file", c->size);
    h = oj_hash_bytes(p, len);
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

int oj_elf_sym_lists(oj_elf_ctx *c, oj_elf_object *out) {
  size_t big = c->ndef > c->nund ? c->ndef : c->nund, cap = 16;
  uint32_t *slots;
  int rc;
  if (big == 0) return ORCJIT_OK;
  while (cap < 2 * big) cap *= 2;
  slots = malloc(cap * sizeof *slots);
  if (!slots) return oj_elf_nomem(c);
  rc = oj_elf_sym_list(c, c->cand, c->ndef, slots, cap, &out->defined,
                        &out->ndefined);
  if (rc == ORCJIT_OK)
    rc = oj_elf_sym_list(c, c->cand + (size_t)c->nsyms - c->nund, c->nund,
                          slots, cap, &out->undefined, &out->nundefined);
  free(slots);
  return rc;
}

