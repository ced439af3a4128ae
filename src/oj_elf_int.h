/*
** oj_elf_int.h: what the files of the ELF pre-pass share (oj_elf.c,
** oj_elf_read.c, oj_elf_sym.c, oj_elf_reloc.c, oj_ehframe.c,
** oj_elf_initfini.c, oj_elf_tls.c, oj_elf_image.c): the context filled in
** while validating one input, and the functions one step calls in another.
** Not used outside the pre-pass.
*/
#ifndef OJ_ELF_INT_H
#define OJ_ELF_INT_H

#include <elf.h>
#include <malloc.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oj_arch.h"
#include "oj_elf.h"
#include "oj_error.h"
#include "tvm_ffi_orcjit/orcjit.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the ELF pre-pass reads little-endian ELF structures directly"
#endif

#ifndef SHT_CREL
#define SHT_CREL 0x40000014u /* LLVM compact relocations */
#endif

#define OJ_ELF_CORRUPT "truncated or corrupt ELF: "
/* oj_elf_ctx.flags, set by oj_elf_read_names: a loaded and an unloaded
** section share a name (the merge then checks JITLink's first-of-a-name
** rule on its output; without such a pair no merge can break it). */
#define OJ_ELF_MIXED_NAMES 0x100u
#define OJ_ELF_NOPRIO 65536u /* plain sections: after every numbered one, as ld puts them */

/* A global symbol of the input, before deduplication. */
typedef struct oj_elf_cand {
  const char *s; /* the name, inside the input's string table */
  size_t len;
  uint32_t hash;
  unsigned flags;
} oj_elf_cand;

/* Everything learnt about the input while validating it. */
typedef struct oj_elf_ctx {
  const oj_arch *arch; /* the machine (oj_arch.h) */
  const unsigned char *data;
  size_t size;
  unsigned char *owned; /* data, malloc'd and ours (oj_elf_prepare_owned) */
  const char *what;
  const char *tag;
  unsigned flags;     /* OJ_ELF_* of oj_elf_prepare, and OJ_ELF_MIXED_NAMES */
  Elf64_Ehdr eh;
  Elf64_Shdr *sh;     /* copy of the section headers, shnum entries */
  uint32_t shnum;
  int names_ok;       /* section names have been validated */
  const char *shstr;  /* section name table or NULL */
  uint64_t shstrsize;
  uint64_t shstrend;  /* names at offsets < shstrend are NUL-terminated */
  uint32_t symtab;    /* index of the SHT_SYMTAB section, 0 if none */
  uint32_t strtab;    /* its string table */
  uint32_t shndx;     /* its SHT_SYMTAB_SHNDX section, 0 if none */
  uint64_t nsyms;
  const char *str;
  uint64_t strsize;
  uint64_t strend;
  oj_elf_cand *cand;  /* defined at [0, ndef), undefined at the end */
  size_t ndef, nund;
  uint32_t anchor;    /* section of the anchor marker, 0 if none */
  uint64_t need;      /* bytes of JIT memory the loaded sections ask for */
  uint64_t *tlsvoff;  /* per section: offset in the TLS block, or
                         OJ_ELF_NOTLS; NULL if the object has no TLS */
  uint32_t *tlssec;   /* section of each out->tls entry */
  uint32_t tlsrel;    /* a relocation section that patches a TLS section
                         (.rela.tdata), 0 if none */
  uint32_t *tpoffsym; /* undefined symbols reached with initial-exec code,
                         each once: each gets "__orcjit.tpoff.<name>" */
  size_t ntpoffsym, captpoffsym;
  struct oj_elf_rel *rel; /* relocations later steps act on (TLS ones,
                             rewritten ones), in file order */
  size_t nrel, caprel;
  struct oj_elf_rel *tgt; /* relocations of .eh_frame and init/fini
                             tables, by (section, offset) */
  size_t ntgt, captgt;
} oj_elf_ctx;

#define OJ_ELF_NOTLS UINT64_MAX

/* JIT memory comes in 1 MiB chunks (src/oj_vmem.c): the most it gives one
** object is the machine's jit_max (oj_arch.h), the largest alignment one
** chunk. */
#define OJ_ELF_ALIGN_MAX ((uint64_t)1 << 20)
/* The largest TLS block accepted: every thread gets a copy. */
#define OJ_ELF_TLS_MAX ((uint64_t)1 << 30)

/* A short printable description ("section 5 (.text)"), by value so that it
** can be used inside an argument list. */
typedef struct oj_elf_desc {
  char s[128];
} oj_elf_desc;

/* One relocation, classified once by oj_elf_reloc_check. */
typedef struct oj_elf_rel {
  uint64_t off;
  uint32_t type, sym;
  int64_t addend;
  uint64_t idx;  /* its index in its relocation section */
  uint32_t rsec; /* that section */
  uint32_t tsec; /* the section it patches */
  const oj_arch_reloc *d; /* what its type means (never NULL) */
} oj_elf_rel;

/* ---- oj_elf.c: helpers of every step --------------------------------- */

/* Records "<what>: <message>" (oj_error_set) and returns status. */
int oj_elf_fail(const oj_elf_ctx *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int oj_elf_nomem(const oj_elf_ctx *c);
/* True if [off, off+len) lies inside a buffer of size bytes. */
int oj_elf_inside(uint64_t off, uint64_t len, uint64_t size);
/* Offset one past the last NUL of p[0..n), 0 if there is none: a string
** starting at an offset below it is terminated inside the table. */
uint64_t oj_elf_strend(const char *p, uint64_t n);
/* The name of section i, "" before names are validated or if it has none.
** Inline, like the test below: the steps ask for names hundreds of times
** per C++ object. */
static inline const char *oj_elf_secname(const oj_elf_ctx *c, uint32_t i) {
  if (!c->names_ok || !c->shstr || i == 0 || i >= c->shnum) return "";
  return c->shstr + c->sh[i].sh_name;
}
/* 1 if section i is named .eh_frame (the first bytes first: strcmp on
** every section name was most of the cost of the test). */
static inline int oj_elf_is_eh_frame(const oj_elf_ctx *c, uint32_t i) {
  const char *n = oj_elf_secname(c, i);
  return n[0] == '.' && n[1] == 'e' && n[2] == 'h' && strcmp(n, ".eh_frame") == 0;
}
/* "section 5 (.text)" and "symbol 7 (foo)", printable. */
oj_elf_desc oj_elf_sec(const oj_elf_ctx *c, uint32_t i);
oj_elf_desc oj_elf_symdesc(const oj_elf_ctx *c, uint64_t i, uint32_t st_name);
/* Length of the marker name of section sec (0: the anchor's). */
size_t oj_elf_marker_len(const char *tag, uint32_t sec);

/* ---- oj_elf_read.c ----------------------------------------------------- */

int oj_elf_read_header(oj_elf_ctx *c);
int oj_elf_read_sections(oj_elf_ctx *c);
int oj_elf_read_names(oj_elf_ctx *c);
int oj_elf_read_symtab(oj_elf_ctx *c);
int oj_elf_read_overlaps(const oj_elf_ctx *c);

/* ---- oj_elf_sym.c ------------------------------------------------------ */

/* Symbol i of the validated symbol table, with SHN_XINDEX resolved. */
void oj_elf_sym_at(const oj_elf_ctx *c, uint64_t i, Elf64_Sym *sym, uint32_t *sec);
/* 1 if sym, defined in section sec, is code of this object. */
int oj_elf_sym_is_code(const oj_elf_ctx *c, const Elf64_Sym *sym, uint32_t sec);
int oj_elf_sym_check(oj_elf_ctx *c);
int oj_elf_sym_lists(oj_elf_ctx *c, oj_elf_object *out);

/* ---- oj_elf_reloc.c ---------------------------------------------------- */

/* Checks every relocation table and entry, classifying each relocation
** once through the machine's table; fills c->rel and c->tgt. */
int oj_elf_reloc_check(oj_elf_ctx *c, oj_elf_object *out);
/* The relocations (those of class NONE left out) that patch section i, an
** .eh_frame or init/fini table, sorted by offset: *nout of them from the
** returned pointer (inside c->tgt, nothing to free). */
const oj_elf_rel *oj_elf_reloc_of(const oj_elf_ctx *c, uint32_t i, size_t *nout);

/* ---- oj_ehframe.c ------------------------------------------------------ */

/* Checks the .eh_frame section i. */
int oj_ehframe_check(const oj_elf_ctx *c, uint32_t i);

/* ---- oj_elf_initfini.c ------------------------------------------------- */

/* 1 and its kind and priority if section i is an init/fini table. */
int oj_elf_initfini_is(const oj_elf_ctx *c, uint32_t i, int *kind, uint32_t *prio);
/* The first init/fini section after section `after`, 0 if none. */
uint32_t oj_elf_initfini_next(const oj_elf_ctx *c, uint32_t after);
int oj_elf_initfini_check(const oj_elf_ctx *c);
int oj_elf_initfini_markers(oj_elf_ctx *c, oj_elf_object *out);

/* ---- oj_elf_tls.c ------------------------------------------------------ */

int oj_elf_tls_layout(oj_elf_ctx *c, oj_elf_object *out);
int oj_elf_tls_check(oj_elf_ctx *c, oj_elf_object *out);
int oj_elf_tls_dtpoff(const oj_elf_ctx *c, uint32_t rsec, uint64_t k, uint64_t symi,
                      int64_t addend, int64_t *value);
/* Puts v into a TLS_DTPREL relocation's field (OJ_F_*) at `at`, or with
** at NULL only checks that it fits; 0 if it does not fit. */
int oj_elf_tls_field(const oj_elf_ctx *c, unsigned field, unsigned char *at, int64_t v);

/* ---- oj_elf_image.c ---------------------------------------------------- */

int oj_elf_image_make(oj_elf_ctx *c, oj_elf_object *out);
/* realloc(p, need), except where p's block already holds need bytes: it is
** kept as it is (glibc's realloc would give its end back, or remap a large
** block, and the next growth would copy or fault it in again). */
static inline void *oj_elf_grow(void *p, size_t need) {
  if (p && malloc_usable_size(p) >= need) return p;
  return realloc(p, need);
}

/* oj_elf_merge.c: the image's allocated sections merged, one per kind,
** and the relocations that became internal to its code resolved (the last
** step; skipped where it cannot be done).  Always ORCJIT_OK. */
int oj_elf_merge(const oj_arch *arch, unsigned flags, oj_elf_object *out);
/* The most bytes oj_elf_merge can append to an image with these section
** headers: oj_elf_image_make allocates them with the image, so that the
** merge's realloc never moves it. */
uint64_t oj_elf_merge_room(const Elf64_Shdr *sh, uint64_t shnum);

#endif /* OJ_ELF_INT_H */
