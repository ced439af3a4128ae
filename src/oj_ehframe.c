/*
** oj_ehframe.c: the .eh_frame check of the ELF pre-pass (oj_elf.h): every
** record inside the section, every FDE pointing to a CIE, every CIE's
** augmentation usable by JITLink, every FDE describing code of this
** object.
**
** It does not register unwind tables (JITLink does, glue/oj_memmgr.cc).
*/
#include <elf.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oj_elf_int.h"

/* Reads a LEB128 at *at in p[0..n); 0 if it does not end inside. */
static int oj_ehframe_leb(const unsigned char *p, uint64_t n, uint64_t *at) {
  while (*at < n)
    if (!(p[(*at)++] & 0x80)) return 1;
  return 0;
}

/* What oj_ehframe_cie finds wrong with a CIE. */
#define OJ_EHFRAME_CIE_OK (-1)
#define OJ_EHFRAME_CIE_LETTERS 256 /* else: a pointer encoding without a size */

/* A CIE (body p[0..n), after its id).  JITLink 22 copies each L, P and R
** of the augmentation string into an array of four bytes without a bounds
** check, with or without a 'z' and before it knows where the string ends:
** more letters overwrite its stack (found by review: "z" and 64 'R's
** ended in __stack_chk_fail), and four leave the array unterminated.  It
** then reads an FDE's pointers with any encoding the CIE names and reaches
** llvm_unreachable (a trap) on a size it does not know (found by
** fuzz_load).  Returns OJ_EHFRAME_CIE_LETTERS when L, P or R occurs twice, the
** first unusable encoding, or OJ_EHFRAME_CIE_OK.  The rest of a CIE is left to
** JITLink, whose reads are bounds-checked. */
static int oj_ehframe_cie(const unsigned char *p, uint64_t n, int *fde_enc) {
  uint64_t at = 1; /* after the version byte */
  unsigned seen = 0;
  const char *z;
  *fde_enc = 0x00; /* DW_EH_PE_absptr unless 'R' says otherwise */
  for (; at < n && p[at]; at++) {
    unsigned bit = p[at] == 'L' ? 1u : p[at] == 'P' ? 2u : p[at] == 'R' ? 4u : 0u;
    if (seen & bit) return OJ_EHFRAME_CIE_LETTERS;
    seen |= bit;
  }
  /* JITLink reads the fields of L, P and R in their order whenever the
  ** string has a 'z' anywhere ("Rz" too). */
  if (n < 2) return OJ_EHFRAME_CIE_OK;
  z = (const char *)p + 1;
  if (at++ >= n || !strchr(z, 'z')) return OJ_EHFRAME_CIE_OK;
  if (strstr(z, "eh")) at += 8;
  /* code and data alignment factors, the return address register (one
  ** byte, as JITLink reads it), the augmentation data length */
  if (!oj_ehframe_leb(p, n, &at) || !oj_ehframe_leb(p, n, &at)) return OJ_EHFRAME_CIE_OK;
  at++;
  if (!oj_ehframe_leb(p, n, &at)) return OJ_EHFRAME_CIE_OK;
  for (; *z; z++) {
    unsigned enc;
    if (*z == 'z' || *z == 'e' || *z == 'h') continue;
    if (*z != 'L' && *z != 'P' && *z != 'R') return OJ_EHFRAME_CIE_OK;
    if (at >= n) return OJ_EHFRAME_CIE_OK;
    enc = p[at++];
    if (enc == 0xff) continue; /* DW_EH_PE_omit */
    switch (enc & 0x0f) {
    case 0x0: case 0x3: case 0x4: case 0xb: case 0xc: break; /* 4 or 8 bytes */
    default: return (int)enc;
    }
    if (*z == 'P') at += (enc & 0x0f) == 0x3 || (enc & 0x0f) == 0xb ? 4 : 8;
    if (*z == 'R') *fde_enc = (int)enc;
  }
  return OJ_EHFRAME_CIE_OK;
}


/* The FDE of `rec` (its PC-begin field at offset `at` of .eh_frame, its
** CIE's pointer encoding `enc`): libgcc registers it, and every exception
** of the process that unwinds through its range uses its rules.  JITLink
** 22 checks neither its target nor its range: an FDE over a host function
** (an undefined target) or with a range far past its code (1 GiB) made
** the next C++ exception thrown anywhere in the process crash (found by
** review).  So PC-begin must carry one relocation of its encoding's width
** and kind against code of this object, and the range must end inside
** that code's section.  NULL if fine, else what is wrong.  *next: the
** first relocation not before the previous FDE's address (FDEs come in
** offset order, and so do the relocations: a cursor, not a search per
** FDE). */
static const char *oj_ehframe_fde_bad(const oj_elf_ctx *c, const unsigned char *p, uint64_t n,
                                      uint64_t at, int enc, const oj_elf_rel *rel,
                                      size_t nrel, size_t *next) {
  int pcrel = (enc & 0x70) == 0x10;
  uint64_t width = (enc & 0x0f) == 0x3 || (enc & 0x0f) == 0xb ? 4 : 8;
  size_t lo = *next;
  Elf64_Sym sym;
  uint32_t sec, want;
  uint64_t start, range;
  if (enc == 0xff || (enc & 0x70) > 0x10) return "its CIE gives no usable address encoding";
  if (at > n || n - at < 2 * width) return "it is too short for its address and range";
  while (lo < nrel && rel[lo].off < at) lo++; /* the first relocation at or after `at` */
  *next = lo;
  if (lo == nrel || rel[lo].off != at) return "its start address has no relocation";
  if (lo + 1 < nrel && rel[lo + 1].off < at + 2 * width)
    return "more than one relocation patches its address and range";
  want = c->arch->r_fde[pcrel][width == 8];
  if (rel[lo].type != want) return "the relocation of its start address does not match its encoding";
  oj_elf_sym_at(c, rel[lo].sym, &sym, &sec);
  if (!oj_elf_sym_is_code(c, &sym, sec)) return "it does not describe code of this object";
  /* st_value <= sh_size: oj_elf_sym_check */
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
int oj_ehframe_check(const oj_elf_ctx *c, uint32_t i) {
  const Elf64_Shdr *s = &c->sh[i];
  const unsigned char *p;
  uint64_t n = s->sh_size, off = 0;
  unsigned char *cie, *cieenc;
  const oj_elf_rel *rel;
  size_t nrel, next = 0;
  int rc = ORCJIT_OK;
  /* JITLink merges sections of one name; two CIEs at offset 0 of two
  ** .eh_frame sections collided in its table, and an FDE was read with the
  ** other's encoding (found by review).  Compilers make one. */
  for (uint32_t j = i + 1; j < c->shnum; j++)
    if (oj_elf_is_eh_frame(c, j))
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
  rel = oj_elf_reloc_of(c, i, &nrel);
  cie = calloc((size_t)(n / 8 + 1), 1); /* a bit per offset: a CIE starts there */
  cieenc = calloc((size_t)n + 1, 1);    /* its FDE address encoding */
  if (!cie || !cieenc) {
    free(cie);
    free(cieenc);
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
      int enc, bad = oj_ehframe_cie(p + off + hdr + 4, len - 4, &enc);
      cieenc[off] = (unsigned char)enc;
      if (bad == OJ_EHFRAME_CIE_LETTERS) {
        free(cie);
        free(cieenc);
        return oj_elf_fail(c, ORCJIT_EFORMAT,
                           OJ_ELF_CORRUPT "%s: the CIE at offset %llu has an "
                                          "augmentation string that names "
                                          "L, P or R more than once",
                           oj_elf_sec(c, i).s, (unsigned long long)off);
      }
      if (bad != OJ_EHFRAME_CIE_OK) {
        free(cie);
        free(cieenc);
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
        return oj_elf_fail(c, ORCJIT_EFORMAT,
                           OJ_ELF_CORRUPT "%s: the FDE at offset %llu points to "
                                          "no CIE (CIE pointer %u)",
                           oj_elf_sec(c, i).s, (unsigned long long)off,
                           (unsigned)id);
      }
      const char *why = oj_ehframe_fde_bad(c, p, off + hdr + len, at + 4, cieenc[target],
                                       rel, nrel, &next);
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
  return rc;
bad:
  free(cie);
  free(cieenc);
  return oj_elf_fail(c, ORCJIT_EFORMAT,
                     OJ_ELF_CORRUPT "%s: the record at offset %llu extends past "
                                    "the end of the section",
                     oj_elf_sec(c, i).s, (unsigned long long)off);
}

