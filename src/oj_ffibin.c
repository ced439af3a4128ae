/*
** oj_ffibin.c: the import trees that TVM's export_library embeds in an
** object (__tvm_ffi__library_bin), for the ffi.Module of kind "orcjit":
**   - which blobs a module's links found (noted by the link callback,
**     expanded once the add has succeeded, forgotten when it failed);
**   - expanding one: the modules it names loaded through
**     ffi.Module.load_from_bytes.<kind>, the module itself in the place of
**     "_lib", the imports wired with ffi.ModuleImportModule, all through
**     tvm/ffi/c_api.h.
** Reading and checking the blob is oj_libbin.c's; the link callback and the
** module are C++ (glue/oj_ffi_module.cc: TVM-FFI's ModuleObj is a class).
*/
#include "oj_ffibin.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oj_ffierr.h"
#include "oj_libbin.h"
#include "tvm_ffi_orcjit/orcjit.h"

/* ---- the blobs of one module ------------------------------------------- */

void oj_ffibin_init(oj_ffibin_set *s) {
  memset(s, 0, sizeof *s);
  pthread_mutex_init(&s->lock, NULL);
}

void oj_ffibin_destroy(oj_ffibin_set *s) {
  free(s->bins);
  pthread_mutex_destroy(&s->lock);
  s->bins = NULL;
  s->n = s->nseen = s->cap = 0;
}

int oj_ffibin_note(oj_ffibin_set *s, const void *bin) {
  int rc = 0;
  pthread_mutex_lock(&s->lock);
  size_t i = 0;
  while (i < s->n && s->bins[i] != bin) i++;
  if (i == s->n) {
    if (s->n == s->cap) {
      size_t ncap = s->cap ? s->cap * 2 : 4;
      const void **nb = realloc(s->bins, ncap * sizeof *nb);
      if (nb) {
        s->bins = nb;
        s->cap = ncap;
      }
    }
    if (s->n < s->cap)
      s->bins[s->n++] = bin;
    else
      rc = -1;
  }
  pthread_mutex_unlock(&s->lock);
  return rc;
}

void oj_ffibin_forget(oj_ffibin_set *s) {
  pthread_mutex_lock(&s->lock);
  s->n = s->nseen;
  pthread_mutex_unlock(&s->lock);
}

int oj_ffibin_expand(oj_ffibin_set *s, const char *library, TVMFFIObjectHandle self,
                     TVMFFIObjectHandle *other_root) {
  *other_root = NULL;
  pthread_mutex_lock(&s->lock);
  size_t from = s->nseen, to = s->n;
  s->nseen = s->n;
  pthread_mutex_unlock(&s->lock);
  /* bins[from .. to) stay as they are: only the waiting tail changes. */
  for (size_t i = from; i < to; i++) {
    pthread_mutex_lock(&s->lock);
    const void *bin = s->bins[i];
    pthread_mutex_unlock(&s->lock);
    TVMFFIObjectHandle root = NULL;
    if (oj_ffibin_load(bin, library, self, &root) != 0) {
      if (*other_root) TVMFFIObjectDecRef(*other_root);
      *other_root = NULL;
      return -1;
    }
    if (root == self) {
      TVMFFIObjectDecRef(root);
      continue;
    }
    if (*other_root) TVMFFIObjectDecRef(*other_root);
    *other_root = root;
  }
  return 0;
}

/* ---- expanding one blob ------------------------------------------------ */

static void oj_ffibin_release(TVMFFIAny *v) {
  if (v->type_index >= kTVMFFIStaticObjectBegin && v->v_obj) TVMFFIObjectDecRef(v->v_obj);
  v->type_index = kTVMFFINone;
  v->v_int64 = 0;
}

static TVMFFIAny oj_ffibin_view(TVMFFIObjectHandle obj) {
  TVMFFIAny v;
  memset(&v, 0, sizeof v);
  v.type_index = ((TVMFFIObject *)obj)->type_index;
  v.v_obj = (TVMFFIObject *)obj;
  return v;
}

/* 1 if v holds an ffi.Module (or a subclass); else, as TVM-FFI's
** Any::cast<Module>, a TypeError naming v's type. */
static int oj_ffibin_is_module(const TVMFFIAny *v) {
  static const TVMFFIByteArray key = {"ffi.Module", 10};
  int32_t mod = -1;
  if (v->type_index >= kTVMFFIStaticObjectBegin && v->v_obj &&
      TVMFFITypeKeyToIndex(&key, &mod) == 0) {
    const TVMFFITypeInfo *info = TVMFFIGetTypeInfo(v->type_index);
    const TVMFFITypeInfo *base = TVMFFIGetTypeInfo(mod);
    if (info->type_index == mod ||
        (info->type_depth > base->type_depth &&
         info->type_ancestors[base->type_depth]->type_index == mod))
      return 1;
  }
  const TVMFFIByteArray *got = oj_ffierr_type_key(v->type_index);
  oj_ffierr_raisef("TypeError", "Cannot convert from type `%.*s` to `ffi.Module`", (int)got->size,
                   got->data);
  return 0;
}

/* Loads module m of the tree (not "_lib") into *out. */
static int oj_ffibin_load_one(const oj_libbin_module *m, const char *library,
                              TVMFFIObjectHandle *out) {
  static const char prefix[] = "ffi.Module.load_from_bytes.";
  size_t plen = sizeof prefix - 1;
  char *name = malloc(plen + m->kind_len + 1);
  if (!name)
    return oj_ffierr_raisef("MemoryError", "library '%s': __tvm_ffi__library_bin: out of memory",
                            library);
  memcpy(name, prefix, plen);
  memcpy(name + plen, m->kind, m->kind_len);
  name[plen + m->kind_len] = '\0';
  TVMFFIByteArray key = {name, plen + m->kind_len};
  TVMFFIObjectHandle loader = NULL;
  int rc = TVMFFIFunctionGetGlobal(&key, &loader);
  if (rc == 0 && !loader)
    rc = oj_ffierr_raisef("RuntimeError",
                          "library '%s': its __tvm_ffi__library_bin holds a module of kind "
                          "'%.*s', but %s is not registered",
                          library, (int)m->kind_len, m->kind, name);
  free(name);
  if (rc != 0) return -1;
  TVMFFIByteArray data = {m->data, m->size};
  TVMFFIAny arg, rv;
  memset(&rv, 0, sizeof rv);
  rc = TVMFFIBytesFromByteArray(&data, &arg);
  if (rc == 0) {
    rc = TVMFFIFunctionCall(loader, &arg, 1, &rv);
    oj_ffibin_release(&arg);
  }
  TVMFFIObjectDecRef(loader);
  if (rc != 0) return -1;
  if (!oj_ffibin_is_module(&rv)) {
    oj_ffibin_release(&rv);
    return -1;
  }
  *out = rv.v_obj;
  return 0;
}

int oj_ffibin_load(const void *bin, const char *library, TVMFFIObjectHandle self,
                   TVMFFIObjectHandle *root) {
  *root = NULL;
  oj_libbin tree;
  int rc = oj_libbin_read(bin, library, &tree);
  if (rc != ORCJIT_OK) return oj_ffierr_raise(rc, "oj_libbin_read", NULL);
  TVMFFIObjectHandle *mods = calloc(tree.nmodules, sizeof *mods);
  if (!mods) {
    oj_libbin_free(&tree);
    return oj_ffierr_raisef("MemoryError", "library '%s': __tvm_ffi__library_bin: out of memory",
                            library);
  }
  rc = 0;
  for (size_t i = 0; rc == 0 && i < tree.nmodules; i++) {
    const oj_libbin_module *m = &tree.modules[i];
    if (m->kind_len == 4 && memcmp(m->kind, "_lib", 4) == 0) {
      TVMFFIObjectIncRef(self);
      mods[i] = self;
    } else {
      rc = oj_ffibin_load_one(m, library, &mods[i]);
    }
  }
  TVMFFIObjectHandle import = NULL;
  if (rc == 0) {
    static const TVMFFIByteArray key = {"ffi.ModuleImportModule", 22};
    rc = TVMFFIFunctionGetGlobal(&key, &import);
    if (rc == 0 && !import)
      rc = oj_ffierr_raisef("RuntimeError", "ffi.ModuleImportModule is not registered");
  }
  for (size_t i = 0; rc == 0 && i < tree.nmodules; i++) {
    for (uint64_t j = tree.indptr[i]; rc == 0 && j < tree.indptr[i + 1]; j++) {
      TVMFFIAny args[2] = {oj_ffibin_view(mods[i]), oj_ffibin_view(mods[tree.children[j]])};
      TVMFFIAny rv;
      memset(&rv, 0, sizeof rv);
      rc = TVMFFIFunctionCall(import, args, 2, &rv);
      if (rc == 0) oj_ffibin_release(&rv);
    }
  }
  if (import) TVMFFIObjectDecRef(import);
  if (rc == 0) {
    *root = mods[0];
    mods[0] = NULL;
  }
  for (size_t i = 0; i < tree.nmodules; i++)
    if (mods[i]) TVMFFIObjectDecRef(mods[i]);
  free(mods);
  oj_libbin_free(&tree);
  return rc == 0 ? 0 : -1;
}
