/*
** oj_elf_initfini.c: constructor and destructor tables in the ELF pre-pass
** (oj_elf.h): which sections are init/fini tables (.init_array[.N],
** .fini_array[.N], .ctors[.N], .dtors[.N]) and their priorities, the check
** of every entry, the marker names of the tables and of the anchor, and
** which section holds the anchor.
**
** It does not run constructors (oj_initfini.c) or add the marker symbols
** (oj_elf_image.c).
*/
#include <elf.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oj_elf_int.h"

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
  if (name[0] != '.' || (name[1] != 'i' && name[1] != 'f' && name[1] != 'c' && name[1] != 'd'))
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

int oj_elf_initfini_is(const oj_elf_ctx *c, uint32_t i, int *kind,
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
uint32_t oj_elf_initfini_next(const oj_elf_ctx *c, uint32_t after) {
  uint32_t i, prio;
  int kind;
  for (i = after + 1; i < c->shnum; i++)
    if (oj_elf_initfini_is(c, i, &kind, &prio)) return i;
  return 0;
}

/* Every entry of the init/fini sections: the core calls each one that is
** neither 0 nor all ones, so each must be the address of code of this
** object, not a value JITLink computed from anything else.  An entry is
** either 0 (or all ones) with no relocation, or patched by one
** absolute 64-bit relocation (the machine's r_initfini) against a function, code label or code section symbol of an
** executable section of the object, with an addend that stays inside that
** section.  A weak target is refused: another object can define the name
** as data.  Compilers emit exactly this; anything else made the loader
** call garbage, data, the host (an undefined target) or address 0 + addend
** (found by review). */
int oj_elf_initfini_check(const oj_elf_ctx *c) {
  for (uint32_t i = 1; i < c->shnum; i++) {
    const Elf64_Shdr *s = &c->sh[i];
    int kind;
    uint32_t prio;
    if (!oj_elf_initfini_is(c, i, &kind, &prio)) {
      /* A table the core does not run must not look like one it does:
      ** ld would run .preinit_array and sort odd names its own way. */
      static const char *const like[] = {".init_array", ".fini_array", ".ctors",
                                         ".dtors", ".preinit_array"};
      const char *name = oj_elf_secname(c, i);
      int looks = s->sh_type == SHT_INIT_ARRAY || s->sh_type == SHT_FINI_ARRAY ||
                  s->sh_type == SHT_PREINIT_ARRAY;
      for (size_t k = 0; name[0] == '.' && k < sizeof like / sizeof *like; k++)
        if (name[1] == like[k][1] && strncmp(name, like[k], strlen(like[k])) == 0 &&
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
    if (s->sh_size % 8 != 0) continue; /* refused by oj_elf_initfini_markers */
    size_t nrel, j = 0;
    const oj_elf_rel *rel = oj_elf_reloc_of(c, i, &nrel);
    int rc = ORCJIT_OK;
    for (size_t k = 0; k < nrel && rc == ORCJIT_OK; k++) {
      const oj_elf_rel *r = &rel[k];
      Elf64_Sym sym;
      uint32_t sec;
      if (r->type != c->arch->r_initfini || r->off % 8 != 0) {
        rc = oj_elf_fail(c, ORCJIT_EFORMAT,
                         OJ_ELF_CORRUPT "relocation %llu of %s patches "
                                        "the constructor table %s at offset "
                                        "%llu with type %u; only %s "
                                        "of a whole entry makes a function "
                                        "address",
                         (unsigned long long)r->idx, oj_elf_sec(c, r->rsec).s,
                         oj_elf_sec(c, i).s, (unsigned long long)r->off, r->type,
                         oj_arch_reloc_of(c->arch, c->arch->r_initfini)->name);
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
      if (!oj_elf_sym_is_code(c, &sym, sec) || ELF64_ST_BIND(sym.st_info) == STB_WEAK ||
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
      /* st_value <= sh_size: oj_elf_sym_check */
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
    if (rc != ORCJIT_OK) return rc;
  }
  return ORCJIT_OK;
}

/* Rank of section i as the anchor's home: 0 unusable, higher is better.
** Plain code or data first; TLS, unwind tables, notes and excluded sections
** only if there is nothing else; zero-fill sections last. */
static int oj_elf_initfini_anchor_rank(const oj_elf_ctx *c, uint32_t i) {
  const Elf64_Shdr *s = &c->sh[i];
  if (!(s->sh_flags & SHF_ALLOC) || s->sh_size == 0) return 0;
  if (s->sh_type == SHT_NOBITS) return 1;
  if ((s->sh_flags & (SHF_TLS | SHF_EXCLUDE)) || s->sh_type == SHT_NOTE ||
      (c->arch->sht_unwind && s->sh_type == c->arch->sht_unwind) || s->sh_type == SHT_GROUP ||
      oj_elf_is_eh_frame(c, i))
    return 2;
  return 3;
}

int oj_elf_initfini_markers(oj_elf_ctx *c, oj_elf_object *out) {
  uint32_t i, prio;
  size_t n = 0, total = 0, k = 0, len;
  int kind, rank, best = 0;
  char *pool;
  for (i = 1; i < c->shnum; i++) {
    rank = best == 3 ? 0 : oj_elf_initfini_anchor_rank(c, i); /* first best wins */
    if (rank > best) {
      best = rank;
      c->anchor = i;
    }
    if (!oj_elf_initfini_is(c, i, &kind, &prio)) continue;
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
    for (i = oj_elf_initfini_next(c, 0); i && k < n;
         i = oj_elf_initfini_next(c, i)) {
      oj_elf_initfini *e = &out->initfini[k];
      oj_elf_initfini_is(c, i, &kind, &prio);
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

