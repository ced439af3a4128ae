/*
** oj_elf_image.c: the image the ELF pre-pass (oj_elf.h) hands to JITLink:
** a copy of the validated input, edited in place (relocation rewrites,
** resolved TLS offsets, symbol visibility), with the symbol table, its
** string table and its SHT_SYMTAB_SHNDX table copied to the end and
** extended by the marker symbols.
**
** How the image is built: it is a copy of the input, edited in place, with
** new copies of the symbol table, its string table and (if there is one)
** its SHT_SYMTAB_SHNDX table appended at 8-byte aligned offsets; the
** section headers of those tables are pointed at the new copies.  Old
** entries keep their indices, so relocations, groups and address-significance
** tables stay valid.  Only an object without any symbol table gets new
** sections (.symtab, .strtab), and then a new section header table.
*/
#include <elf.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oj_elf_int.h"

/* ---- the image --------------------------------------------------------- */

/* *at = align8(*at) + n, reporting overflow; *off gets the aligned start. */
static int oj_elf_image_reserve(uint64_t *at, uint64_t n, uint64_t *off) {
  uint64_t a = *at;
  if (a > UINT64_MAX - 7) return 0;
  a = (a + 7) & ~(uint64_t)7;
  if (n > UINT64_MAX - a || a + n > SIZE_MAX) return 0;
  *off = a;
  *at = a + n;
  return 1;
}

static void oj_elf_image_put_shdr(unsigned char *img, uint64_t shoff, uint32_t i,
                                  const Elf64_Shdr *s) {
  memcpy(img + shoff + (uint64_t)i * sizeof *s, s, sizeof *s);
}

/* Leaves the relocations turned into r_none out of every SHT_RELA section
** of the image (machines whose JITLink refuses r_none: oj_arch.drop_none). */
static void oj_elf_image_drop_none(const oj_elf_ctx *c, unsigned char *img) {
  uint64_t shoff;
  memcpy(&shoff, img + offsetof(Elf64_Ehdr, e_shoff), sizeof shoff); /* the image's table */
  if (!c->arch->drop_none) return;
  for (uint32_t i = 1; i < c->shnum; i++) {
    const Elf64_Shdr *s = &c->sh[i];
    if (s->sh_type != SHT_RELA) continue;
    unsigned char *p = img + s->sh_offset;
    uint64_t n = s->sh_size / sizeof(Elf64_Rela), kept = 0;
    for (uint64_t k = 0; k < n; k++) {
      Elf64_Rela ra;
      memcpy(&ra, p + k * sizeof ra, sizeof ra);
      if (ELF64_R_TYPE(ra.r_info) == c->arch->r_none) continue;
      if (kept != k) memcpy(p + kept * sizeof ra, &ra, sizeof ra);
      kept++;
    }
    if (kept == n) continue;
    Elf64_Xword size = kept * sizeof(Elf64_Rela);
    memcpy(img + shoff + (uint64_t)i * sizeof(Elf64_Shdr) + offsetof(Elf64_Shdr, sh_size), &size,
           sizeof size);
  }
}

/* The in-place edits: relocation types, TLS offsets and symbol
** visibility.  tls_sym is the index of the marker symbol at offset 0 of
** the TLS block (used only if the object has local-dynamic TLS, which
** oj_elf_tls_check has checked); tpoff_sym the index of the first
** "__orcjit.tpoff." symbol (one per c->tpoffsym entry). */
static void oj_elf_image_edit(const oj_elf_ctx *c, unsigned char *img,
                              uint64_t tls_sym, uint64_t tpoff_sym) {
  uint32_t i;
  uint64_t k;
  for (i = 0; i < c->shnum; i++) /* no addresses: see oj_elf_read_sections */
    memset(img + c->eh.e_shoff + (uint64_t)i * sizeof(Elf64_Shdr) +
               offsetof(Elf64_Shdr, sh_addr),
           0, sizeof(Elf64_Addr));
  /* The relocations oj_elf_reloc_check kept for this, by class. */
  for (size_t j = 0; j < c->nrel; j++) {
    const oj_elf_rel *r = &c->rel[j];
    unsigned char *p = img + c->sh[r->rsec].sh_offset + r->idx * sizeof(Elf64_Rela) +
                       offsetof(Elf64_Rela, r_info);
    Elf64_Xword info;
    int64_t v;
    switch (r->d->rclass) {
    case OJ_RC_TLS_LD: /* the block's address = the marker's */
      info = ELF64_R_INFO(tls_sym, r->d->rewrite);
      break;
    case OJ_RC_TLS_DTPREL:
      if (oj_elf_tls_dtpoff(c, r->rsec, r->idx, r->sym, r->addend, &v) != ORCJIT_OK)
        continue; /* cannot happen: checked */
      oj_elf_tls_field(c, r->d->field, img + c->sh[r->tsec].sh_offset + r->off, v);
      info = ELF64_R_INFO(r->sym, c->arch->r_none);
      break;
    case OJ_RC_TLS_LE: /* the field: oj_elf_tls_static_apply */
      info = ELF64_R_INFO(r->sym, c->arch->r_none);
      break;
    case OJ_RC_TLS_IE: {
      Elf64_Sym sym;
      uint32_t sec;
      oj_elf_sym_at(c, r->sym, &sym, &sec);
      if (sec == SHN_UNDEF) { /* a GOT load of __orcjit.tpoff.<name> */
        size_t t = 0;
        while (t < c->ntpoffsym && c->tpoffsym[t] != r->sym) t++;
        info = ELF64_R_INFO(tpoff_sym + t, r->d->rewrite);
        break;
      }
      /* Relaxed to local-exec (checked); the field: oj_elf_tls_static_apply,
      ** which also rewrites the instruction where the machine has no
      ** ie_to_le. */
      unsigned char le[8], *at = img + c->sh[r->tsec].sh_offset + r->off - c->arch->ie_to_le_len;
      if (c->arch->ie_to_le && c->arch->ie_to_le(at, le)) memcpy(at, le, c->arch->ie_to_le_len);
      info = ELF64_R_INFO(r->sym, c->arch->r_none);
      break;
    }
    default:
      if (!r->d->rewrite) continue;
      info = ELF64_R_INFO(r->sym, r->d->rewrite);
      break;
    }
    memcpy(p, &info, sizeof info);
  }
  if (c->symtab) {
    unsigned char *p = img + c->sh[c->symtab].sh_offset +
                       offsetof(Elf64_Sym, st_other);
    for (k = 0; k < c->nsyms; k++, p += sizeof(Elf64_Sym))
      if (ELF64_ST_VISIBILITY(*p) == STV_INTERNAL)
        *p = (unsigned char)((*p & ~3u) | STV_HIDDEN);
  }
}

/* A new image buffer of n bytes, with the merge's room after them
** (oj_elf_merge_room) where memory allows; NULL if not even n. */
static unsigned char *oj_elf_image_alloc(const oj_elf_ctx *c, uint64_t n) {
  uint64_t room = oj_elf_merge_room(c->sh, c->shnum);
  unsigned char *p = room <= SIZE_MAX - n ? malloc((size_t)(n + room)) : NULL;
  return p ? p : malloc((size_t)n);
}

int oj_elf_image_make(oj_elf_ctx *c, oj_elf_object *out) {
  size_t nmark = out->ninitfini + out->ntls + (out->anchor ? 1 : 0), k;
  size_t nnew = nmark + c->ntpoffsym;
  uint64_t at = c->size, symoff = 0, stroff = 0, xoff = 0, shsoff = 0;
  uint64_t shoff = 0, oldsyms, nsyms, pre, strsize, shssize = 0, pad, namesz;
  uint32_t shnum = c->shnum, newsym = 0, newstr = 0;
  uint32_t shstrndx = c->eh.e_shstrndx;
  int addsec = (c->symtab == 0);
  unsigned char *img;
  Elf64_Shdr s;
  static const char secnames[] = ".symtab\0.strtab";

  if (nnew == 0) {
    if (c->owned) { /* edited where it is: no copy of a large input */
      out->image = c->owned;
      c->owned = NULL;
    } else {
      out->image = oj_elf_image_alloc(c, c->size);
      if (!out->image) return oj_elf_nomem(c);
      memcpy(out->image, c->data, c->size);
    }
    out->image_size = c->size;
    oj_elf_image_edit(c, out->image, 0, 0);
    oj_elf_image_drop_none(c, out->image);
    return ORCJIT_OK;
  }
  if (shstrndx == SHN_XINDEX) shstrndx = c->sh[0].sh_link;

  /* Sections needing an extended index need the SHT_SYMTAB_SHNDX table. */
  if (!c->shndx) {
    uint32_t big = c->anchor, sec = 0;
    for (k = 0; k < out->ninitfini; k++) sec = oj_elf_initfini_next(c, sec);
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
  for (k = 0; k < c->ntpoffsym; k++) {
    Elf64_Sym sym;
    uint32_t sec;
    oj_elf_sym_at(c, c->tpoffsym[k], &sym, &sec);
    namesz += sizeof OJ_ELF_TPOFF_PREFIX - 1 + strlen(c->str + sym.st_name) + 1;
  }
  pad = (c->strsize == 0 || c->str[c->strsize - 1] != '\0') ? 1 : 0;
  strsize = c->strsize + pad + namesz;
  if (strsize > UINT32_MAX) /* st_name is 32 bits */
    return oj_elf_fail(c, ORCJIT_EUNSUPPORTED,
                       "string table %s is too large to extend",
                       oj_elf_sec(c, c->strtab).s);
  if (!oj_elf_image_reserve(&at, nsyms * sizeof(Elf64_Sym), &symoff) ||
      !oj_elf_image_reserve(&at, strsize, &stroff) ||
      (c->shndx && !oj_elf_image_reserve(&at, nsyms * 4, &xoff)))
    return oj_elf_nomem(c);
  if (addsec) {
    newsym = shnum;
    newstr = shnum + 1;
    if (shstrndx != 0) {
      shssize = c->shstrsize + (c->shstrend == c->shstrsize ? 0 : 1) +
                sizeof secnames;
      if (!oj_elf_image_reserve(&at, shssize, &shsoff)) return oj_elf_nomem(c);
    }
    if (!oj_elf_image_reserve(&at, ((uint64_t)shnum + 2) * sizeof(Elf64_Shdr),
                        &shoff))
      return oj_elf_nomem(c);
  }

  if (c->owned) {
    /* The input grows into the image (realloc moves a large block without
    ** copying it); what pointed into it follows. */
    size_t str = c->str ? (size_t)((const unsigned char *)c->str - c->data) : 0;
    size_t shstr = c->shstr ? (size_t)((const unsigned char *)c->shstr - c->data) : 0;
    /* With the merge's room (oj_elf_merge_room), and not shrunk to it
    ** (oj_elf_grow): the block's end given back to the heap, the merge's
    ** realloc would find it taken (a copy of the image, about 2% of a C++
    ** load). */
    uint64_t room = oj_elf_merge_room(c->sh, c->shnum);
    img = room <= SIZE_MAX - at ? oj_elf_grow(c->owned, (size_t)(at + room)) : NULL;
    if (!img) img = oj_elf_grow(c->owned, (size_t)at);
    if (!img) return oj_elf_nomem(c);
    memset(img + c->size, 0, (size_t)(at - c->size));
    c->owned = NULL;
    c->data = img;
    if (c->str) c->str = (const char *)img + str;
    if (c->shstr) c->shstr = (const char *)img + shstr;
  } else {
    img = oj_elf_image_alloc(c, at);
    if (!img) return oj_elf_nomem(c);
    memcpy(img, c->data, c->size);
    memset(img + c->size, 0, (size_t)(at - c->size));
  }
  /* The first TLS marker; the first __orcjit.tpoff. symbol. */
  oj_elf_image_edit(c, img, pre + oldsyms + out->ninitfini, pre + oldsyms + nmark);

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
    for (k = 0; k < nmark; k++, idx++) {
      size_t t = k - out->ninitfini;
      const char *m = k < out->ninitfini ? out->initfini[k].marker
                      : t < out->ntls    ? out->tls[t].marker
                                         : out->anchor;
      size_t len = strlen(m);
      Elf64_Sym sym;
      if (k < out->ninitfini) sec = oj_elf_initfini_next(c, sec);
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
    /* Undefined: "__orcjit.tpoff.<name>" for initial-exec references. */
    for (k = 0; k < c->ntpoffsym; k++, idx++) {
      Elf64_Sym sym, old;
      uint32_t osec;
      oj_elf_sym_at(c, c->tpoffsym[k], &old, &osec);
      const char *m = c->str + old.st_name;
      size_t plen = sizeof OJ_ELF_TPOFF_PREFIX - 1, len = strlen(m);
      memset(&sym, 0, sizeof sym);
      sym.st_name = (Elf64_Word)name;
      sym.st_info = ELF64_ST_INFO(STB_GLOBAL, STT_NOTYPE);
      sym.st_other = STV_DEFAULT;
      sym.st_shndx = SHN_UNDEF;
      memcpy(img + symoff + idx * sizeof sym, &sym, sizeof sym);
      if (c->shndx) memset(img + xoff + idx * 4, 0, 4);
      memcpy(img + stroff + name, OJ_ELF_TPOFF_PREFIX, plen);
      memcpy(img + stroff + name + plen, m, len + 1);
      name += plen + len + 1;
    }
  }

  if (!addsec) {
    s = c->sh[c->symtab];
    s.sh_offset = symoff;
    s.sh_size = nsyms * sizeof(Elf64_Sym);
    if (pre) s.sh_info = 1;
    oj_elf_image_put_shdr(img, c->eh.e_shoff, c->symtab, &s);
    s = c->sh[c->strtab];
    s.sh_offset = stroff;
    s.sh_size = strsize;
    oj_elf_image_put_shdr(img, c->eh.e_shoff, c->strtab, &s);
    if (c->shndx) {
      s = c->sh[c->shndx];
      s.sh_offset = xoff;
      s.sh_size = nsyms * 4;
      oj_elf_image_put_shdr(img, c->eh.e_shoff, c->shndx, &s);
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
      oj_elf_image_put_shdr(img, shoff, shstrndx, &s);
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
    oj_elf_image_put_shdr(img, shoff, newsym, &s);
    memset(&s, 0, sizeof s);
    s.sh_name = shstrndx ? (Elf64_Word)(nm + 8) : 0;
    s.sh_type = SHT_STRTAB;
    s.sh_offset = stroff;
    s.sh_size = strsize;
    s.sh_addralign = 1;
    oj_elf_image_put_shdr(img, shoff, newstr, &s);
    eh.e_shoff = shoff;
    if (shnum + 2 >= SHN_LORESERVE || eh.e_shnum == 0) {
      s = c->sh[0];
      s.sh_size = shnum + 2;
      oj_elf_image_put_shdr(img, shoff, 0, &s);
      eh.e_shnum = 0;
    } else {
      eh.e_shnum = (Elf64_Half)(shnum + 2);
    }
    memcpy(img, &eh, sizeof eh);
  }
  oj_elf_image_drop_none(c, img); /* after the header table is final */
  out->image = img;
  out->image_size = (size_t)at;
  return ORCJIT_OK;
}

