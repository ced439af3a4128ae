/*
** oj_tls.c: thread-local storage of loaded objects.
**
** Loaded code reaches thread-locals through the general-dynamic model:
**   lea x@tlsgd(%rip), %rdi ; call __tls_get_addr
** JITLink 22 gives each such reference a 16-byte entry {0, address of x in
** the object's linked .tdata/.tbss}, and the resolver (oj_resolve.c) binds
** __tls_get_addr to oj_tls_get_addr below.  (The ELF pre-pass has already
** turned local-dynamic references into general-dynamic ones and their
** DTPOFF offsets into constants, see oj_elf.h.)  The linked .tdata/.tbss
** are never written by the code: they are the initial image, and each
** thread gets its own copy of an object's block on first use.
**
**   module  one per loaded object with TLS: the linked range of each of its
**           TLS sections, their offsets in the block, the block's size and
**           alignment;
**   block   one per (module, thread) that touched it, on two lists: the
**           module's, so that releasing the library frees every thread's
**           copy, and the thread's, so that thread exit frees its copies;
**   cache   per thread, direct-mapped: entry address -> thread's address,
**           tagged with a generation that every module removal bumps.
**
** Initial- and local-exec code (oj_elf.h) needs its block in static TLS:
** oj_tls_prepare has the C library reserve it (oj_statictls.c) and patches
** its offset from the thread pointer into the image before linking; every
** access then resolves to thread pointer + that offset, with no per-thread
** block.  An initial-exec reference to a host thread-local is bound to its
** offset from the thread pointer (oj_tls_host_tpoff), once a helper thread
** has seen the same offset (static TLS).
**
** References to the host's own thread-locals (dlsym of an STT_TLS symbol
** gives the calling thread's copy, useless to other threads) are bound to
** a host entry {module id, offset} found with dl_iterate_phdr, and resolved
** per thread by the C library's __tls_get_addr.
**
** C++ thread_local destructors (__cxa_thread_atexit with a library's
** __dso_handle) are kept per thread here too: they run at thread exit, or
** at the library's release, before its other destructors, if that comes
** first.  At release the destructors of every live thread run, on the
** releasing thread: the C library would keep a dlopen'ed library mapped
** until they had run on their threads, but a released library's memory
** goes now, and dropping them would leak what they own (a thread pool's
** idle threads keep their copies for as long as they live).  They see
** their objects through `this`; other thread-locals they touch are the
** releasing thread's.
**
** oj_tls_lock guards every list; the fast path of oj_tls_get_addr takes no
** lock.  Running out of memory inside __tls_get_addr cannot be reported to
** the calling code, so it aborts with a message, as the C library does.
*/
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oj_arch.h"
#include "oj_guard.h"
#include "oj_internal.h"
#include "oj_statictls.h"

/* The C library's own (the tls_index of the x86-64 psABI). */
typedef struct oj_tls_index {
  unsigned long module;
  unsigned long offset;
} oj_tls_index;
extern void *__tls_get_addr(oj_tls_index *ti);
extern int __cxa_thread_atexit_impl(void (*fn)(void *), void *obj, void *dso);

typedef struct oj_tls_block oj_tls_block;
typedef struct oj_tls_thread oj_tls_thread;

typedef struct oj_tls_range {
  uint64_t start, size; /* linked address and size of one TLS section */
  uint64_t voff;        /* its offset in the block */
  int nobits;
} oj_tls_range;

struct oj_tls_module {
  oj_statictls *st;     /* static TLS (initial-/local-exec code), or NULL */
  int64_t tpoff;        /* then: the block's offset from the thread pointer */
  uint64_t size, align;
  size_t nrange;
  oj_tls_range *range;
  oj_tls_block *blocks; /* every thread's copy */
};

struct oj_tls_block {
  oj_tls_module *mod;
  oj_tls_thread *thr;
  unsigned char *mem;
  oj_tls_block *mnext, *mprev; /* in mod->blocks */
  oj_tls_block *tnext, *tprev; /* in thr->blocks */
};

typedef struct oj_tls_dtor {
  void (*fn)(void *);
  void *obj;
  uint64_t dso;
  struct oj_tls_dtor *next; /* newest first */
} oj_tls_dtor;

struct oj_tls_thread {
  oj_tls_block *blocks;
  oj_tls_dtor *dtors;
  oj_tls_thread *next, *prev; /* in oj_tls_threads */
};

/* A thread-local of the host, as the C library names it. */
typedef struct oj_tls_host {
  oj_tls_index ti;
} oj_tls_host;

static pthread_mutex_t oj_tls_lock = PTHREAD_MUTEX_INITIALIZER;
static oj_tls_module **oj_tls_mods;
static size_t oj_tls_nmods, oj_tls_capmods;
static oj_tls_thread *oj_tls_threads;
static oj_tls_host **oj_tls_hosts; /* kept until process exit: few, tiny */
static size_t oj_tls_nhosts, oj_tls_caphosts;
static _Atomic uint64_t oj_tls_gen = 1;
static pthread_key_t oj_tls_key;
static pthread_once_t oj_tls_once = PTHREAD_ONCE_INIT;

#define OJ_TLS_CACHE 64
typedef struct oj_tls_cached {
  const void *entry;
  uint64_t gen;
  void *addr;
} oj_tls_cached;
static _Thread_local oj_tls_cached oj_tls_cache[OJ_TLS_CACHE];
static _Thread_local oj_tls_thread *oj_tls_self;

static void oj_tls_fatal(const char *what) {
  fprintf(stderr, "tvm-ffi-orcjit: thread-local storage: %s\n", what);
  abort();
}

/* ---- threads ----------------------------------------------------------- */

static void oj_tls_block_free(oj_tls_block *b) {
  if (b->mprev) b->mprev->mnext = b->mnext;
  else b->mod->blocks = b->mnext;
  if (b->mnext) b->mnext->mprev = b->mprev;
  if (b->tprev) b->tprev->tnext = b->tnext;
  else b->thr->blocks = b->tnext;
  if (b->tnext) b->tnext->tprev = b->tprev;
  free(b->mem);
  free(b);
}

/* Thread exit: its destructors (newest first; one may register another),
** then its blocks. */
static void oj_tls_thread_exit(void *p) {
  oj_tls_thread *t = p;
  for (;;) {
    pthread_mutex_lock(&oj_tls_lock);
    oj_tls_dtor *d = t->dtors;
    if (d) t->dtors = d->next;
    pthread_mutex_unlock(&oj_tls_lock);
    if (!d) break;
    char why[512]; /* a throwing destructor: dropped (glue/oj_guard.cc) */
    (void)oj_guard_call_arg(d->fn, d->obj, why, sizeof why);
    free(d);
  }
  pthread_mutex_lock(&oj_tls_lock);
  while (t->blocks) oj_tls_block_free(t->blocks);
  if (t->prev) t->prev->next = t->next;
  else oj_tls_threads = t->next;
  if (t->next) t->next->prev = t->prev;
  pthread_mutex_unlock(&oj_tls_lock);
  memset(oj_tls_cache, 0, sizeof oj_tls_cache);
  oj_tls_self = NULL;
  free(t);
}

static void oj_tls_init(void) {
  if (pthread_key_create(&oj_tls_key, oj_tls_thread_exit) != 0)
    oj_tls_fatal("cannot create a thread key");
}

/* The calling thread's record, made on first use.  Under oj_tls_lock. */
static oj_tls_thread *oj_tls_thread_get(void) {
  if (oj_tls_self) return oj_tls_self;
  pthread_once(&oj_tls_once, oj_tls_init);
  oj_tls_thread *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  if (pthread_setspecific(oj_tls_key, t) != 0) {
    free(t);
    return NULL;
  }
  t->next = oj_tls_threads;
  if (t->next) t->next->prev = t;
  oj_tls_threads = t;
  oj_tls_self = t;
  return t;
}

/* ---- modules ----------------------------------------------------------- */

int oj_tls_prepare(oj_elf_object *obj, oj_tls_module **out) {
  *out = NULL;
  if (obj->ntls == 0 && !obj->tls_static) return ORCJIT_OK;
  oj_tls_module *m = calloc(1, sizeof *m);
  oj_tls_range *r = calloc(obj->ntls ? obj->ntls : 1, sizeof *r);
  if (!m || !r) {
    free(r);
    free(m);
    return oj_error_set(ORCJIT_ENOMEM, "out of memory registering thread-local data");
  }
  m->size = obj->tls_size;
  m->align = obj->tls_align < sizeof(void *) ? sizeof(void *) : obj->tls_align;
  m->nrange = obj->ntls;
  m->range = r;
  for (size_t i = 0; i < obj->ntls; i++) {
    r[i].size = obj->tls[i].size;
    r[i].voff = obj->tls[i].voff;
    r[i].nobits = obj->tls[i].nobits;
  }
  if (obj->tls_static) {
    int rc = oj_statictls_alloc(obj->tls_init, obj->tls_init_size, m->size, m->align, &m->st);
    if (rc == ORCJIT_OK) {
      m->tpoff = oj_statictls_tpoff(m->st);
      rc = oj_elf_tls_static_apply(obj, m->tpoff);
    }
    if (rc != ORCJIT_OK) {
      oj_tls_unregister(m);
      return rc;
    }
  }
  *out = m;
  return ORCJIT_OK;
}

int oj_tls_register(oj_tls_module *m, const uint64_t *marker_addrs) {
  if (!m) return ORCJIT_OK;
  for (size_t i = 0; i < m->nrange; i++) m->range[i].start = marker_addrs[i];
  pthread_mutex_lock(&oj_tls_lock);
  int bad = oj_grow((void **)&oj_tls_mods, &oj_tls_capmods, oj_tls_nmods + 1,
                    sizeof *oj_tls_mods);
  if (!bad) oj_tls_mods[oj_tls_nmods++] = m;
  pthread_mutex_unlock(&oj_tls_lock);
  if (bad) return oj_error_set(ORCJIT_ENOMEM, "out of memory registering thread-local data");
  return ORCJIT_OK;
}

void oj_tls_unregister(oj_tls_module *m) {
  if (!m) return;
  pthread_mutex_lock(&oj_tls_lock);
  for (size_t i = 0; i < oj_tls_nmods; i++)
    if (oj_tls_mods[i] == m) {
      oj_tls_mods[i] = oj_tls_mods[--oj_tls_nmods];
      break;
    }
  if (oj_tls_nmods == 0) {
    free(oj_tls_mods);
    oj_tls_mods = NULL;
    oj_tls_capmods = 0;
  }
  while (m->blocks) oj_tls_block_free(m->blocks);
  atomic_fetch_add(&oj_tls_gen, 1); /* every cached address may be stale */
  pthread_mutex_unlock(&oj_tls_lock);
  oj_statictls_free(m->st); /* the C library gives the space back */
  free(m->range);
  free(m);
}

/* The module and range holding linked address a.  Under oj_tls_lock. */
static oj_tls_module *oj_tls_find(uint64_t a, const oj_tls_range **range) {
  for (size_t i = 0; i < oj_tls_nmods; i++) {
    oj_tls_module *m = oj_tls_mods[i];
    for (size_t k = 0; k < m->nrange; k++)
      if (a >= m->range[k].start && a - m->range[k].start < m->range[k].size) {
        *range = &m->range[k];
        return m;
      }
  }
  return NULL;
}

/* The thread's copy of linked address a, made if needed.  Under the lock;
** NULL if a is not thread-local data of a loaded object. */
static void *oj_tls_locate(uint64_t a) {
  const oj_tls_range *r;
  oj_tls_module *m = oj_tls_find(a, &r);
  if (!m) return NULL;
  if (m->st) /* static TLS: every thread's copy at the same offset */
    return (unsigned char *)oj_arch_thread_pointer() + m->tpoff + r->voff + (a - r->start);
  oj_tls_thread *t = oj_tls_thread_get();
  if (!t) oj_tls_fatal("out of memory");
  oj_tls_block *b = t->blocks;
  while (b && b->mod != m) b = b->tnext;
  if (!b) {
    b = calloc(1, sizeof *b);
    size_t size = (size_t)((m->size + m->align - 1) & ~(m->align - 1));
    void *mem = b ? aligned_alloc((size_t)m->align, size) : NULL;
    if (!mem) oj_tls_fatal("out of memory");
    memset(mem, 0, size);
    for (size_t k = 0; k < m->nrange; k++)
      if (!m->range[k].nobits)
        memcpy((unsigned char *)mem + m->range[k].voff,
               (const void *)(uintptr_t)m->range[k].start, (size_t)m->range[k].size);
    b->mem = mem;
    b->mod = m;
    b->thr = t;
    b->mnext = m->blocks;
    if (b->mnext) b->mnext->mprev = b;
    m->blocks = b;
    b->tnext = t->blocks;
    if (b->tnext) b->tnext->tprev = b;
    t->blocks = b;
  }
  return b->mem + r->voff + (a - r->start);
}

static int oj_tls_is_host(const void *p) {
  for (size_t i = 0; i < oj_tls_nhosts; i++)
    if (oj_tls_hosts[i] == p) return 1;
  return 0;
}

static void *oj_tls_slow(const uint64_t *entry, uint64_t gen) {
  void *res;
  pthread_mutex_lock(&oj_tls_lock);
  const void *target = (const void *)(uintptr_t)entry[1];
  if (oj_tls_is_host(target)) {
    oj_tls_index ti = ((const oj_tls_host *)target)->ti;
    pthread_mutex_unlock(&oj_tls_lock);
    res = __tls_get_addr(&ti);
  } else {
    res = oj_tls_locate(entry[1]);
    pthread_mutex_unlock(&oj_tls_lock);
    if (!res) oj_tls_fatal("__tls_get_addr called with an unknown variable");
  }
  oj_tls_cached *c = &oj_tls_cache[((uintptr_t)entry >> 4) % OJ_TLS_CACHE];
  c->entry = entry;
  c->gen = gen;
  c->addr = res;
  return res;
}

/* What loaded code gets for __tls_get_addr.  entry[1] is the linked
** address of the variable (JITLink's entry) or a host entry. */
void *oj_tls_get_addr(const uint64_t *entry) {
  uint64_t gen = atomic_load_explicit(&oj_tls_gen, memory_order_acquire);
  const oj_tls_cached *c = &oj_tls_cache[((uintptr_t)entry >> 4) % OJ_TLS_CACHE];
  if (c->entry == entry && c->gen == gen) return c->addr;
  return oj_tls_slow(entry, gen);
}

void *oj_tls_address(uint64_t linked) {
  pthread_mutex_lock(&oj_tls_lock);
  void *res = oj_tls_locate(linked);
  pthread_mutex_unlock(&oj_tls_lock);
  return res;
}

/* ---- the host's thread-locals ------------------------------------------ */

typedef struct oj_tls_probe {
  uintptr_t addr;
  oj_tls_index ti;
  int found;
  const char *module; /* its file name, "" for the program */
} oj_tls_probe;

static int oj_tls_probe_module(struct dl_phdr_info *info, size_t size, void *ctx) {
  oj_tls_probe *p = ctx;
  if (size < offsetof(struct dl_phdr_info, dlpi_tls_data) + sizeof info->dlpi_tls_data ||
      !info->dlpi_tls_data)
    return 0;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    uintptr_t base = (uintptr_t)info->dlpi_tls_data;
    if (ph->p_type != PT_TLS) continue;
    if (p->addr >= base && p->addr - base < ph->p_memsz) {
      p->ti.module = info->dlpi_tls_modid;
      p->ti.offset = p->addr - base;
      p->found = 1;
      p->module = info->dlpi_name;
      return 1;
    }
  }
  return 0;
}

uint64_t oj_tls_host_entry(void *addr) {
  oj_tls_probe p;
  memset(&p, 0, sizeof p);
  p.addr = (uintptr_t)addr;
  dl_iterate_phdr(oj_tls_probe_module, &p);
  if (!p.found) return 0;
  uint64_t res = 0;
  pthread_mutex_lock(&oj_tls_lock);
  for (size_t i = 0; i < oj_tls_nhosts && !res; i++)
    if (oj_tls_hosts[i]->ti.module == p.ti.module && oj_tls_hosts[i]->ti.offset == p.ti.offset)
      res = (uint64_t)(uintptr_t)oj_tls_hosts[i];
  if (!res && !oj_grow((void **)&oj_tls_hosts, &oj_tls_caphosts, oj_tls_nhosts + 1,
                       sizeof *oj_tls_hosts)) {
    oj_tls_host *h = calloc(1, sizeof *h);
    if (h) {
      h->ti = p.ti;
      oj_tls_hosts[oj_tls_nhosts++] = h;
      res = (uint64_t)(uintptr_t)h;
    }
  }
  pthread_mutex_unlock(&oj_tls_lock);
  return res ? res : UINT64_MAX; /* out of memory */
}

/* ---- initial-exec references to the host's thread-locals --------------- */

static _Thread_local char oj_tls_why[512];

const char *oj_tls_tpoff_why(void) { return oj_tls_why; }

void oj_tls_tpoff_refuse(const char *name, const char *why) {
  snprintf(oj_tls_why, sizeof oj_tls_why, "%s (" OJ_TLS_IE_WHY ": %s)", name, why);
}

typedef struct oj_tls_other {
  oj_tls_index ti;
  intptr_t off;
} oj_tls_other;

static void *oj_tls_other_thread(void *arg) {
  oj_tls_other *o = arg;
  o->off = (intptr_t)__tls_get_addr(&o->ti) - (intptr_t)oj_arch_thread_pointer();
  return NULL;
}

uint64_t oj_tls_host_tpoff(void *addr, const char *name) {
  oj_tls_probe p;
  memset(&p, 0, sizeof p);
  p.addr = (uintptr_t)addr;
  dl_iterate_phdr(oj_tls_probe_module, &p);
  if (!p.found) {
    oj_tls_tpoff_refuse(name, "it is not a thread-local of the process; rebuild the object "
                              "with -fPIC");
    return 0;
  }
  /* The offset is the same in every thread only in static TLS (modules
  ** loaded at start-up, or dlopen'ed with DF_STATIC_TLS); a dlopen'ed
  ** module's block is allocated per thread.  Compared on a new thread. */
  intptr_t here = (intptr_t)addr - (intptr_t)oj_arch_thread_pointer();
  oj_tls_other o = {p.ti, 0};
  pthread_t t;
  if (pthread_create(&t, NULL, oj_tls_other_thread, &o) != 0) {
    oj_tls_tpoff_refuse(name, "no thread could be made to check that it is in static TLS");
    return 0;
  }
  pthread_join(t, NULL);
  if (o.off != here || here == 0) {
    char why[384];
    snprintf(why, sizeof why,
             "it is in the dynamic TLS of %s (loaded with dlopen) and has no fixed offset "
             "from the thread pointer; load that library when the process starts "
             "(LD_PRELOAD) or rebuild the object with -fPIC",
             p.module && *p.module ? p.module : "its library");
    oj_tls_tpoff_refuse(name, why);
    return 0;
  }
  return (uint64_t)here;
}

/* ---- thread_local destructors ------------------------------------------ */

/* What loaded code gets for __cxa_thread_atexit(_impl). */
int oj_tls_cxa_thread_atexit(void (*fn)(void *), void *obj, void *dso) {
  if (!oj_initfini_owns_dso((uint64_t)(uintptr_t)dso))
    return __cxa_thread_atexit_impl(fn, obj, dso);
  /* Out of memory ends the process, as in glibc's
  ** __cxa_thread_atexit_impl: the C++ runtime ignores the result, so the
  ** object would silently never be destroyed (and its memory leak). */
  oj_tls_dtor *d = malloc(sizeof *d);
  if (!d) oj_tls_fatal("out of memory");
  d->fn = fn;
  d->obj = obj;
  d->dso = (uint64_t)(uintptr_t)dso;
  pthread_mutex_lock(&oj_tls_lock);
  oj_tls_thread *t = oj_tls_thread_get();
  if (t) {
    d->next = t->dtors;
    t->dtors = d;
  }
  pthread_mutex_unlock(&oj_tls_lock);
  if (!t) oj_tls_fatal("out of memory");
  return 0;
}

/* Takes the first destructor of dso from *list, NULL if none. */
static oj_tls_dtor *oj_tls_take(oj_tls_dtor **list, uint64_t dso) {
  for (oj_tls_dtor **p = list; *p; p = &(*p)->next)
    if ((*p)->dso == dso) {
      oj_tls_dtor *d = *p;
      *p = d->next;
      return d;
    }
  return NULL;
}

void oj_tls_finalize(uint64_t dso) {
  if (!dso) return;
  /* The calling thread's first, then the other threads', each newest
  ** first; one at a time, since a destructor may register another. */
  for (;;) {
    pthread_mutex_lock(&oj_tls_lock);
    oj_tls_dtor *d = oj_tls_self ? oj_tls_take(&oj_tls_self->dtors, dso) : NULL;
    for (oj_tls_thread *t = oj_tls_threads; t && !d; t = t->next)
      d = oj_tls_take(&t->dtors, dso);
    pthread_mutex_unlock(&oj_tls_lock);
    if (!d) break;
    char why[512]; /* a throwing destructor: dropped (glue/oj_guard.cc) */
    (void)oj_guard_call_arg(d->fn, d->obj, why, sizeof why);
    free(d);
  }
}

void oj_tls_fork_lock(int how) {
  if (how == OJ_FORK_LOCK) pthread_mutex_lock(&oj_tls_lock);
  else if (how == OJ_FORK_UNLOCK) pthread_mutex_unlock(&oj_tls_lock);
  else pthread_mutex_init(&oj_tls_lock, NULL);
}
