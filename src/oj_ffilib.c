/*
** oj_ffilib.c: what the ffi.Module of kind "orcjit" does with its library,
** and its session, in C: making a session from TVM-FFI arguments, adding
** TVM-FFI values (a str is a path, bytes are an object's content) as one
** object or as one link of several, and finding a function, with the error
** kind and message of each failure (oj_ffierr.c).
** The module object, its life and its link callback are C++
** (glue/oj_ffi_module.cc); the import trees are oj_ffibin.c's.
*/
#include "oj_ffilib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oj_ffierr.h"

static int oj_ffilib_nomem(void) {
  return oj_ffierr_raisef("MemoryError", "tvm_ffi_orcjit: out of memory");
}

int oj_ffilib_content(const TVMFFIAny *v, TVMFFIByteArray *out) {
  int32_t t = v->type_index;
  int kind = t == kTVMFFIStr || t == kTVMFFISmallStr     ? 1
             : t == kTVMFFIBytes || t == kTVMFFISmallBytes ? 2
                                                           : 0;
  if (t == kTVMFFISmallStr || t == kTVMFFISmallBytes) {
    out->data = v->v_bytes;
    out->size = (size_t)v->small_str_len;
  } else if (kind) {
    *out = *(const TVMFFIByteArray *)((const char *)v->v_obj + sizeof(TVMFFIObject));
  }
  return kind;
}

int oj_ffilib_session(const TVMFFIAny *orc_rt, int64_t slab_size, unsigned flags,
                      orcjit_session **out) {
  *out = NULL;
  TVMFFIByteArray b = {NULL, 0};
  if (orc_rt->type_index != kTVMFFINone && !oj_ffilib_content(orc_rt, &b)) {
    const TVMFFIByteArray *key = oj_ffierr_type_key(orc_rt->type_index);
    return oj_ffierr_raisef("TypeError",
                            "tvm_ffi_orcjit.ExecutionSession: orc_rt must be None, str or "
                            "bytes, got %.*s",
                            (int)key->size, key->data);
  }
  char *path = b.size ? malloc(b.size + 1) : NULL;
  if (b.size && !path) return oj_ffilib_nomem();
  if (path) {
    memcpy(path, b.data, b.size);
    path[b.size] = '\0';
  }
  orcjit_session_options opts;
  memset(&opts, 0, sizeof opts);
  opts.struct_size = sizeof opts;
  opts.slab_size = slab_size < 0 ? 0 : (size_t)slab_size;
  opts.orc_rt_path = path;
  opts.flags = flags;
  int rc = orcjit_session_create(&opts, out);
  free(path);
  return rc == ORCJIT_OK ? 0 : oj_ffierr_raise(rc, "orcjit_session_create", NULL);
}

/* The path whose name the core's message starts with (for the error's
** kind: a missing file is a FileNotFoundError), if any. */
static const char *oj_ffilib_failed_path(const orcjit_input *in, size_t n) {
  const char *msg = orcjit_last_error();
  for (size_t i = 0; msg && i < n; i++) {
    if (!in[i].path) continue;
    size_t len = strlen(in[i].path);
    for (const char *p = strstr(msg, ": "); p; p = strstr(p + 1, ": "))
      if (strncmp(p + 2, in[i].path, len) == 0 && p[2 + len] == ':') return in[i].path;
  }
  return NULL;
}

int oj_ffilib_add(orcjit_library *lib, const TVMFFIAny *items, size_t n, int deferred,
                  oj_ffibin_set *bins, TVMFFIObjectHandle self, TVMFFIObjectHandle *other_root) {
  *other_root = NULL;
  orcjit_input *in = calloc(n ? n : 1, sizeof *in);
  char (*names)[32] = calloc(n ? n : 1, sizeof *names); /* "<memory #i>" */
  char **paths = calloc(n ? n : 1, sizeof *paths);
  int rc = in && names && paths ? 0 : oj_ffilib_nomem();
  for (size_t i = 0; rc == 0 && i < n; i++) {
    TVMFFIByteArray b = {NULL, 0};
    int kind = oj_ffilib_content(&items[i], &b);
    if (kind == 2) {
      if (n <= 1)
        snprintf(names[i], sizeof names[i], "<memory>");
      else
        snprintf(names[i], sizeof names[i], "<memory #%zu>", i);
      in[i].data = b.data;
      in[i].size = b.size;
      in[i].name = names[i];
    } else if (kind == 1 && (paths[i] = malloc(b.size + 1)) != NULL) {
      memcpy(paths[i], b.data, b.size);
      paths[i][b.size] = '\0';
      in[i].path = paths[i];
    } else if (kind == 1) {
      rc = oj_ffilib_nomem();
    } else {
      const TVMFFIByteArray *key = oj_ffierr_type_key(items[i].type_index);
      rc = oj_ffierr_raisef("TypeError",
                            "tvm_ffi_orcjit: an object must be a path (str) or object-file "
                            "bytes, got %.*s",
                            (int)key->size, key->data);
    }
  }
  if (rc == 0) {
    int st;
    if (deferred)
      st = orcjit_library_add_deferred(lib, in, n);
    else if (n == 1 && in[0].path)
      st = orcjit_library_add_file(lib, in[0].path);
    else if (n == 1)
      st = orcjit_library_add_memory(lib, in[0].data, in[0].size, in[0].name);
    else
      st = orcjit_library_add_many(lib, in, n);
    if (st != ORCJIT_OK) {
      if (st != ORCJIT_EBUSY) oj_ffibin_forget(bins);
      if (n == 1)
        rc = oj_ffierr_raise(st, "orcjit_library_add", in[0].path);
      else
        rc = oj_ffierr_raise(st, "orcjit_library_add_many", oj_ffilib_failed_path(in, n));
    }
  }
  if (rc == 0)
    rc = oj_ffibin_expand(bins, orcjit_library_name(lib) ? orcjit_library_name(lib) : "", self,
                          other_root);
  for (size_t i = 0; paths && i < n; i++) free(paths[i]);
  free(paths);
  free(names);
  free(in);
  return rc == 0 ? 0 : -1;
}

int oj_ffilib_get_function(orcjit_library *lib, const char *name, void **fn) {
  int rc = orcjit_library_get_function(lib, name, fn);
  if (rc == ORCJIT_ENOTFOUND) {
    const char *core = orcjit_last_error();
    const char *lname = orcjit_library_name(lib);
    if (core && core[0])
      return oj_ffierr_raisef("AttributeError", "Module has no function '%s': %s", name, core);
    return oj_ffierr_raisef("AttributeError", "Module has no function '%s' in library '%s'", name,
                            lname ? lname : "");
  }
  return rc == ORCJIT_OK ? 0 : oj_ffierr_raise(rc, "orcjit_library_get_function", NULL);
}
