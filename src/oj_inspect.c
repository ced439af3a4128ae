/*
** oj_inspect.c: orcjit_inspect_*, a description of an object file or
** archive without linking it (what `python -m tvm_ffi_orcjit inspect`
** prints): per object its symbols, its TVM-FFI functions, what it needs
** from elsewhere and its init/fini sections.
**
** Why here, in the C core, rather than an ELF reader in the Python tool:
** the loader already validates every byte of an object (oj_elf.c) and
** splits archives (oj_archive.c).  Reusing those gives the inspection the
** loader's exact view (the same symbol lists, the same init/fini sections
** and priorities, the same refusal with the same message), bounds-checked
** against arbitrary bytes, and keeps one ELF reader in the project instead
** of two that drift apart.  It is public C API so that C hosts get it too;
** the Python tool reaches it through the TVM-FFI global
** tvm_ffi_orcjit.InspectObject (glue/oj_ffi.cc, src/oj_ffiinspect.c).
**
** It owns only its result.  It links nothing, needs no session, and keeps
** no global state; the rewritten image oj_elf_prepare builds is dropped at
** once.  Knowledge shared with the loader, kept in sync by hand: the names
** the loader provides itself (oj_resolve.c's __cxa_atexit shim,
** oj_rtobj.c's atexit and __dso_handle; JITLink defines
** _GLOBAL_OFFSET_TABLE_), and the host lookup (dlsym(RTLD_DEFAULT)).
*/
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oj_arch.h"
#include "oj_archive.h"
#include "oj_elf.h"
#include "oj_error.h"
#include "oj_file.h"
#include "oj_rtnames.h"
#include "oj_tar.h"
#include "tvm_ffi_orcjit/orcjit.h"

#define OJ_INSPECT_FFI_PREFIX "__tvm_ffi_"

typedef struct oj_inspect_obj {
  char *name;        /* path, memory name or "<archive>(<member>)" */
  int status;        /* ORCJIT_OK, or why the loader refuses it */
  char *error;       /* its message; NULL if OK */
  oj_elf_object elf; /* symbol and init/fini lists (image freed) */
  unsigned *uflags;  /* ORCJIT_SYM_RUNTIME/HOST per undefined symbol */
} oj_inspect_obj;

struct orcjit_inspection {
  int is_archive; /* 1: an ar archive, 2: a tar */
  size_t n, cap;
  oj_inspect_obj *objs;
};

/* ---- building ------------------------------------------------------------ */

static unsigned oj_inspect_where(const char *name, unsigned flags) {
  if (oj_rtnames_kind(name)) return ORCJIT_SYM_RUNTIME;
  if ((flags & ORCJIT_INSPECT_RESOLVE) && dlsym(RTLD_DEFAULT, name) != NULL)
    return ORCJIT_SYM_HOST;
  return 0;
}

static void oj_inspect_obj_free(oj_inspect_obj *o) {
  free(o->name);
  free(o->error);
  free(o->uflags);
  oj_elf_object_free(&o->elf);
}

/* Appends one object: validates data with the loader's pre-pass.  Returns
** ORCJIT_OK (the object's own failure is recorded in it, not returned) or
** ORCJIT_ENOMEM. */
static int oj_inspect_add(orcjit_inspection *in, const void *data, size_t size,
                          const char *name, unsigned flags) {
  if (in->n == in->cap) {
    size_t ncap = in->cap ? in->cap * 2 : 4;
    oj_inspect_obj *no = realloc(in->objs, ncap * sizeof *no);
    if (!no) return oj_error_set(ORCJIT_ENOMEM, "%s: out of memory", name);
    in->objs = no;
    in->cap = ncap;
  }
  oj_inspect_obj *o = &in->objs[in->n];
  memset(o, 0, sizeof *o);
  o->name = strdup(name);
  if (!o->name) return oj_error_set(ORCJIT_ENOMEM, "%s: out of memory", name);
  o->status = oj_elf_prepare(data, size, name, "inspect", OJ_ELF_KEEP_DEBUG, &o->elf);
  if (o->status == ORCJIT_ENOMEM) {
    free(o->name);
    return ORCJIT_ENOMEM;
  }
  in->n++;
  if (o->status != ORCJIT_OK) {
    o->error = strdup(oj_error_message());
    if (!o->error) return oj_error_set(ORCJIT_ENOMEM, "%s: out of memory", name);
    return ORCJIT_OK;
  }
  free(o->elf.image); /* only the lists are needed */
  o->elf.image = NULL;
  o->elf.image_size = 0;
  if (o->elf.nundefined) {
    o->uflags = calloc(o->elf.nundefined, sizeof *o->uflags);
    if (!o->uflags) return oj_error_set(ORCJIT_ENOMEM, "%s: out of memory", name);
    for (size_t k = 0; k < o->elf.nundefined; k++)
      o->uflags[k] = oj_inspect_where(o->elf.undefined[k].name, flags);
  }
  return ORCJIT_OK;
}

/* An archive: each ELF member; other members are skipped, as the loader
** skips them. */
static int oj_inspect_archive(orcjit_inspection *in, const void *data, size_t size,
                              const char *name, unsigned flags) {
  oj_ar_member *m;
  size_t n;
  int rc = oj_archive_parse(data, size, name, &m, &n);
  if (rc != ORCJIT_OK) return rc;
  in->is_archive = 1;
  for (size_t i = 0; i < n && rc == ORCJIT_OK; i++)
    if (oj_elf_classify(m[i].data, m[i].size) == OJ_ELF_KIND_RELOCATABLE)
      rc = oj_inspect_add(in, m[i].data, m[i].size, m[i].name, flags);
  if (rc == ORCJIT_OK && in->n == 0 && n > 0)
    rc = oj_error_set(ORCJIT_EFORMAT, "%s: archive has no %s relocatable object member",
                      name, oj_arch_host()->name);
  oj_archive_free(m, n);
  return rc;
}

/* A tar (oj_tar.c): each member the loader would link; an ar archive
** among them is described member by member. */
static int oj_inspect_tar(orcjit_inspection *in, const void *data, size_t size,
                          const char *name, unsigned flags) {
  oj_tar t;
  int rc = oj_tar_open(data, size, name, &t);
  for (size_t i = 0; rc == ORCJIT_OK && i < t.nobjects; i++) {
    const oj_tar_member *m = &t.objects[i];
    rc = oj_elf_classify(m->data, m->size) == OJ_ELF_KIND_ARCHIVE
             ? oj_inspect_archive(in, m->data, m->size, m->name, flags)
             : oj_inspect_add(in, m->data, m->size, m->name, flags);
  }
  in->is_archive = 2; /* a tar (orcjit_inspect_is_archive) */
  oj_tar_close(&t);
  return rc;
}

/* ---- public: creating ---------------------------------------------------- */

int orcjit_inspect_memory(const void *data, size_t size, const char *name, unsigned flags,
                          orcjit_inspection **out) {
  oj_error_clear();
  if (!out) return oj_error_set(ORCJIT_EINVAL, "orcjit_inspect_memory: out is NULL");
  *out = NULL;
  if (!name || !*name) name = "<memory>";
  if (!data && size) return oj_error_set(ORCJIT_EINVAL, "%s: data is NULL", name);
  if (!data) data = "";
  orcjit_inspection *in = calloc(1, sizeof *in);
  if (!in) return oj_error_set(ORCJIT_ENOMEM, "%s: out of memory", name);
  int rc;
  if (oj_tar_is(data, size)) {
    rc = oj_inspect_tar(in, data, size, name, flags);
  } else if (oj_elf_classify(data, size) == OJ_ELF_KIND_ARCHIVE) {
    rc = oj_inspect_archive(in, data, size, name, flags);
  } else {
    rc = oj_inspect_add(in, data, size, name, flags);
    /* A single object that the loader refuses fails the call itself. */
    if (rc == ORCJIT_OK && in->objs[0].status != ORCJIT_OK)
      rc = oj_error_set(in->objs[0].status, "%s", in->objs[0].error);
  }
  if (rc != ORCJIT_OK) {
    orcjit_inspect_free(in);
    return rc;
  }
  oj_error_clear(); /* members' failures are in the result, not the call's */
  *out = in;
  return ORCJIT_OK;
}

int orcjit_inspect_file(const char *path, unsigned flags, orcjit_inspection **out) {
  oj_error_clear();
  if (!out) return oj_error_set(ORCJIT_EINVAL, "orcjit_inspect_file: out is NULL");
  *out = NULL;
  if (!path || !*path) return oj_error_set(ORCJIT_EINVAL, "orcjit_inspect_file: empty path");
  /* The same checks and messages as orcjit_library_add_file. */
  unsigned char *buf;
  size_t size;
  if (oj_file_read(path, &buf, &size) != ORCJIT_OK) return oj_error_status();
  int rc = orcjit_inspect_memory(buf, size, path, flags, out);
  free(buf);
  return rc;
}

void orcjit_inspect_free(orcjit_inspection *in) {
  if (!in) return;
  for (size_t i = 0; i < in->n; i++) oj_inspect_obj_free(&in->objs[i]);
  free(in->objs);
  free(in);
}

/* ---- public: reading ----------------------------------------------------- */

static const oj_inspect_obj *oj_inspect_get(const orcjit_inspection *in, size_t i) {
  return in && i < in->n ? &in->objs[i] : NULL;
}

int orcjit_inspect_is_archive(const orcjit_inspection *in) { return in ? in->is_archive : 0; }

size_t orcjit_inspect_num_objects(const orcjit_inspection *in) { return in ? in->n : 0; }

int orcjit_inspect_object(const orcjit_inspection *in, size_t i, const char **name,
                          const char **error) {
  const oj_inspect_obj *o = oj_inspect_get(in, i);
  if (name) *name = o ? o->name : NULL;
  if (error) *error = o && o->error ? o->error : "";
  return o ? o->status : ORCJIT_EINVAL;
}

size_t orcjit_inspect_num_symbols(const orcjit_inspection *in, size_t i) {
  const oj_inspect_obj *o = oj_inspect_get(in, i);
  return o ? o->elf.ndefined + o->elf.nundefined : 0;
}

static int oj_inspect_is_ffi(const char *name) {
  size_t n = sizeof OJ_INSPECT_FFI_PREFIX - 1;
  return strncmp(name, OJ_INSPECT_FFI_PREFIX, n) == 0 && name[n] != '\0' && name[n] != '_';
}

const char *orcjit_inspect_symbol(const orcjit_inspection *in, size_t i, size_t k,
                                  unsigned *flags) {
  const oj_inspect_obj *o = oj_inspect_get(in, i);
  unsigned f = 0;
  const oj_elf_sym *s = NULL;
  if (o && k < o->elf.ndefined) {
    s = &o->elf.defined[k];
  } else if (o && k - o->elf.ndefined < o->elf.nundefined) {
    s = &o->elf.undefined[k - o->elf.ndefined];
    f = ORCJIT_SYM_UNDEFINED | o->uflags[k - o->elf.ndefined];
  }
  if (s) {
    if (s->flags & OJ_ELF_SYM_WEAK) f |= ORCJIT_SYM_WEAK;
    if (s->flags & OJ_ELF_SYM_HIDDEN) f |= ORCJIT_SYM_HIDDEN;
    if (s->flags & OJ_ELF_SYM_FUNC) f |= ORCJIT_SYM_FUNCTION;
    if (s->flags & OJ_ELF_SYM_TLS) f |= ORCJIT_SYM_TLS;
    if ((f & (ORCJIT_SYM_UNDEFINED | ORCJIT_SYM_FUNCTION)) == ORCJIT_SYM_FUNCTION &&
        oj_inspect_is_ffi(s->name))
      f |= ORCJIT_SYM_FFI_FUNCTION;
  }
  if (flags) *flags = f;
  return s ? s->name : NULL;
}

size_t orcjit_inspect_num_initfini(const orcjit_inspection *in, size_t i) {
  const oj_inspect_obj *o = oj_inspect_get(in, i);
  return o ? o->elf.ninitfini : 0;
}

int orcjit_inspect_initfini(const orcjit_inspection *in, size_t i, size_t k, uint32_t *priority,
                            uint32_t *count) {
  const oj_inspect_obj *o = oj_inspect_get(in, i);
  const oj_elf_initfini *e = o && k < o->elf.ninitfini ? &o->elf.initfini[k] : NULL;
  if (priority) *priority = e ? e->priority : 0;
  if (count) *count = e ? e->count : 0;
  if (!e) return -1;
  switch (e->kind) {
  case OJ_ELF_INIT_ARRAY: return ORCJIT_INIT_ARRAY;
  case OJ_ELF_FINI_ARRAY: return ORCJIT_FINI_ARRAY;
  case OJ_ELF_CTORS: return ORCJIT_CTORS;
  default: return ORCJIT_DTORS;
  }
}
