/*
** oj_rlist.c: sorted lists of free address ranges, merged where adjacent
** (oj_rlist.h).  Plain arrays kept in address order: the lists of the JIT
** memory allocator hold few ranges (free chunks and page runs of a few
** slabs), so binary search and memmove beat a tree here.  No locking: the
** owner (oj_vmem.c) holds its lock.
*/
#include "oj_rlist.h"

#include <stdlib.h>
#include <string.h>

static uintptr_t oj_rlist_up(uintptr_t v, size_t a) { return (v + a - 1) / a * a; }

static int oj_rlist_fenced(const oj_rlist *rl, uintptr_t at) {
  return rl->fence && rl->fence(rl->ctx, at);
}

/* Room for `extra` more ranges; -1 on out of memory. */
static int oj_rlist_reserve(oj_rlist *rl, size_t extra) {
  if (rl->n + extra <= rl->cap) return 0;
  size_t cap = rl->cap ? rl->cap * 2 : 16;
  while (cap < rl->n + extra) cap *= 2;
  oj_range *v = realloc(rl->v, cap * sizeof *v);
  if (!v) return -1;
  rl->v = v;
  rl->cap = cap;
  return 0;
}

/* Index of the first range starting above a. */
static size_t oj_rlist_upper(const oj_rlist *rl, uintptr_t a) {
  size_t lo = 0, hi = rl->n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (rl->v[mid].a <= a) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

static void oj_rlist_erase(oj_rlist *rl, size_t i) {
  memmove(rl->v + i, rl->v + i + 1, (rl->n - i - 1) * sizeof *rl->v);
  rl->n--;
}

/* Inserts [a, a+n) and merges it with its neighbours.  Returns the index
** of the merged range, or -1 on out of memory (the range is then lost:
** address space that stays reserved but unused). */
long oj_rlist_insert(oj_rlist *rl, uintptr_t a, size_t n) {
  size_t i = oj_rlist_upper(rl, a);
  int prev = i > 0 && rl->v[i - 1].a + rl->v[i - 1].n == a && !oj_rlist_fenced(rl, a);
  int next = i < rl->n && a + n == rl->v[i].a && !oj_rlist_fenced(rl, a + n);
  if (prev && next) {
    rl->v[i - 1].n += n + rl->v[i].n;
    oj_rlist_erase(rl, i);
    return (long)i - 1;
  }
  if (prev) {
    rl->v[i - 1].n += n;
    return (long)i - 1;
  }
  if (next) {
    rl->v[i].a = a;
    rl->v[i].n += n;
    return (long)i;
  }
  if (oj_rlist_reserve(rl, 1)) return -1;
  memmove(rl->v + i + 1, rl->v + i, (rl->n - i) * sizeof *rl->v);
  rl->v[i].a = a;
  rl->v[i].n = n;
  rl->n++;
  return (long)i;
}

/* Removes [a, a+n) from range i, which holds it.  -1 on out of memory
** (nothing removed). */
int oj_rlist_cut(oj_rlist *rl, size_t i, uintptr_t a, size_t n) {
  uintptr_t s = rl->v[i].a, e = s + rl->v[i].n;
  int before = a > s, after = a + n < e;
  if (before && after) {
    if (oj_rlist_reserve(rl, 1)) return -1;
    memmove(rl->v + i + 2, rl->v + i + 1, (rl->n - i - 1) * sizeof *rl->v);
    rl->n++;
    rl->v[i].n = a - s;
    rl->v[i + 1].a = a + n;
    rl->v[i + 1].n = e - (a + n);
  } else if (before) {
    rl->v[i].n = a - s;
  } else if (after) {
    rl->v[i].a = a + n;
    rl->v[i].n = e - (a + n);
  } else {
    oj_rlist_erase(rl, i);
  }
  return 0;
}

/* First fit of n bytes aligned to align, removed from rl: 0, 1 (no fit)
** or -1 (out of memory). */
int oj_rlist_take(oj_rlist *rl, size_t n, size_t align, uintptr_t *out) {
  for (size_t i = 0; i < rl->n; i++) {
    uintptr_t s = rl->v[i].a, e = s + rl->v[i].n, a = oj_rlist_up(s, align);
    if (a + n > e || a + n < a) continue;
    if (oj_rlist_cut(rl, i, a, n)) return -1;
    *out = a;
    return 0;
  }
  return 1;
}

/* The index of the range that holds [a, a+n), or -1. */
long oj_rlist_holding(const oj_rlist *rl, uintptr_t a, size_t n) {
  size_t i = oj_rlist_upper(rl, a);
  if (i == 0) return -1;
  const oj_range *r = &rl->v[i - 1];
  return r->a <= a && a + n <= r->a + r->n ? (long)i - 1 : -1;
}
