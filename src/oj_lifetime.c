/*
** oj_lifetime.c: when a library goes away.
**
** Two kinds of reference keep a library alive:
**   - external ones (lib->refs): the handle of orcjit_library_create, each
**     orcjit_library_retain, each TVM-FFI Function made from it;
**   - link-order ones (lib->linkrefs): each library that has had it in its
**     link order (lib->held of that library), because the addresses that
**     library copied point into this one.
** A library with neither is garbage and is destroyed at once.  Link orders
** may form cycles (a links b, b links a), and then counting alone never
** reaches zero: when the external references of a library that may be on
** a cycle (lib->cyclic) reach zero while link-order ones remain, a local
** trial deletion (synchronous cycle collection in the manner of Bacon and
** Rajan) runs over the libraries it reaches through link orders: each one's
** link-order references from inside that set are subtracted, those with a
** reference left (external, or from a library outside the set) are alive,
** and so is everything they reach; the rest is garbage.
**
** A pinned library (oj_pin.c: it registered something with TVM-FFI) is
** never destroyed: it counts as alive in a trial deletion, and when nothing
** refers to it any more it is only kept (its name given up), with what it
** holds.
**
** A garbage set is destroyed as one: the destructors of all its libraries
** first (newest library first), then the link-order references they held
** are dropped (which may make more garbage, handled by the same loop, so a
** 200,000-deep chain needs no deep stack), then their memory is freed.
**
** Cost: releasing a library nothing links to is O(1) plus its link order.
** The trial deletion only runs for a library that was on a cycle when one
** was formed (set_link_order checks, only when the library already has a
** holder), and costs the size of what that library reaches.
**
** Everything here runs under the session's links_lock (lock order: session
** lock, then links_lock, then a library's lock); lib->refs drops from 1 to
** 0 only under it, so a trial deletion never sees a library whose last
** external reference is being dropped at that moment.
*/
#include <stdlib.h>

#include "oj_internal.h"

/* ---- garbage ------------------------------------------------------------ */

static void oj_lifetime_doom(orcjit_library *lib, orcjit_library **garbage) {
  lib->dying = 1;
  lib->gc_next = *garbage;
  *garbage = lib;
}

typedef struct oj_libvec {
  orcjit_library **v;
  size_t n, cap;
} oj_libvec;

static int oj_libvec_push(oj_libvec *a, orcjit_library *lib) {
  if (oj_grow((void **)&a->v, &a->cap, a->n + 1, sizeof *a->v)) return -1;
  a->v[a->n++] = lib;
  return 0;
}

/* The trial deletion from root (refs 0, linkrefs > 0).  Out of memory: no
** decision (the set stays until the next release that reaches it). */
static void oj_lifetime_scan(orcjit_library *root, orcjit_library **garbage) {
  orcjit_session *s = root->session;
  unsigned ep = ++s->gc_epoch;
  if (ep == 0) ep = ++s->gc_epoch;
  oj_libvec set = {0}, work = {0};
  /* 1. the set: what root reaches, each with its references from inside */
  root->gc_epoch = ep;
  root->gc_internal = 0;
  root->gc_live = 0;
  if (oj_libvec_push(&set, root)) goto out;
  for (size_t i = 0; i < set.n; i++) {
    orcjit_library *u = set.v[i];
    for (size_t j = 0; j < u->nheld; j++) {
      orcjit_library *v = u->held[j];
      if (v->dying) continue;
      if (v->gc_epoch != ep) {
        v->gc_epoch = ep;
        v->gc_internal = 0;
        v->gc_live = 0;
        if (oj_libvec_push(&set, v)) goto out;
      }
      v->gc_internal++;
    }
  }
  /* 2. alive: a reference from outside the set, and what those reach */
  for (size_t i = 0; i < set.n; i++) {
    orcjit_library *u = set.v[i];
    if (atomic_load(&u->refs) > 0 || u->linkrefs > u->gc_internal ||
        atomic_load(&u->pinned)) {
      u->gc_live = 1;
      if (oj_libvec_push(&work, u)) goto out;
    }
  }
  while (work.n) {
    orcjit_library *u = work.v[--work.n];
    for (size_t j = 0; j < u->nheld; j++) {
      orcjit_library *v = u->held[j];
      if (v->dying || v->gc_epoch != ep || v->gc_live) continue;
      v->gc_live = 1;
      if (oj_libvec_push(&work, v)) goto out;
    }
  }
  /* 3. the rest is garbage */
  for (size_t i = 0; i < set.n; i++)
    if (!set.v[i]->gc_live) oj_lifetime_doom(set.v[i], garbage);
out:
  free(set.v);
  free(work.v);
}

/* lib lost a reference (external or link-order): garbage now?  Under the
** session's links_lock. */
static void oj_lifetime_consider(orcjit_library *lib, orcjit_library **garbage) {
  if (lib->dying || atomic_load(&lib->refs) > 0) return;
  if (lib->linkrefs == 0 || atomic_load(&lib->pinned)) /* pinned: only kept (oj_pin.c) */
    oj_lifetime_doom(lib, garbage);
  else if (lib->cyclic)
    oj_lifetime_scan(lib, garbage);
}

static int oj_lifetime_newest_first(const void *a, const void *b) {
  const orcjit_library *x = *(orcjit_library *const *)a, *y = *(orcjit_library *const *)b;
  return x->id < y->id ? 1 : x->id > y->id ? -1 : 0;
}

/* Destroys the garbage sets, one after the other, without recursion. */
static void oj_lifetime_collect(orcjit_session *s, orcjit_library *garbage) {
  if (!garbage) return;
  orcjit_session_retain(s); /* the last library may hold the last reference */
  while (garbage) {
    orcjit_library *batch = garbage;
    garbage = NULL;
    size_t n = 0;
    for (orcjit_library *m = batch; m; m = m->gc_next) n++;
    orcjit_library *one[1];
    orcjit_library **v = n == 1 ? one : malloc(n * sizeof *v);
    if (v) {
      size_t k = 0;
      for (orcjit_library *m = batch; m; m = m->gc_next) v[k++] = m;
      if (n > 1) qsort(v, n, sizeof *v, oj_lifetime_newest_first);
    }
    /* destructors of the whole set first: they may still call each other */
    if (v) {
      for (size_t k = 0; k < n; k++)
        if (!atomic_load(&v[k]->pinned)) oj_initfini_finalize(v[k]);
    } else {
      for (orcjit_library *m = batch; m; m = m->gc_next)
        if (!atomic_load(&m->pinned)) oj_initfini_finalize(m);
    }
    /* then the link-order references the set held */
    pthread_mutex_lock(&s->links_lock);
    for (orcjit_library *m = batch; m; m = m->gc_next)
      for (size_t j = 0; !atomic_load(&m->pinned) && j < m->nheld; j++) {
        orcjit_library *t = m->held[j];
        if (t->dying) continue; /* in this set */
        t->linkrefs--;
        oj_lifetime_consider(t, &garbage);
      }
    pthread_mutex_unlock(&s->links_lock);
    /* then the memory */
    for (orcjit_library *m = batch, *next; m; m = next) {
      next = m->gc_next;
      if (!oj_pin_keep(m)) oj_library_free(m); /* a pinned one keeps all it has */
    }
    if (v != one) free(v);
  }
  orcjit_session_release(s);
}

/* ---- references ----------------------------------------------------------- */

void orcjit_library_retain(orcjit_library *lib) {
  if (lib) atomic_fetch_add(&lib->refs, 1);
}

void orcjit_library_release(orcjit_library *lib) {
  if (!lib) return;
  int r = atomic_load(&lib->refs);
  while (r > 1)
    if (atomic_compare_exchange_weak(&lib->refs, &r, r - 1)) return;
  orcjit_session *s = lib->session;
  /* In a child forked in the middle of a load, the library is left alone:
  ** tearing it down would enter ORC (oj_fork.c). */
  if (oj_fork_enter(s) != ORCJIT_OK) return;
  orcjit_library *garbage = NULL;
  pthread_mutex_lock(&s->links_lock);
  if (atomic_fetch_sub(&lib->refs, 1) == 1) oj_lifetime_consider(lib, &garbage);
  pthread_mutex_unlock(&s->links_lock);
  oj_lifetime_collect(s, garbage);
  oj_fork_leave();
}

/* Is there a path from `from` to `to` through link orders?  If so, marks
** `to` and everything `from` reaches as possibly on a cycle: every library
** on a cycle through the new edge to -> from is among them.  Under
** links_lock.  Out of memory: assumes a cycle (that only costs trial
** deletions later). */
static void oj_lifetime_mark_cycle(orcjit_library *from, orcjit_library *to) {
  orcjit_session *s = from->session;
  unsigned ep = ++s->gc_epoch;
  if (ep == 0) ep = ++s->gc_epoch;
  oj_libvec seen = {0};
  int found = 0, oom = 0;
  from->gc_epoch = ep;
  if (oj_libvec_push(&seen, from)) oom = 1;
  for (size_t i = 0; i < seen.n && !oom; i++) {
    orcjit_library *u = seen.v[i];
    for (size_t j = 0; j < u->nheld && !oom; j++) {
      orcjit_library *v = u->held[j];
      if (v == to) found = 1;
      else if (v->gc_epoch != ep) {
        v->gc_epoch = ep;
        if (oj_libvec_push(&seen, v)) oom = 1;
      }
    }
  }
  if (found || oom) {
    to->cyclic = 1;
    for (size_t i = 0; i < seen.n; i++) seen.v[i]->cyclic = 1;
  }
  free(seen.v);
}

int oj_lifetime_hold(orcjit_library *lib, orcjit_library *const *libs, size_t n) {
  orcjit_session *s = lib->session;
  pthread_mutex_lock(&s->links_lock);
  int oom = oj_grow((void **)&lib->held, &lib->capheld, lib->nheld + n, sizeof *lib->held);
  for (size_t i = 0; i < n && !oom; i++) {
    orcjit_library *d = libs[i];
    size_t j = 0;
    while (j < lib->nheld && lib->held[j] != d) j++;
    if (j < lib->nheld || d == lib) continue;
    lib->held[lib->nheld++] = d;
    d->linkrefs++;
    /* A new edge lib -> d closes a cycle only if d reaches lib, and
    ** something can reach lib only if something holds it. */
    if (lib->linkrefs > 0) oj_lifetime_mark_cycle(d, lib);
  }
  pthread_mutex_unlock(&s->links_lock);
  return oom ? oj_error_set(ORCJIT_ENOMEM, "library '%s': out of memory", lib->name) : ORCJIT_OK;
}

/* ---- process exit ----------------------------------------------------------- */

size_t oj_library_finalize_all(orcjit_session *s) {
  size_t done = 0;
  for (;;) {
    orcjit_library *victim = NULL;
    pthread_mutex_lock(&s->lock);
    pthread_mutex_lock(&s->links_lock);
    for (orcjit_library *l = s->libs; l && !victim; l = l->next)
      if (!l->dying && !atomic_load(&l->finalized)) {
        victim = l;
        atomic_fetch_add(&l->refs, 1); /* may be 0 -> 1: held by link orders */
      }
    pthread_mutex_unlock(&s->links_lock);
    pthread_mutex_unlock(&s->lock);
    if (!victim) return done;
    oj_initfini_finalize(victim);
    done++;
    orcjit_library_release(victim);
  }
}
