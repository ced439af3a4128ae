/*
** oj_ffiabi.c: TVM-FFI Functions over JIT code (the C ABI of tvm/ffi/c_api.h
** only), shared by orcjit_library_get_ffi_function and glue/oj_ffi_module.cc.
**
** JIT code makes objects (strings, arrays, functions, errors) whose deleter
** is JIT code.  Freed after the library is unloaded, such an object would
** jump into unmapped memory.  So:
**   - an object a call returns, and each object element of a returned
**     container, whose deleter is not in a loaded image (JIT code) is
**     "adopted": its deleter is swapped for oj_ffiabi_adopted_deleter, which
**     runs the original and then drops a reference to the library's owner;
**   - an error raised by JIT code (deleter or update_backtrace in JIT code,
**     or a cause chain) is replaced by an equal error made by libtvm_ffi,
**     while the library is still loaded.
** Limits: an object the library keeps itself (a static it returns) keeps
** the library loaded while it lives; objects JIT code stores elsewhere than
** its result (a container argument, a registry) are not seen.
*/
#include "oj_ffiabi.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "oj_internal.h"

/* Calls into JIT code are exempt from clang's -fsanitize=function check: it
** reads the 8 bytes before the callee, and JIT code may begin a mapping. */
#if defined(__clang__)
#define OJ_CALLS_JIT_CODE __attribute__((no_sanitize("function")))
#else
#define OJ_CALLS_JIT_CODE
#endif

/* ---- the adoption table: object address -> original deleter, owner ----- */

typedef struct oj_adopted {
  TVMFFIObject *obj; /* NULL: empty slot */
  void (*orig)(void *self, int flags);
  oj_ffiabi_owner owner;
} oj_adopted;

static pthread_mutex_t oj_adopt_lock = PTHREAD_MUTEX_INITIALIZER;
static oj_adopted *oj_adopt_slots;
static size_t oj_adopt_cap, oj_adopt_count; /* cap: a power of two */
static void (*oj_ffiabi_children)(const TVMFFIObject *, oj_ffiabi_push, void *);

static size_t oj_adopt_hash(const void *p) {
  uint64_t h = (uint64_t)(uintptr_t)p * 0x9e3779b97f4a7c15ull;
  return (size_t)(h >> 17);
}

static oj_adopted *oj_adopt_find(const TVMFFIObject *obj) {
  if (!oj_adopt_cap) return NULL;
  for (size_t i = oj_adopt_hash(obj) & (oj_adopt_cap - 1);; i = (i + 1) & (oj_adopt_cap - 1)) {
    if (oj_adopt_slots[i].obj == obj) return &oj_adopt_slots[i];
    if (!oj_adopt_slots[i].obj) return NULL;
  }
}

static int oj_adopt_insert(const oj_adopted *e) {
  if ((oj_adopt_count + 1) * 2 > oj_adopt_cap) {
    size_t ncap = oj_adopt_cap ? oj_adopt_cap * 2 : 64;
    oj_adopted *ns = calloc(ncap, sizeof *ns);
    if (!ns) return -1;
    for (size_t i = 0; i < oj_adopt_cap; i++) {
      if (!oj_adopt_slots[i].obj) continue;
      size_t j = oj_adopt_hash(oj_adopt_slots[i].obj) & (ncap - 1);
      while (ns[j].obj) j = (j + 1) & (ncap - 1);
      ns[j] = oj_adopt_slots[i];
    }
    free(oj_adopt_slots);
    oj_adopt_slots = ns;
    oj_adopt_cap = ncap;
  }
  size_t i = oj_adopt_hash(e->obj) & (oj_adopt_cap - 1);
  while (oj_adopt_slots[i].obj) i = (i + 1) & (oj_adopt_cap - 1);
  oj_adopt_slots[i] = *e;
  oj_adopt_count++;
  return 0;
}

/* Removes slot e, shifting back the entries of its probe run. */
static void oj_adopt_remove(oj_adopted *e) {
  size_t mask = oj_adopt_cap - 1, i = (size_t)(e - oj_adopt_slots), j = i;
  for (;;) {
    j = (j + 1) & mask;
    if (!oj_adopt_slots[j].obj) break;
    size_t home = oj_adopt_hash(oj_adopt_slots[j].obj) & mask;
    /* j's entry may move to i if its home is not within (i, j] */
    if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
      oj_adopt_slots[i] = oj_adopt_slots[j];
      i = j;
    }
  }
  memset(&oj_adopt_slots[i], 0, sizeof oj_adopt_slots[i]);
  oj_adopt_count--;
}

void oj_ffiabi_set_children(void (*children)(const TVMFFIObject *, oj_ffiabi_push, void *)) {
  oj_ffiabi_children = children;
}

OJ_CALLS_JIT_CODE static void oj_ffiabi_adopted_deleter(void *self, int flags) {
  const int final_free = (flags & kTVMFFIObjectDeleterFlagBitMaskWeak) != 0;
  pthread_mutex_lock(&oj_adopt_lock);
  oj_adopted *e = oj_adopt_find(self);
  if (!e) abort(); /* cannot happen: only adopted objects have this deleter */
  oj_adopted a = *e;
  if (final_free) oj_adopt_remove(e);
  pthread_mutex_unlock(&oj_adopt_lock);
  a.orig(self, flags);
  if (final_free) a.owner.release(a.owner.ctx); /* may unload the code: after orig */
}

/* Whether code at p is JIT code (not in any loaded image). */
static int oj_ffiabi_is_jit(const void *p) { return p && !oj_resolve_in_module((void *)p); }

/* ---- adopting a result ------------------------------------------------- */

typedef struct oj_objstack {
  TVMFFIObject **v;
  size_t n, cap;
  int oom;
} oj_objstack;

static void oj_objstack_push(void *ctx, TVMFFIObject *obj) {
  oj_objstack *s = ctx;
  if (!obj) return;
  if (oj_grow((void **)&s->v, &s->cap, s->n + 1, sizeof *s->v)) {
    s->oom = 1;
    return;
  }
  s->v[s->n++] = obj;
}

/* Adopts the object of rv and its container elements for owner.  Out of
** memory: what could not be adopted keeps its JIT deleter (as before). */
static void oj_ffiabi_adopt(const TVMFFIAny *rv, const oj_ffiabi_owner *owner) {
  oj_objstack st = {NULL, 0, 0, 0};
  oj_objstack_push(&st, rv->v_obj);
  size_t visited = 0;
  while (st.n && visited++ < ((size_t)1 << 24)) {
    TVMFFIObject *obj = st.v[--st.n];
    if (obj->deleter == oj_ffiabi_adopted_deleter) continue; /* done, elements too */
    if (oj_ffiabi_children) oj_ffiabi_children(obj, oj_objstack_push, &st);
    if (!oj_ffiabi_is_jit((const void *)obj->deleter)) continue;
    pthread_mutex_lock(&oj_adopt_lock);
    oj_adopted e = {obj, obj->deleter, *owner};
    if (obj->deleter != oj_ffiabi_adopted_deleter && oj_adopt_insert(&e) == 0) {
      owner->retain(owner->ctx);
      obj->deleter = oj_ffiabi_adopted_deleter;
    }
    pthread_mutex_unlock(&oj_adopt_lock);
  }
  free(st.v);
}

/* ---- errors ------------------------------------------------------------ */

static TVMFFIErrorCell *oj_ffiabi_cell(TVMFFIObjectHandle err) {
  return (TVMFFIErrorCell *)((char *)err + sizeof(TVMFFIObject));
}

/* Takes err; returns an owned error that holds no JIT code. */
static TVMFFIObjectHandle oj_ffiabi_detach_error(TVMFFIObjectHandle err) {
  TVMFFIObject *hdr = err;
  TVMFFIErrorCell *cell = oj_ffiabi_cell(err);
  if (!oj_ffiabi_is_jit((const void *)hdr->deleter) &&
      !oj_ffiabi_is_jit((const void *)cell->update_backtrace) && !cell->cause_chain)
    return err;
  TVMFFIObjectHandle cause = NULL;
  if (cell->cause_chain) {
    TVMFFIObjectIncRef(cell->cause_chain);
    cause = oj_ffiabi_detach_error(cell->cause_chain);
  }
  TVMFFIObjectHandle copy = NULL;
  int rc = TVMFFIErrorCreateWithCauseAndExtraContext(&cell->kind, &cell->message,
                                                     &cell->backtrace, cause,
                                                     cell->extra_context, &copy);
  if (cause) TVMFFIObjectDecRef(cause);
  if (rc != 0 || !copy) {
    /* out of memory: keep the original (the failure's own error is dropped) */
    TVMFFIObjectHandle e = NULL;
    TVMFFIErrorMoveFromRaised(&e);
    if (e) TVMFFIObjectDecRef(e);
    return err;
  }
  TVMFFIObjectDecRef(err); /* runs the JIT deleter while the code is loaded */
  return copy;
}

/* ---- calls ------------------------------------------------------------- */

typedef struct oj_jitfn {
  TVMFFISafeCallType fn;
  oj_ffiabi_owner owner;
} oj_jitfn;

OJ_CALLS_JIT_CODE int oj_ffiabi_call(void *fn, const oj_ffiabi_owner *owner,
                                     const TVMFFIAny *args, int32_t num_args, TVMFFIAny *rv) {
  int rc = ((TVMFFISafeCallType)fn)(NULL, args, num_args, rv);
  if (rc == 0) {
    if (rv->type_index >= kTVMFFIStaticObjectBegin && rv->v_obj) oj_ffiabi_adopt(rv, owner);
    return 0;
  }
  if (rc == -1) {
    TVMFFIObjectHandle err = NULL;
    TVMFFIErrorMoveFromRaised(&err);
    if (err) {
      TVMFFIObjectHandle detached = oj_ffiabi_detach_error(err);
      TVMFFIErrorSetRaised(detached); /* takes its own reference */
      TVMFFIObjectDecRef(detached);
    }
  }
  return rc;
}

static int oj_ffiabi_safe_call(void *self, const TVMFFIAny *args, int32_t num_args,
                               TVMFFIAny *rv) {
  oj_jitfn *f = self;
  return oj_ffiabi_call((void *)f->fn, &f->owner, args, num_args, rv);
}

static void oj_ffiabi_free(void *self) {
  oj_jitfn *f = self;
  f->owner.release(f->owner.ctx);
  free(f);
}

int oj_ffiabi_function(void *fn, const oj_ffiabi_owner *owner, TVMFFIObjectHandle *out) {
  *out = NULL;
  oj_jitfn *f = malloc(sizeof *f);
  if (!f) {
    TVMFFIErrorSetRaisedFromCStr("MemoryError", "tvm_ffi_orcjit: out of memory");
    return -1;
  }
  f->fn = (TVMFFISafeCallType)fn;
  f->owner = *owner;
  owner->retain(owner->ctx);
  if (TVMFFIFunctionCreate(f, oj_ffiabi_safe_call, oj_ffiabi_free, out) != 0) {
    owner->release(owner->ctx);
    free(f);
    return -1;
  }
  return 0;
}
