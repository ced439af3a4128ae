/*
** oj_add.c: linking objects into a library.  Adding an object:
**   1. the ELF pre-pass validates and rewrites it (oj_elf.c);
**   2. a strong symbol it defines that the library already defines is
**      refused, naming both objects, and weak definitions are settled
**      (oj_settle.c);
**   3. it is added to the JITDylib under its own resource tracker, and
**      every symbol it defines plus its markers are looked up at once
**      (oj_orclookup.c), which links it now (errors surface at add, not at
**      first call);
**   4. its symbols go into the library's table, the link callback runs,
**      and its constructors run.
** Any failure removes the object's resource tracker: nothing of it stays.
** This file owns those steps for a batch of units (oj_add_link_units), the
** library's __dso_handle (from one of its objects, or from the runtime
** object, which also brings atexit), and the add calls: add_file, add_memory, add_many, with
** tars opened into their objects.  Archive members and deferred objects
** wait in oj_members.c; lookups and the library itself are oj_library.c's.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oj_library_int.h"
#include "oj_link.h"
#include "oj_memmgr.h"
#include "oj_tar.h"

/* Removes what a tracker holds from the JITDylib and drops our reference. */
static void oj_add_tracker_drop(LLVMOrcResourceTrackerRef rt) {
  LLVMErrorRef err = LLVMOrcResourceTrackerRemove(rt);
  if (err) LLVMConsumeError(err);
  LLVMOrcReleaseResourceTracker(rt);
}

static int oj_add_track(orcjit_library *lib, LLVMOrcResourceTrackerRef rt) {
  if (oj_grow((void **)&lib->trackers, &lib->captrackers, lib->ntrackers + 1,
              sizeof *lib->trackers))
    return -1;
  lib->trackers[lib->ntrackers++] = rt;
  return 0;
}

/* Adds image to the JITDylib under a new tracker; *out_rt owns it. */
static int oj_add_image(orcjit_library *lib, const void *image, size_t size, const char *what,
                        LLVMOrcResourceTrackerRef *out_rt) {
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

/* Adds the library's runtime object (oj_rtobj.c: atexit, and __dso_handle
** if with_dso) to the JITDylib; it links in the same ORC lookup as the
** objects that need it (oj_add_link_units).  A lookup of its own cost a
** fifth of the load of a small C++ object. */
static int oj_add_runtime(orcjit_library *lib, int with_dso, LLVMOrcResourceTrackerRef *rt) {
  size_t size;
  const unsigned char *image = oj_rtobj_image(with_dso, &size);
  return oj_add_image(lib, image, size, "<orcjit runtime>", rt);
}

/* The runtime object linked: its tracker kept. */
static int oj_add_runtime_linked(orcjit_library *lib, LLVMOrcResourceTrackerRef rt) {
  pthread_mutex_lock(&lib->lock);
  int bad = oj_add_track(lib, rt);
  if (!bad) lib->has_atexit = 1;
  pthread_mutex_unlock(&lib->lock);
  if (bad) {
    oj_add_tracker_drop(rt);
    oj_session_objects_dropped(lib->session, 1);
    return oj_library_nomem(lib);
  }
  return ORCJIT_OK;
}

/* Which names of the runtime object obj refers to. */
static void oj_obj_runtime_needs(const oj_elf_object *obj, int *dso, int *atexit_) {
  for (size_t i = 0; i < obj->nundefined; i++) {
    const char *n = obj->undefined[i].name;
    if (oj_rtnames_kind(n) != OJ_RT_OBJECT) continue;
    if (strcmp(n, "__dso_handle") == 0) *dso = 1;
    else *atexit_ = 1;
  }
}

static int oj_not_imported_or_object(const oj_symtab_entry *e, void *ctx) {
  return (e->flags & OJ_SYM_IMPORTED) != 0;
}

/* Drops what the library imported: the absolute symbols in the JITDylib's
** default tracker, and their entries in the table. */
static void oj_add_drop_imports(orcjit_library *lib) {
  oj_add_tracker_drop(LLVMOrcJITDylibGetDefaultResourceTracker(lib->slot->jd));
  pthread_mutex_lock(&lib->lock);
  oj_symtab_remove_if(&lib->syms, oj_not_imported_or_object, NULL);
  pthread_mutex_unlock(&lib->lock);
}

static int oj_entry_of_objects(const oj_symtab_entry *e, void *ctx) {
  const uint32_t *range = ctx; /* [first, last) object indexes */
  return !(e->flags & OJ_SYM_IMPORTED) && e->object >= range[0] && e->object < range[1];
}

void oj_add_units_free(oj_unit *u, size_t n) {
  for (size_t i = 0; i < n; i++) {
    oj_file_buf_keep(u[i].obj.image); /* for the next add (oj_file.c) */
    u[i].obj.image = NULL;
    oj_elf_object_free(&u[i].obj);
    free(u[i].what);
  }
  free(u);
}

/* The pre-pass's tag of the k-th object after those lib has linked. */
void oj_add_tag(const orcjit_library *lib, size_t k, char tag[48]) {
  snprintf(tag, 48, "J%u.O%zu", lib->slot->index, lib->nobjects + k);
}

/* A failed add of -fno-pic objects leaves the library where it was. */
static void oj_add_unlow(orcjit_library *lib, int newly_low) {
  if (!newly_low) return;
  atomic_store(&lib->low, 0);
  oj_memmgr_set_dylib_low(lib->session->mm, lib->slot->jd, 0);
}

/* Links units[0..n) into lib: the last one is what the caller asked for,
** the others archive members it needs. */
int oj_add_link_units(orcjit_library *lib, oj_unit *units, size_t n) {
  const char *what = units[n - 1].what;
  uint32_t first = (uint32_t)lib->nobjects;
  size_t tls_first = lib->ntls;
  int rc = oj_settle_weak(lib, units, n), shadow = 0, need_dso = 0, need_atexit = 0;
  for (size_t i = 0; i < n && rc == ORCJIT_OK; i++) {
    int sh = 0;
    rc = oj_settle_check_library(lib, &units[i].obj, units[i].what, &sh);
    shadow |= sh;
    oj_obj_runtime_needs(&units[i].obj, &need_dso, &need_atexit);
  }
  if (rc == ORCJIT_OK) rc = oj_settle_check_units(lib, units, n);
  if (rc != ORCJIT_OK) return rc;
  if (shadow) oj_add_drop_imports(lib);
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
  /* The library's __dso_handle, if it needs one now: an object of the
  ** batch defines it at its anchor, or (for atexit too, or an object with
  ** no anchor) the runtime object does; the runtime object with atexit
  ** alone if the handle is there but atexit is not. */
  LLVMOrcResourceTrackerRef rtobj = NULL;
  int dso_own = 0; /* set once an object's __dso_handle is registered */
  size_t k0 = (need_dso || need_atexit) && !lib->dso_handle ? 1 : 0; /* names[0] */
  int rt_dso = k0 && need_atexit;
  for (size_t i = 0; k0 && !rt_dso && i < n; i++)
    if (oj_elf_define_dso(&units[i].obj)) break;
    else if (i == n - 1) rt_dso = 1;
  if ((rt_dso || (need_atexit && !lib->has_atexit)) &&
      (rc = oj_add_runtime(lib, rt_dso, &rtobj)) != ORCJIT_OK) {
    oj_add_unlow(lib, newly_low);
    return rc;
  }

  /* Names to look up: the library's __dso_handle if it is new, then
  ** every defined symbol, the markers of init/fini sections, the anchor and
  ** the TLS sections. */
  size_t total = k0, ntls = 0;
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
  size_t k = k0;
  if (k0) names[0] = "__dso_handle", req[0] = 1;
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
    rc = oj_add_image(lib, units[added].obj.image, units[added].obj.image_size,
                              units[added].what, &units[added].rt);
    if (rc != ORCJIT_OK) goto out_remove;
  }

  /* Room in the library's table for what the link adds to it: the
  ** imports (oj_resolve_external) and the definitions published below. */
  size_t nsyms = 0;
  for (size_t i = 0; i < n; i++) nsyms += units[i].obj.ndefined + units[i].obj.nundefined;
  pthread_mutex_lock(&lib->lock);
  oj_symtab_reserve(&lib->syms, nsyms);
  pthread_mutex_unlock(&lib->lock);
  oj_llvm_errors_reset();
  oj_resolve_missing_reset();
  oj_resolve_sync(lib->session);
  LLVMErrorRef err = total ? oj_orclookup_run(lib, names, req, total, addrs) : NULL;
  if (err) {
    if (oj_resolve_missing_count() > 0) {
      LLVMConsumeError(err);
      rc = oj_orclookup_unresolved(lib, units, n);
    } else {
      rc = oj_orclookup_link_error(lib, what, err);
    }
    goto out_remove;
  }
  if (rtobj) {
    LLVMOrcResourceTrackerRef t = rtobj;
    rtobj = NULL; /* kept or dropped by oj_add_runtime_linked */
    if ((rc = oj_add_runtime_linked(lib, t)) != ORCJIT_OK) goto out_remove;
  }
  /* Registered before any code runs; an object's handle goes with it if
  ** the add fails (dso_own), the runtime object's stays with that. */
  if (k0 && (rc = oj_initfini_register_dso(lib, addrs[0])) != ORCJIT_OK) goto out_remove;
  dso_own = k0 && !rt_dso;

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
  oj_members_gen_bump();
  goto out; /* constructors ran: the objects stay even on ENOMEM */

out_untls:
  while (lib->ntls > tls_first) oj_tls_unregister(lib->tls[--lib->ntls]);
out_unpublish:
  pthread_mutex_lock(&lib->lock);
  oj_symtab_remove_if(&lib->syms, oj_entry_of_objects, range);
  pthread_mutex_unlock(&lib->lock);
out_remove:
  if (dso_own) oj_initfini_unregister_dso(lib);
  for (size_t i = 0; i < added; i++) {
    oj_add_tracker_drop(units[i].rt);
    units[i].rt = NULL;
  }
  if (added) oj_session_objects_dropped(lib->session, added);
  oj_add_unlow(lib, newly_low);
out:
  if (rtobj) { /* not linked, or the add failed before its lookup */
    oj_add_tracker_drop(rtobj);
    oj_session_objects_dropped(lib->session, 1);
  }
  for (size_t i = 0; tm && i < n; i++) oj_tls_unregister(tm[i]);
  free(tm);
  free(names);
  free(req);
  free(addrs);
  free(base);
  return rc;
}

/* Links obj (already prepared; ownership taken) with the members it needs. */
int oj_add_link_object(orcjit_library *lib, oj_elf_object *obj, const char *what) {
  size_t n = 1, cap = 4;
  oj_unit *units = calloc(cap, sizeof *units);
  char *w = strdup(what);
  if (!units || !w) {
    free(units);
    free(w);
    oj_elf_object_free(obj);
    return oj_library_nomem(lib);
  }
  units[0].obj = *obj;
  units[0].what = w;
  memset(obj, 0, sizeof *obj);
  int rc = lib->npending || oj_members_links(lib) ? oj_members_select(lib, &units, &n, &cap)
                                                : ORCJIT_OK;
  if (rc == ORCJIT_OK && n > 1) {
    /* The caller's object goes last: members are linked (and constructed)
    ** before the object that needs them, as in a static link. */
    oj_unit first = units[0];
    memmove(units, units + 1, (n - 1) * sizeof *units);
    units[n - 1] = first;
  }
  if (rc == ORCJIT_OK) rc = oj_add_link_units(lib, units, n);
  if (rc != ORCJIT_OK && n > 1) oj_members_untake(lib, units, n);
  oj_add_units_free(units, n);
  return rc;
}

/* mine: data itself, malloc'd, handed over (oj_elf_prepare_owned), or NULL. */
static int oj_add_object(orcjit_library *lib, const void *data, size_t size,
                         const char *what, unsigned char *mine) {
  char tag[48];
  oj_add_tag(lib, 0, tag);
  oj_elf_object obj;
  unsigned flags = oj_add_elf_flags(lib);
  int rc = mine ? oj_elf_prepare_owned(mine, size, what, tag, flags, &obj)
                : oj_elf_prepare(data, size, what, tag, flags, &obj);
  if (rc != ORCJIT_OK) {
    oj_error_prefix("library '%s'", lib->name);
    return rc;
  }
  return oj_add_link_object(lib, &obj, what);
}

/* mine: data itself, malloc'd and handed over (freed here), or NULL. */
static int oj_add_input(orcjit_library *lib, const void *data, size_t size,
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
    rc = oj_add_batch(lib, &one, 1);
    free(mine);
  } else if (oj_elf_classify(data, size) == OJ_ELF_KIND_ARCHIVE) {
    rc = oj_members_add_archive(lib, data, size, what);
    free(mine);
  } else {
    rc = oj_add_object(lib, data, size, what, mine);
  }
  /* All or nothing: members of a failed archive are forgotten. */
  if (rc != ORCJIT_OK) oj_members_forget(lib, pending_before);
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
  if (oj_library_check(lib, "orcjit_library_add_memory")) return ORCJIT_EINVAL;
  if (!name || !*name) name = "<memory>";
  if (oj_memory_check(lib, data, size, name)) return oj_error_status();
  if (oj_fork_enter(lib->session) != ORCJIT_OK) return oj_error_status();
  int rc = oj_add_input(lib, data ? data : "", size, name, NULL);
  oj_fork_leave();
  return rc;
}

int orcjit_library_add_file(orcjit_library *lib, const char *path) {
  oj_error_clear();
  if (oj_library_check(lib, "orcjit_library_add_file")) return ORCJIT_EINVAL;
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
  rc = oj_add_input(lib, buf, size, path, buf); /* takes buf */
  oj_fork_leave();
  return rc;
}

/* Reads input i into *data and *size (*buf: what to free) and names it. */
static int oj_add_load_one(orcjit_library *lib, const orcjit_input *in, size_t i, char *name,
                           size_t cap, const void **data, size_t *size, unsigned char **buf) {
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

/* Reads inputs[0..n) into in[0..n) (zeroed), each named. */
int oj_add_load_inputs(orcjit_library *lib, const orcjit_input *inputs, size_t n,
                       oj_loaded *in) {
  int rc = ORCJIT_OK;
  for (size_t i = 0; i < n && rc == ORCJIT_OK; i++) {
    char name[1024];
    rc = oj_add_load_one(lib, &inputs[i], i, name, sizeof name, &in[i].data, &in[i].size,
                         &in[i].buf);
    if (rc == ORCJIT_OK && !(in[i].name = strdup(name))) rc = oj_library_nomem(lib);
  }
  return rc;
}

/* Frees what oj_add_load_inputs read (in may be NULL). */
void oj_add_loaded_free(oj_loaded *in, size_t n) {
  for (size_t i = 0; in && i < n; i++) {
    free(in[i].buf);
    free(in[i].name);
  }
  free(in);
}

/* Inputs that are tars (oj_tar.c): the batch again, each tar replaced by
** the objects it holds (which are never tars themselves). */
static int oj_add_untarred(orcjit_library *lib, const oj_loaded *in, size_t n) {
  oj_tar *tars = calloc(n, sizeof *tars);
  orcjit_input *flat = NULL;
  size_t total = 0, k = 0, i;
  int rc = tars ? ORCJIT_OK : oj_library_nomem(lib);
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
    rc = oj_library_nomem(lib);
  for (i = 0; i < n && rc == ORCJIT_OK; i++) {
    if (!tars[i].nobjects) flat[k++] = (orcjit_input){NULL, in[i].data, in[i].size, in[i].name};
    for (size_t m = 0; m < tars[i].nobjects; m++)
      flat[k++] = (orcjit_input){NULL, tars[i].objects[m].data, tars[i].objects[m].size,
                                 tars[i].objects[m].name};
  }
  if (rc == ORCJIT_OK) rc = oj_add_batch(lib, flat, total);
  free(flat);
  for (i = 0; tars && i < n; i++) oj_tar_close(&tars[i]);
  free(tars);
  return rc;
}

/* Archives first (their members then serve every object), then every
** object prepared into one batch of units with the members they need. */
int oj_add_batch(orcjit_library *lib, const orcjit_input *inputs, size_t n) {
  size_t pending_before = lib->npending, nu = 0, cap = n + 4, i;
  oj_loaded *in = calloc(n, sizeof *in);
  oj_unit *units = calloc(cap, sizeof *units);
  int rc = in && units ? oj_add_load_inputs(lib, inputs, n, in) : oj_library_nomem(lib);
  for (i = 0; i < n && rc == ORCJIT_OK; i++)
    if (oj_tar_is(in[i].data, in[i].size)) {
      rc = oj_add_untarred(lib, in, n);
      goto done;
    }
  for (i = 0; i < n && rc == ORCJIT_OK; i++)
    if (oj_elf_classify(in[i].data, in[i].size) == OJ_ELF_KIND_ARCHIVE)
      rc = oj_members_add_archive(lib, in[i].data, in[i].size, in[i].name);
  for (i = 0; i < n && rc == ORCJIT_OK; i++) {
    if (oj_elf_classify(in[i].data, in[i].size) == OJ_ELF_KIND_ARCHIVE) continue;
    char tag[48];
    oj_add_tag(lib, nu, tag);
    /* A file read here is handed over: edited in place, not copied. */
    unsigned char *mine = in[i].buf;
    in[i].buf = NULL;
    unsigned flags = oj_add_elf_flags(lib);
    rc = mine ? oj_elf_prepare_owned(mine, in[i].size, in[i].name, tag, flags, &units[nu].obj)
              : oj_elf_prepare(in[i].data, in[i].size, in[i].name, tag, flags, &units[nu].obj);
    if (rc != ORCJIT_OK) {
      oj_error_prefix("library '%s'", lib->name);
    } else {
      units[nu].what = in[i].name; /* the unit owns it now */
      in[i].name = NULL;
      nu++;
    }
  }
  size_t nobj = nu;
  if (rc == ORCJIT_OK && nu && (lib->npending || oj_members_links(lib)))
    rc = oj_members_select(lib, &units, &nu, &cap);
  if (rc == ORCJIT_OK && nu > nobj) rc = oj_members_put_first(lib, units, nu, nobj);
  if (rc == ORCJIT_OK && nu) rc = oj_add_link_units(lib, units, nu);
  if (rc != ORCJIT_OK) {
    if (nu > nobj) oj_members_untake(lib, units, nu);
    oj_members_forget(lib, pending_before);
  }
done:
  if (units) oj_add_units_free(units, nu);
  oj_add_loaded_free(in, n);
  return rc;
}

/* The entry point fn of an add of several inputs: checks its arguments,
** then runs body inside the fork lock with the library's busy flag. */
int oj_add_exclusive(orcjit_library *lib, const char *fn, const orcjit_input *inputs,
                     size_t n, int (*body)(orcjit_library *, const orcjit_input *, size_t)) {
  oj_error_clear();
  if (oj_library_check(lib, fn)) return ORCJIT_EINVAL;
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
    rc = body(lib, inputs, n);
    atomic_flag_clear(&lib->busy);
  }
  oj_fork_leave();
  return rc;
}

int orcjit_library_add_many(orcjit_library *lib, const orcjit_input *inputs, size_t n) {
  return oj_add_exclusive(lib, "orcjit_library_add_many", inputs, n, oj_add_batch);
}

