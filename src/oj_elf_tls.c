/*
** oj_elf_tls.c: thread-local storage in the ELF pre-pass (oj_elf.h): the
** object's SHF_TLS sections laid out as one block with a marker each, the
** check of every thread-local relocation, the value of a DTPOFF
** relocation (a variable's offset in the block), and for initial- and
** local-exec code the fields of a static block (filled in by
** oj_elf_tls_static_apply once the block is reserved) and its initial
** bytes.
**
** It does not allocate TLS blocks per thread (oj_tls.c) or patch the
** image (oj_elf_image.c).
*/
#include <elf.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oj_elf_int.h"

/* ---- thread-local storage --------------------------------------------- */

/* Lays the SHF_TLS sections out as one block in section order (each at
** its alignment, as a static linker lays out PT_TLS) and names a marker
** for each one with contents. */
int oj_elf_tls_layout(oj_elf_ctx *c, oj_elf_object *out) {
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

/* The value of a DTPOFF relocation: the offset of symbol symi + addend in
** the object's TLS block; ORCJIT_OK or a failure naming the relocation. */
int oj_elf_tls_dtpoff(const oj_elf_ctx *c, uint32_t rsec, uint64_t k,
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

int oj_elf_tls_field(const oj_elf_ctx *c, unsigned field, unsigned char *at, int64_t v) {
  int32_t v32;
  switch (field) {
  case OJ_F_DATA32:
    if (v < INT32_MIN || v > INT32_MAX) return 0;
    v32 = (int32_t)v;
    if (at) memcpy(at, &v32, 4);
    return 1;
  case OJ_F_DATA64:
    if (at) memcpy(at, &v, 8);
    return 1;
  default:
    return field >= OJ_F_ARCH && c->arch->put_field && c->arch->put_field(at, field, v);
  }
}

/* 1 if the instruction at `at` has the form of the machine's `field` (the
** field rewritten on a copy). */
static int oj_elf_tls_insn_ok(const oj_elf_ctx *c, unsigned field, const unsigned char *at) {
  unsigned char copy[4];
  memcpy(copy, at, sizeof copy);
  return c->arch->put_field && c->arch->put_field(copy, field, 0);
}

/* Appends a static TLS field to out->tls_patch; 0 on OOM. */
static int oj_elf_tls_patch_add(oj_elf_object *out, uint64_t off, int64_t v, unsigned field) {
  if ((out->ntls_patch & (out->ntls_patch - 1)) == 0) { /* 0, 1, 2, 4, ...: grow */
    size_t cap = out->ntls_patch ? out->ntls_patch * 2 : 4;
    oj_elf_tls_patch *p = realloc(out->tls_patch, cap * sizeof *p);
    if (!p) return 0;
    out->tls_patch = p;
  }
  out->tls_patch[out->ntls_patch].off = off;
  out->tls_patch[out->ntls_patch].v = v;
  out->tls_patch[out->ntls_patch].field = field;
  out->ntls_patch++;
  return 1;
}

/* Notes undefined symbol symi as reached by initial-exec code (once). */
static int oj_elf_tls_note_tpoff(oj_elf_ctx *c, uint32_t symi) {
  for (size_t j = 0; j < c->ntpoffsym; j++)
    if (c->tpoffsym[j] == symi) return 1;
  if (c->ntpoffsym == c->captpoffsym) {
    size_t cap = c->captpoffsym ? c->captpoffsym * 2 : 4;
    uint32_t *p = realloc(c->tpoffsym, cap * sizeof *p);
    if (!p) return 0;
    c->tpoffsym = p;
    c->captpoffsym = cap;
  }
  c->tpoffsym[c->ntpoffsym++] = symi;
  return 1;
}

/* The block's initial bytes (up to the end of its last section with
** contents), for the C library to copy into every thread. */
static int oj_elf_tls_init_image(oj_elf_ctx *c, oj_elf_object *out) {
  uint64_t end = 0;
  for (size_t k = 0; k < out->ntls; k++)
    if (!out->tls[k].nobits && out->tls[k].voff + out->tls[k].size > end)
      end = out->tls[k].voff + out->tls[k].size;
  out->tls_init = calloc(1, end ? (size_t)end : 1);
  if (!out->tls_init) return oj_elf_nomem(c);
  out->tls_init_size = end;
  for (size_t k = 0; k < out->ntls; k++)
    if (!out->tls[k].nobits)
      memcpy(out->tls_init + out->tls[k].voff, c->data + c->sh[c->tlssec[k]].sh_offset,
             (size_t)out->tls[k].size);
  return ORCJIT_OK;
}

/* An initial- or local-exec relocation: to the object's own thread-local,
** a field of its static block; to another (initial-exec only), a GOT load
** of "__orcjit.tpoff.X". */
static int oj_elf_tls_static_check(oj_elf_ctx *c, oj_elf_object *out, const oj_elf_rel *r,
                                   const Elf64_Sym *sym, uint32_t sec) {
  const oj_arch_reloc *d = r->d;
  const Elf64_Shdr *t = &c->sh[r->tsec];
  oj_elf_desc who = oj_elf_symdesc(c, r->sym, sym->st_name);
  int64_t v;
  if (sec == SHN_UNDEF) {
    if (d->rclass != OJ_RC_TLS_IE || !d->rewrite || sym->st_name == 0 ||
        c->str[sym->st_name] == '\0' ||
        ELF64_ST_BIND(sym->st_info) == STB_LOCAL)
      return oj_elf_fail(c, ORCJIT_EUNSUPPORTED,
                         "thread-local %s is reached with %s code, but the object does "
                         "not define it: %s",
                         who.s, d->why ? d->why : "?", c->arch->tls_hint);
    return oj_elf_tls_note_tpoff(c, r->sym) ? ORCJIT_OK : oj_elf_nomem(c);
  }
  /* Another object's definition of a weak one (a C++ inline or template
  ** thread_local) may win, and its block is not this one. */
  if (ELF64_ST_BIND(sym->st_info) == STB_WEAK || ELF64_ST_BIND(sym->st_info) == STB_GNU_UNIQUE)
    return oj_elf_fail(c, ORCJIT_EUNSUPPORTED,
                       "weak thread-local %s (a C++ inline or template thread_local) is "
                       "reached with %s code, which cannot follow another object's "
                       "definition: %s",
                       who.s, d->why ? d->why : "?", c->arch->tls_hint);
  if (t->sh_type != SHT_PROGBITS || !(t->sh_flags & SHF_ALLOC) || (t->sh_flags & SHF_TLS) ||
      oj_elf_is_eh_frame(c, r->tsec))
    return oj_elf_fail(c, ORCJIT_EFORMAT,
                       OJ_ELF_CORRUPT "relocation %llu of %s puts a thread-local offset "
                                      "into %s, which is not code or data",
                       (unsigned long long)r->idx, oj_elf_sec(c, r->rsec).s,
                       oj_elf_sec(c, r->tsec).s);
  if (d->rclass == OJ_RC_TLS_IE) {
    unsigned char le[8];
    uint32_t n = c->arch->ie_to_le_len;
    int ok;
    if (c->arch->ie_to_le) /* the code before the field, rewritten at once */
      ok = n <= sizeof le && r->off >= n &&
           c->arch->ie_to_le(c->data + t->sh_offset + r->off - n, le);
    else /* the field's instruction, rewritten with the offset (here: its form) */
      ok = oj_elf_tls_insn_ok(c, d->field, c->data + t->sh_offset + r->off);
    if (!ok || r->addend != c->arch->ie_addend)
      return oj_elf_fail(c, ORCJIT_EUNSUPPORTED,
                         "relocation %llu of %s: %s of thread-local %s in an instruction "
                         "the loader cannot rewrite: %s",
                         (unsigned long long)r->idx, oj_elf_sec(c, r->rsec).s,
                         d->why ? d->why : "?", who.s, c->arch->tls_hint);
    if (oj_elf_tls_dtpoff(c, r->rsec, r->idx, r->sym, 0, &v) != ORCJIT_OK)
      return oj_error_status();
  } else if (oj_elf_tls_dtpoff(c, r->rsec, r->idx, r->sym, r->addend, &v) != ORCJIT_OK) {
    return oj_error_status();
  }
  if (d->field == OJ_F_NONE ||
      (d->field >= OJ_F_ARCH && !oj_elf_tls_insn_ok(c, d->field, c->data + t->sh_offset + r->off)))
    return oj_elf_fail(c, ORCJIT_EUNSUPPORTED,
                       "relocation %llu of %s: %s of thread-local %s in an instruction the "
                       "loader cannot patch",
                       (unsigned long long)r->idx, oj_elf_sec(c, r->rsec).s,
                       d->why ? d->why : "?", who.s);
  if (c->tlsrel)
    return oj_elf_fail(c, ORCJIT_EUNSUPPORTED,
                       "thread-local %s is reached with %s code, so its block must be "
                       "static TLS, which the C library initialises from the object's "
                       "bytes; but %s relocates the initial values (a thread-local "
                       "initialised with an address): %s",
                       who.s, d->why ? d->why : "?", oj_elf_sec(c, c->tlsrel).s,
                       c->arch->tls_hint);
  if (!oj_elf_tls_patch_add(out, t->sh_offset + r->off, v, d->field))
    return oj_elf_nomem(c);
  if (!out->tls_static) {
    out->tls_static = 1;
    return oj_elf_tls_init_image(c, out);
  }
  return ORCJIT_OK;
}

int oj_elf_tls_static_apply(oj_elf_object *obj, int64_t tpoff) {
  const oj_arch *a = oj_arch_host();
  for (size_t k = 0; k < obj->ntls_patch; k++) {
    const oj_elf_tls_patch *p = &obj->tls_patch[k];
    if (p->field == OJ_F_DATA64) { /* a 64-bit field wraps, as a linker's S + A does */
      uint64_t w = (uint64_t)tpoff + (uint64_t)p->v;
      memcpy(obj->image + p->off, &w, 8);
      continue;
    }
    int64_t v; /* the addend comes from the file: any value (found by fuzz_load) */
    int fits = !__builtin_add_overflow(tpoff, p->v, &v);
    if (fits && p->field == OJ_F_DATA32) {
      fits = v >= INT32_MIN && v <= INT32_MAX;
      int32_t v32 = (int32_t)v;
      if (fits) memcpy(obj->image + p->off, &v32, 4);
    } else if (fits) {
      fits = a->put_field && a->put_field(obj->image + p->off, p->field, v);
    }
    if (!fits)
      return oj_error_set(ORCJIT_EUNSUPPORTED,
                          "thread-local offset %lld from the thread pointer does not fit "
                          "in its %s field", (long long)v,
                          p->field == OJ_F_DATA32 ? "32-bit" : "instruction's");
  }
  return ORCJIT_OK;
}

/* Checks every thread-local relocation (classified by oj_elf_reloc_check,
** in file order); the rewrite itself is in oj_elf_image.c. */
int oj_elf_tls_check(oj_elf_ctx *c, oj_elf_object *out) {
  for (size_t j = 0; j < c->nrel; j++) {
    const oj_elf_rel *r = &c->rel[j];
    const oj_arch_reloc *d = r->d;
    uint64_t k = r->idx;
    uint32_t i = r->rsec, sec;
    Elf64_Sym sym;
    int64_t v;
    if (!oj_arch_is_tls(d)) continue;
    if (r->sym == 0)
      return oj_elf_fail(c, ORCJIT_EFORMAT,
                         OJ_ELF_CORRUPT "thread-local relocation %llu of "
                                        "%s has no symbol",
                         (unsigned long long)k, oj_elf_sec(c, i).s);
    oj_elf_sym_at(c, r->sym, &sym, &sec);
    if (d->rclass == OJ_RC_TLS_IE || d->rclass == OJ_RC_TLS_LE) {
      if (oj_elf_tls_static_check(c, out, r, &sym, sec) != ORCJIT_OK) return oj_error_status();
      continue;
    }
    if (d->rclass != OJ_RC_TLS_GD && d->rclass != OJ_RC_TLS_LD &&
        d->rclass != OJ_RC_TLS_DTPREL)
      return oj_elf_fail(
          c, ORCJIT_EUNSUPPORTED,
          "thread-local %s uses the %s TLS model, which loaded objects do "
          "not support: %s",
          oj_elf_symdesc(c, r->sym, sym.st_name).s, d->why ? d->why : "?",
          c->arch->tls_hint);
    if (d->rclass == OJ_RC_TLS_LD && out->ntls == 0)
      return oj_elf_fail(c, ORCJIT_EFORMAT,
                         OJ_ELF_CORRUPT "relocation %llu of %s is "
                                        "local-dynamic TLS, but the object "
                                        "has no thread-local data",
                         (unsigned long long)k, oj_elf_sec(c, i).s);
    if (d->rclass == OJ_RC_TLS_GD && sec != SHN_UNDEF &&
        (sec >= c->shnum || !c->tlsvoff || c->tlsvoff[sec] == OJ_ELF_NOTLS ||
         c->sh[sec].sh_size == 0))
      return oj_elf_fail(c, ORCJIT_EFORMAT,
                         OJ_ELF_CORRUPT "relocation %llu of %s is "
                                        "thread-local, but %s is not "
                                        "thread-local data",
                         (unsigned long long)k, oj_elf_sec(c, i).s,
                         oj_elf_symdesc(c, r->sym, sym.st_name).s);
    if (d->rclass != OJ_RC_TLS_DTPREL) continue;
    {
      /* Patched here, so it must fit in its section's bytes. */
      const Elf64_Shdr *t = &c->sh[r->tsec];
      if (t->sh_type == SHT_NOBITS || r->off > t->sh_size || t->sh_size - r->off < d->width)
        return oj_elf_fail(c, ORCJIT_EFORMAT,
                           OJ_ELF_CORRUPT "relocation %llu of %s has "
                                          "offset %llu outside its section",
                           (unsigned long long)k, oj_elf_sec(c, i).s,
                           (unsigned long long)r->off);
      /* Only into code or data (.text, .debug_info): patched into an
      ** unwind table, a symbol, string or relocation table, it would
      ** change what the checks above have passed (found by fuzz_elf: a
      ** DTPOFF64 over the first .eh_frame record's length). */
      if (t->sh_type != SHT_PROGBITS || oj_elf_is_eh_frame(c, r->tsec))
        return oj_elf_fail(c, ORCJIT_EFORMAT,
                           OJ_ELF_CORRUPT "relocation %llu of %s puts a "
                                          "thread-local offset into %s, "
                                          "which is not code or data",
                           (unsigned long long)k, oj_elf_sec(c, i).s,
                           oj_elf_sec(c, r->tsec).s);
    }
    if (oj_elf_tls_dtpoff(c, i, k, r->sym, r->addend, &v) != ORCJIT_OK)
      return oj_error_status();
    if (!oj_elf_tls_field(c, d->field, NULL, v))
      return oj_elf_fail(c, ORCJIT_EFORMAT,
                         OJ_ELF_CORRUPT "relocation %llu of %s: offset "
                                        "%lld does not fit in %s",
                         (unsigned long long)k, oj_elf_sec(c, i).s, (long long)v,
                         d->field == OJ_F_DATA32 ? "32 bits" : "its field");
  }
  return ORCJIT_OK;
}
