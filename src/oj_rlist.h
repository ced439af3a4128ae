/*
** oj_rlist.h: sorted lists of free address ranges (oj_rlist.c), the free
** lists of the JIT memory allocator (oj_vmem.c).
*/
#ifndef OJ_RLIST_H
#define OJ_RLIST_H
#include <stddef.h>
#include <stdint.h>

typedef struct oj_range {
  uintptr_t a;
  size_t n;
} oj_range;

/* Free ranges, sorted by address; adjacent ranges are merged unless
** fence(ctx, at) says that `at` is a boundary no range may span (the edge
** of a slab: oj_vmem.c).  Zero-initialised is an empty list without
** fences. */
typedef struct oj_rlist {
  oj_range *v;
  size_t n, cap;
  int (*fence)(const void *ctx, uintptr_t at);
  const void *ctx;
} oj_rlist;

/* Inserts [a, a+n), merged with its neighbours where no fence is between.
** The index of the range that holds it, or -1 on out of memory (the range
** is then lost: address space that stays reserved but unused). */
long oj_rlist_insert(oj_rlist *rl, uintptr_t a, size_t n);
/* Removes [a, a+n) from range i, which holds it.  0, or -1 on out of memory
** (nothing removed). */
int oj_rlist_cut(oj_rlist *rl, size_t i, uintptr_t a, size_t n);
/* First fit of n bytes aligned to align, removed from rl: 0 (*out set), 1
** (no fit) or -1 (out of memory). */
int oj_rlist_take(oj_rlist *rl, size_t n, size_t align, uintptr_t *out);
/* The index of the range that holds [a, a+n), or -1. */
long oj_rlist_holding(const oj_rlist *rl, uintptr_t a, size_t n);

#endif /* OJ_RLIST_H */
