/*
** oj_settle.c: one definition per name in a library, decided before ORC
** sees an object: a strong definition that the library, a waiting
** deferred object or another object of the same batch already has is
** refused, naming both objects; weak definitions are settled as a static
** linker settles them (oj_settle_weak).  It links nothing (oj_add.c) and
** does not drop the imports an object shadows (oj_add.c does, when told).
*/
#include <stdlib.h>

#include "oj_library_int.h"

/* The one wording of a duplicate strong definition. */
static int oj_dup_error(const orcjit_library *lib, const char *name, const char *first,
                        const char *second) {
  return oj_error_set(ORCJIT_EDUPLICATE,
                      "library '%s': duplicate symbol '%s': defined in '%s' and in '%s'",
                      lib->name, name, first, second);
}

/* Step 2: duplicates.  Returns ORCJIT_OK, or EDUPLICATE with the message.
** *imports_shadowed is set when the object defines a name the library
** had imported from elsewhere (those imports must then be dropped). */
int oj_settle_check_library(orcjit_library *lib, const oj_elf_object *obj, const char *what,
                            int *imports_shadowed) {
  *imports_shadowed = 0;
  int rc = ORCJIT_OK;
  pthread_mutex_lock(&lib->lock);
  for (size_t i = 0; i < obj->ndefined && rc == ORCJIT_OK; i++) {
    const oj_elf_sym *d = &obj->defined[i];
    oj_symtab_entry *e = oj_symtab_find(&lib->syms, d->name);
    if (!e && !(d->flags & OJ_ELF_SYM_WEAK) && lib->ndeferred) {
      /* A deferred object, still waiting, defines it strong too. */
      const oj_symtab_entry *w = oj_symtab_find(&lib->deferred_index, d->name);
      if (w && !(w->flags & OJ_SYM_WEAK) && !lib->pending[w->object].taken)
        rc = oj_dup_error(lib, d->name, lib->pending[w->object].what, what);
      continue;
    }
    if (!e) continue;
    if (e->flags & OJ_SYM_IMPORTED) {
      if (!(d->flags & OJ_ELF_SYM_WEAK)) *imports_shadowed = 1;
      continue;
    }
    if (d->flags & OJ_ELF_SYM_WEAK) continue; /* loses (oj_settle_weak) */
    const char *had = e->object < lib->nobjects ? lib->objects[e->object] : "?";
    if (e->flags & OJ_SYM_WEAK)
      /* Linked code already calls the weak definition: it cannot be rebound. */
      rc = oj_error_set(ORCJIT_EDUPLICATE,
                        "library '%s': symbol '%s' is already linked from a weak definition "
                        "in '%s', and '%s' defines it strong; code already linked cannot be "
                        "rebound: add '%s' before '%s', or both in the same call",
                        lib->name, d->name, had, what, what, had);
    else
      rc = oj_dup_error(lib, d->name, had, what);
  }
  pthread_mutex_unlock(&lib->lock);
  return rc;
}

/* Duplicates among the units of one batch (orcjit_library_add_many, or
** an object with the archive members it pulls), in oj_dup_error's words
** before LLVM would word them its own way. */
int oj_settle_check_units(orcjit_library *lib, const oj_unit *units, size_t n) {
  if (n < 2) return ORCJIT_OK;
  oj_symtab seen = {0};
  int rc = ORCJIT_OK;
  for (size_t i = 0; i < n && rc == ORCJIT_OK; i++) {
    const oj_elf_object *o = &units[i].obj;
    for (size_t j = 0; j < o->ndefined && rc == ORCJIT_OK; j++) {
      if (o->defined[j].flags & OJ_ELF_SYM_WEAK) continue;
      int created;
      oj_symtab_entry *e = oj_symtab_insert(&seen, o->defined[j].name, &created);
      if (!e)
        rc = oj_library_nomem(lib);
      else if (created)
        e->object = (uint32_t)i;
      else
        rc = oj_dup_error(lib, o->defined[j].name, units[e->object].what, units[i].what);
    }
  }
  oj_symtab_free(&seen);
  return rc;
}

/* Weak definitions, resolved as a static linker does before ORC sees
** them: in a batch, a strong definition beats every weak one of its name,
** and of weak ones only the first (in unit order) stays, as with COMDAT;
** a definition the library already has beats all of them.  The losers
** become undefined references in their images (oj_elf_undefine), so each
** name has one definition.  (Two definitions handed to ORC in one link,
** a weak one first, made JITDylib removal crash at release.) */
typedef struct oj_weak_ctx {
  const orcjit_library *lib;
  const oj_symtab *best; /* name -> winning unit (object), or NULL */
  uint32_t unit;         /* the unit asked about */
} oj_weak_ctx;

static int oj_weak_loses(const char *name, void *p) {
  const oj_weak_ctx *c = p;
  const oj_symtab_entry *e = oj_symtab_find(&c->lib->syms, name);
  if (e && !(e->flags & OJ_SYM_IMPORTED)) return 1;
  e = c->best ? oj_symtab_find(c->best, name) : NULL;
  return e && e->object != c->unit;
}

int oj_settle_weak(orcjit_library *lib, oj_unit *units, size_t n) {
  oj_symtab best = {0};
  int rc = ORCJIT_OK;
  for (size_t i = 0; i < n && n > 1 && rc == ORCJIT_OK; i++) {
    const oj_elf_object *o = &units[i].obj;
    for (size_t j = 0; j < o->ndefined; j++) {
      int created, weak = (o->defined[j].flags & OJ_ELF_SYM_WEAK) != 0;
      oj_symtab_entry *e = oj_symtab_insert(&best, o->defined[j].name, &created);
      if (!e) {
        rc = oj_library_nomem(lib);
        break;
      }
      if (created || ((e->flags & OJ_SYM_WEAK) && !weak)) {
        e->object = (uint32_t)i;
        e->flags = weak ? OJ_SYM_WEAK : 0;
      }
    }
  }
  pthread_mutex_lock(&lib->lock);
  for (size_t i = 0; i < n && rc == ORCJIT_OK; i++) {
    oj_weak_ctx c = {lib, n > 1 ? &best : NULL, (uint32_t)i};
    rc = oj_elf_undefine(&units[i].obj, oj_weak_loses, &c);
    if (rc != ORCJIT_OK) oj_error_prefix("library '%s': %s", lib->name, units[i].what);
  }
  pthread_mutex_unlock(&lib->lock);
  oj_symtab_free(&best);
  return rc;
}

