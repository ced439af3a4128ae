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
** sharing the context of oj_elf_int.h.
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

const char *oj_elf_secname(const oj_elf_ctx *c, uint32_t i) {
  if (!c->names_ok || !c->shstr || i == 0 || i >= c->shnum) return "";
  return c->shstr + c->sh[i].sh_name;
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
    if (strcmp(oj_elf_secname(&c, i), ".eh_frame") == 0) rc = oj_ehframe_check(&c, i);
  if (rc == ORCJIT_OK) rc = oj_elf_initfini_markers(&c, out);
  if (rc == ORCJIT_OK) rc = oj_elf_initfini_check(&c);
  if (rc == ORCJIT_OK) rc = oj_elf_tls_layout(&c, out);
  if (rc == ORCJIT_OK) rc = oj_elf_tls_check(&c, out);
  if (rc == ORCJIT_OK) rc = oj_elf_sym_lists(&c, out);
  /* Last of the checks (each earlier one still meets the inputs it was
  ** written for), but before anything is edited. */
  if (rc == ORCJIT_OK) rc = oj_elf_read_overlaps(&c);
  if (rc == ORCJIT_OK) rc = oj_elf_image_make(&c, out);
  free(c.cand);
  free(c.sh);
  free(c.tlsvoff);
  free(c.tlssec);
  free(c.tpoffsym);
  free(c.rel);
  free(c.tgt);
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
  free(obj->tls_init);
  free(obj->tls_patch);
  memset(obj, 0, sizeof *obj);
}
