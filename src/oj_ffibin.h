/*
** oj_ffibin.h: the import trees embedded in a module's objects
** (__tvm_ffi__library_bin), from the link that finds one to the modules it
** names, loaded and wired through TVM-FFI's C API (oj_ffibin.c).  Used by
** the ffi.Module of kind "orcjit" (glue/oj_ffi_module.cc).
*/
#ifndef OJ_FFIBIN_H
#define OJ_FFIBIN_H

#include <pthread.h>
#include <stddef.h>

#include <tvm/ffi/c_api.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The blobs one module's links found: bins[0 .. nseen) expanded already,
** bins[nseen .. n) waiting for the end of their add.  Thread-safe. */
typedef struct oj_ffibin_set {
  pthread_mutex_t lock;
  const void **bins;
  size_t n, nseen, cap;
} oj_ffibin_set;

void oj_ffibin_init(oj_ffibin_set *s);
void oj_ffibin_destroy(oj_ffibin_set *s);

/* Notes the blob at bin (the address of __tvm_ffi__library_bin of a linked
** object), unless it was noted before.  From the link callback.  Returns
** 0, or -1 when out of memory. */
int oj_ffibin_note(oj_ffibin_set *s, const void *bin);

/* Forgets the waiting blobs (their add failed, so their objects are gone). */
void oj_ffibin_forget(oj_ffibin_set *s);

/* Expands each waiting blob (oj_ffibin_load) and marks it expanded.
** *other_root receives a new reference to the last root that is not self,
** or NULL.  Returns 0, or -1 with the TVM-FFI error raised (*other_root
** then NULL). */
int oj_ffibin_expand(oj_ffibin_set *s, const char *library, TVMFFIObjectHandle self,
                     TVMFFIObjectHandle *other_root);

/* Rebuilds the module tree serialized at bin, with self (a module of the
** library named library) in the place of "_lib", as tvm_ffi's library
** module does: each other module is loaded by the global function
** ffi.Module.load_from_bytes.<kind>, then every module imports its children.
** *root receives a new reference to the tree's root.  Returns 0, or -1
** with the TVM-FFI error raised. */
int oj_ffibin_load(const void *bin, const char *library, TVMFFIObjectHandle self,
                   TVMFFIObjectHandle *root);

#ifdef __cplusplus
}
#endif
#endif /* OJ_FFIBIN_H */
