/*
** oj_elf_debug.c: the ELF image gdb reads for one linked object
** (oj_elf_debug.h): a copy of the pre-pass's image, its section table read
** (extended numbering included), section addresses written into the copy,
** the loader's markers hidden.  The image was validated by the pre-pass;
** every read is still bounds-checked.
**
** It does not register the image (oj_gdbjit.c) or learn the addresses
** (glue/oj_debug.cc, from JITLink's blocks).
*/
#include "oj_elf_debug.h"

#include <elf.h>
#include <stdlib.h>
#include <string.h>

#include "oj_elf.h" /* OJ_ELF_MARKER_PREFIX */

static int oj_elf_debug_read(const oj_elf_debug *d, uint64_t off, void *out, size_t n) {
  if (off > d->size || d->size - off < n) return 0;
  memcpy(out, d->image + off, n);
  return 1;
}

static int oj_elf_debug_offcmp(const void *a, const void *b, void *ctx) {
  const oj_elf_debug *d = ctx;
  uint64_t x = d->sec[*(const uint32_t *)a].offset, y = d->sec[*(const uint32_t *)b].offset;
  if (x != y) return x < y ? -1 : 1;
  return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1;
}

int oj_elf_debug_open(oj_elf_debug *d, const void *data, size_t size) {
  Elf64_Ehdr eh;
  Elf64_Shdr sh, strs;
  uint64_t n;
  uint32_t strndx;
  memset(d, 0, sizeof *d);
  d->image = malloc(size ? size : 1);
  if (!d->image) return -1;
  memcpy(d->image, data, size);
  d->size = size;
  if (!oj_elf_debug_read(d, 0, &eh, sizeof eh) || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
      eh.e_shoff == 0 ||
      eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_shentsize != sizeof(Elf64_Shdr))
    goto bad;
  d->shoff = eh.e_shoff;
  n = eh.e_shnum;
  strndx = eh.e_shstrndx;
  if (n == 0 || strndx == SHN_XINDEX) { /* extended numbering: in section 0 */
    if (!oj_elf_debug_read(d, eh.e_shoff, &sh, sizeof sh)) goto bad;
    if (n == 0) n = sh.sh_size;
    if (strndx == SHN_XINDEX) strndx = sh.sh_link;
  }
  if (n == 0 || n > (d->size / sizeof(Elf64_Shdr)) || strndx >= n) goto bad;
  d->nsec = (uint32_t)n;
  d->sec = calloc(n, sizeof *d->sec);
  d->byoff = malloc(n * sizeof *d->byoff);
  if (!d->sec || !d->byoff) goto bad;
  if (!oj_elf_debug_read(d, d->shoff + (uint64_t)strndx * sizeof strs, &strs, sizeof strs))
    goto bad;
  for (uint32_t i = 0; i < d->nsec; i++) {
    oj_elf_debug_sec *s = &d->sec[i];
    uint64_t at;
    if (!oj_elf_debug_read(d, d->shoff + (uint64_t)i * sizeof sh, &sh, sizeof sh)) goto bad;
    s->offset = sh.sh_offset;
    s->size = sh.sh_size;
    s->flags = sh.sh_flags;
    s->type = sh.sh_type;
    s->placed = UINT64_MAX;
    s->name = "";
    at = strs.sh_offset + sh.sh_name;
    if (sh.sh_name < strs.sh_size && at < d->size) {
      s->name = (const char *)d->image + at;
      s->name_len = strnlen(s->name, d->size - at);
    }
    if ((s->flags & SHF_ALLOC) && s->type != SHT_NOBITS && s->size > 0) d->byoff[d->nbyoff++] = i;
  }
  qsort_r(d->byoff, d->nbyoff, sizeof *d->byoff, oj_elf_debug_offcmp, d);
  return 0;
bad:
  oj_elf_debug_free(d);
  return -1;
}

int oj_elf_debug_section_at(const oj_elf_debug *d, uint64_t off, uint32_t *sec,
                            uint64_t *delta) {
  size_t lo = 0, hi = d->nbyoff;
  const oj_elf_debug_sec *s;
  while (lo < hi) { /* the first section starting after off */
    size_t mid = lo + (hi - lo) / 2;
    if (d->sec[d->byoff[mid]].offset <= off) lo = mid + 1;
    else hi = mid;
  }
  if (lo == 0) return 0;
  s = &d->sec[d->byoff[lo - 1]];
  if (off - s->offset >= s->size) return 0;
  *sec = d->byoff[lo - 1];
  *delta = off - s->offset;
  return 1;
}

int oj_elf_debug_nobits_named(const oj_elf_debug *d, const char *name, size_t len,
                              uint32_t *sec) {
  for (uint32_t i = 0; i < d->nsec; i++) {
    const oj_elf_debug_sec *s = &d->sec[i];
    if (s->type == SHT_NOBITS && (s->flags & SHF_ALLOC) && s->name_len == len &&
        memcmp(s->name, name, len) == 0) {
      *sec = i;
      return 1;
    }
  }
  return 0;
}

void oj_elf_debug_place(oj_elf_debug *d, uint32_t sec, uint64_t delta, uint64_t addr) {
  uint64_t at, a = addr - delta;
  if (sec >= d->nsec || delta >= d->sec[sec].placed) return;
  d->sec[sec].placed = delta;
  at = d->shoff + (uint64_t)sec * sizeof(Elf64_Shdr) + offsetof(Elf64_Shdr, sh_addr);
  if (at <= d->size && d->size - at >= sizeof a) memcpy(d->image + at, &a, sizeof a);
}

void oj_elf_debug_hide_markers(oj_elf_debug *d) {
  static const char prefix[] = OJ_ELF_MARKER_PREFIX;
  for (uint32_t i = 0; i < d->nsec; i++) {
    Elf64_Shdr sh;
    const oj_elf_debug_sec *str;
    if (d->sec[i].type != SHT_SYMTAB) continue;
    if (!oj_elf_debug_read(d, d->shoff + (uint64_t)i * sizeof sh, &sh, sizeof sh) ||
        sh.sh_link >= d->nsec)
      return;
    str = &d->sec[sh.sh_link];
    for (uint64_t off = sh.sh_offset; off + sizeof(Elf64_Sym) <= sh.sh_offset + sh.sh_size;
         off += sizeof(Elf64_Sym)) {
      Elf64_Sym sym;
      uint64_t at;
      if (!oj_elf_debug_read(d, off, &sym, sizeof sym)) return;
      at = str->offset + sym.st_name;
      if (sym.st_name >= str->size || at + sizeof prefix > d->size ||
          memcmp(d->image + at, prefix, sizeof prefix - 1) != 0)
        continue;
      sym.st_shndx = SHN_UNDEF;
      sym.st_value = 0;
      sym.st_size = 0;
      memcpy(d->image + off, &sym, sizeof sym);
    }
  }
}

unsigned char *oj_elf_debug_take(oj_elf_debug *d, size_t *size) {
  unsigned char *img = d->image;
  *size = d->size;
  d->image = NULL;
  oj_elf_debug_free(d);
  return img;
}

void oj_elf_debug_free(oj_elf_debug *d) {
  free(d->image);
  free(d->sec);
  free(d->byoff);
  memset(d, 0, sizeof *d);
}
