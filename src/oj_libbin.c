/*
** oj_libbin.c: reads __tvm_ffi__library_bin, the serialized import tree of
** an object built by TVM's export_library, and checks every rule of its
** layout before anything is loaded from it (little endian):
**   <nbytes: u64> <indptr: vec> <children: vec> <module> * (len(indptr) - 1)
**   vec = <n: u64> <u64> * n     str = <n: u64> <byte> * n
**   module = <kind: str> [<bytes: str> unless kind is "_lib"]
** Loading the modules (ffi.Module.load_from_bytes.<kind>) and wiring their
** imports is oj_ffibin.c's, through TVM-FFI's C API.
*/
#include "oj_libbin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oj_error.h"
#include "tvm_ffi_orcjit/orcjit.h"

typedef struct oj_libbin_cursor {
  const unsigned char *p;
  uint64_t size, pos;
  const char *library;
} oj_libbin_cursor;

static int oj_libbin_corrupt(const oj_libbin_cursor *c, const char *fmt, const char *what,
                             uint64_t a, uint64_t b) {
  char rule[256];
  snprintf(rule, sizeof rule, fmt, what, (unsigned long long)a, (unsigned long long)b);
  return oj_error_set(ORCJIT_EFORMAT, "library '%s': corrupt __tvm_ffi__library_bin: %s",
                      c->library, rule);
}

static uint64_t oj_libbin_u64_at(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

static int oj_libbin_u64(oj_libbin_cursor *c, const char *what, uint64_t *out) {
  if (c->size - c->pos < 8)
    return oj_libbin_corrupt(c, "%s: unexpected end of blob at byte %llu of %llu", what,
                             c->pos, c->size);
  *out = oj_libbin_u64_at(c->p + c->pos);
  c->pos += 8;
  return ORCJIT_OK;
}

static int oj_libbin_vec(oj_libbin_cursor *c, const char *what, uint64_t **out, size_t *n) {
  uint64_t count = 0;
  int rc = oj_libbin_u64(c, what, &count);
  if (rc != ORCJIT_OK) return rc;
  if (count > (c->size - c->pos) / 8)
    return oj_libbin_corrupt(c, "%s: vector size %llu exceeds remaining blob (%llu bytes)",
                             what, count, c->size - c->pos);
  *out = malloc(count ? count * 8 : 1);
  if (!*out)
    return oj_error_set(ORCJIT_ENOMEM, "library '%s': __tvm_ffi__library_bin: out of memory",
                        c->library);
  for (uint64_t i = 0; i < count; i++) (*out)[i] = oj_libbin_u64_at(c->p + c->pos + 8 * i);
  c->pos += 8 * count;
  *n = (size_t)count;
  return ORCJIT_OK;
}

static int oj_libbin_str(oj_libbin_cursor *c, const char *what, const char **s, size_t *n) {
  uint64_t len = 0;
  int rc = oj_libbin_u64(c, what, &len);
  if (rc != ORCJIT_OK) return rc;
  if (len > c->size - c->pos)
    return oj_libbin_corrupt(c, "%s: string length %llu exceeds remaining blob (%llu bytes)",
                             what, len, c->size - c->pos);
  *s = (const char *)c->p + c->pos;
  *n = (size_t)len;
  c->pos += len;
  return ORCJIT_OK;
}

/* The shape of the import tree: every row inside children, in order. */
static int oj_libbin_check_tree(const oj_libbin_cursor *c, const oj_libbin *b) {
  const char *ip = "the import tree's index pointer";
  if (b->nindptr < 2)
    return oj_libbin_corrupt(c, "%s must have at least 2 entries (modules + 1), it has %llu",
                             ip, b->nindptr, 0);
  if (b->indptr[0] != 0)
    return oj_libbin_corrupt(c, "%s must start at 0, it starts at %llu", ip, b->indptr[0], 0);
  for (size_t i = 1; i < b->nindptr; i++)
    if (b->indptr[i] < b->indptr[i - 1])
      return oj_libbin_corrupt(c, "%s must be non-decreasing: entry %llu is %llu, below the "
                               "one before it", ip, i, b->indptr[i]);
  if (b->indptr[b->nindptr - 1] > b->nchildren)
    return oj_libbin_corrupt(c, "%s ends at %llu, which exceeds child index count %llu", ip,
                             b->indptr[b->nindptr - 1], b->nchildren);
  return ORCJIT_OK;
}

int oj_libbin_read(const void *bin, const char *library, oj_libbin *out) {
  memset(out, 0, sizeof *out);
  oj_libbin_cursor c = {(const unsigned char *)bin + 8, oj_libbin_u64_at(bin), 0,
                        library ? library : ""};
  int rc = oj_libbin_vec(&c, "index pointer", &out->indptr, &out->nindptr);
  if (rc == ORCJIT_OK) rc = oj_libbin_vec(&c, "child indices", &out->children, &out->nchildren);
  if (rc == ORCJIT_OK) rc = oj_libbin_check_tree(&c, out);
  if (rc == ORCJIT_OK) {
    out->nmodules = out->nindptr - 1;
    out->modules = calloc(out->nmodules, sizeof *out->modules);
    if (!out->modules)
      rc = oj_error_set(ORCJIT_ENOMEM, "library '%s': __tvm_ffi__library_bin: out of memory",
                        c.library);
  }
  for (size_t i = 0; rc == ORCJIT_OK && i < out->nmodules; i++) {
    oj_libbin_module *m = &out->modules[i];
    char what[64];
    snprintf(what, sizeof what, "kind of module %zu", i);
    rc = oj_libbin_str(&c, what, &m->kind, &m->kind_len);
    if (rc != ORCJIT_OK || (m->kind_len == 4 && memcmp(m->kind, "_lib", 4) == 0)) continue;
    snprintf(what, sizeof what, "bytes of module %zu", i);
    rc = oj_libbin_str(&c, what, &m->data, &m->size);
  }
  /* Every index a row uses names a module. */
  for (size_t i = 0; rc == ORCJIT_OK && i < out->nmodules; i++)
    for (uint64_t j = out->indptr[i]; rc == ORCJIT_OK && j < out->indptr[i + 1]; j++)
      if (out->children[j] >= out->nmodules)
        rc = oj_libbin_corrupt(&c, "%s: child index out of range: %llu, with %llu modules",
                               "the import tree", out->children[j], out->nmodules);
  if (rc != ORCJIT_OK) oj_libbin_free(out);
  return rc;
}

void oj_libbin_free(oj_libbin *b) {
  free(b->indptr);
  free(b->children);
  free(b->modules);
  memset(b, 0, sizeof *b);
}
