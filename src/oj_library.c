/*
** oj_library.c: libraries.  A library is one JITDylib of its session plus
** our own table of what it defines.  Adding an object:
**   1. the ELF pre-pass validates and rewrites it (oj_elf.c);
**   2. a strong symbol it defines that the library already defines is
**      refused here, naming both objects;
**   3. it is added to the JITDylib under its own resource tracker, and
**      every symbol it defines plus its markers are looked up at once, which
**      links it now (errors surface at add, not at first call);
**   4. its symbols go into the library's table, the link callback runs,
**      and its constructors run.
** Any failure removes the object's resource tracker: nothing of it stays.
** Objects added with orcjit_library_add_deferred wait (checked, not linked)
** and are linked by the library's next lookup (see "deferred objects").
** Weak definitions are settled before step 3 (oj_units_settle_weak).
** Releasing a library runs its destructors, clears its JITDylib and puts
** the JITDylib back in the session's pool.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tvm/ffi/c_api.h>

#include "oj_arch.h"
#include "oj_archive.h"
#include "oj_ffiabi.h"
#include "oj_internal.h"
#include "oj_link.h"
#include "oj_memmgr.h"
#include "oj_tar.h"

#define OJ_FFI_PREFIX "__tvm_ffi_"

/* ---- small helpers ----------------------------------------------------- */

static int oj_lib_check(const orcjit_library *lib, const char *fn) {
  if (!lib) return oj_error_set(ORCJIT_EINVAL, "%s: library is NULL", fn);
  return ORCJIT_OK;
}

/* ---- synchronous lookup ------------------------------------------------ */

/* Pointer -> index map for matching lookup results with our names. */
typedef struct oj_lookup {
  pthread_mutex_t m;
  pthread_cond_t c;
  int done;
  LLVMErrorRef err;
  LLVMOrcSymbolStringPoolEntryRef *names; /* n interned names */
  uint64_t *addrs;                        /* n results, 0 if absent */
  size_t n;
  size_t *index; /* open-addressing table of name positions, cap entries */
  size_t cap;
} oj_lookup;

static size_t oj_lookup_slot(const oj_lookup *lk, LLVMOrcSymbolStringPoolEntryRef e) {
  uintptr_t h = (uintptr_t)e;
  h ^= h >> 17;
  h *= 0x9E3779B97F4A7C15ull;
  return (size_t)(h >> 20) & (lk->cap - 1);
}

static void oj_lookup_result(LLVMErrorRef err, LLVMOrcCSymbolMapPairs res, size_t n,
                             void *ctx) {
  oj_lookup *lk = ctx;
  if (!err) {
    for (size_t i = 0; i < n; i++) {
      for (size_t s = oj_lookup_slot(lk, res[i].Name);; s = (s + 1) & (lk->cap - 1)) {
        size_t k = lk->index[s];
        if (k == SIZE_MAX) break;
        if (lk->names[k] == res[i].Name) {
          lk->addrs[k] = res[i].Sym.Address;
          break;
        }
      }
    }
  }
  pthread_mutex_lock(&lk->m);
  lk->err = err;
  lk->done = 1;
  pthread_cond_signal(&lk->c);
  pthread_mutex_unlock(&lk->m);
}

/* Whether name is one of the names a lookup asks for (for oj_adding). */
static int oj_lookup_has(const void *ctx, LLVMOrcSymbolStringPoolEntryRef name) {
  const oj_lookup *lk = ctx;
  for (size_t s = oj_lookup_slot(lk, name);; s = (s + 1) & (lk->cap - 1)) {
    size_t k = lk->index[s];
    if (k == SIZE_MAX) return 0;
    if (lk->names[k] == name) return 1;
  }
}

/* Looks names[0..n) up in lib's JITDylib; required[i] says whether a
** missing name fails the lookup.  Fills addrs.  Links what is needed. */
static LLVMErrorRef oj_lookup_run(orcjit_library *lib, const char *const *names,
                                  const unsigned char *required, size_t n,
                                  uint64_t *addrs) {
  orcjit_session *s = lib->session;
  oj_lookup lk;
  memset(&lk, 0, sizeof lk);
  lk.n = n;
  lk.addrs = addrs;
  lk.cap = 16;
  while (lk.cap < n * 2) lk.cap *= 2;
  lk.names = malloc(n * sizeof *lk.names);
  lk.index = malloc(lk.cap * sizeof *lk.index);
  LLVMOrcCLookupSetElement *set = malloc(n * sizeof *set);
  if (!lk.names || !lk.index || !set) {
    free(lk.names);
    free(lk.index);
    free(set);
    return oj_link_nomem_error("the names of a lookup");
  }
  memset(lk.index, 0xff, lk.cap * sizeof *lk.index);
  for (size_t i = 0; i < n; i++) {
    addrs[i] = 0;
    lk.names[i] = LLVMOrcExecutionSessionIntern(s->es, names[i]);
    set[i].Name = lk.names[i];
    set[i].LookupFlags = required[i] ? LLVMOrcSymbolLookupFlagsRequiredSymbol
                                     : LLVMOrcSymbolLookupFlagsWeaklyReferencedSymbol;
    size_t slot = oj_lookup_slot(&lk, lk.names[i]);
    while (lk.index[slot] != SIZE_MAX && lk.names[lk.index[slot]] != lk.names[i])
      slot = (slot + 1) & (lk.cap - 1);
    lk.index[slot] = i;
  }
  pthread_mutex_init(&lk.m, NULL);
  pthread_cond_init(&lk.c, NULL);
  LLVMOrcCJITDylibSearchOrderElement order = {lib->slot->jd,
                                               LLVMOrcJITDylibLookupFlagsMatchAllSymbols};
  /* The objects linked by this lookup bind their undefined symbols in
  ** the link plugin (oj_resolve_external), except names defined here. */
  oj_adding adding = {lib, oj_lookup_has, &lk, NULL};
  oj_resolve_adding_push(&adding);
  LLVMOrcExecutionSessionLookup(s->es, LLVMOrcLookupKindStatic, &order, 1, set, n,
                                oj_lookup_result, &lk);
  pthread_mutex_lock(&lk.m);
  while (!lk.done) pthread_cond_wait(&lk.c, &lk.m);
  pthread_mutex_unlock(&lk.m);
  oj_resolve_adding_pop(&adding);
  pthread_mutex_destroy(&lk.m);
  pthread_cond_destroy(&lk.c);
  /* No release of lk.names: LLVMOrcExecutionSessionLookup takes over the
  ** reference each element of set carries (llvm-c/Orc.h).  Releasing them
  ** here too (as this did until a fuzz_load find) wrapped every looked-up
  ** name's count below zero once per add, so the pool never freed it and a
  ** later add of the name could assert or use a freed entry. */
  free(lk.names);
  free(lk.index);
  free(set);
  return lk.err;
}

/* ---- create / release -------------------------------------------------- */

static int oj_session_has_lib(orcjit_session *s, const char *name) {
  return oj_symtab_find(&s->lib_names, name) != NULL;
}

static int oj_library_create(orcjit_session *s, const char *name, orcjit_library **out);

int orcjit_library_create(orcjit_session *s, const char *name, orcjit_library **out) {
  oj_error_clear();
  if (!out) return oj_error_set(ORCJIT_EINVAL, "orcjit_library_create: out is NULL");
  *out = NULL;
  if (!s) return oj_error_set(ORCJIT_EINVAL, "orcjit_library_create: session is NULL");
  if (oj_fork_enter(s) != ORCJIT_OK) return oj_error_status();
  int rc = oj_library_create(s, name, out);
  oj_fork_leave();
  return rc;
}

static int oj_library_create(orcjit_session *s, const char *name, orcjit_library **out) {
  orcjit_library *lib = calloc(1, sizeof *lib);
  if (!lib) return oj_error_set(ORCJIT_ENOMEM, "cannot create library: out of memory");
  atomic_init(&lib->refs, 1);
  atomic_flag_clear(&lib->busy);
  pthread_mutex_init(&lib->lock, NULL);
  lib->session = s;

  int rc = oj_session_slot_acquire(s, &lib->slot);
  if (rc != ORCJIT_OK) goto fail;

  pthread_mutex_lock(&s->lock);
  lib->id = s->next_lib_id++;
  if (name && *name) {
    if (oj_session_has_lib(s, name)) {
      pthread_mutex_unlock(&s->lock);
      rc = oj_error_set(ORCJIT_EINVAL,
                        "cannot create library '%s': a library of that name exists in "
                        "this session", name);
      goto fail;
    }
    lib->name = strdup(name);
  } else {
    char gen[32];
    unsigned k = lib->id;
    do snprintf(gen, sizeof gen, "lib%u", k++);
    while (oj_session_has_lib(s, gen));
    lib->name = strdup(gen);
  }
  int created = 0;
  if (!lib->name || !oj_symtab_insert(&s->lib_names, lib->name, &created)) {
    pthread_mutex_unlock(&s->lock);
    rc = oj_error_set(ORCJIT_ENOMEM, "cannot create library: out of memory");
    goto fail;
  }
  lib->next = s->libs;
  if (s->libs) s->libs->prev = lib;
  s->libs = lib;
  atomic_fetch_add(&s->refs, 1);
  pthread_mutex_unlock(&s->lock);
  atomic_store(&lib->slot->lib, lib);
  *out = lib;
  return ORCJIT_OK;

fail:
  if (lib->slot) oj_session_slot_release(s, lib->slot);
  pthread_mutex_destroy(&lib->lock);
  free(lib->name);
  free(lib);
  return rc;
}

/* Retain and release are in oj_lifetime.c, which calls this once the
** library is garbage. */
void oj_library_free(orcjit_library *lib) {
  orcjit_session *s = lib->session;
  pthread_mutex_lock(&s->lock);
  oj_symtab_remove(&s->lib_names, lib->name);
  if (lib->prev) lib->prev->next = lib->next;
  else s->libs = lib->next;
  if (lib->next) lib->next->prev = lib->prev;
  pthread_mutex_unlock(&s->lock);

  oj_initfini_finalize(lib);
  if (lib->dso_handle) oj_initfini_unregister_dso(lib);
  for (size_t i = 0; i < lib->ntls; i++) oj_tls_unregister(lib->tls[i]);
  free(lib->tls);

  /* Frees the JIT memory of every object (and deregisters unwind info). */
  atomic_store(&lib->slot->lib, NULL);
  LLVMErrorRef err = LLVMOrcJITDylibClear(lib->slot->jd);
  if (err) LLVMConsumeError(err);
  oj_memmgr_set_dylib_low(s->mm, lib->slot->jd, 0);
  for (size_t i = 0; i < lib->ntrackers; i++) LLVMOrcReleaseResourceTracker(lib->trackers[i]);
  oj_session_slot_release(s, lib->slot);
  oj_session_objects_dropped(s, lib->ntrackers);
  oj_resolve_free_copies(lib);

  for (size_t i = 0; i < lib->nobjects; i++) free(lib->objects[i]);
  free(lib->objects);
  free(lib->trackers);
  free(lib->link);
  free(lib->held);
  free(lib->fini);
  free(lib->atexits);
  oj_symtab_free(&lib->syms);
  oj_symtab_free(&lib->pending_index);
  oj_symtab_free(&lib->deferred_index);
  for (size_t i = 0; i < lib->npending; i++) {
    free(lib->pending[i].bytes);
    free(lib->pending[i].what);
  }
  free(lib->pending);
  pthread_mutex_destroy(&lib->lock);
  void (*hook)(void *) = lib->free_hook, *hook_arg = lib->free_hook_arg;
  free(lib->name);
  free(lib);
  if (hook) hook(hook_arg); /* last: the owner may release other libraries */
  orcjit_session_release(s);
}

const char *orcjit_library_name(const orcjit_library *lib) { return lib ? lib->name : ""; }

orcjit_session *orcjit_library_session(const orcjit_library *lib) {
  return lib ? lib->session : NULL;
}

/* ---- adding objects ---------------------------------------------------- */

static void oj_link_gen_bump(void);

/* Removes what a tracker holds from the JITDylib and drops our reference. */
static void oj_tracker_drop(LLVMOrcResourceTrackerRef rt) {
  LLVMErrorRef err = LLVMOrcResourceTrackerRemove(rt);
  if (err) LLVMConsumeError(err);
  LLVMOrcReleaseResourceTracker(rt);
}

static int oj_library_track(orcjit_library *lib, LLVMOrcResourceTrackerRef rt) {
  if (oj_grow((void **)&lib->trackers, &lib->captrackers, lib->ntrackers + 1,
              sizeof *lib->trackers))
    return -1;
  lib->trackers[lib->ntrackers++] = rt;
  return 0;
}

/* Adds image to the JITDylib under a new tracker; *out_rt owns it. */
static int oj_library_add_image(orcjit_library *lib, const void *image, size_t size,
                                const char *what, LLVMOrcResourceTrackerRef *out_rt) {
  /* LLVM's copy of the image, its JIT memory and its link graph. */
  size_t left, need = 2 * size + OJ_LIMIT_MARGIN;
  if (!oj_limit_room(need, &left))
    return oj_error_set(ORCJIT_ENOMEM,
                        "library '%s': %s: out of memory: the address-space limit "
                        "(RLIMIT_AS) leaves %zu MiB, linking this object may need %zu MiB",
                        lib->name, what, left >> 20, need >> 20);
  LLVMOrcResourceTrackerRef rt = LLVMOrcJITDylibCreateResourceTracker(lib->slot->jd);
  /* glue/oj_link.cc: as LLVMOrcLLJITAddObjectFileWithRT, minus a parse. */
  LLVMErrorRef err = oj_link_add_object(lib->session->jit, rt, image, size, what);
  if (err) {
    int nomem = oj_link_error_is_nomem(err);
    char *msg = LLVMGetErrorMessage(err);
    int dup = strstr(msg, "uplicate definition") != NULL;
    oj_error_set(nomem ? ORCJIT_ENOMEM : dup ? ORCJIT_EDUPLICATE : ORCJIT_ELINK,
                 "library '%s': %s: %s", lib->name, what, msg);
    LLVMDisposeErrorMessage(msg);
    LLVMOrcReleaseResourceTracker(rt);
    oj_session_objects_dropped(lib->session, 1);
    return oj_error_status();
  }
  *out_rt = rt;
  return ORCJIT_OK;
}

/* Gives the library its runtime object (__dso_handle, atexit), which
** `what` needs. */
static int oj_library_add_runtime(orcjit_library *lib, const char *what) {
  size_t size;
  const unsigned char *image = oj_rtobj_image(&size);
  LLVMOrcResourceTrackerRef rt;
  int rc = oj_library_add_image(lib, image, size, "<orcjit runtime>", &rt);
  if (rc != ORCJIT_OK) return rc;
  const char *name = "__dso_handle";
  unsigned char req = 1;
  uint64_t addr = 0;
  oj_llvm_errors_reset();
  LLVMErrorRef err = oj_lookup_run(lib, &name, &req, 1, &addr);
  if (err) {
    rc = oj_error_from_llvm(ORCJIT_ELINK, err,
                            "library '%s': %s: cannot link the runtime object it needs "
                            "(__dso_handle, atexit)",
                            lib->name, what);
    oj_tracker_drop(rt);
    return rc;
  }
  pthread_mutex_lock(&lib->lock);
  int bad = oj_library_track(lib, rt);
  pthread_mutex_unlock(&lib->lock);
  if (bad) {
    oj_tracker_drop(rt);
    return oj_error_set(ORCJIT_ENOMEM, "library '%s': out of memory", lib->name);
  }
  return oj_initfini_register_dso(lib, addr);
}

static int oj_obj_needs_runtime(const oj_elf_object *obj) {
  for (size_t i = 0; i < obj->nundefined; i++) {
    const char *n = obj->undefined[i].name;
    if (oj_rtnames_kind(n) == OJ_RT_OBJECT) return 1;
  }
  return 0;
}

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
static int oj_library_check_dups(orcjit_library *lib, const oj_elf_object *obj,
                                 const char *what, int *imports_shadowed) {
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
    if (d->flags & OJ_ELF_SYM_WEAK) continue; /* loses (oj_units_settle_weak) */
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

static int oj_not_imported_or_object(const oj_symtab_entry *e, void *ctx) {
  return (e->flags & OJ_SYM_IMPORTED) != 0;
}

/* Drops what the library imported: the absolute symbols in the JITDylib's
** default tracker, and their entries in the table. */
static void oj_library_drop_imports(orcjit_library *lib) {
  oj_tracker_drop(LLVMOrcJITDylibGetDefaultResourceTracker(lib->slot->jd));
  pthread_mutex_lock(&lib->lock);
  oj_symtab_remove_if(&lib->syms, oj_not_imported_or_object, NULL);
  pthread_mutex_unlock(&lib->lock);
}

static int oj_entry_of_objects(const oj_symtab_entry *e, void *ctx) {
  const uint32_t *range = ctx; /* [first, last) object indexes */
  return !(e->flags & OJ_SYM_IMPORTED) && e->object >= range[0] && e->object < range[1];
}

/* One object of a batch: archive members pulled in by an object are linked
** together with it, so that they may refer to each other. */
typedef struct oj_unit {
  oj_elf_object obj;
  char *what;
  LLVMOrcResourceTrackerRef rt;
} oj_unit;

static void oj_units_free(oj_unit *u, size_t n) {
  for (size_t i = 0; i < n; i++) {
    oj_elf_object_free(&u[i].obj);
    free(u[i].what);
  }
  free(u);
}

/* ---- archives: members wait until something needs them ----------------- */

/* Whether lib has a link order (read under its lock: set_link_order may
** run on another thread). */
static int oj_library_links(orcjit_library *lib) {
  pthread_mutex_lock(&lib->lock);
  int n = lib->nlink != 0;
  pthread_mutex_unlock(&lib->lock);
  return n;
}

static int oj_library_pull(orcjit_library *lib, const char *name);
static int oj_library_pull_linked(orcjit_library *lib, const char *name);

/* Adds to *units the pending archive members of lib that define a name
** some unit needs and nothing defines yet, until closure.  Members of
** libraries in the link order are linked into those libraries first
** (oj_library_pull_linked). */
static int oj_library_select(orcjit_library *lib, oj_unit **units, size_t *nunits,
                             size_t *cap) {
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
        int rc = nlink ? oj_library_pull_linked(lib, name) : ORCJIT_OK;
        if (rc != ORCJIT_OK) return rc;
        continue;
      }
      if (oj_grow((void **)units, cap, *nunits + 1, sizeof **units))
        return oj_error_set(ORCJIT_ENOMEM, "library '%s': out of memory", lib->name);
      oj_unit *nu = &(*units)[*nunits];
      memset(nu, 0, sizeof *nu);
      char tag[48];
      snprintf(tag, sizeof tag, "J%u.O%zu", lib->slot->index, lib->nobjects + *nunits);
      const oj_pending *pm = &lib->pending[m];
      int rc = oj_elf_prepare(pm->bytes, pm->size, pm->what, tag, &nu->obj);
      if (rc == ORCJIT_OK && !(nu->what = strdup(pm->what))) {
        oj_elf_object_free(&nu->obj);
        rc = oj_error_set(ORCJIT_ENOMEM, "library '%s': out of memory", lib->name);
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

/* The unit that needs the first name of missing ("a, b, ..."), for the
** message; the last unit (what the caller asked for) if none says so. */
static const char *oj_units_needing(const oj_unit *units, size_t n, const char *missing) {
  size_t len = strcspn(missing, ",");
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < units[i].obj.nundefined; j++) {
      const char *u = units[i].obj.undefined[j].name;
      if (strncmp(u, missing, len) == 0 && u[len] == '\0') return units[i].what;
    }
  return units[n - 1].what;
}

/* Whether name is one of missing's ("a, b, ...") names. */
static int oj_missing_has(const char *missing, const char *name) {
  size_t len = strlen(name);
  for (const char *p = missing; (p = strstr(p, name)) != NULL; p += len)
    if ((p == missing || (p[-1] == ' ' && p[-2] == ',')) && (p[len] == ',' || !p[len]))
      return 1;
  return 0;
}

/* Whether unit u needs one of the missing names. */
static int oj_unit_misses(const oj_unit *u, const char *missing) {
  for (size_t j = 0; j < u->obj.nundefined; j++)
    if (!(u->obj.undefined[j].flags & OJ_ELF_SYM_WEAK) &&
        oj_missing_has(missing, u->obj.undefined[j].name))
      return 1;
  return 0;
}

/* EUNRESOLVED for the missing names of this thread's link: every name and
** the object needing it ("a, b (needed by 'x.o'), c (needed by 'y.o')"
** when several objects miss names, one "(needed by ...)" otherwise). */
static int oj_unresolved_error(orcjit_library *lib, const oj_unit *units, size_t n) {
  const char *missing = oj_resolve_missing();
  int count = oj_resolve_missing_count();
  const char *needer = oj_units_needing(units, n, missing);
  if (strstr(missing, OJ_TLS_IE_WHY)) /* oj_tls.c's reasons, not missing names */
    return oj_error_set(ORCJIT_EUNSUPPORTED, "library '%s': %s: thread-local%s %s", lib->name,
                        needer, count > 1 ? "s" : "", missing);
  size_t nneed = 0;
  for (size_t i = 0; i < n; i++) nneed += oj_unit_misses(&units[i], missing);
  if (nneed <= 1)
    return oj_error_set(ORCJIT_EUNRESOLVED,
                        "library '%s': %s: unresolved symbol%s: %s (needed by '%s'; not "
                        "defined in the library, its link order or the process)",
                        lib->name, needer, count > 1 ? "s" : "", missing, needer);
  /* Several objects: the names each one misses, then its name. */
  size_t cap = 1, len = 0;
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < units[i].obj.nundefined; j++)
      cap += strlen(units[i].obj.undefined[j].name) + strlen(units[i].what) + 20;
  char *text = malloc(cap);
  if (!text)
    return oj_error_set(ORCJIT_EUNRESOLVED, "library '%s': unresolved symbols: %s", lib->name,
                        missing);
  text[0] = '\0';
  for (size_t i = 0; i < n; i++) {
    int first = 1;
    for (size_t j = 0; j < units[i].obj.nundefined; j++) {
      const char *u = units[i].obj.undefined[j].name;
      if ((units[i].obj.undefined[j].flags & OJ_ELF_SYM_WEAK) || !oj_missing_has(missing, u))
        continue;
      len += (size_t)snprintf(text + len, cap - len, "%s%s",
                              first ? (len ? "), " : "") : ", ", u);
      first = 0;
    }
    if (!first)
      len += (size_t)snprintf(text + len, cap - len, " (needed by '%s'", units[i].what);
  }
  int rc = oj_error_set(ORCJIT_EUNRESOLVED,
                        "library '%s': unresolved symbols: %s); not defined in the library, "
                        "its link order or the process",
                        lib->name, text);
  free(text);
  return rc;
}

/* A failed add of -fno-pic objects leaves the library where it was. */
static void oj_library_unlow(orcjit_library *lib, int newly_low) {
  if (!newly_low) return;
  atomic_store(&lib->low, 0);
  oj_memmgr_set_dylib_low(lib->session->mm, lib->slot->jd, 0);
}

/* Duplicates among the units of one batch (orcjit_library_add_many, or
** an object with the archive members it pulls), in oj_dup_error's words
** before LLVM would word them its own way. */
static int oj_units_check_dups(orcjit_library *lib, const oj_unit *units, size_t n) {
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
        rc = oj_error_set(ORCJIT_ENOMEM, "library '%s': out of memory", lib->name);
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

static int oj_units_settle_weak(orcjit_library *lib, oj_unit *units, size_t n) {
  oj_symtab best = {0};
  int rc = ORCJIT_OK;
  for (size_t i = 0; i < n && n > 1 && rc == ORCJIT_OK; i++) {
    const oj_elf_object *o = &units[i].obj;
    for (size_t j = 0; j < o->ndefined; j++) {
      int created, weak = (o->defined[j].flags & OJ_ELF_SYM_WEAK) != 0;
      oj_symtab_entry *e = oj_symtab_insert(&best, o->defined[j].name, &created);
      if (!e) {
        rc = oj_error_set(ORCJIT_ENOMEM, "library '%s': out of memory", lib->name);
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

/* Links units[0..n) into lib: the last one is what the caller asked for,
** the others archive members it needs. */
static int oj_library_link_units(orcjit_library *lib, oj_unit *units, size_t n) {
  const char *what = units[n - 1].what;
  uint32_t first = (uint32_t)lib->nobjects;
  size_t tls_first = lib->ntls;
  int rc = oj_units_settle_weak(lib, units, n), shadow = 0, need_rt = 0;
  for (size_t i = 0; i < n && rc == ORCJIT_OK; i++) {
    int sh = 0;
    rc = oj_library_check_dups(lib, &units[i].obj, units[i].what, &sh);
    shadow |= sh;
    need_rt |= oj_obj_needs_runtime(&units[i].obj);
  }
  if (rc == ORCJIT_OK) rc = oj_units_check_dups(lib, units, n);
  if (rc != ORCJIT_OK) return rc;
  if (shadow) oj_library_drop_imports(lib);
  /* -fno-pic code addresses its library's symbols, the runtime object's
  ** __dso_handle among them, with 32-bit absolute relocations: the whole
  ** library then lives below 2 GiB (glue/oj_memmgr.cc), from its runtime
  ** object on.  The mark is kept: later objects may refer to this one. */
  int newly_low = 0;
  for (size_t i = 0; i < n && !newly_low; i++)
    if (units[i].obj.abs32 && !atomic_exchange(&lib->low, 1)) {
      oj_memmgr_set_dylib_low(lib->session->mm, lib->slot->jd, 1);
      newly_low = 1;
    }
  if (!lib->dso_handle && need_rt && (rc = oj_library_add_runtime(lib, what)) != ORCJIT_OK) {
    oj_library_unlow(lib, newly_low);
    return rc;
  }

  /* Names to look up: every defined symbol, then the markers of init/fini
  ** sections, the anchor and the TLS sections. */
  size_t total = 0, ntls = 0;
  for (size_t i = 0; i < n; i++) {
    const oj_elf_object *o = &units[i].obj;
    total += o->ndefined + o->ninitfini + (o->anchor ? 1 : 0) + o->ntls;
    ntls += (o->ntls || o->tls_static) ? 1 : 0;
  }
  const char **names = malloc((total ? total : 1) * sizeof *names);
  unsigned char *req = malloc(total ? total : 1);
  uint64_t *addrs = malloc((total ? total : 1) * sizeof *addrs);
  size_t *base = malloc(n * sizeof *base);
  oj_tls_module **tm = calloc(n, sizeof *tm); /* TLS modules, until registered */
  size_t added = 0;
  if (!names || !req || !addrs || !base || !tm) {
    rc = oj_error_set(ORCJIT_ENOMEM, "library '%s': %s: out of memory", lib->name, what);
    goto out;
  }
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    const oj_elf_object *o = &units[i].obj;
    base[i] = k;
    for (size_t j = 0; j < o->ndefined; j++, k++) names[k] = o->defined[j].name, req[k] = 0;
    for (size_t j = 0; j < o->ninitfini; j++, k++) names[k] = o->initfini[j].marker, req[k] = 1;
    if (o->anchor) names[k] = o->anchor, req[k] = 1, k++;
    for (size_t j = 0; j < o->ntls; j++, k++) names[k] = o->tls[j].marker, req[k] = 1;
  }
  /* TLS modules first: static TLS offsets go into the images. */
  for (size_t i = 0; i < n && rc == ORCJIT_OK; i++)
    if ((rc = oj_tls_prepare(&units[i].obj, &tm[i])) != ORCJIT_OK)
      oj_error_prefix("library '%s': %s", lib->name, units[i].what);
  if (rc != ORCJIT_OK) goto out;
  for (; added < n; added++) {
    rc = oj_library_add_image(lib, units[added].obj.image, units[added].obj.image_size,
                              units[added].what, &units[added].rt);
    if (rc != ORCJIT_OK) goto out_remove;
  }

  oj_llvm_errors_reset();
  oj_resolve_missing_reset();
  LLVMErrorRef err = total ? oj_lookup_run(lib, names, req, total, addrs) : NULL;
  if (err) {
    if (oj_resolve_missing_count() > 0) {
      LLVMConsumeError(err);
      rc = oj_unresolved_error(lib, units, n);
    } else {
      rc = oj_error_from_llvm(ORCJIT_ELINK, err, "library '%s': cannot link '%s'",
                              lib->name, what);
      char copy[2048];
      snprintf(copy, sizeof copy, "%s", oj_error_message());
      /* ORC appends every symbol of the object that could not be made
      ** ("Failed to materialize symbols: {...}"): noise after the cause. */
      char *noise = strstr(copy, " (Failed to materialize symbols");
      if (noise) *noise = '\0';
      /* The machine's hints for range errors (oj_arch_<machine>.c). */
      const char *hint = oj_arch_link_hint(oj_arch_host(), copy, atomic_load(&lib->low));
      if (rc == ORCJIT_ENOMEM)
        rc = oj_error_set(rc, "%s", copy);
      else if (hint)
        rc = oj_error_set(ORCJIT_ELINK, "%s; %s", copy, hint);
      else if (strstr(copy, "Unsupported") || strstr(copy, "unsupported"))
        rc = oj_error_set(ORCJIT_EUNSUPPORTED, "%s", copy);
      else
        rc = oj_error_set(ORCJIT_ELINK, "%s", copy);
    }
    goto out_remove;
  }

  /* Publish the symbols, then the callback, then constructors. */
  pthread_mutex_lock(&lib->lock);
  int oom = oj_grow((void **)&lib->objects, &lib->capobjects, lib->nobjects + n,
                    sizeof *lib->objects) ||
            oj_grow((void **)&lib->trackers, &lib->captrackers, lib->ntrackers + n,
                    sizeof *lib->trackers) ||
            (ntls && oj_grow((void **)&lib->tls, &lib->captls, lib->ntls + ntls,
                             sizeof *lib->tls));
  for (size_t i = 0; i < n && !oom; i++) {
    const oj_elf_object *o = &units[i].obj;
    for (size_t j = 0; j < o->ndefined && !oom; j++) {
      uint64_t a = addrs[base[i] + j];
      if (!a) continue;
      int created;
      oj_symtab_entry *e = oj_symtab_insert(&lib->syms, o->defined[j].name, &created);
      if (!e) oom = 1;
      else if (created) {
        e->addr = a;
        e->object = first + (uint32_t)i;
        e->flags = ((o->defined[j].flags & OJ_ELF_SYM_HIDDEN) ? OJ_SYM_HIDDEN : 0) |
                   ((o->defined[j].flags & OJ_ELF_SYM_WEAK) ? OJ_SYM_WEAK : 0) |
                   ((o->defined[j].flags & OJ_ELF_SYM_TLS) ? OJ_SYM_TLS : 0);
      }
    }
  }
  if (!oom) {
    for (size_t i = 0; i < n; i++) {
      lib->objects[lib->nobjects++] = units[i].what;
      units[i].what = NULL;
      lib->trackers[lib->ntrackers++] = units[i].rt;
    }
  }
  orcjit_link_callback cb = lib->link_cb;
  void *cb_user = lib->link_cb_user;
  pthread_mutex_unlock(&lib->lock);
  uint32_t range[2] = {first, first + (uint32_t)n};
  if (oom) {
    rc = oj_error_set(ORCJIT_ENOMEM, "library '%s': %s: out of memory", lib->name, what);
    goto out_unpublish;
  }
  /* Thread-local data, before any code (the callback, constructors) runs. */
  tls_first = lib->ntls;
  for (size_t i = 0; i < n && rc == ORCJIT_OK; i++) {
    const oj_elf_object *o = &units[i].obj;
    rc = oj_tls_register(tm[i], addrs + base[i] + o->ndefined + o->ninitfini + (o->anchor ? 1 : 0));
    if (rc == ORCJIT_OK && tm[i]) lib->tls[lib->ntls++] = tm[i]; /* room was made above */
    if (rc == ORCJIT_OK) tm[i] = NULL;
  }
  if (rc != ORCJIT_OK) {
    oj_error_prefix("library '%s': %s", lib->name, what);
    goto out_untls;
  }
  if (cb) {
    oj_error_clear();
    if (cb(lib, cb_user) != 0) {
      rc = oj_error_status() != ORCJIT_OK ? oj_error_status() : ORCJIT_EINIT;
      if (!*oj_error_message())
        oj_error_set(rc, "library '%s': %s: the link callback failed", lib->name, what);
      pthread_mutex_lock(&lib->lock);
      for (size_t i = n; i-- > 0;) {
        lib->ntrackers--;
        units[i].what = lib->objects[--lib->nobjects];
      }
      pthread_mutex_unlock(&lib->lock);
      goto out_untls;
    }
  }
  for (size_t i = 0; i < n; i++) oj_pin_note(lib, &units[i].obj);
  for (size_t i = 0; i < n && rc == ORCJIT_OK; i++) {
    const oj_elf_object *o = &units[i].obj;
    rc = oj_initfini_run_object(lib, o, addrs + base[i] + o->ndefined, first + (uint32_t)i);
  }
  oj_link_gen_bump();
  goto out; /* constructors ran: the objects stay even on ENOMEM */

out_untls:
  while (lib->ntls > tls_first) oj_tls_unregister(lib->tls[--lib->ntls]);
out_unpublish:
  pthread_mutex_lock(&lib->lock);
  oj_symtab_remove_if(&lib->syms, oj_entry_of_objects, range);
  pthread_mutex_unlock(&lib->lock);
out_remove:
  for (size_t i = 0; i < added; i++) {
    oj_tracker_drop(units[i].rt);
    units[i].rt = NULL;
  }
  if (added) oj_session_objects_dropped(lib->session, added);
  oj_library_unlow(lib, newly_low);
out:
  for (size_t i = 0; tm && i < n; i++) oj_tls_unregister(tm[i]);
  free(tm);
  free(names);
  free(req);
  free(addrs);
  free(base);
  return rc;
}

/* Clears the `taken` marks of members selected for a batch that failed. */
static void oj_library_untake(orcjit_library *lib, oj_unit *units, size_t n) {
  pthread_mutex_lock(&lib->lock);
  for (size_t i = 0; i < n; i++)
    for (size_t m = 0; m < lib->npending; m++)
      if (units[i].what && strcmp(lib->pending[m].what, units[i].what) == 0)
        lib->pending[m].taken = 0;
  pthread_mutex_unlock(&lib->lock);
}

/* Links obj (already prepared; ownership taken) with the members it needs. */
static int oj_library_link_object(orcjit_library *lib, oj_elf_object *obj, const char *what) {
  size_t n = 1, cap = 4;
  oj_unit *units = calloc(cap, sizeof *units);
  char *w = strdup(what);
  if (!units || !w) {
    free(units);
    free(w);
    oj_elf_object_free(obj);
    return oj_error_set(ORCJIT_ENOMEM, "library '%s': out of memory", lib->name);
  }
  units[0].obj = *obj;
  units[0].what = w;
  memset(obj, 0, sizeof *obj);
  int rc = lib->npending || oj_library_links(lib) ? oj_library_select(lib, &units, &n, &cap)
                                                 : ORCJIT_OK;
  if (rc == ORCJIT_OK && n > 1) {
    /* The caller's object goes last: members are linked (and constructed)
    ** before the object that needs them, as in a static link. */
    oj_unit first = units[0];
    memmove(units, units + 1, (n - 1) * sizeof *units);
    units[n - 1] = first;
  }
  if (rc == ORCJIT_OK) rc = oj_library_link_units(lib, units, n);
  if (rc != ORCJIT_OK && n > 1) oj_library_untake(lib, units, n);
  oj_units_free(units, n);
  return rc;
}

/* ---- deferred objects: linked at the next lookup ------------------------ */

/* Bumped whenever symbols may have appeared (an add, a link order set): a
** deferred object that failed to link is tried again only after that. */
static _Atomic uint64_t oj_link_gen = 1;

static void oj_link_gen_bump(void) { atomic_fetch_add(&oj_link_gen, 1); }

static size_t oj_library_ndeferred(orcjit_library *lib) {
  pthread_mutex_lock(&lib->lock);
  size_t n = lib->ndeferred;
  pthread_mutex_unlock(&lib->lock);
  return n;
}

/* One try at linking the deferred objects idx[k] with !drop[k] as one batch
** with the archive members they need.  On EUNRESOLVED, miss[k] is set for
** each of them that needs a missing name. */
static int oj_library_link_deferred(orcjit_library *lib, const size_t *idx, size_t n,
                                    const unsigned char *drop, unsigned char *miss) {
  size_t nu = 0, cap = n + 4;
  oj_unit *units = calloc(cap, sizeof *units);
  size_t *of = malloc(n * sizeof *of); /* unit -> k */
  int rc = units && of ? ORCJIT_OK
                       : oj_error_set(ORCJIT_ENOMEM, "library '%s': out of memory", lib->name);
  for (size_t k = 0; k < n && rc == ORCJIT_OK; k++) {
    if (drop[k]) continue;
    const oj_pending *p = &lib->pending[idx[k]];
    char tag[48];
    snprintf(tag, sizeof tag, "J%u.O%zu", lib->slot->index, lib->nobjects + nu);
    rc = oj_elf_prepare(p->bytes, p->size, p->what, tag, &units[nu].obj);
    if (rc == ORCJIT_OK && !(units[nu].what = strdup(p->what))) {
      oj_elf_object_free(&units[nu].obj);
      rc = oj_error_set(ORCJIT_ENOMEM, "library '%s': out of memory", lib->name);
    }
    if (rc == ORCJIT_OK) of[nu++] = k;
  }
  size_t nobj = nu, first_obj = 0; /* the objects: units[first_obj, +nobj) */
  if (rc == ORCJIT_OK && nu && lib->npending) rc = oj_library_select(lib, &units, &nu, &cap);
  if (rc == ORCJIT_OK && nu > nobj) {
    /* Members first: linked and constructed before the objects needing them. */
    oj_unit *tmp = malloc(nobj * sizeof *tmp);
    if (!tmp) {
      rc = oj_error_set(ORCJIT_ENOMEM, "library '%s': out of memory", lib->name);
    } else {
      memcpy(tmp, units, nobj * sizeof *tmp);
      memmove(units, units + nobj, (nu - nobj) * sizeof *units);
      memcpy(units + (nu - nobj), tmp, nobj * sizeof *tmp);
      free(tmp);
      first_obj = nu - nobj;
    }
  }
  if (rc == ORCJIT_OK && nu) rc = oj_library_link_units(lib, units, nu);
  if (rc == ORCJIT_EUNRESOLVED)
    for (size_t u = 0; u < nobj; u++)
      if (oj_unit_misses(&units[first_obj + u], oj_resolve_missing())) miss[of[u]] = 1;
  if (rc != ORCJIT_OK && nu > nobj) /* the members pulled wait again */
    oj_library_untake(lib, first_obj ? units : units + nobj, nu - nobj);
  if (units) oj_units_free(units, nu);
  free(of);
  return rc;
}

/* Links the deferred objects of lib that can link (the busy flag is held):
** all of them as one batch, or, when some miss symbols, the others without
** them, until a batch links.  Those left wait for the next try, which comes
** after something changed (oj_link_gen), or now if force.  Returns the
** first failure (its message set) or ORCJIT_OK. */
static int oj_library_flush(orcjit_library *lib, int force) {
  uint64_t gen = atomic_load(&oj_link_gen);
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
  if (oom) return oj_error_set(ORCJIT_ENOMEM, "library '%s': out of memory", lib->name);
  if (n == 0) {
    free(idx);
    return ORCJIT_OK;
  }
  unsigned char *drop = calloc(2 * n, 1), *miss = drop + n;
  int first = ORCJIT_OK, rc = drop ? ORCJIT_OK : ORCJIT_ENOMEM;
  char *first_msg = NULL;
  size_t left = n;
  if (!drop) first = oj_error_set(ORCJIT_ENOMEM, "library '%s': out of memory", lib->name);
  while (drop && left) {
    memset(miss, 0, n);
    rc = oj_library_link_deferred(lib, idx, n, drop, miss);
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
  if (linked) oj_link_gen_bump();
  free(idx);
  free(drop);
  if (first != ORCJIT_OK) oj_error_set(first, "%s", first_msg ? first_msg : "out of memory");
  free(first_msg);
  return first;
}

/* Whether lib itself defines name (imports excluded). */
static int oj_library_defines(orcjit_library *lib, const char *name) {
  pthread_mutex_lock(&lib->lock);
  const oj_symtab_entry *e = oj_symtab_find(&lib->syms, name);
  int have = e && !(e->flags & OJ_SYM_IMPORTED);
  pthread_mutex_unlock(&lib->lock);
  return have;
}

/* Links the pending member of lib that defines name, if any (first, the
** deferred objects of lib that can link). */
static int oj_library_pull(orcjit_library *lib, const char *name) {
  if (oj_library_ndeferred(lib) && !atomic_flag_test_and_set(&lib->busy)) {
    oj_library_flush(lib, 0); /* a failure here is the needing object's to report */
    atomic_flag_clear(&lib->busy);
    if (oj_library_defines(lib, name)) return ORCJIT_OK;
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
  snprintf(tag, sizeof tag, "J%u.O%zu", lib->slot->index, lib->nobjects);
  oj_elf_object obj;
  const oj_pending *pm = &lib->pending[m];
  int rc = oj_elf_prepare(pm->bytes, pm->size, pm->what, tag, &obj);
  if (rc == ORCJIT_OK) rc = oj_library_link_object(lib, &obj, pm->what);
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
static int oj_library_pull_linked(orcjit_library *lib, const char *name) {
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
    int rc = oj_library_pull(dep, name);
    if (rc == ORCJIT_OK) return ORCJIT_OK;
    if (rc != ORCJIT_ENOTFOUND) {
      oj_error_prefix("library '%s': '%s' is defined by an archive member of '%s' in its "
                      "link order, which could not be linked",
                      lib->name, name, dep->name);
      return rc;
    }
  }
}

/* mine: data itself, malloc'd, handed over (oj_elf_prepare_owned), or NULL. */
static int oj_library_add_object(orcjit_library *lib, const void *data, size_t size,
                                 const char *what, unsigned char *mine) {
  char tag[48];
  snprintf(tag, sizeof tag, "J%u.O%zu", lib->slot->index, lib->nobjects);
  oj_elf_object obj;
  int rc = mine ? oj_elf_prepare_owned(mine, size, what, tag, &obj)
                : oj_elf_prepare(data, size, what, tag, &obj);
  if (rc != ORCJIT_OK) {
    oj_error_prefix("library '%s'", lib->name);
    return rc;
  }
  return oj_library_link_object(lib, &obj, what);
}

/* An archive: its members wait in lib->pending until an object of this
** library (or of one linking against it) or a lookup needs them. */
static int oj_library_add_archive(orcjit_library *lib, const void *data, size_t size,
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
    if (oj_elf_prepare(m[i].data, m[i].size, m[i].name, "probe", &obj) != ORCJIT_OK) {
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
  if (rc == ORCJIT_OK && usable) oj_link_gen_bump();
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

static void oj_library_forget_pending(orcjit_library *lib, size_t from);
static int oj_library_add_batch(orcjit_library *lib, const orcjit_input *inputs, size_t n);

/* mine: data itself, malloc'd and handed over (freed here), or NULL. */
static int oj_library_add(orcjit_library *lib, const void *data, size_t size,
                          const char *what, unsigned char *mine) {
  if (atomic_flag_test_and_set(&lib->busy)) {
    free(mine);
    return oj_error_set(ORCJIT_EBUSY,
                        "library '%s': %s: another add into this library is in progress "
                        "on another thread",
                        lib->name, what);
  }
  size_t pending_before = lib->npending;
  int rc;
  if (oj_tar_is(data, size)) { /* its objects, one link */
    orcjit_input one = {NULL, data, size, what};
    rc = oj_library_add_batch(lib, &one, 1);
    free(mine);
  } else if (oj_elf_classify(data, size) == OJ_ELF_KIND_ARCHIVE) {
    rc = oj_library_add_archive(lib, data, size, what);
    free(mine);
  } else {
    rc = oj_library_add_object(lib, data, size, what, mine);
  }
  /* All or nothing: members of a failed archive are forgotten. */
  if (rc != ORCJIT_OK) oj_library_forget_pending(lib, pending_before);
  atomic_flag_clear(&lib->busy);
  return rc;
}

/* The checks of an input given as memory; nonzero (error set) if bad. */
static int oj_memory_check(const orcjit_library *lib, const void *data, size_t size,
                           const char *name) {
  if (!data && size)
    return oj_error_set(ORCJIT_EINVAL, "library '%s': %s: data is NULL", lib->name, name);
  if (size > ORCJIT_MAX_INPUT_SIZE)
    return oj_error_set(ORCJIT_EFORMAT,
                        "library '%s': %s: input too large (%zu bytes; the limit is %zu, "
                        "ORCJIT_MAX_INPUT_SIZE)",
                        lib->name, name, size, (size_t)ORCJIT_MAX_INPUT_SIZE);
  return 0;
}

int orcjit_library_add_memory(orcjit_library *lib, const void *data, size_t size,
                              const char *name) {
  oj_error_clear();
  if (oj_lib_check(lib, "orcjit_library_add_memory")) return ORCJIT_EINVAL;
  if (!name || !*name) name = "<memory>";
  if (oj_memory_check(lib, data, size, name)) return oj_error_status();
  if (oj_fork_enter(lib->session) != ORCJIT_OK) return oj_error_status();
  int rc = oj_library_add(lib, data ? data : "", size, name, NULL);
  oj_fork_leave();
  return rc;
}

int orcjit_library_add_file(orcjit_library *lib, const char *path) {
  oj_error_clear();
  if (oj_lib_check(lib, "orcjit_library_add_file")) return ORCJIT_EINVAL;
  if (!path || !*path)
    return oj_error_set(ORCJIT_EINVAL, "library '%s': empty path", lib->name);
  unsigned char *buf;
  size_t size;
  if (oj_file_read(path, &buf, &size) != ORCJIT_OK) {
    oj_error_prefix("library '%s'", lib->name);
    return oj_error_status();
  }
  int rc = oj_fork_enter(lib->session);
  if (rc != ORCJIT_OK) {
    free(buf);
    return rc;
  }
  rc = oj_library_add(lib, buf, size, path, buf); /* takes buf */
  oj_fork_leave();
  return rc;
}

/* ---- several inputs as one link ----------------------------------------- */

static int oj_pending_from(const oj_symtab_entry *e, void *ctx) {
  return e->object >= *(const size_t *)ctx;
}

/* Forgets the archive members registered from index `from` on. */
static void oj_library_forget_pending(orcjit_library *lib, size_t from) {
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

/* Reads input i into *data and *size (*buf: what to free) and names it. */
static int oj_input_load(orcjit_library *lib, const orcjit_input *in, size_t i,
                         char *name, size_t cap, const void **data, size_t *size,
                         unsigned char **buf) {
  *buf = NULL;
  if (in->path) {
    snprintf(name, cap, "%s", in->path);
    if (!*in->path)
      return oj_error_set(ORCJIT_EINVAL, "library '%s': input %zu: empty path", lib->name, i);
    if (oj_file_read(in->path, buf, size) != ORCJIT_OK) {
      oj_error_prefix("library '%s'", lib->name);
      return oj_error_status();
    }
    *data = *buf;
    return ORCJIT_OK;
  }
  if (in->name && *in->name) snprintf(name, cap, "%s", in->name);
  else snprintf(name, cap, "<memory #%zu>", i);
  if (oj_memory_check(lib, in->data, in->size, name)) return oj_error_status();
  *data = in->data ? in->data : "";
  *size = in->size;
  return ORCJIT_OK;
}

/* One input, read. */
typedef struct oj_loaded {
  const void *data;
  size_t size;
  unsigned char *buf; /* what to free, or NULL */
  char *name;
} oj_loaded;

/* Inputs that are tars (oj_tar.c): the batch again, each tar replaced by
** the objects it holds (which are never tars themselves). */
static int oj_library_add_untarred(orcjit_library *lib, const oj_loaded *in, size_t n) {
  oj_tar *tars = calloc(n, sizeof *tars);
  orcjit_input *flat = NULL;
  size_t total = 0, k = 0, i;
  int rc = tars ? ORCJIT_OK : oj_error_set(ORCJIT_ENOMEM, "library '%s': out of memory", lib->name);
  for (i = 0; i < n && rc == ORCJIT_OK; i++) {
    if (!oj_tar_is(in[i].data, in[i].size)) {
      total++;
    } else if ((rc = oj_tar_open(in[i].data, in[i].size, in[i].name, &tars[i])) != ORCJIT_OK) {
      oj_error_prefix("library '%s'", lib->name);
    } else {
      total += tars[i].nobjects;
    }
  }
  if (rc == ORCJIT_OK && !(flat = calloc(total, sizeof *flat)))
    rc = oj_error_set(ORCJIT_ENOMEM, "library '%s': out of memory", lib->name);
  for (i = 0; i < n && rc == ORCJIT_OK; i++) {
    if (!tars[i].nobjects) flat[k++] = (orcjit_input){NULL, in[i].data, in[i].size, in[i].name};
    for (size_t m = 0; m < tars[i].nobjects; m++)
      flat[k++] = (orcjit_input){NULL, tars[i].objects[m].data, tars[i].objects[m].size,
                                 tars[i].objects[m].name};
  }
  if (rc == ORCJIT_OK) rc = oj_library_add_batch(lib, flat, total);
  free(flat);
  for (i = 0; tars && i < n; i++) oj_tar_close(&tars[i]);
  free(tars);
  return rc;
}

/* Archives first (their members then serve every object), then every
** object prepared into one batch of units with the members they need. */
static int oj_library_add_batch(orcjit_library *lib, const orcjit_input *inputs, size_t n) {
  size_t pending_before = lib->npending, nu = 0, cap = n + 4, i;
  oj_loaded *in = calloc(n, sizeof *in);
  oj_unit *units = calloc(cap, sizeof *units);
  int rc = in && units ? ORCJIT_OK
                       : oj_error_set(ORCJIT_ENOMEM, "library '%s': out of memory", lib->name);
  for (i = 0; i < n && rc == ORCJIT_OK; i++) {
    char name[1024];
    rc = oj_input_load(lib, &inputs[i], i, name, sizeof name, &in[i].data, &in[i].size,
                       &in[i].buf);
    if (rc == ORCJIT_OK && !(in[i].name = strdup(name)))
      rc = oj_error_set(ORCJIT_ENOMEM, "library '%s': out of memory", lib->name);
  }
  for (i = 0; i < n && rc == ORCJIT_OK; i++)
    if (oj_tar_is(in[i].data, in[i].size)) {
      rc = oj_library_add_untarred(lib, in, n);
      goto done;
    }
  for (i = 0; i < n && rc == ORCJIT_OK; i++)
    if (oj_elf_classify(in[i].data, in[i].size) == OJ_ELF_KIND_ARCHIVE)
      rc = oj_library_add_archive(lib, in[i].data, in[i].size, in[i].name);
  for (i = 0; i < n && rc == ORCJIT_OK; i++) {
    if (oj_elf_classify(in[i].data, in[i].size) == OJ_ELF_KIND_ARCHIVE) continue;
    char tag[48];
    snprintf(tag, sizeof tag, "J%u.O%zu", lib->slot->index, lib->nobjects + nu);
    /* A file read here is handed over: edited in place, not copied. */
    unsigned char *mine = in[i].buf;
    in[i].buf = NULL;
    rc = mine ? oj_elf_prepare_owned(mine, in[i].size, in[i].name, tag, &units[nu].obj)
              : oj_elf_prepare(in[i].data, in[i].size, in[i].name, tag, &units[nu].obj);
    if (rc != ORCJIT_OK) {
      oj_error_prefix("library '%s'", lib->name);
    } else {
      units[nu].what = in[i].name; /* the unit owns it now */
      in[i].name = NULL;
      nu++;
    }
  }
  size_t nobj = nu;
  if (rc == ORCJIT_OK && nu && (lib->npending || oj_library_links(lib)))
    rc = oj_library_select(lib, &units, &nu, &cap);
  if (rc == ORCJIT_OK && nu > nobj) {
    /* Members first: linked and constructed before the objects needing them. */
    oj_unit *tmp = malloc(nobj * sizeof *tmp);
    if (!tmp) {
      rc = oj_error_set(ORCJIT_ENOMEM, "library '%s': out of memory", lib->name);
    } else {
      memcpy(tmp, units, nobj * sizeof *tmp);
      memmove(units, units + nobj, (nu - nobj) * sizeof *units);
      memcpy(units + (nu - nobj), tmp, nobj * sizeof *tmp);
      free(tmp);
    }
  }
  if (rc == ORCJIT_OK && nu) rc = oj_library_link_units(lib, units, nu);
  if (rc != ORCJIT_OK) {
    if (nu > nobj) oj_library_untake(lib, units, nu);
    oj_library_forget_pending(lib, pending_before);
  }
done:
  if (units) oj_units_free(units, nu);
  for (i = 0; in && i < n; i++) {
    free(in[i].buf);
    free(in[i].name);
  }
  free(in);
  return rc;
}

int orcjit_library_add_many(orcjit_library *lib, const orcjit_input *inputs, size_t n) {
  oj_error_clear();
  if (oj_lib_check(lib, "orcjit_library_add_many")) return ORCJIT_EINVAL;
  if (n && !inputs)
    return oj_error_set(ORCJIT_EINVAL, "library '%s': inputs array is NULL", lib->name);
  if (n == 0) return ORCJIT_OK;
  if (oj_fork_enter(lib->session) != ORCJIT_OK) return oj_error_status();
  int rc;
  if (atomic_flag_test_and_set(&lib->busy)) {
    rc = oj_error_set(ORCJIT_EBUSY,
                      "library '%s': another add into this library is in progress "
                      "on another thread",
                      lib->name);
  } else {
    rc = oj_library_add_batch(lib, inputs, n);
    atomic_flag_clear(&lib->busy);
  }
  oj_fork_leave();
  return rc;
}

/* ---- deferred adds ------------------------------------------------------ */

/* Registers deferred object u (its image is not kept: the bytes are). */
static int oj_library_defer_one(orcjit_library *lib, oj_unit *u, oj_loaded *in) {
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
static int oj_library_defer_batch(orcjit_library *lib, const orcjit_input *inputs, size_t n) {
  size_t pending_before = lib->npending, nu = 0, i, ntotal = n;
  oj_loaded *in = calloc(n, sizeof *in);
  oj_unit *units = calloc(n, sizeof *units);
  size_t *src = calloc(n, sizeof *src); /* unit -> input */
  int rc = in && units && src
               ? ORCJIT_OK
               : oj_error_set(ORCJIT_ENOMEM, "library '%s': out of memory", lib->name);
  for (i = 0; i < n && rc == ORCJIT_OK; i++) {
    char name[1024];
    rc = oj_input_load(lib, &inputs[i], i, name, sizeof name, &in[i].data, &in[i].size,
                       &in[i].buf);
    if (rc == ORCJIT_OK && !(in[i].name = strdup(name)))
      rc = oj_error_set(ORCJIT_ENOMEM, "library '%s': out of memory", lib->name);
  }
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
      rc = oj_library_add_archive(lib, in[i].data, in[i].size, in[i].name);
      continue;
    }
    rc = oj_elf_prepare(in[i].data, in[i].size, in[i].name, "probe", &units[nu].obj);
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
    rc = oj_library_check_dups(lib, &units[i].obj, units[i].what, &shadow);
  }
  if (rc == ORCJIT_OK) rc = oj_units_check_dups(lib, units, nu);
  for (i = 0; i < nu && rc == ORCJIT_OK; i++)
    if (oj_library_defer_one(lib, &units[i], &in[src[i]]) != 0)
      rc = oj_error_set(ORCJIT_ENOMEM, "library '%s': out of memory", lib->name);
  if (rc != ORCJIT_OK || whole) oj_library_forget_pending(lib, pending_before);
  else oj_link_gen_bump();
  if (units) oj_units_free(units, nu_prepared);
  n = ntotal;
  for (i = 0; in && i < n; i++) {
    free(in[i].buf);
    free(in[i].name);
  }
  free(in);
  free(src);
  if (rc == ORCJIT_OK && whole) rc = oj_library_add_batch(lib, inputs, ntotal);
  return rc;
}

int orcjit_library_add_deferred(orcjit_library *lib, const orcjit_input *inputs, size_t n) {
  oj_error_clear();
  if (oj_lib_check(lib, "orcjit_library_add_deferred")) return ORCJIT_EINVAL;
  if (n && !inputs)
    return oj_error_set(ORCJIT_EINVAL, "library '%s': inputs array is NULL", lib->name);
  if (n == 0) return ORCJIT_OK;
  if (oj_fork_enter(lib->session) != ORCJIT_OK) return oj_error_status();
  int rc;
  if (atomic_flag_test_and_set(&lib->busy)) {
    rc = oj_error_set(ORCJIT_EBUSY,
                      "library '%s': another add into this library is in progress "
                      "on another thread",
                      lib->name);
  } else {
    rc = oj_library_defer_batch(lib, inputs, n);
    atomic_flag_clear(&lib->busy);
  }
  oj_fork_leave();
  return rc;
}

/* ---- link order -------------------------------------------------------- */

int orcjit_library_set_link_order(orcjit_library *lib, orcjit_library *const *libs,
                                  size_t n) {
  oj_error_clear();
  if (oj_lib_check(lib, "orcjit_library_set_link_order")) return ORCJIT_EINVAL;
  if (n && !libs)
    return oj_error_set(ORCJIT_EINVAL, "library '%s': link order array is NULL", lib->name);
  for (size_t i = 0; i < n; i++) {
    if (!libs[i])
      return oj_error_set(ORCJIT_EINVAL, "library '%s': link order entry %zu is NULL",
                          lib->name, i);
    if (libs[i]->session != lib->session)
      return oj_error_set(ORCJIT_EINVAL,
                          "library '%s': cannot link against '%s': it belongs to another "
                          "session",
                          lib->name, libs[i]->name);
  }
  orcjit_library **nl = malloc((n ? n : 1) * sizeof *nl);
  if (!nl) return oj_error_set(ORCJIT_ENOMEM, "library '%s': out of memory", lib->name);
  if (n) memcpy(nl, libs, n * sizeof *nl);
  if (oj_fork_enter(lib->session) != ORCJIT_OK) {
    free(nl);
    return oj_error_status();
  }
  /* Every library ever in the link order stays alive with lib
  ** (oj_lifetime.c), link orders that form cycles included. */
  int rc = oj_lifetime_hold(lib, libs, n);
  if (rc == ORCJIT_OK) {
    pthread_mutex_lock(&lib->lock);
    free(lib->link);
    lib->link = nl;
    lib->nlink = n;
    pthread_mutex_unlock(&lib->lock);
    oj_link_gen_bump();
  } else {
    free(nl);
  }
  oj_fork_leave();
  return rc;
}

/* ---- lookups ----------------------------------------------------------- */

/* Finds symbol, linking the archive member that defines it if need be.
** ORCJIT_ENOTFOUND (no message) when nothing defines it; another status,
** with its message, when the member that defines it could not be linked. */
static int oj_library_find_linked(orcjit_library *lib, const char *symbol, void **out) {
  for (int attempt = 0;; attempt++) {
    pthread_mutex_lock(&lib->lock);
    oj_symtab_entry *e = oj_symtab_find(&lib->syms, symbol);
    uint64_t addr = (e && !(e->flags & OJ_SYM_IMPORTED)) ? e->addr : 0;
    int tls = addr && (e->flags & OJ_SYM_TLS);
    int pending = !addr && lib->npending;
    pthread_mutex_unlock(&lib->lock);
    /* A thread-local: the calling thread's copy. */
    *out = tls ? oj_tls_address(addr) : (void *)(uintptr_t)addr;
    if (addr) return ORCJIT_OK;
    /* An archive member that defines it is linked now. */
    if (!pending || attempt > 0) return ORCJIT_ENOTFOUND;
    int rc = oj_library_pull(lib, symbol);
    if (rc != ORCJIT_OK && rc != ORCJIT_ENOTFOUND) {
      if (rc != ORCJIT_EBUSY)
        oj_error_prefix("library '%s': '%s' is defined by an archive member that "
                        "failed to link", lib->name, symbol);
      return rc;
    }
  }
}

/* Whether a deferred object not linked yet defines symbol. */
static int oj_library_waiting(orcjit_library *lib, const char *symbol) {
  pthread_mutex_lock(&lib->lock);
  const oj_symtab_entry *w =
      lib->ndeferred ? oj_symtab_find(&lib->deferred_index, symbol) : NULL;
  int waiting = w && !lib->pending[w->object].taken;
  pthread_mutex_unlock(&lib->lock);
  return waiting;
}

static int oj_busy_waiting(orcjit_library *lib, const char *symbol) {
  return oj_error_set(ORCJIT_EBUSY,
                      "library '%s': '%s' is defined by an object waiting to be linked, and "
                      "another add into this library is in progress on another thread",
                      lib->name, symbol);
}

/* oj_library_find_linked, after linking the deferred objects that can link
** (so that constructors run before any function is handed out); when a
** deferred object that defines symbol cannot link, that failure. */
static int oj_library_find_in(orcjit_library *lib, const char *symbol, void **out) {
  int flushed = ORCJIT_OK, busy = 0;
  char *msg = NULL;
  if (oj_library_ndeferred(lib)) {
    if (atomic_flag_test_and_set(&lib->busy)) {
      busy = 1;
    } else {
      flushed = oj_library_flush(lib, 0);
      if (flushed != ORCJIT_OK && !(msg = strdup(oj_error_message()))) flushed = ORCJIT_ENOMEM;
      atomic_flag_clear(&lib->busy);
    }
  }
  int rc = oj_library_find_linked(lib, symbol, out);
  if (rc == ORCJIT_ENOTFOUND && oj_library_waiting(lib, symbol)) {
    if (busy) {
      rc = oj_busy_waiting(lib, symbol);
    } else if (flushed != ORCJIT_OK) {
      rc = oj_error_set(flushed, "%s", msg ? msg : "out of memory");
    } else if (atomic_flag_test_and_set(&lib->busy)) {
      rc = oj_busy_waiting(lib, symbol);
    } else {
      /* Tried before and nothing changed since: again, for its error. */
      rc = oj_library_flush(lib, 1);
      atomic_flag_clear(&lib->busy);
      if (rc == ORCJIT_OK) rc = oj_library_find_linked(lib, symbol, out);
    }
  }
  free(msg);
  if (rc == ORCJIT_OK) oj_error_clear(); /* what the flush left */
  return rc;
}

/* oj_library_find_in inside the fork lock (oj_fork.c). */
static int oj_library_find(orcjit_library *lib, const char *symbol, void **out) {
  if (oj_fork_enter(lib->session) != ORCJIT_OK) return oj_error_status();
  int rc = oj_library_find_in(lib, symbol, out);
  oj_fork_leave();
  return rc;
}

int orcjit_library_lookup(orcjit_library *lib, const char *symbol, void **out_addr) {
  oj_error_clear();
  if (!out_addr) return oj_error_set(ORCJIT_EINVAL, "orcjit_library_lookup: out is NULL");
  *out_addr = NULL;
  if (oj_lib_check(lib, "orcjit_library_lookup")) return ORCJIT_EINVAL;
  if (!symbol || !*symbol)
    return oj_error_set(ORCJIT_EINVAL, "library '%s': empty symbol name", lib->name);
  int rc = oj_library_find(lib, symbol, out_addr);
  if (rc == ORCJIT_ENOTFOUND)
    return oj_error_set(ORCJIT_ENOTFOUND, "library '%s': symbol '%s' is not defined",
                        lib->name, symbol);
  return rc;
}

int orcjit_library_get_function(orcjit_library *lib, const char *name, void **out_fn) {
  oj_error_clear();
  if (!out_fn) return oj_error_set(ORCJIT_EINVAL, "orcjit_library_get_function: out is NULL");
  *out_fn = NULL;
  if (oj_lib_check(lib, "orcjit_library_get_function")) return ORCJIT_EINVAL;
  if (!name || !*name)
    return oj_error_set(ORCJIT_EINVAL, "library '%s': empty function name", lib->name);
  char stack[256];
  size_t len = strlen(name) + sizeof OJ_FFI_PREFIX;
  char *sym = len <= sizeof stack ? stack : malloc(len);
  if (!sym) return oj_error_set(ORCJIT_ENOMEM, "library '%s': out of memory", lib->name);
  snprintf(sym, len, "%s%s", OJ_FFI_PREFIX, name);
  int rc = oj_library_find(lib, sym, out_fn);
  if (rc == ORCJIT_ENOTFOUND)
    oj_error_set(ORCJIT_ENOTFOUND,
                 "library '%s': function '%s' not found (no symbol '%s' in its objects)",
                 lib->name, name, sym);
  if (sym != stack) free(sym);
  return rc;
}

static void oj_ffi_retain_lib(void *lib) { orcjit_library_retain(lib); }
static void oj_ffi_release_lib(void *lib) { orcjit_library_release(lib); }

int orcjit_library_get_ffi_function(orcjit_library *lib, const char *name,
                                    void **out_function) {
  if (!out_function) {
    oj_error_clear();
    return oj_error_set(ORCJIT_EINVAL, "orcjit_library_get_ffi_function: out is NULL");
  }
  *out_function = NULL;
  void *fn;
  int rc = orcjit_library_get_function(lib, name, &fn);
  if (rc != ORCJIT_OK) return rc;
  /* The same Function as the Python path's (src/oj_ffiabi.c). */
  oj_ffiabi_owner owner = {lib, oj_ffi_retain_lib, oj_ffi_release_lib};
  TVMFFIObjectHandle f = NULL;
  if (oj_ffiabi_function(fn, &owner, &f) != 0) {
    TVMFFIObjectHandle e = NULL;
    TVMFFIErrorMoveFromRaised(&e);
    if (e) TVMFFIObjectDecRef(e);
    return oj_error_set(ORCJIT_ENOMEM, "library '%s': cannot create the Function for '%s'",
                        lib->name, name);
  }
  *out_function = f;
  return ORCJIT_OK;
}

int orcjit_library_set_free_hook(orcjit_library *lib, void (*fn)(void *), void *arg) {
  oj_error_clear();
  if (oj_lib_check(lib, "orcjit_library_set_free_hook")) return ORCJIT_EINVAL;
  pthread_mutex_lock(&lib->lock);
  lib->free_hook = fn;
  lib->free_hook_arg = arg;
  pthread_mutex_unlock(&lib->lock);
  return ORCJIT_OK;
}

int orcjit_library_set_link_callback(orcjit_library *lib, orcjit_link_callback cb,
                                     void *user) {
  oj_error_clear();
  if (oj_lib_check(lib, "orcjit_library_set_link_callback")) return ORCJIT_EINVAL;
  pthread_mutex_lock(&lib->lock);
  lib->link_cb = cb;
  lib->link_cb_user = user;
  pthread_mutex_unlock(&lib->lock);
  return ORCJIT_OK;
}
