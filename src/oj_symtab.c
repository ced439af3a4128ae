/*
** oj_symtab.c: an open-addressing hash table from symbol name to address,
** one per library.  It is what get_function and other libraries' link
** order read, so a lookup never goes through LLVM.  Owns its names.
** Not thread-safe by itself: the library lock guards it.  Also home of
** oj_grow, the array growth every file of the core uses.
*/
#include <stdlib.h>
#include <string.h>

#include "oj_hash.h"
#include "oj_internal.h"

int oj_grow(void **arr, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return 0;
  size_t ncap = *cap ? *cap * 2 : 8;
  while (ncap < need) ncap *= 2;
  void *n = realloc(*arr, ncap * elem);
  if (!n) return -1;
  *arr = n;
  *cap = ncap;
  return 0;
}

uint32_t oj_symtab_hash(const char *s) { return oj_hash_bytes(s, strlen(s)); }

void oj_symtab_free(oj_symtab *t) {
  for (size_t i = 0; i < t->cap; i++) free(t->slots[i].name);
  free(t->slots);
  memset(t, 0, sizeof *t);
}

static oj_symtab_entry *oj_symtab_probe(oj_symtab_entry *slots, size_t cap,
                                        const char *name, uint32_t h) {
  size_t mask = cap - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    oj_symtab_entry *e = &slots[i];
    if (!e->name || (e->hash == h && strcmp(e->name, name) == 0)) return e;
  }
}

oj_symtab_entry *oj_symtab_find_h(const oj_symtab *t, const char *name, uint32_t h) {
  if (!t->cap) return NULL;
  oj_symtab_entry *e = oj_symtab_probe(t->slots, t->cap, name, h);
  return e->name ? e : NULL;
}

oj_symtab_entry *oj_symtab_find(const oj_symtab *t, const char *name) {
  return t->cap ? oj_symtab_find_h(t, name, oj_symtab_hash(name)) : NULL;
}

/* Rehashes into ncap slots (a power of two above the count). */
static int oj_symtab_resize(oj_symtab *t, size_t ncap) {
  oj_symtab_entry *ns = calloc(ncap, sizeof *ns);
  if (!ns) return -1;
  for (size_t i = 0; i < t->cap; i++) {
    oj_symtab_entry *e = &t->slots[i];
    if (e->name) *oj_symtab_probe(ns, ncap, e->name, e->hash) = *e;
  }
  free(t->slots);
  t->slots = ns;
  t->cap = ncap;
  return 0;
}

static int oj_symtab_grow(oj_symtab *t) { return oj_symtab_resize(t, t->cap ? t->cap * 2 : 16); }

void oj_symtab_reserve(oj_symtab *t, size_t n) {
  size_t ncap = t->cap ? t->cap : 16;
  if (n > SIZE_MAX / 8 - t->count) return;
  while ((t->count + n) * 4 > ncap * 3) ncap *= 2;
  if (ncap != t->cap) (void)oj_symtab_resize(t, ncap); /* failing is harmless */
}

oj_symtab_entry *oj_symtab_insert(oj_symtab *t, const char *name, int *created) {
  return oj_symtab_insert_h(t, name, oj_symtab_hash(name), created);
}

oj_symtab_entry *oj_symtab_insert_h(oj_symtab *t, const char *name, uint32_t h,
                                    int *created) {
  *created = 0;
  if ((t->count + 1) * 4 > t->cap * 3 && oj_symtab_grow(t) != 0) return NULL;
  oj_symtab_entry *e = oj_symtab_probe(t->slots, t->cap, name, h);
  if (e->name) return e;
  char *copy = strdup(name);
  if (!copy) return NULL;
  memset(e, 0, sizeof *e);
  e->name = copy;
  e->hash = h;
  t->count++;
  *created = 1;
  return e;
}

void oj_symtab_remove_if(oj_symtab *t, int (*pred)(const oj_symtab_entry *, void *),
                         void *ctx) {
  /* In place: delete, then re-insert the rest of each probe run (linear
  ** probing needs no tombstones this way). */
  size_t mask = t->cap - 1;
  if (!t->cap) return;
  for (size_t i = 0; i < t->cap; i++) {
    oj_symtab_entry *e = &t->slots[i];
    if (!e->name || !pred(e, ctx)) continue;
    free(e->name);
    memset(e, 0, sizeof *e);
    t->count--;
    /* Re-place the entries after i up to the next empty slot. */
    for (size_t j = (i + 1) & mask; t->slots[j].name; j = (j + 1) & mask) {
      oj_symtab_entry moved = t->slots[j];
      memset(&t->slots[j], 0, sizeof moved);
      *oj_symtab_probe(t->slots, t->cap, moved.name, moved.hash) = moved;
    }
    i--; /* slot i may now hold a moved entry to test */
  }
}

void oj_symtab_remove(oj_symtab *t, const char *name) {
  oj_symtab_entry *e = oj_symtab_find(t, name);
  if (!e) return;
  size_t mask = t->cap - 1, i = (size_t)(e - t->slots);
  free(e->name);
  memset(e, 0, sizeof *e);
  t->count--;
  for (size_t j = (i + 1) & mask; t->slots[j].name; j = (j + 1) & mask) {
    oj_symtab_entry moved = t->slots[j];
    memset(&t->slots[j], 0, sizeof moved);
    *oj_symtab_probe(t->slots, t->cap, moved.name, moved.hash) = moved;
  }
}
