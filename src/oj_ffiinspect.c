/*
** oj_ffiinspect.c: tvm_ffi_orcjit.InspectObject's result: what
** orcjit_inspect_* tells about an object, archive or tar, as TVM-FFI Maps
** and Arrays (made by the global functions ffi.Map and ffi.Array through
** tvm/ffi/c_api.h) for the command-line tool and any host.  The inspection
** itself is oj_inspect.c's; the registration of the global function is the
** glue's (glue/oj_ffi.cc).
*/
#include "oj_ffiinspect.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oj_ffierr.h"
#include "oj_ffilib.h"
#include "tvm_ffi_orcjit/orcjit.h"

typedef struct oj_ffiinspect_ctx {
  TVMFFIObjectHandle map, array; /* the global functions ffi.Map, ffi.Array */
} oj_ffiinspect_ctx;

static TVMFFIAny oj_ffiinspect_str(const char *s) {
  TVMFFIAny v;
  memset(&v, 0, sizeof v);
  v.type_index = kTVMFFIRawStr; /* made a String by the callee */
  v.v_c_str = s;
  return v;
}

static TVMFFIAny oj_ffiinspect_int(int type_index, int64_t i) {
  TVMFFIAny v;
  memset(&v, 0, sizeof v);
  v.type_index = type_index;
  v.v_int64 = i;
  return v;
}

static void oj_ffiinspect_release(TVMFFIAny *v, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (v[i].type_index >= kTVMFFIStaticObjectBegin && v[i].v_obj) TVMFFIObjectDecRef(v[i].v_obj);
}

static int oj_ffiinspect_nomem(void) {
  return oj_ffierr_raisef("MemoryError", "tvm_ffi_orcjit.InspectObject: out of memory");
}

/* fn(args[0..n)) into *out (owned); the object arguments are released. */
static int oj_ffiinspect_make(TVMFFIObjectHandle fn, TVMFFIAny *args, size_t n, TVMFFIAny *out) {
  memset(out, 0, sizeof *out);
  int rc = TVMFFIFunctionCall(fn, args, (int32_t)n, out);
  oj_ffiinspect_release(args, n);
  return rc == 0 ? 0 : -1;
}

/* The Array of items[0 .. n) into *out if all n were made (k == n), and
** items freed; the k made are released if not. */
static int oj_ffiinspect_array(const oj_ffiinspect_ctx *c, TVMFFIAny *items, size_t k, size_t n,
                               TVMFFIAny *out) {
  int rc = -1;
  if (k == n)
    rc = oj_ffiinspect_make(c->array, items, n, out);
  else
    oj_ffiinspect_release(items, k);
  free(items);
  return rc;
}

static int oj_ffiinspect_symbols(const oj_ffiinspect_ctx *c, const orcjit_inspection *in,
                                 size_t i, TVMFFIAny *out) {
  size_t n = orcjit_inspect_num_symbols(in, i);
  TVMFFIAny *items = calloc(n ? n : 1, sizeof *items);
  if (!items) return oj_ffiinspect_nomem();
  static const struct {
    const char *key;
    unsigned flag;
  } flags[] = {{"undefined", ORCJIT_SYM_UNDEFINED}, {"weak", ORCJIT_SYM_WEAK},
               {"hidden", ORCJIT_SYM_HIDDEN},       {"function", ORCJIT_SYM_FUNCTION},
               {"tls", ORCJIT_SYM_TLS},             {"ffi_function", ORCJIT_SYM_FFI_FUNCTION},
               {"runtime", ORCJIT_SYM_RUNTIME},     {"host", ORCJIT_SYM_HOST}};
  const size_t nflags = sizeof flags / sizeof flags[0];
  size_t k = 0;
  for (; k < n; ++k) {
    unsigned f = 0;
    const char *sname = orcjit_inspect_symbol(in, i, k, &f);
    TVMFFIAny kv[2 + 2 * (sizeof flags / sizeof flags[0])];
    kv[0] = oj_ffiinspect_str("name");
    kv[1] = oj_ffiinspect_str(sname ? sname : "");
    for (size_t j = 0; j < nflags; j++) {
      kv[2 + 2 * j] = oj_ffiinspect_str(flags[j].key);
      kv[3 + 2 * j] = oj_ffiinspect_int(kTVMFFIBool, (f & flags[j].flag) != 0);
    }
    if (oj_ffiinspect_make(c->map, kv, 2 + 2 * nflags, &items[k]) != 0) break;
  }
  return oj_ffiinspect_array(c, items, k, n, out);
}

static int oj_ffiinspect_initfini(const oj_ffiinspect_ctx *c, const orcjit_inspection *in,
                                  size_t i, TVMFFIAny *out) {
  static const char *const kinds[] = {".init_array", ".fini_array", ".ctors", ".dtors"};
  size_t n = orcjit_inspect_num_initfini(in, i);
  TVMFFIAny *items = calloc(n ? n : 1, sizeof *items);
  if (!items) return oj_ffiinspect_nomem();
  size_t k = 0;
  for (; k < n; ++k) {
    uint32_t priority = 0, count = 0;
    int kind = orcjit_inspect_initfini(in, i, k, &priority, &count);
    TVMFFIAny kv[6] = {oj_ffiinspect_str("kind"),
                       oj_ffiinspect_str(kind >= 0 && kind < 4 ? kinds[kind] : "?"),
                       oj_ffiinspect_str("priority"),
                       oj_ffiinspect_int(kTVMFFIInt, (int64_t)priority),
                       oj_ffiinspect_str("count"),
                       oj_ffiinspect_int(kTVMFFIInt, (int64_t)count)};
    if (oj_ffiinspect_make(c->map, kv, 6, &items[k]) != 0) break;
  }
  return oj_ffiinspect_array(c, items, k, n, out);
}

static int oj_ffiinspect_object(const oj_ffiinspect_ctx *c, const orcjit_inspection *in,
                                size_t i, TVMFFIAny *out) {
  const char *oname = NULL, *error = NULL;
  int status = orcjit_inspect_object(in, i, &oname, &error);
  TVMFFIAny symbols, initfini;
  if (oj_ffiinspect_symbols(c, in, i, &symbols) != 0) return -1;
  if (oj_ffiinspect_initfini(c, in, i, &initfini) != 0) {
    oj_ffiinspect_release(&symbols, 1);
    return -1;
  }
  TVMFFIAny kv[10] = {oj_ffiinspect_str("name"),     oj_ffiinspect_str(oname ? oname : ""),
                      oj_ffiinspect_str("status"),
                      oj_ffiinspect_str(status == ORCJIT_OK || !orcjit_status_name(status)
                                            ? ""
                                            : orcjit_status_name(status)),
                      oj_ffiinspect_str("error"),    oj_ffiinspect_str(error ? error : ""),
                      oj_ffiinspect_str("symbols"),  symbols,
                      oj_ffiinspect_str("initfini"), initfini};
  return oj_ffiinspect_make(c->map, kv, 10, out);
}

static int oj_ffiinspect_result(const oj_ffiinspect_ctx *c, const orcjit_inspection *in,
                                const char *label, TVMFFIAny *out) {
  size_t n = orcjit_inspect_num_objects(in);
  TVMFFIAny *items = calloc(n ? n : 1, sizeof *items);
  if (!items) return oj_ffiinspect_nomem();
  size_t k = 0;
  while (k < n && oj_ffiinspect_object(c, in, k, &items[k]) == 0) k++;
  TVMFFIAny objects;
  if (oj_ffiinspect_array(c, items, k, n, &objects) != 0) return -1;
  int archive = orcjit_inspect_is_archive(in);
  TVMFFIAny kv[8] = {oj_ffiinspect_str("name"),    oj_ffiinspect_str(label),
                     oj_ffiinspect_str("archive"), oj_ffiinspect_int(kTVMFFIBool, archive != 0),
                     oj_ffiinspect_str("tar"),     oj_ffiinspect_int(kTVMFFIBool, archive == 2),
                     oj_ffiinspect_str("objects"), objects};
  return oj_ffiinspect_make(c->map, kv, 8, out);
}

int oj_ffiinspect(const TVMFFIAny *input, const char *name, int resolve, TVMFFIAny *out) {
  const unsigned flags = resolve ? (unsigned)ORCJIT_INSPECT_RESOLVE : 0u;
  memset(out, 0, sizeof *out);
  TVMFFIByteArray content = {NULL, 0};
  int kind = oj_ffilib_content(input, &content);
  if (!kind) {
    const TVMFFIByteArray *key = oj_ffierr_type_key(input->type_index);
    return oj_ffierr_raisef("TypeError",
                            "tvm_ffi_orcjit.InspectObject: input must be a path (str) or the "
                            "content (bytes), got %.*s",
                            (int)key->size, key->data);
  }
  /* The label: the path, or the name of the bytes. */
  const char *label_src = kind == 1 ? content.data : (name && name[0] ? name : "<memory>");
  size_t label_len = kind == 1 ? content.size : strlen(label_src);
  char *label = malloc(label_len + 1);
  if (!label) return oj_ffiinspect_nomem();
  memcpy(label, label_src, label_len);
  label[label_len] = '\0';
  orcjit_inspection *in = NULL;
  int rc = kind == 1 ? orcjit_inspect_file(label, flags, &in)
                     : orcjit_inspect_memory(content.data, content.size, label, flags, &in);
  if (rc != ORCJIT_OK) {
    oj_ffierr_raise(rc, "orcjit_inspect", kind == 1 ? label : NULL);
    free(label);
    return -1;
  }
  static const TVMFFIByteArray kmap = {"ffi.Map", 7}, karray = {"ffi.Array", 9};
  oj_ffiinspect_ctx c = {NULL, NULL};
  rc = TVMFFIFunctionGetGlobal(&kmap, &c.map);
  if (rc == 0) rc = TVMFFIFunctionGetGlobal(&karray, &c.array);
  if (rc == 0 && (!c.map || !c.array))
    rc = oj_ffierr_raisef("RuntimeError", "tvm_ffi_orcjit.InspectObject: ffi.Map or ffi.Array "
                                          "is not registered");
  if (rc == 0) rc = oj_ffiinspect_result(&c, in, label, out);
  if (c.map) TVMFFIObjectDecRef(c.map);
  if (c.array) TVMFFIObjectDecRef(c.array);
  orcjit_inspect_free(in);
  free(label);
  return rc == 0 ? 0 : -1;
}
