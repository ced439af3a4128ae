/*
** oj_elf.c: the ELF pre-pass (interface and rationale in oj_elf.h): its
** steps in order (oj_elf_prepare), recognising input bytes, and the
** helpers every step uses (failure messages naming the file, section and
** symbol descriptions, bounds, marker names).
**
** The pre-pass validates an ELF relocatable object of the host's machine
** (its table: oj_arch_<machine>.c, see oj_arch.h) completely:
** every header, section, symbol, name and relocation is bounds-checked
** with overflow-safe arithmetic before anything else looks at it.  Its
** steps live in:
**   oj_elf_read.c      ELF header, sections, names, symbol table discovery
**   oj_elf_sym.c       symbols, the lists of defined/undefined globals
**   oj_elf_reloc.c     relocation tables and entries
**   oj_ehframe.c       .eh_frame records
**   oj_elf_initfini.c  init/fini tables, the anchor, marker names
**   oj_elf_tls.c       the TLS block layout, thread-local relocations
**   oj_elf_image.c     the rewritten image handed to JITLink
**   oj_elf_merge.c     its allocated sections merged, one per kind
** sharing the context of oj_elf_int.h.  Edits of a prepared image at link
** time live here too: weak definitions that lose (oj_elf_undefine) and a
** library's __dso_handle defined at an object's anchor (oj_elf_define_dso).
**
** ELF structures are copied out of the input with memcpy, so unaligned
** offsets in corrupt files are harmless.  No global state.
*/
#include <elf.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oj_elf_int.h"

int oj_elf_fail(const oj_elf_ctx *c, int status, const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return oj_error_set(status, "%s: %s", c->what, buf);
}

int oj_elf_nomem(const oj_elf_ctx *c) {
  return oj_elf_fail(c, ORCJIT_ENOMEM, "out of memory while preparing the "
                                       "object");
}

/* True if [off, off+len) lies inside a buffer of size bytes. */
int oj_elf_inside(uint64_t off, uint64_t len, uint64_t size) {
  return off <= size && len <= size - off;
}

/* Offset one past the last NUL of p[0..n), 0 if there is none: a string
** starting at an offset below it is terminated inside the table. */
uint64_t oj_elf_strend(const char *p, uint64_t n) {
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

oj_elf_desc oj_elf_sec(const oj_elf_ctx *c, uint32_t i) {
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

oj_elf_desc oj_elf_symdesc(const oj_elf_ctx *c, uint64_t i,
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

size_t oj_elf_marker_len(const char *tag, uint32_t sec) {
  int n = sec ? snprintf(NULL, 0, OJ_ELF_MARKER_PREFIX "%s.%u", tag, (unsigned)sec)
              : snprintf(NULL, 0, OJ_ELF_MARKER_PREFIX "%s.anchor", tag);
  return n < 0 ? 0 : (size_t)n;
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

/* cp->owned is taken (set to NULL) only by a successful oj_elf_image_make,
** after the early returns. */
static int oj_elf_prepare_ctx(oj_elf_ctx *cp, const void *data, size_t size,
                              const char *what, const char *tag, unsigned flags,
                              oj_elf_object *out) {
  oj_elf_ctx c = *cp;
  int rc;
  memset(out, 0, sizeof *out);
  c.data = data;
  c.size = size;
  c.what = what ? what : "<memory>";
  c.tag = tag ? tag : "";
  c.flags = flags;
  c.arch = oj_arch_host();
  if (size == 0) return oj_elf_fail(&c, ORCJIT_EFORMAT, "empty file");
  if (!data) return oj_elf_fail(&c, ORCJIT_EINVAL, "no data");
  rc = oj_elf_read_header(&c);
  if (rc == ORCJIT_OK) rc = oj_elf_read_sections(&c);
  if (rc == ORCJIT_OK) rc = oj_elf_read_names(&c);
  if (rc == ORCJIT_OK) rc = oj_elf_read_symtab(&c);
  if (rc == ORCJIT_OK) rc = oj_elf_sym_check(&c);
  if (rc == ORCJIT_OK) rc = oj_elf_reloc_check(&c, out);
  for (uint32_t i = 1; rc == ORCJIT_OK && i < c.shnum; i++)
    if (oj_elf_is_eh_frame(&c, i)) rc = oj_ehframe_check(&c, i);
  if (rc == ORCJIT_OK) rc = oj_elf_initfini_markers(&c, out);
  if (rc == ORCJIT_OK) rc = oj_elf_initfini_check(&c);
  if (rc == ORCJIT_OK) rc = oj_elf_tls_layout(&c, out);
  if (rc == ORCJIT_OK) rc = oj_elf_tls_check(&c, out);
  if (rc == ORCJIT_OK) rc = oj_elf_sym_lists(&c, out);
  /* Last of the checks (each earlier one still meets the inputs it was
  ** written for), but before anything is edited. */
  if (rc == ORCJIT_OK) rc = oj_elf_read_overlaps(&c);
  if (rc == ORCJIT_OK) rc = oj_elf_image_make(&c, out);
  if (rc == ORCJIT_OK) rc = oj_elf_merge(c.arch, c.flags, out);
  free(c.cand);
  free(c.sh);
  free(c.tlsvoff);
  free(c.tlssec);
  free(c.tpoffsym);
  free(c.rel);
  free(c.tgt);
  cp->owned = c.owned;
  if (rc != ORCJIT_OK) oj_elf_object_free(out);
  return rc;
}

int oj_elf_prepare(const void *data, size_t size, const char *what,
                   const char *tag, unsigned flags, oj_elf_object *out) {
  oj_elf_ctx c;
  memset(&c, 0, sizeof c);
  return oj_elf_prepare_ctx(&c, data, size, what, tag, flags, out);
}

int oj_elf_prepare_owned(unsigned char *data, size_t size, const char *what,
                         const char *tag, unsigned flags, oj_elf_object *out) {
  oj_elf_ctx c;
  memset(&c, 0, sizeof c);
  c.owned = data;
  int rc = oj_elf_prepare_ctx(&c, data, size, what, tag, flags, out);
  free(c.owned); /* NULL if it became the image */
  return rc;
}

/* The image's symbol table (an image this file made: its headers are
** sound); 0 if it has none. */
static int oj_elf_image_symtab(const oj_elf_object *obj, Elf64_Shdr *sym, Elf64_Shdr *str) {
  Elf64_Ehdr eh;
  Elf64_Shdr s;
  uint64_t shnum, i;
  if (obj->image_size < sizeof eh) return 0;
  memcpy(&eh, obj->image, sizeof eh);
  shnum = eh.e_shnum;
  if (eh.e_shoff > obj->image_size || eh.e_shoff + sizeof s > obj->image_size) return 0;
  if (shnum == 0) {
    memcpy(&s, obj->image + eh.e_shoff, sizeof s);
    shnum = s.sh_size;
  }
  if (shnum > (obj->image_size - eh.e_shoff) / sizeof s) return 0;
  for (i = 1; i < shnum; i++) {
    memcpy(&s, obj->image + eh.e_shoff + i * sizeof s, sizeof s);
    if (s.sh_type != SHT_SYMTAB) continue;
    if (s.sh_link >= shnum) return 0;
    *sym = s;
    memcpy(str, obj->image + eh.e_shoff + (uint64_t)s.sh_link * sizeof s, sizeof s);
    return oj_elf_inside(sym->sh_offset, sym->sh_size, obj->image_size) &&
           oj_elf_inside(str->sh_offset, str->sh_size, obj->image_size);
  }
  return 0;
}

static int oj_elf_loses(const oj_elf_object *obj, size_t i,
                        int (*lose)(const char *name, void *ctx), void *ctx) {
  return (obj->defined[i].flags & OJ_ELF_SYM_WEAK) && lose(obj->defined[i].name, ctx);
}

int oj_elf_undefine(oj_elf_object *obj, int (*lose)(const char *name, void *ctx),
                    void *ctx) {
  size_t i, k, nlose = 0, total = 0;
  oj_elf_sym *und;
  char *pool;
  Elf64_Shdr symsh, strsh;
  for (i = 0; i < obj->ndefined; i++)
    if (oj_elf_loses(obj, i, lose, ctx)) nlose++;
  if (nlose == 0) return ORCJIT_OK;
  for (i = 0; i < obj->nundefined; i++) total += strlen(obj->undefined[i].name) + 1;
  for (i = 0; i < obj->ndefined; i++)
    if (oj_elf_loses(obj, i, lose, ctx)) total += strlen(obj->defined[i].name) + 1;
  und = malloc((obj->nundefined + nlose) * sizeof *und + total);
  if (!und) return oj_error_set(ORCJIT_ENOMEM, "out of memory while linking weak symbols");
  /* The lists: the undefined names (old, then the losers) in one block,
  ** as oj_elf_make_list makes them; the losers leave `defined`. */
  pool = (char *)(und + obj->nundefined + nlose);
  for (i = 0; i < obj->nundefined; i++) {
    size_t len = strlen(obj->undefined[i].name) + 1;
    memcpy(pool, obj->undefined[i].name, len);
    und[i].name = pool;
    und[i].flags = obj->undefined[i].flags;
    pool += len;
  }
  for (i = 0, k = 0; i < obj->ndefined; i++) {
    if (!oj_elf_loses(obj, i, lose, ctx)) {
      obj->defined[k++] = obj->defined[i];
      continue;
    }
    size_t len = strlen(obj->defined[i].name) + 1, u = obj->nundefined++;
    memcpy(pool, obj->defined[i].name, len);
    und[u].name = pool;
    und[u].flags = obj->defined[i].flags & ~(unsigned)OJ_ELF_SYM_WEAK;
    pool += len;
  }
  obj->ndefined = k;
  free(obj->undefined);
  obj->undefined = und;
  /* The image: each such global definition becomes an undefined reference. */
  if (oj_elf_image_symtab(obj, &symsh, &strsh)) {
    uint64_t n = symsh.sh_size / sizeof(Elf64_Sym), j;
    const char *str = (const char *)obj->image + strsh.sh_offset;
    uint64_t strend = oj_elf_strend(str, strsh.sh_size);
    for (j = symsh.sh_info; j < n; j++) {
      unsigned char *p = obj->image + symsh.sh_offset + j * sizeof(Elf64_Sym);
      Elf64_Sym sym;
      memcpy(&sym, p, sizeof sym);
      if (sym.st_shndx == SHN_UNDEF || sym.st_name >= strend) continue;
      if (ELF64_ST_BIND(sym.st_info) != STB_WEAK) continue;
      if (!lose(str + sym.st_name, ctx)) continue;
      sym.st_info = ELF64_ST_INFO(STB_GLOBAL, ELF64_ST_TYPE(sym.st_info));
      sym.st_shndx = SHN_UNDEF;
      sym.st_value = 0;
      sym.st_size = 0;
      memcpy(p, &sym, sizeof sym);
    }
  }
  return ORCJIT_OK;
}

int oj_elf_define_dso(oj_elf_object *obj) {
  Elf64_Shdr symsh, strsh;
  if (!obj->anchor || !oj_elf_image_symtab(obj, &symsh, &strsh)) return 0;
  uint64_t n = symsh.sh_size / sizeof(Elf64_Sym), j, dso = 0, anchor = 0;
  const char *str = (const char *)obj->image + strsh.sh_offset;
  uint64_t strend = oj_elf_strend(str, strsh.sh_size);
  Elf64_Sym sym, at = {0};
  for (j = symsh.sh_info; j < n && (!dso || !anchor); j++) {
    memcpy(&sym, obj->image + symsh.sh_offset + j * sizeof sym, sizeof sym);
    if (sym.st_name >= strend) continue;
    const char *name = str + sym.st_name;
    if (sym.st_shndx == SHN_UNDEF && strcmp(name, "__dso_handle") == 0) dso = j;
    else if (sym.st_shndx != SHN_UNDEF && strcmp(name, obj->anchor) == 0) anchor = j, at = sym;
  }
  if (!dso || !anchor || at.st_shndx >= SHN_LORESERVE) return 0;
  /* Not in a thread-local section (the anchor's last resort): there an
  ** address is an offset in each thread's block. */
  Elf64_Ehdr eh;
  Elf64_Shdr sec;
  uint64_t secoff;
  memcpy(&eh, obj->image, sizeof eh);
  secoff = eh.e_shoff + (uint64_t)at.st_shndx * sizeof sec;
  if (secoff > obj->image_size || obj->image_size - secoff < sizeof sec) return 0;
  memcpy(&sec, obj->image + secoff, sizeof sec);
  if (sec.sh_flags & SHF_TLS) return 0;
  unsigned char *p = obj->image + symsh.sh_offset + dso * sizeof sym;
  memcpy(&sym, p, sizeof sym);
  sym.st_info = ELF64_ST_INFO(STB_GLOBAL, STT_NOTYPE);
  sym.st_other = STV_HIDDEN;
  sym.st_shndx = at.st_shndx;
  sym.st_value = at.st_value;
  sym.st_size = 0;
  memcpy(p, &sym, sizeof sym);
  return 1;
}

void oj_elf_object_free(oj_elf_object *obj) {
  if (!obj) return;
  free(obj->image);
  free(obj->defined);
  free(obj->undefined);
  free(obj->initfini);
  free(obj->anchor);
  free(obj->tls);
  free(obj->tls_init);
  free(obj->tls_patch);
  memset(obj, 0, sizeof *obj);
}
