/*
** oj_libbin.h: the reader of __tvm_ffi__library_bin, the import tree that
** TVM's export_library embeds in an object (oj_libbin.c).  oj_ffibin.c
** loads the modules it names and wires the imports.
*/
#ifndef OJ_LIBBIN_H
#define OJ_LIBBIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One embedded module: its kind and, unless the kind is "_lib" (the
** library itself), its serialized bytes.  Both point into the blob. */
typedef struct oj_libbin_module {
  const char *kind;
  size_t kind_len;
  const char *data;
  size_t size;
} oj_libbin_module;

/* The import tree, as compressed rows: module i imports the modules
** children[indptr[i] .. indptr[i + 1]).  nmodules == nindptr - 1 >= 1. */
typedef struct oj_libbin {
  uint64_t *indptr;
  size_t nindptr;
  uint64_t *children;
  size_t nchildren;
  oj_libbin_module *modules;
  size_t nmodules;
} oj_libbin;

/* Reads and checks the blob at bin (its first 8 bytes, little endian, give
** the length of the rest).  Returns ORCJIT_OK and fills *out, or
** ORCJIT_EFORMAT (a message naming library and the broken rule) or
** ORCJIT_ENOMEM, *out then empty.  Free with oj_libbin_free. */
int oj_libbin_read(const void *bin, const char *library, oj_libbin *out);
void oj_libbin_free(oj_libbin *b);

#ifdef __cplusplus
}
#endif
#endif /* OJ_LIBBIN_H */
