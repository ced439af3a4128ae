/*
** oj_library_int.h: what the files of a library's life share, and nothing
** else includes:
**   oj_library.c    create, free, link order, lookups, the thin entry points
**   oj_add.c        linking objects (units) into a library; the add calls
**   oj_settle.c     one definition per name: duplicates, weak definitions
**   oj_members.c    archive members and deferred objects that wait
**   oj_orclookup.c  the synchronous ORC lookup and the wording of its errors
** The structures themselves (orcjit_library, oj_pending) are in
** oj_internal.h.
*/
#ifndef OJ_LIBRARY_INT_H
#define OJ_LIBRARY_INT_H

#include "oj_internal.h"

/* One object of a batch: archive members pulled in by an object are linked
** together with it, so that they may refer to each other. */
typedef struct oj_unit {
  oj_elf_object obj;
  char *what;
  LLVMOrcResourceTrackerRef rt;
} oj_unit;

/* One input, read. */
typedef struct oj_loaded {
  const void *data;
  size_t size;
  unsigned char *buf; /* what to free, or NULL */
  char *name;
} oj_loaded;

/* oj_library.c */
int oj_library_check(const orcjit_library *lib, const char *fn);
int oj_library_nomem(const orcjit_library *lib);

/* oj_add.c */
void oj_add_units_free(oj_unit *u, size_t n);
void oj_add_tag(const orcjit_library *lib, size_t k, char tag[48]);
/* The oj_elf_prepare flags of lib's objects: DWARF kept for debugger sessions. */
static inline unsigned oj_add_elf_flags(const orcjit_library *lib) {
  return (lib->session->flags & ORCJIT_SESSION_DEBUGGER) ? OJ_ELF_KEEP_DEBUG : 0u;
}
int oj_add_load_inputs(orcjit_library *lib, const orcjit_input *inputs, size_t n,
                       oj_loaded *in);
void oj_add_loaded_free(oj_loaded *in, size_t n);
int oj_add_exclusive(orcjit_library *lib, const char *fn, const orcjit_input *inputs,
                     size_t n, int (*body)(orcjit_library *, const orcjit_input *, size_t));
int oj_add_link_units(orcjit_library *lib, oj_unit *units, size_t n);
int oj_add_link_object(orcjit_library *lib, oj_elf_object *obj, const char *what);
int oj_add_batch(orcjit_library *lib, const orcjit_input *inputs, size_t n);

/* oj_settle.c */
int oj_settle_check_library(orcjit_library *lib, const oj_elf_object *obj, const char *what,
                            int *imports_shadowed);
int oj_settle_check_units(orcjit_library *lib, const oj_unit *units, size_t n);
int oj_settle_weak(orcjit_library *lib, oj_unit *units, size_t n);

/* oj_members.c */
void oj_members_gen_bump(void);
int oj_members_links(orcjit_library *lib);
size_t oj_members_ndeferred(orcjit_library *lib);
int oj_members_select(orcjit_library *lib, oj_unit **units, size_t *nunits, size_t *cap);
int oj_members_put_first(orcjit_library *lib, oj_unit *units, size_t nu, size_t nobj);
void oj_members_untake(orcjit_library *lib, oj_unit *units, size_t n);
void oj_members_forget(orcjit_library *lib, size_t from);
int oj_members_pull(orcjit_library *lib, const char *name);
int oj_members_flush(orcjit_library *lib, int force);
int oj_members_add_archive(orcjit_library *lib, const void *data, size_t size,
                           const char *what);
int oj_members_defer_batch(orcjit_library *lib, const orcjit_input *inputs, size_t n);

/* oj_orclookup.c */
LLVMErrorRef oj_orclookup_run(orcjit_library *lib, const char *const *names,
                              const unsigned char *required, size_t n, uint64_t *addrs);
int oj_orclookup_link_error(orcjit_library *lib, const char *what, LLVMErrorRef err);
int oj_orclookup_unit_misses(const oj_unit *u, const char *missing);
int oj_orclookup_unresolved(orcjit_library *lib, const oj_unit *units, size_t n);

#endif
