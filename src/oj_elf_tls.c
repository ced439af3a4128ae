/*
** oj_elf_tls.c: thread-local storage in the ELF pre-pass (oj_elf.h): the
** object's SHF_TLS sections laid out as one block with a marker each, the
** check of every thread-local relocation, and the value of a DTPOFF
** relocation (a variable's offset in the block).
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

/* Checks every TLS relocation; the rewrite itself is in oj_elf_image_edit. */
int oj_elf_tls_check(const oj_elf_ctx *c, const oj_elf_object *out) {
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
      if (oj_elf_tls_dtpoff(c, i, k, ELF64_R_SYM(r.r_info), r.r_addend, &v) != ORCJIT_OK)
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

