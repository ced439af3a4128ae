/*
** oj_elf_reloc.c: the relocations of the ELF pre-pass (oj_elf.h): every
** relocation table and entry checked (bounds, symbol, what the relocation
** needs of its symbol), each relocation classified once through the
** machine's table (oj_arch.h), and the classified relocations kept for the
** later steps: those that patch .eh_frame or an init/fini table, sorted by
** offset, for their checks (oj_ehframe.c, oj_elf_initfini.c), and those
** the TLS check and the image act on (oj_elf_tls.c, oj_elf_image.c).
**
** It names no relocation type: what a type means is oj_arch_<machine>.c's.
*/
#include <elf.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oj_elf_int.h"

static int oj_elf_reloc_cmp(const void *a, const void *b) {
  const oj_elf_rel *x = a, *y = b;
  if (x->tsec != y->tsec) return x->tsec < y->tsec ? -1 : 1;
  if (x->off != y->off) return x->off < y->off ? -1 : 1;
  if (x->rsec != y->rsec) return x->rsec < y->rsec ? -1 : 1;
  return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Appends r to v[0..*n) (capacity *cap); 0 on OOM. */
static int oj_elf_reloc_push(oj_elf_rel **v, size_t *n, size_t *cap, const oj_elf_rel *r) {
  if (*n == *cap) {
    size_t ncap = *cap ? *cap * 2 : 64;
    oj_elf_rel *grown = realloc(*v, ncap * sizeof **v);
    if (!grown) return 0;
    *v = grown;
    *cap = ncap;
  }
  (*v)[(*n)++] = *r;
  return 1;
}

/* 1 if a later step acts on a relocation of this kind: the TLS check
** (oj_elf_tls.c) or the image's rewrites (oj_elf_image.c). */
static int oj_elf_reloc_later(const oj_arch_reloc *d) {
  return oj_arch_is_tls(d) || d->rewrite != 0;
}

const oj_elf_rel *oj_elf_reloc_of(const oj_elf_ctx *c, uint32_t i, size_t *nout) {
  size_t lo = 0, hi = c->ntgt, end;
  while (lo < hi) { /* the first relocation of section i */
    size_t mid = lo + (hi - lo) / 2;
    if (c->tgt[mid].tsec < i) lo = mid + 1;
    else hi = mid;
  }
  for (end = lo; end < c->ntgt && c->tgt[end].tsec == i; end++) {}
  *nout = end - lo;
  return c->tgt ? c->tgt + lo : NULL;
}

int oj_elf_reloc_check(oj_elf_ctx *c, oj_elf_object *out) {
  uint32_t i;
  uint64_t k, n;
  for (i = 1; i < c->shnum; i++) {
    const Elf64_Shdr *s = &c->sh[i];
    const unsigned char *p;
    uint32_t t, prio;
    int kept, kind;
    if (s->sh_type == SHT_REL)
      return oj_elf_fail(c, ORCJIT_EUNSUPPORTED,
                         "%s holds SHT_REL relocations; %s objects must "
                         "use SHT_RELA", oj_elf_sec(c, i).s, c->arch->name);
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
    t = s->sh_info;
    if (n && (c->sh[t].sh_flags & SHF_TLS) && !c->tlsrel) c->tlsrel = i;
    /* Kept for their checks: the relocations of .eh_frame (checked for
    ** every section of that name) and of init/fini tables. */
    kept = oj_elf_is_eh_frame(c, t) || oj_elf_initfini_is(c, t, &kind, &prio);
    /* Read once per table, not per entry (the loop below runs for every
    ** relocation of the object). */
    const oj_arch *arch = c->arch;
    const uint64_t tsize = c->sh[t].sh_size, nsyms = c->nsyms;
    const int talloc = (c->sh[t].sh_flags & SHF_ALLOC) != 0;
    for (k = 0; k < n; k++) {
      Elf64_Rela ra;
      oj_elf_rel r;
      const oj_arch_reloc *d;
      uint32_t rtype;
      int later;
      memcpy(&ra, p + k * sizeof ra, sizeof ra);
      rtype = (uint32_t)ELF64_R_TYPE(ra.r_info);
      /* oj_arch_reloc_of, inline */
      d = rtype < arch->nrelocs && arch->relocs[rtype].name ? &arch->relocs[rtype]
                                                            : &arch->unknown;
      /* JITLink writes the fixup at r_offset without checking it against
      ** the target section: an out-of-range offset writes outside the
      ** section's memory.  The widest fixup is the machine table's.
      ** Unloaded sections too: a live block of code that refers to one
      ** keeps it in the link graph, and its fixups are applied. */
      if (ra.r_offset > tsize || tsize - ra.r_offset < d->width)
        return oj_elf_fail(c, ORCJIT_EFORMAT,
                           OJ_ELF_CORRUPT "relocation %llu of %s has offset "
                                          "%llu outside its section (%llu bytes)",
                           (unsigned long long)k, oj_elf_sec(c, i).s,
                           (unsigned long long)ra.r_offset, (unsigned long long)tsize);
      if (talloc && d->rclass == OJ_RC_ABS32_LOW) out->abs32 = 1;
      if (ELF64_R_SYM(ra.r_info) >= nsyms)
        return oj_elf_fail(c, ORCJIT_EFORMAT,
                           OJ_ELF_CORRUPT "relocation %llu of %s refers to "
                                          "symbol %u, but there are %llu "
                                          "symbols",
                           (unsigned long long)k, oj_elf_sec(c, i).s,
                           (unsigned)ELF64_R_SYM(ra.r_info),
                           (unsigned long long)c->nsyms);
      /* Relocations that need something of their symbol.  GOT: JITLink 22
      ** keys GOT entries by the target's name, so every nameless target (a
      ** section symbol, an unnamed local) shared one entry, and code read
      ** another object's address through it (found by review); compilers
      ** give GOT relocations named symbols.  SIZE: the size of a symbol of
      ** another library or of the host is not known here, and JITLink 22
      ** made it 0 without a word. */
      if (d->rclass == OJ_RC_GOT || d->rclass == OJ_RC_SIZE || (d->flags & OJ_RF_NAMED)) {
        Elf64_Sym sym;
        uint32_t sec, type = (uint32_t)ELF64_R_TYPE(ra.r_info);
        oj_elf_sym_at(c, ELF64_R_SYM(ra.r_info), &sym, &sec);
        if (d->rclass == OJ_RC_SIZE) {
          if (sec == SHN_UNDEF)
            return oj_elf_fail(c, ORCJIT_EUNSUPPORTED,
                               "relocation %llu of %s asks for the size of %s, "
                               "which is not defined in the object "
                               "(%s)",
                               (unsigned long long)k, oj_elf_sec(c, i).s,
                               oj_elf_symdesc(c, ELF64_R_SYM(ra.r_info), sym.st_name).s,
                               d->why ? d->why : "not supported");
        } else if (sym.st_name == 0 || c->str[sym.st_name] == '\0') {
          return oj_elf_fail(c, ORCJIT_EUNSUPPORTED,
                             "relocation %llu of %s (type %u) asks for a %s "
                             "entry of %s, which has no name",
                             (unsigned long long)k, oj_elf_sec(c, i).s, (unsigned)type,
                             d->rclass == OJ_RC_GOT ? "GOT" : "TLS-descriptor",
                             oj_elf_symdesc(c, ELF64_R_SYM(ra.r_info), sym.st_name).s);
        } else if ((d->flags & OJ_RF_NAMED) && ra.r_addend != 0) {
          return oj_elf_fail(c, ORCJIT_EUNSUPPORTED,
                             "relocation %llu of %s (%s) reaches %s with addend %lld; "
                             "a TLS descriptor is for a whole variable (addend 0)",
                             (unsigned long long)k, oj_elf_sec(c, i).s, d->name,
                             oj_elf_symdesc(c, ELF64_R_SYM(ra.r_info), sym.st_name).s,
                             (long long)ra.r_addend);
        }
      }
      later = oj_elf_reloc_later(d);
      if (d->rclass == OJ_RC_NONE || (!kept && !later)) continue;
      r.off = ra.r_offset;
      r.type = (uint32_t)ELF64_R_TYPE(ra.r_info);
      r.sym = (uint32_t)ELF64_R_SYM(ra.r_info);
      r.addend = ra.r_addend;
      r.idx = k;
      r.rsec = i;
      r.tsec = t;
      r.d = d;
      if ((kept && !oj_elf_reloc_push(&c->tgt, &c->ntgt, &c->captgt, &r)) ||
          (later && !oj_elf_reloc_push(&c->rel, &c->nrel, &c->caprel, &r)))
        return oj_elf_nomem(c);
    }
  }
  /* Compilers write them in that order already: checked first, since a
  ** merge sort of a sorted array still compares n log n / 2 times. */
  for (size_t j = 1; j < c->ntgt; j++)
    if (oj_elf_reloc_cmp(&c->tgt[j - 1], &c->tgt[j]) > 0) {
      qsort(c->tgt, c->ntgt, sizeof *c->tgt, oj_elf_reloc_cmp);
      break;
    }
  return ORCJIT_OK;
}
