/*
** oj_members.c: objects that wait in a library until something needs
** them (lib->pending): archive members, linked when an object of the
** library, of one linking against it, or a lookup needs a name one
** defines (select, pull, pull_linked); and deferred objects
** (orcjit_library_add_deferred), checked at add and linked as one batch at
** the library's next lookup (flush).  A failed batch gives back what it
** took (untake); a failed add forgets what it registered (forget).  The
** linking itself is oj_add.c's.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oj_archive.h"
#include "oj_library_int.h"
#include "oj_tar.h"

/* Bumped whenever symbols may have appeared (an add, a link order set): a
** deferred object that failed to link is tried again only after that. */
static _Atomic uint64_t oj_members_gen = 1;

void oj_members_gen_bump(void) { atomic_fetch_add(&oj_members_gen, 1); }

size_t oj_members_ndeferred(orcjit_library *lib) {
  pthread_mutex_lock(&lib->lock);
  size_t n = lib->ndeferred;
  pthread_mutex_unlock(&lib->lock);
  return n;
}

/* ---- archives: members wait until something needs them ----------------- */

/* Whether lib has a link order (read under its lock: set_link_order may
** run on another thread). */
int oj_members_links(orcjit_library *lib) {
  pthread_mutex_lock(&lib->lock);
  int n = lib->nlink != 0;
  pthread_mutex_unlock(&lib->lock);
  return n;
}

static int oj_members_pull_linked(orcjit_library *lib, const char *name);

/* Adds to *units the pending archive members of lib that define a name
** some unit needs and nothing defines yet, until closure.  Members of
** libraries in the link order are linked into those libraries first
** (oj_members_pull_linked). */
int oj_members_select(orcjit_library *lib, oj_unit **units, size_t *nunits, size_t *cap) {
  for (size_t k = 0; k < *nunits; k++) {
    for (size_t i = 0; i < (*units)[k].obj.nundefined; i++) {
      const char *name = (*units)[k].obj.undefined[i].name;
      pthread_mutex_lock(&lib->lock);
      oj_symtab_entry *def = oj_symtab_find(&lib->syms, name);
      int have = def && !(def->flags & OJ_SYM_IMPORTED);
      oj_symtab_entry *pe = have ? NULL : oj_symtab_find(&lib->pending_index, name);
      size_t m = pe ? pe->object : SIZE_MAX;
      int take = pe && !lib->pending[m].taken;
      if (take) lib->pending[m].taken = 1;
      size_t nlink = lib->nlink;
      pthread_mutex_unlock(&lib->lock);
      for (size_t u = 0; u < *nunits && !take && !have && !pe; u++)
        for (size_t d = 0; d < (*units)[u].obj.ndefined; d++)
          if (strcmp((*units)[u].obj.defined[d].name, name) == 0) have = 1;
      if (have || pe) {
        if (!take) continue;
      } else {
        int rc = nlink ? oj_members_pull_linked(lib, name) : ORCJIT_OK;
        if (rc != ORCJIT_OK) return rc;
        continue;
      }
      if (oj_grow((void **)units, cap, *nunits + 1, sizeof **units))
        return oj_library_nomem(lib);
      oj_unit *nu = &(*units)[*nunits];
      memset(nu, 0, sizeof *nu);
      char tag[48];
      oj_add_tag(lib, *nunits, tag);
      const oj_pending *pm = &lib->pending[m];
      int rc = oj_elf_prepare(pm->bytes, pm->size, pm->what, tag, oj_add_elf_flags(lib), &nu->obj);
      if (rc == ORCJIT_OK && !(nu->what = strdup(pm->what))) {
        oj_elf_object_free(&nu->obj);
        rc = oj_library_nomem(lib);
      }
      if (rc != ORCJIT_OK) {
        oj_error_prefix("library '%s'", lib->name);
        return rc;
      }
      (*nunits)++;
    }
  }
  return ORCJIT_OK;
}


/* Moves units[0..nobj) (the objects of a batch) after the members they
** pulled, units[nobj..nu): members are linked and constructed before the
** objects needing them, as in a static link. */
int oj_members_put_first(orcjit_library *lib, oj_unit *units, size_t nu, size_t nobj) {
  oj_unit *tmp = malloc(nobj * sizeof *tmp);
  if (!tmp) return oj_library_nomem(lib);
  memcpy(tmp, units, nobj * sizeof *tmp);
  memmove(units, units + nobj, (nu - nobj) * sizeof *units);
  memcpy(units + (nu - nobj), tmp, nobj * sizeof *tmp);
  free(tmp);
  return ORCJIT_OK;
}

/* Clears the `taken` marks of members selected for a batch that failed. */
void oj_members_untake(orcjit_library *lib, oj_unit *units, size_t n) {
  pthread_mutex_lock(&lib->lock);
  for (size_t i = 0; i < n; i++)
    for (size_t m = 0; m < lib->npending; m++)
      if (units[i].what && strcmp(lib->pending[m].what, units[i].what) == 0)
        lib->pending[m].taken = 0;
  pthread_mutex_unlock(&lib->lock);
}

/* ---- deferred objects: linked at the next lookup ------------------------ */

/* One try at linking the deferred objects idx[k] with !drop[k] as one batch
** with the archive members they need.  On EUNRESOLVED, miss[k] is set for
** each of them that needs a missing name. */
static int oj_members_link_deferred(orcjit_library *lib, const size_t *idx, size_t n,
                                    const unsigned char *drop, unsigned char *miss) {
  size_t nu = 0, cap = n + 4;
  oj_unit *units = calloc(cap, sizeof *units);
  size_t *of = malloc(n * sizeof *of); /* unit -> k */
  int rc = units && of ? ORCJIT_OK
                       : oj_library_nomem(lib);
  for (size_t k = 0; k < n && rc == ORCJIT_OK; k++) {
    if (drop[k]) continue;
    const oj_pending *p = &lib->pending[idx[k]];
    char tag[48];
    oj_add_tag(lib, nu, tag);
    rc = oj_elf_prepare(p->bytes, p->size, p->what, tag, oj_add_elf_flags(lib),
                        &units[nu].obj);
    if (rc == ORCJIT_OK && !(units[nu].what = strdup(p->what))) {
      oj_elf_object_free(&units[nu].obj);
      rc = oj_library_nomem(lib);
    }
    if (rc == ORCJIT_OK) of[nu++] = k;
  }
  size_t nobj = nu, first_obj = 0; /* the objects: units[first_obj, +nobj) */
  if (rc == ORCJIT_OK && nu && lib->npending) rc = oj_members_select(lib, &units, &nu, &cap);
  if (rc == ORCJIT_OK && nu > nobj &&
      (rc = oj_members_put_first(lib, units, nu, nobj)) == ORCJIT_OK)
    first_obj = nu - nobj;
  if (rc == ORCJIT_OK && nu) rc = oj_add_link_units(lib, units, nu);
  if (rc == ORCJIT_EUNRESOLVED)
    for (size_t u = 0; u < nobj; u++)
      if (oj_orclookup_unit_misses(&units[first_obj + u], oj_resolve_missing())) miss[of[u]] = 1;
  if (rc != ORCJIT_OK && nu > nobj) /* the members pulled wait again */
    oj_members_untake(lib, first_obj ? units : units + nobj, nu - nobj);
  if (units) oj_add_units_free(units, nu);
  free(of);
  return rc;
}

/* Links the deferred objects of lib that can link (the busy flag is held):
** all of them as one batch, or, when some miss symbols, the others without
** them, until a batch links.  Those left wait for the next try, which comes
** after something changed (oj_members_gen), or now if force.  Returns the
** first failure (its message set) or ORCJIT_OK. */
int oj_members_flush(orcjit_library *lib, int force) {
  uint64_t gen = atomic_load(&oj_members_gen);
  pthread_mutex_lock(&lib->lock);
  size_t n = 0, *idx = lib->ndeferred ? malloc(lib->npending * sizeof *idx) : NULL;
  int oom = lib->ndeferred && !idx;
  for (size_t m = 0; idx && m < lib->npending; m++) {
    oj_pending *p = &lib->pending[m];
    if (p->deferred && !p->taken && (force || p->tried != gen)) {
      p->taken = 1;
      idx[n++] = m;
    }
  }
  pthread_mutex_unlock(&lib->lock);
  if (oom) return oj_library_nomem(lib);
  if (n == 0) {
    free(idx);
    return ORCJIT_OK;
  }
  unsigned char *drop = calloc(2 * n, 1), *miss = drop + n;
  int first = ORCJIT_OK, rc = drop ? ORCJIT_OK : ORCJIT_ENOMEM;
  char *first_msg = NULL;
  size_t left = n;
  if (!drop) first = oj_library_nomem(lib);
  while (drop && left) {
    memset(miss, 0, n);
    rc = oj_members_link_deferred(lib, idx, n, drop, miss);
    if (rc == ORCJIT_OK) break;
    if (first == ORCJIT_OK) {
      first = rc;
      first_msg = strdup(oj_error_message());
    }
    size_t dropped = 0;
    for (size_t k = 0; k < n && rc == ORCJIT_EUNRESOLVED; k++)
      if (!drop[k] && miss[k]) drop[k] = 1, dropped++;
    if (dropped == 0) break; /* nothing to leave out: none of them links */
    left -= dropped;
  }
  /* Linked: their bytes go.  Left out: waiting again. */
  int linked = drop && left && rc == ORCJIT_OK;
  pthread_mutex_lock(&lib->lock);
  for (size_t k = 0; k < n; k++) {
    oj_pending *p = &lib->pending[idx[k]];
    if (linked && !drop[k]) {
      free(p->bytes);
      p->bytes = NULL;
      lib->ndeferred--;
    } else {
      p->taken = 0;
      p->tried = gen;
    }
  }
  pthread_mutex_unlock(&lib->lock);
  if (linked) oj_members_gen_bump();
  free(idx);
  free(drop);
  if (first != ORCJIT_OK) oj_error_set(first, "%s", first_msg ? first_msg : "out of memory");
  free(first_msg);
  return first;
}

/* Whether lib itself defines name (imports excluded). */
static int oj_members_defines(orcjit_library *lib, const char *name) {
  pthread_mutex_lock(&lib->lock);
  const oj_symtab_entry *e = oj_symtab_find(&lib->syms, name);
  int have = e && !(e->flags & OJ_SYM_IMPORTED);
  pthread_mutex_unlock(&lib->lock);
  return have;
}

/* Links the pending member of lib that defines name, if any (first, the
** deferred objects of lib that can link). */
int oj_members_pull(orcjit_library *lib, const char *name) {
  if (oj_members_ndeferred(lib) && !atomic_flag_test_and_set(&lib->busy)) {
    oj_members_flush(lib, 0); /* a failure here is the needing object's to report */
    atomic_flag_clear(&lib->busy);
    if (oj_members_defines(lib, name)) return ORCJIT_OK;
  }
  pthread_mutex_lock(&lib->lock);
  oj_symtab_entry *pe = lib->npending ? oj_symtab_find(&lib->pending_index, name) : NULL;
  size_t m = pe ? pe->object : 0;
  int take = pe && !lib->pending[m].taken;
  if (take) lib->pending[m].taken = 1;
  pthread_mutex_unlock(&lib->lock);
  if (!take) return ORCJIT_ENOTFOUND;
  if (atomic_flag_test_and_set(&lib->busy)) {
    pthread_mutex_lock(&lib->lock);
    lib->pending[m].taken = 0;
    pthread_mutex_unlock(&lib->lock);
    return oj_error_set(ORCJIT_EBUSY,
                        "library '%s': '%s' is defined by an archive member not "
                        "linked yet, and another add into this library is in "
                        "progress on another thread",
                        lib->name, name);
  }
  char tag[48];
  oj_add_tag(lib, 0, tag);
  oj_elf_object obj;
  const oj_pending *pm = &lib->pending[m];
  int rc = oj_elf_prepare(pm->bytes, pm->size, pm->what, tag, oj_add_elf_flags(lib), &obj);
  if (rc == ORCJIT_OK) rc = oj_add_link_object(lib, &obj, pm->what);
  if (rc != ORCJIT_OK) {
    pthread_mutex_lock(&lib->lock);
    lib->pending[m].taken = 0;
    pthread_mutex_unlock(&lib->lock);
  }
  atomic_flag_clear(&lib->busy);
  return rc;
}

/* name is needed by an add into lib and lib does not define it: the first
** library of lib's link order that exports it serves it, as the search at
** link time does (oj_resolve.c); if that library has it only in an
** archive member or a deferred object not linked yet, it is linked into
** that library now, as its own lookup of name would, before lib's objects are linked
** (so no ORC lookup ever runs inside another one's link).  ORCJIT_OK when
** it was found, pulled or is defined nowhere in the link order (the link
** then reports it if it is required); the status of a member that failed
** to link, with its message, otherwise. */
static int oj_members_pull_linked(orcjit_library *lib, const char *name) {
  for (size_t i = 0;; i++) {
    pthread_mutex_lock(&lib->lock);
    orcjit_library *dep = i < lib->nlink ? lib->link[i] : NULL;
    pthread_mutex_unlock(&lib->lock);
    if (!dep) return ORCJIT_OK;
    if (dep == lib) continue;
    pthread_mutex_lock(&dep->lock);
    oj_symtab_entry *e = oj_symtab_find(&dep->syms, name);
    int defined = e && !(e->flags & (OJ_SYM_HIDDEN | OJ_SYM_IMPORTED));
    int pending = !defined && ((dep->npending && oj_symtab_find(&dep->pending_index, name)) ||
                               (dep->ndeferred && oj_symtab_find(&dep->deferred_index, name)));
    pthread_mutex_unlock(&dep->lock);
    if (defined) return ORCJIT_OK;
    if (!pending) continue;
    int rc = oj_members_pull(dep, name);
    if (rc == ORCJIT_OK) return ORCJIT_OK;
    if (rc != ORCJIT_ENOTFOUND) {
      oj_error_prefix("library '%s': '%s' is defined by an archive member of '%s' in its "
                      "link order, which could not be linked",
                      lib->name, name, dep->name);
      return rc;
    }
  }
}

/* An archive: its members wait in lib->pending until an object of this
** library (or of one linking against it) or a lookup needs them. */
int oj_members_add_archive(orcjit_library *lib, const void *data, size_t size,
                           const char *what) {
  oj_ar_member *m;
  size_t n;
  int rc = oj_archive_parse(data, size, what, &m, &n);
  if (rc != ORCJIT_OK) {
    oj_error_prefix("library '%s'", lib->name);
    return rc;
  }
  size_t usable = 0;
  for (size_t i = 0; i < n && rc == ORCJIT_OK; i++) {
    if (oj_elf_classify(m[i].data, m[i].size) != OJ_ELF_KIND_RELOCATABLE) continue;
    oj_elf_object obj;
    if (oj_elf_prepare(m[i].data, m[i].size, m[i].name, "probe", oj_add_elf_flags(lib), &obj) != ORCJIT_OK) {
      rc = oj_error_status();
      oj_error_prefix("library '%s'", lib->name);
      break;
    }
    pthread_mutex_lock(&lib->lock);
    size_t idx = lib->npending;
    unsigned char *copy = malloc(m[i].size ? m[i].size : 1);
    int oom = !copy || oj_grow((void **)&lib->pending, &lib->cappending, idx + 1,
                               sizeof *lib->pending);
    if (!oom) {
      memcpy(copy, m[i].data, m[i].size);
      lib->pending[idx].bytes = copy;
      lib->pending[idx].size = m[i].size;
      lib->pending[idx].what = m[i].name;
      lib->pending[idx].taken = 0;
      lib->pending[idx].deferred = 0;
      lib->pending[idx].tried = 0;
      m[i].name = NULL;
      lib->npending++;
      for (size_t d = 0; d < obj.ndefined && !oom; d++) {
        int created;
        oj_symtab_entry *e = oj_symtab_insert(&lib->pending_index, obj.defined[d].name, &created);
        if (!e) oom = 1;
        else if (created) e->object = (uint32_t)idx;
      }
      usable++;
    } else {
      free(copy);
    }
    pthread_mutex_unlock(&lib->lock);
    oj_elf_object_free(&obj);
    if (oom) rc = oj_error_set(ORCJIT_ENOMEM, "library '%s': %s: out of memory", lib->name, what);
  }
  oj_archive_free(m, n);
  if (rc == ORCJIT_OK && usable) oj_members_gen_bump();
  if (rc == ORCJIT_OK && usable == 0)
    rc = n == 0 ? oj_error_set(ORCJIT_EFORMAT,
                               "library '%s': %s: no usable member: empty archive",
                               lib->name, what)
                : oj_error_set(ORCJIT_EFORMAT,
                               "library '%s': %s: no usable member: none of its %zu "
                               "members is an ELF relocatable object",
                               lib->name, what, n);
  return rc;
}

static int oj_pending_from(const oj_symtab_entry *e, void *ctx) {
  return e->object >= *(const size_t *)ctx;
}

/* Forgets the archive members and deferred objects registered from index
** `from` on. */
void oj_members_forget(orcjit_library *lib, size_t from) {
  pthread_mutex_lock(&lib->lock);
  oj_symtab_remove_if(&lib->pending_index, oj_pending_from, &from);
  oj_symtab_remove_if(&lib->deferred_index, oj_pending_from, &from);
  while (lib->npending > from) {
    oj_pending *p = &lib->pending[--lib->npending];
    if (p->deferred && !p->taken) lib->ndeferred--;
    free(p->bytes);
    free(p->what);
  }
  pthread_mutex_unlock(&lib->lock);
}

/* ---- deferred adds ------------------------------------------------------ */

/* Registers deferred object u (its image is not kept: the bytes are). */
static int oj_members_defer_one(orcjit_library *lib, oj_unit *u, oj_loaded *in) {
  unsigned char *bytes = in->buf;
  if (!bytes && (bytes = malloc(in->size ? in->size : 1)) != NULL)
    memcpy(bytes, in->data, in->size);
  if (!bytes) return -1;
  pthread_mutex_lock(&lib->lock);
  size_t idx = lib->npending;
  if (oj_grow((void **)&lib->pending, &lib->cappending, idx + 1, sizeof *lib->pending)) {
    pthread_mutex_unlock(&lib->lock);
    if (bytes != in->buf) free(bytes);
    return -1;
  }
  oj_pending *p = &lib->pending[idx];
  memset(p, 0, sizeof *p);
  p->what = u->what;
  p->bytes = bytes;
  p->size = in->size;
  p->deferred = 1;
  u->what = NULL;
  in->buf = NULL;
  lib->npending++;
  lib->ndeferred++;
  int oom = 0;
  for (size_t d = 0; d < u->obj.ndefined && !oom; d++) {
    int created, weak = (u->obj.defined[d].flags & OJ_ELF_SYM_WEAK) != 0;
    oj_symtab_entry *e = oj_symtab_insert(&lib->deferred_index, u->obj.defined[d].name, &created);
    if (!e) oom = 1;
    else if (created || lib->pending[e->object].taken || ((e->flags & OJ_SYM_WEAK) && !weak)) {
      e->object = (uint32_t)idx;
      e->flags = weak ? OJ_SYM_WEAK : 0;
    }
  }
  pthread_mutex_unlock(&lib->lock);
  return oom ? -1 : 0;
}

/* The inputs, checked as an add checks them before linking (the pre-pass;
** no strong symbol that the library, a waiting object or another input
** defines), wait as deferred objects; archives add their members. */
int oj_members_defer_batch(orcjit_library *lib, const orcjit_input *inputs, size_t n) {
  size_t pending_before = lib->npending, nu = 0, i, ntotal = n;
  oj_loaded *in = calloc(n, sizeof *in);
  oj_unit *units = calloc(n, sizeof *units);
  size_t *src = calloc(n, sizeof *src); /* unit -> input */
  int rc = in && units && src ? oj_add_load_inputs(lib, inputs, n, in) : oj_library_nomem(lib);
  /* A whole export is linked now, with the rest of this call, as
  ** load_module would: a tar, the complete set of objects of one shared
  ** library (Apache TVM's export_library; docs/design.md, "Tar files"), or
  ** an object carrying an import tree (__tvm_ffi__library_bin), whose root
  ** the caller wants from the add. */
  int whole = 0;
  for (i = 0; i < n && rc == ORCJIT_OK && !whole; i++) whole = oj_tar_is(in[i].data, in[i].size);
  if (whole) n = 0; /* nothing deferred; the caller links the inputs */
  for (i = 0; i < n && rc == ORCJIT_OK; i++) {
    if (oj_elf_classify(in[i].data, in[i].size) == OJ_ELF_KIND_ARCHIVE) {
      rc = oj_members_add_archive(lib, in[i].data, in[i].size, in[i].name);
      continue;
    }
    rc = oj_elf_prepare(in[i].data, in[i].size, in[i].name, "probe", oj_add_elf_flags(lib),
                        &units[nu].obj);
    if (rc != ORCJIT_OK) {
      oj_error_prefix("library '%s'", lib->name);
    } else {
      units[nu].what = in[i].name;
      in[i].name = NULL;
      src[nu++] = i;
    }
  }
  for (i = 0; i < nu && rc == ORCJIT_OK && !whole; i++)
    for (size_t d = 0; d < units[i].obj.ndefined && !whole; d++)
      whole = strcmp(units[i].obj.defined[d].name, "__tvm_ffi__library_bin") == 0;
  size_t nu_prepared = nu;
  if (whole) nu = 0;
  for (i = 0; i < nu && rc == ORCJIT_OK; i++) {
    int shadow;
    rc = oj_settle_check_library(lib, &units[i].obj, units[i].what, &shadow);
  }
  if (rc == ORCJIT_OK) rc = oj_settle_check_units(lib, units, nu);
  for (i = 0; i < nu && rc == ORCJIT_OK; i++)
    if (oj_members_defer_one(lib, &units[i], &in[src[i]]) != 0)
      rc = oj_library_nomem(lib);
  if (rc != ORCJIT_OK || whole) oj_members_forget(lib, pending_before);
  else oj_members_gen_bump();
  if (units) oj_add_units_free(units, nu_prepared);
  oj_add_loaded_free(in, ntotal);
  free(src);
  if (rc == ORCJIT_OK && whole) rc = oj_add_batch(lib, inputs, ntotal);
  return rc;
}

int orcjit_library_add_deferred(orcjit_library *lib, const orcjit_input *inputs, size_t n) {
  return oj_add_exclusive(lib, "orcjit_library_add_deferred", inputs, n,
                          oj_members_defer_batch);
}

