/*
** oj_library.c: libraries.  A library is one JITDylib of its session plus
** our own table of what it defines.  This file owns a library's creation
** and freeing (releasing a library runs its destructors, clears its
** JITDylib and puts the JITDylib back in the session's pool), its link
** order, and lookups: the first lookup links the deferred objects waiting
** (oj_members.c), and a name defined only by an archive member links that
** member.  Adding objects is oj_add.c's (the steps of an add are described
** there), duplicates and weak definitions oj_settle.c's, the ORC lookup
** that links oj_orclookup.c's; retain and release are in oj_lifetime.c.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tvm/ffi/c_api.h>

#include "oj_ffiabi.h"
#include "oj_library_int.h"
#include "oj_memmgr.h"

#define OJ_FFI_PREFIX "__tvm_ffi_"

/* ---- small helpers ----------------------------------------------------- */

/* The check of fn's library argument; nonzero (error set) if NULL. */
int oj_library_check(const orcjit_library *lib, const char *fn) {
  if (!lib) return oj_error_set(ORCJIT_EINVAL, "%s: library is NULL", fn);
  return ORCJIT_OK;
}

/* The one wording of an allocation failure inside lib. */
int oj_library_nomem(const orcjit_library *lib) {
  return oj_error_set(ORCJIT_ENOMEM, "library '%s': out of memory", lib->name);
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

/* ---- link order -------------------------------------------------------- */

int orcjit_library_set_link_order(orcjit_library *lib, orcjit_library *const *libs,
                                  size_t n) {
  oj_error_clear();
  if (oj_library_check(lib, "orcjit_library_set_link_order")) return ORCJIT_EINVAL;
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
  if (!nl) return oj_library_nomem(lib);
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
    oj_members_gen_bump();
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
    int rc = oj_members_pull(lib, symbol);
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

static int oj_library_busy_waiting(orcjit_library *lib, const char *symbol) {
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
  if (oj_members_ndeferred(lib)) {
    if (atomic_flag_test_and_set(&lib->busy)) {
      busy = 1;
    } else {
      flushed = oj_members_flush(lib, 0);
      if (flushed != ORCJIT_OK && !(msg = strdup(oj_error_message()))) flushed = ORCJIT_ENOMEM;
      atomic_flag_clear(&lib->busy);
    }
  }
  int rc = oj_library_find_linked(lib, symbol, out);
  if (rc == ORCJIT_ENOTFOUND && oj_library_waiting(lib, symbol)) {
    if (busy) {
      rc = oj_library_busy_waiting(lib, symbol);
    } else if (flushed != ORCJIT_OK) {
      rc = oj_error_set(flushed, "%s", msg ? msg : "out of memory");
    } else if (atomic_flag_test_and_set(&lib->busy)) {
      rc = oj_library_busy_waiting(lib, symbol);
    } else {
      /* Tried before and nothing changed since: again, for its error. */
      rc = oj_members_flush(lib, 1);
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
  if (oj_library_check(lib, "orcjit_library_lookup")) return ORCJIT_EINVAL;
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
  if (oj_library_check(lib, "orcjit_library_get_function")) return ORCJIT_EINVAL;
  if (!name || !*name)
    return oj_error_set(ORCJIT_EINVAL, "library '%s': empty function name", lib->name);
  char stack[256];
  size_t len = strlen(name) + sizeof OJ_FFI_PREFIX;
  char *sym = len <= sizeof stack ? stack : malloc(len);
  if (!sym) return oj_library_nomem(lib);
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
  if (oj_library_check(lib, "orcjit_library_set_free_hook")) return ORCJIT_EINVAL;
  pthread_mutex_lock(&lib->lock);
  lib->free_hook = fn;
  lib->free_hook_arg = arg;
  pthread_mutex_unlock(&lib->lock);
  return ORCJIT_OK;
}

int orcjit_library_set_link_callback(orcjit_library *lib, orcjit_link_callback cb,
                                     void *user) {
  oj_error_clear();
  if (oj_library_check(lib, "orcjit_library_set_link_callback")) return ORCJIT_EINVAL;
  pthread_mutex_lock(&lib->lock);
  lib->link_cb = cb;
  lib->link_cb_user = user;
  pthread_mutex_unlock(&lib->lock);
  return ORCJIT_OK;
}
