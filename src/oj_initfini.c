/*
** oj_initfini.c: constructors and destructors of a library's objects.
**   - at each object's load: its .init_array[.N] and .ctors[.N] entries, by
**     priority (lowest first), .ctors entries last to first, as ld places
**     them;
**   - at the library's release: the atexit/__cxa_atexit handlers its code
**     registered (last registered first), then the .fini_array[.N] and
**     .dtors[.N] entries of all its objects, in exactly the reverse of the
**     order a static link of the objects (in load order) would give.
** A library's __dso_handle (from its runtime object, oj_rtobj.c) is how a
** __cxa_atexit call is traced back to the library; handlers of code that
** is not ours go to the C library as usual.
*/
#include <stdlib.h>
#include <string.h>

#include "oj_guard.h"
#include "oj_internal.h"

extern int __cxa_atexit(void (*fn)(void *), void *arg, void *dso);

/* ---- __dso_handle -> library ------------------------------------------- */

typedef struct oj_dso {
  uint64_t dso;
  orcjit_library *lib;
} oj_dso;

static pthread_mutex_t oj_dso_lock = PTHREAD_MUTEX_INITIALIZER;
static oj_dso *oj_dsos;
static size_t oj_ndso, oj_capdso;

int oj_initfini_register_dso(orcjit_library *lib, uint64_t dso) {
  int rc = ORCJIT_OK;
  pthread_mutex_lock(&oj_dso_lock);
  if (oj_grow((void **)&oj_dsos, &oj_capdso, oj_ndso + 1, sizeof *oj_dsos))
    rc = oj_error_set(ORCJIT_ENOMEM, "library '%s': out of memory", lib->name);
  if (rc == ORCJIT_OK) {
    oj_dsos[oj_ndso].dso = dso;
    oj_dsos[oj_ndso].lib = lib;
    oj_ndso++;
    lib->dso_handle = dso;
  }
  pthread_mutex_unlock(&oj_dso_lock);
  return rc;
}

void oj_initfini_unregister_dso(orcjit_library *lib) {
  pthread_mutex_lock(&oj_dso_lock);
  for (size_t i = 0; i < oj_ndso; i++) {
    if (oj_dsos[i].lib == lib) {
      oj_dsos[i] = oj_dsos[--oj_ndso];
      break;
    }
  }
  if (oj_ndso == 0) {
    free(oj_dsos);
    oj_dsos = NULL;
    oj_capdso = 0;
  }
  pthread_mutex_unlock(&oj_dso_lock);
  lib->dso_handle = 0;
}

int oj_initfini_owns_dso(uint64_t dso) {
  int found = 0;
  pthread_mutex_lock(&oj_dso_lock);
  for (size_t i = 0; i < oj_ndso && !found; i++) found = oj_dsos[i].dso == dso;
  pthread_mutex_unlock(&oj_dso_lock);
  return found;
}

/* Set when a registration below ran out of memory on this thread, which
** oj_initfini_run_object reports after the constructors (ORCJIT_ENOMEM):
** the constructor that registered only sees a nonzero return. */
static _Thread_local int oj_initfini_atexit_nomem;

/* What JIT code gets for __cxa_atexit (and, through the runtime object's
** atexit, for atexit). */
int oj_rt_cxa_atexit(void (*fn)(void *), void *arg, void *dso) {
  orcjit_library *lib = NULL;
  pthread_mutex_lock(&oj_dso_lock);
  for (size_t i = 0; i < oj_ndso; i++)
    if (oj_dsos[i].dso == (uint64_t)(uintptr_t)dso) lib = oj_dsos[i].lib;
  pthread_mutex_unlock(&oj_dso_lock);
  if (!lib) return __cxa_atexit(fn, arg, dso);

  pthread_mutex_lock(&lib->lock);
  int rc = oj_grow((void **)&lib->atexits, &lib->capatexit, lib->natexit + 1,
                   sizeof *lib->atexits);
  if (rc == 0) {
    lib->atexits[lib->natexit].fn = fn;
    lib->atexits[lib->natexit].arg = arg;
    lib->natexit++;
  }
  pthread_mutex_unlock(&lib->lock);
  if (rc != 0) oj_initfini_atexit_nomem = 1;
  return rc;
}

/* ---- constructors ------------------------------------------------------ */

static int oj_initfini_is_init(int kind) {
  return kind == OJ_ELF_INIT_ARRAY || kind == OJ_ELF_CTORS;
}

/* Sorts section indexes by priority, keeping section order for ties. */
static void oj_initfini_order(const oj_elf_object *obj, size_t *idx, size_t n) {
  for (size_t i = 1; i < n; i++) { /* insertion sort: n is tiny */
    size_t v = idx[i], j = i;
    while (j > 0 && obj->initfini[idx[j - 1]].priority > obj->initfini[v].priority) {
      idx[j] = idx[j - 1];
      j--;
    }
    idx[j] = v;
  }
}

static int oj_initfini_push_fini(orcjit_library *lib, uint32_t prio, void (*fn)(void)) {
  if (oj_grow((void **)&lib->fini, &lib->capfini, lib->nfini + 1, sizeof *lib->fini))
    return oj_error_set(ORCJIT_ENOMEM, "library '%s': out of memory", lib->name);
  lib->fini[lib->nfini].priority = prio;
  lib->fini[lib->nfini].seq = lib->fini_seq++;
  lib->fini[lib->nfini].fn = fn;
  lib->nfini++;
  return ORCJIT_OK;
}

static int oj_initfini_valid(uint64_t p) { return p != 0 && p != UINT64_MAX; }

/* Entry j of a table at v: an object may align its table to less than 8. */
static uint64_t oj_initfini_entry(const unsigned char *v, uint32_t j) {
  uint64_t p;
  memcpy(&p, v + (size_t)j * 8, 8);
  return p;
}

int oj_initfini_run_object(orcjit_library *lib, const oj_elf_object *obj,
                           const uint64_t *addrs, uint32_t seq) {
  size_t n = obj->ninitfini;
  if (!n) return ORCJIT_OK;
  size_t *idx = malloc(n * sizeof *idx);
  if (!idx) return oj_error_set(ORCJIT_ENOMEM, "library '%s': out of memory", lib->name);
  for (size_t i = 0; i < n; i++) idx[i] = i;
  oj_initfini_order(obj, idx, n);

  /* Record the destructors first: if a constructor registers more, or the
  ** library is released from a constructor's callee, they are known. */
  int rc = ORCJIT_OK;
  pthread_mutex_lock(&lib->lock);
  for (size_t k = 0; k < n && rc == ORCJIT_OK; k++) {
    const oj_elf_initfini *s = &obj->initfini[idx[k]];
    if (oj_initfini_is_init(s->kind)) continue;
    const unsigned char *v = (const unsigned char *)(uintptr_t)addrs[idx[k]];
    for (uint32_t j = 0; j < s->count && rc == ORCJIT_OK; j++) {
      /* .dtors runs first to last: store it reversed in array order. */
      uint64_t p = oj_initfini_entry(v, s->kind == OJ_ELF_DTORS ? s->count - 1 - j : j);
      if (oj_initfini_valid(p))
        rc = oj_initfini_push_fini(lib, s->priority, (void (*)(void))(uintptr_t)p);
    }
  }
  pthread_mutex_unlock(&lib->lock);
  (void)seq;

  int nomem_before = oj_initfini_atexit_nomem;
  oj_initfini_atexit_nomem = 0;
  for (size_t k = 0; k < n && rc == ORCJIT_OK; k++) {
    const oj_elf_initfini *s = &obj->initfini[idx[k]];
    if (!oj_initfini_is_init(s->kind)) continue;
    const unsigned char *v = (const unsigned char *)(uintptr_t)addrs[idx[k]];
    for (uint32_t j = 0; j < s->count && rc == ORCJIT_OK; j++) {
      uint64_t p = oj_initfini_entry(v, s->kind == OJ_ELF_CTORS ? s->count - 1 - j : j);
      char why[512];
      /* A C++ exception stops in glue/oj_guard.cc, not in our frames. */
      if (oj_initfini_valid(p) &&
          oj_guard_call((void (*)(void))(uintptr_t)p, why, sizeof why) != 0)
        rc = oj_error_set(ORCJIT_ELINK,
                          "library '%s': a constructor threw a C++ exception: %s "
                          "(the constructors after it did not run)",
                          lib->name, why);
    }
  }
  free(idx);
  if (rc == ORCJIT_OK && oj_initfini_atexit_nomem)
    rc = oj_error_set(ORCJIT_ENOMEM,
                      "library '%s': out of memory registering an exit handler of a "
                      "constructor (atexit, __cxa_atexit)", lib->name);
  oj_initfini_atexit_nomem = nomem_before;
  return rc;
}

/* ---- destructors ------------------------------------------------------- */

static int oj_fini_cmp(const void *a, const void *b) {
  const oj_fini *x = a, *y = b;
  if (x->priority != y->priority) return x->priority < y->priority ? -1 : 1;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Exactly once per library, whoever comes first: its release, or the exit
** hook (which holds a reference meanwhile). */
void oj_initfini_finalize(orcjit_library *lib) {
  if (atomic_exchange(&lib->finalized, 1)) return;
  /* C++ runs a thread's thread_local destructors before static ones. */
  oj_tls_finalize(lib->dso_handle);
  /* Handlers may register more handlers: take them one at a time. */
  for (;;) {
    pthread_mutex_lock(&lib->lock);
    if (lib->natexit == 0) {
      pthread_mutex_unlock(&lib->lock);
      break;
    }
    oj_atexit h = lib->atexits[--lib->natexit];
    pthread_mutex_unlock(&lib->lock);
    char why[512]; /* an exception from an exit handler is dropped, as at exit */
    (void)oj_guard_call_arg(h.fn, h.arg, why, sizeof why);
  }
  pthread_mutex_lock(&lib->lock);
  oj_fini *list = lib->fini;
  size_t n = lib->nfini;
  lib->fini = NULL;
  lib->nfini = lib->capfini = 0;
  pthread_mutex_unlock(&lib->lock);
  if (n) qsort(list, n, sizeof *list, oj_fini_cmp);
  for (size_t i = n; i-- > 0;) {
    char why[512];
    (void)oj_guard_call(list[i].fn, why, sizeof why);
  }
  free(list);
  free(lib->atexits);
  lib->atexits = NULL;
  lib->capatexit = 0;
}

/* At process exit: finalise every live library of every session, newest
** first, while its code is still mapped (oj_library_finalize_all, under a
** reference to each library and session).  Their memory goes with the
** process.  Passes repeat while destructors made new libraries. */
void oj_initfini_atexit_hook(void) {
  for (int pass = 0; pass < 16; pass++) {
    pthread_mutex_lock(&oj_global_lock);
    size_t n = 0, k = 0;
    for (orcjit_session *s = oj_global_sessions; s; s = s->next_global) n++;
    orcjit_session **v = malloc((n ? n : 1) * sizeof *v);
    for (orcjit_session *s = oj_global_sessions; s && v; s = s->next_global) {
      /* A session whose count is 0 is being destroyed: none of its own. */
      int r = atomic_load(&s->refs);
      while (r > 0 && !atomic_compare_exchange_weak(&s->refs, &r, r + 1)) {
      }
      if (r > 0) v[k++] = s;
    }
    pthread_mutex_unlock(&oj_global_lock);
    if (!v) return;
    size_t done = 0;
    for (size_t i = 0; i < k; i++) {
      done += oj_library_finalize_all(v[i]);
      orcjit_session_release(v[i]);
    }
    free(v);
    if (!done) return;
  }
}

void oj_initfini_fork_lock(int how) {
  if (how == OJ_FORK_LOCK) pthread_mutex_lock(&oj_dso_lock);
  else if (how == OJ_FORK_UNLOCK) pthread_mutex_unlock(&oj_dso_lock);
  else pthread_mutex_init(&oj_dso_lock, NULL);
}
