/*
** test_inspect.c: orcjit_inspect_*, the description of an object or
** archive without linking it.  Checks the symbols and flags of real
** objects against what their sources define (and against the loader:
** every symbol flagged as a TVM-FFI function is found by
** orcjit_library_get_function), init/fini sections and priorities,
** archives member by member (skipped and refused members), the errors for
** bad input, and that whatever the inspection refuses (truncated or
** byte-flipped objects) the loader refuses with the same status and
** message.
*/
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "oj_test.h"

/* Index of symbol name in object i, or -1; *flags gets its flags. */
static long find_sym(const orcjit_inspection *in, size_t i, const char *name, unsigned *flags) {
  for (size_t k = 0; k < orcjit_inspect_num_symbols(in, i); k++) {
    unsigned f = 0;
    const char *n = orcjit_inspect_symbol(in, i, k, &f);
    if (n && strcmp(n, name) == 0) {
      if (flags) *flags = f;
      return (long)k;
    }
  }
  return -1;
}

#define HAS(in, i, name, want, unwanted) \
  has_sym(__FILE__, __LINE__, (in), (i), (name), (want), (unwanted))
static void has_sym(const char *file, int line, const orcjit_inspection *in, size_t i,
                    const char *name, unsigned want, unsigned unwanted) {
  unsigned f = 0;
  char what[256];
  if (find_sym(in, i, name, &f) < 0) {
    snprintf(what, sizeof what, "symbol %s listed", name);
    ojt_fail(file, line, what);
  } else if ((f & want) != want || (f & unwanted) != 0) {
    snprintf(what, sizeof what, "symbol %s has flags 0x%x: want 0x%x, not 0x%x", name, f,
             want, unwanted);
    ojt_fail(file, line, what);
  }
}

/* ---- a tiny ar writer ----------------------------------------------------- */

typedef struct ar_buf {
  unsigned char *p;
  size_t n;
} ar_buf;

static void ar_start(ar_buf *b) {
  b->p = malloc(8);
  REQUIRE(b->p != NULL);
  memcpy(b->p, "!<arch>\n", 8);
  b->n = 8;
}

static void ar_add(ar_buf *b, const char *name, const void *data, size_t size) {
  size_t need = b->n + 60 + size + 1;
  b->p = realloc(b->p, need);
  REQUIRE(b->p != NULL);
  char hdr[61];
  snprintf(hdr, sizeof hdr, "%-16.15s%-12s%-6s%-6s%-8s%-10zu`\n", name, "0", "0", "0",
           "644", size);
  memcpy(b->p + b->n, hdr, 60);
  memcpy(b->p + b->n + 60, data, size);
  b->n += 60 + size;
  if (size & 1) b->p[b->n++] = '\n';
}

/* ---- the case ------------------------------------------------------------- */

static void check_add_o(void) {
  const char *path = ojt_obj("add.o");
  orcjit_inspection *in = NULL;
  ojt_step("inspect add.o");
  REQUIRE_OK(orcjit_inspect_file(path, 0, &in));
  CHECK_EQ(orcjit_last_status(), ORCJIT_OK);
  CHECK_EQ(orcjit_inspect_is_archive(in), 0);
  REQUIRE(orcjit_inspect_num_objects(in) == 1);
  const char *name = NULL, *error = NULL;
  CHECK_EQ(orcjit_inspect_object(in, 0, &name, &error), ORCJIT_OK);
  CHECK(name && strcmp(name, path) == 0);
  CHECK(error && error[0] == '\0');
  unsigned fn = ORCJIT_SYM_FUNCTION | ORCJIT_SYM_FFI_FUNCTION;
  HAS(in, 0, "__tvm_ffi_add", fn, ORCJIT_SYM_UNDEFINED | ORCJIT_SYM_WEAK);
  HAS(in, 0, "__tvm_ffi_raise_error", fn, ORCJIT_SYM_UNDEFINED);
  HAS(in, 0, "__tvm_ffi_get_counter", fn, ORCJIT_SYM_UNDEFINED);
  HAS(in, 0, "__tvm_ffi_digits", fn, ORCJIT_SYM_UNDEFINED);
  HAS(in, 0, "oj_plain_mul", ORCJIT_SYM_FUNCTION, ORCJIT_SYM_FFI_FUNCTION | ORCJIT_SYM_UNDEFINED);
  HAS(in, 0, "oj_add_counter", 0,
      ORCJIT_SYM_FUNCTION | ORCJIT_SYM_FFI_FUNCTION | ORCJIT_SYM_UNDEFINED | ORCJIT_SYM_TLS);
  /* Without ORCJIT_INSPECT_RESOLVE nothing is looked up in the process. */
  HAS(in, 0, "TVMFFIErrorSetRaisedFromCStr", ORCJIT_SYM_UNDEFINED,
      ORCJIT_SYM_HOST | ORCJIT_SYM_RUNTIME | ORCJIT_SYM_FFI_FUNCTION);
  CHECK_EQ(orcjit_inspect_num_initfini(in, 0), 0);

  /* Defined first, then undefined; each name once; exactly the 4 exports. */
  size_t nsym = orcjit_inspect_num_symbols(in, 0), nffi = 0;
  int seen_undef = 0;
  for (size_t k = 0; k < nsym; k++) {
    unsigned f = 0;
    const char *n = orcjit_inspect_symbol(in, 0, k, &f);
    REQUIRE(n != NULL && n[0] != '\0');
    if (f & ORCJIT_SYM_UNDEFINED) seen_undef = 1;
    else CHECK(!seen_undef);
    if (f & ORCJIT_SYM_FFI_FUNCTION) nffi++;
    CHECK_EQ(find_sym(in, 0, n, NULL), (long)k);
  }
  CHECK_EQ(nffi, 4);
  CHECK(seen_undef);

  /* The loader agrees: every flagged function is there. */
  ojt_step("flagged functions are found by the loader");
  orcjit_session *s = ojt_new_session();
  orcjit_library *lib = ojt_new_library(s, "inspect_add");
  REQUIRE_OK(orcjit_library_add_file(lib, path));
  for (size_t k = 0; k < nsym; k++) {
    unsigned f = 0;
    const char *n = orcjit_inspect_symbol(in, 0, k, &f);
    void *addr = NULL;
    if (f & ORCJIT_SYM_FFI_FUNCTION) {
      CHECK_OK(orcjit_library_get_function(lib, n + strlen("__tvm_ffi_"), &addr));
      CHECK(addr != NULL);
    }
    if (!(f & ORCJIT_SYM_UNDEFINED)) CHECK_OK(orcjit_library_lookup(lib, n, &addr));
  }
  CHECK_EQ(OJT_GETCALL1(lib, "get_counter", 0), 41);
  orcjit_library_release(lib);
  orcjit_session_release(s);

  ojt_step("out-of-range accessors");
  CHECK(orcjit_inspect_symbol(in, 0, nsym, NULL) == NULL);
  CHECK(orcjit_inspect_symbol(in, 0, (size_t)-1, NULL) == NULL);
  CHECK(orcjit_inspect_symbol(in, 1, 0, NULL) == NULL);
  CHECK_EQ(orcjit_inspect_object(in, 1, &name, &error), ORCJIT_EINVAL);
  CHECK(name == NULL);
  CHECK_EQ(orcjit_inspect_num_symbols(in, 7), 0);
  uint32_t prio = 1, count = 1;
  CHECK_EQ(orcjit_inspect_initfini(in, 0, 0, &prio, &count), -1);
  CHECK_EQ(count, 0);
  CHECK_EQ(orcjit_inspect_num_objects(NULL), 0);
  CHECK_EQ(orcjit_inspect_is_archive(NULL), 0);
  CHECK(orcjit_inspect_symbol(NULL, 0, 0, NULL) == NULL);
  orcjit_inspect_free(in);
  orcjit_inspect_free(NULL);

  ojt_step("inspect add.o with ORCJIT_INSPECT_RESOLVE");
  size_t size = 0;
  void *bytes = ojt_read_file(path, &size);
  REQUIRE_OK(orcjit_inspect_memory(bytes, size, "add-bytes", ORCJIT_INSPECT_RESOLVE, &in));
  CHECK_EQ(orcjit_inspect_object(in, 0, &name, NULL), ORCJIT_OK);
  CHECK(name && strcmp(name, "add-bytes") == 0);
  HAS(in, 0, "TVMFFIErrorSetRaisedFromCStr", ORCJIT_SYM_UNDEFINED | ORCJIT_SYM_HOST,
      ORCJIT_SYM_RUNTIME);
  orcjit_inspect_free(in);
  REQUIRE_OK(orcjit_inspect_memory(bytes, size, NULL, 0, &in));
  CHECK_EQ(orcjit_inspect_object(in, 0, &name, NULL), ORCJIT_OK);
  CHECK(name && strcmp(name, "<memory>") == 0);
  orcjit_inspect_free(in);
  free(bytes);
}

static void check_kinds(void) {
  orcjit_inspection *in = NULL;
  ojt_step("inspect ctors.o: init/fini sections and priorities");
  REQUIRE_OK(orcjit_inspect_file(ojt_obj("ctors.o"), ORCJIT_INSPECT_RESOLVE, &in));
  /* constructors 101, 200, plain; destructors the same (ctors.c). */
  int init_seen[3] = {0, 0, 0}, fini_seen[3] = {0, 0, 0};
  size_t n = orcjit_inspect_num_initfini(in, 0);
  for (size_t k = 0; k < n; k++) {
    uint32_t prio = 0, count = 0;
    int kind = orcjit_inspect_initfini(in, 0, k, &prio, &count);
    CHECK_EQ(count, 1);
    int slot = prio == 101 ? 0 : prio == 200 ? 1 : prio == 65536 ? 2 : -1;
    CHECK(slot >= 0);
    if (slot < 0) continue;
    if (kind == ORCJIT_INIT_ARRAY) init_seen[slot]++;
    else if (kind == ORCJIT_FINI_ARRAY) fini_seen[slot]++;
    else CHECK(!"an .init_array or .fini_array section");
  }
  CHECK_EQ(n, 6);
  for (int i = 0; i < 3; i++) {
    CHECK_EQ(init_seen[i], 1);
    CHECK_EQ(fini_seen[i], 1);
  }
  /* atexit comes from the loader's runtime object, not from libc.so. */
  HAS(in, 0, "atexit", ORCJIT_SYM_UNDEFINED | ORCJIT_SYM_RUNTIME, ORCJIT_SYM_HOST);
  HAS(in, 0, "oj_ctors_set_log", ORCJIT_SYM_FUNCTION, ORCJIT_SYM_FFI_FUNCTION);
  orcjit_inspect_free(in);

  ojt_step("inspect weak1.o and base1.o: weak and hidden");
  REQUIRE_OK(orcjit_inspect_file(ojt_obj("weak1.o"), 0, &in));
  HAS(in, 0, "oj_weak_value", ORCJIT_SYM_WEAK | ORCJIT_SYM_FUNCTION, ORCJIT_SYM_UNDEFINED);
  HAS(in, 0, "oj_weak_data", ORCJIT_SYM_WEAK, ORCJIT_SYM_FUNCTION | ORCJIT_SYM_UNDEFINED);
  HAS(in, 0, "__tvm_ffi_weak1", ORCJIT_SYM_FFI_FUNCTION, ORCJIT_SYM_WEAK);
  orcjit_inspect_free(in);
  REQUIRE_OK(orcjit_inspect_file(ojt_obj("base1.o"), 0, &in));
  HAS(in, 0, "oj_base_hidden", ORCJIT_SYM_HIDDEN | ORCJIT_SYM_FUNCTION, ORCJIT_SYM_WEAK);
  HAS(in, 0, "oj_base_value", ORCJIT_SYM_FUNCTION, ORCJIT_SYM_HIDDEN);
  orcjit_inspect_free(in);

  ojt_step("inspect unres.o: symbols that resolve nowhere");
  REQUIRE_OK(orcjit_inspect_file(ojt_obj("unres.o"), ORCJIT_INSPECT_RESOLVE, &in));
  HAS(in, 0, "oj_missing_function_one", ORCJIT_SYM_UNDEFINED,
      ORCJIT_SYM_HOST | ORCJIT_SYM_RUNTIME | ORCJIT_SYM_WEAK);
  HAS(in, 0, "oj_missing_variable_two", ORCJIT_SYM_UNDEFINED, ORCJIT_SYM_HOST);
  HAS(in, 0, "__tvm_ffi_foo", ORCJIT_SYM_FFI_FUNCTION, 0);
  orcjit_inspect_free(in);
}

static void check_archives(void) {
  orcjit_inspection *in = NULL;
  const char *path = ojt_obj("libojarch.a");
  char want[4096];
  ojt_step("inspect libojarch.a");
  REQUIRE_OK(orcjit_inspect_file(path, ORCJIT_INSPECT_RESOLVE, &in));
  CHECK_EQ(orcjit_inspect_is_archive(in), 1);
  REQUIRE(orcjit_inspect_num_objects(in) == 3);
  static const char *const members[] = {"arch_a.o", "arch_b.o", "arch_bad.o"};
  for (size_t i = 0; i < 3; i++) {
    const char *name = NULL;
    CHECK_EQ(orcjit_inspect_object(in, i, &name, NULL), ORCJIT_OK);
    snprintf(want, sizeof want, "%s(%s)", path, members[i]);
    CHECK(name && strcmp(name, want) == 0);
  }
  HAS(in, 0, "oj_arch_a", ORCJIT_SYM_FUNCTION, ORCJIT_SYM_UNDEFINED);
  HAS(in, 1, "oj_arch_b", ORCJIT_SYM_FUNCTION, ORCJIT_SYM_UNDEFINED);
  HAS(in, 1, "oj_arch_a", ORCJIT_SYM_UNDEFINED, ORCJIT_SYM_HOST);
  HAS(in, 2, "oj_arch_nowhere", ORCJIT_SYM_UNDEFINED, ORCJIT_SYM_HOST);
  orcjit_inspect_free(in);

  size_t asize = 0, xsize = 0;
  void *addo = ojt_read_file(ojt_obj("add.o"), &asize);
  static const char text[] = "not an object\n";
  ar_buf b;

  ojt_step("archive: a non-ELF member is skipped, as the loader skips it");
  ar_start(&b);
  ar_add(&b, "readme.txt/", text, sizeof text - 1);
  ar_add(&b, "add.o/", addo, asize);
  REQUIRE_OK(orcjit_inspect_memory(b.p, b.n, "mixed.a", 0, &in));
  REQUIRE(orcjit_inspect_num_objects(in) == 1);
  const char *name = NULL;
  CHECK_EQ(orcjit_inspect_object(in, 0, &name, NULL), ORCJIT_OK);
  CHECK(name && strcmp(name, "mixed.a(add.o)") == 0);
  HAS(in, 0, "__tvm_ffi_add", ORCJIT_SYM_FFI_FUNCTION, 0);
  orcjit_inspect_free(in);
  free(b.p);

  ojt_step("archive: no ELF member at all");
  ar_start(&b);
  ar_add(&b, "readme.txt/", text, sizeof text - 1);
  CHECK_STATUS(orcjit_inspect_memory(b.p, b.n, "textonly.a", 0, &in), ORCJIT_EFORMAT);
  CHECK_MSG(OJT_MACHINE[0] == 'a' ? "textonly.a: archive has no aarch64 relocatable object member"
                                  : "textonly.a: archive has no x86-64 relocatable object member");
  CHECK(in == NULL);
  free(b.p);

  ojt_step("archive: empty, and truncated");
  CHECK_OK(orcjit_inspect_memory("!<arch>\n", 8, "empty.a", 0, &in));
  CHECK_EQ(orcjit_inspect_num_objects(in), 0);
  CHECK_EQ(orcjit_inspect_is_archive(in), 1);
  orcjit_inspect_free(in);
  in = NULL;
  CHECK_STATUS(orcjit_inspect_memory("!<arch>\nadd.o/  12", 18, "cut.a", 0, &in),
               ORCJIT_EFORMAT);
  CHECK_MSG("cut.a: truncated or corrupt archive");
  CHECK(in == NULL);

  if (access(ojt_misc("other_arch-" OJT_FOREIGN ".o"), R_OK) == 0) {
    ojt_step("archive: a foreign ELF member is reported, and the loader refuses it");
    void *arm = ojt_read_file(ojt_misc("other_arch-" OJT_FOREIGN ".o"), &xsize);
    ar_start(&b);
    ar_add(&b, "add.o/", addo, asize);
    ar_add(&b, "arm.o/", arm, xsize);
    REQUIRE_OK(orcjit_inspect_memory(b.p, b.n, "foreign.a", 0, &in));
    CHECK_EQ(orcjit_last_status(), ORCJIT_OK); /* the member's failure is not the call's */
    REQUIRE(orcjit_inspect_num_objects(in) == 2);
    const char *error = NULL;
    CHECK_EQ(orcjit_inspect_object(in, 0, NULL, NULL), ORCJIT_OK);
    int st = orcjit_inspect_object(in, 1, &name, &error);
    CHECK_EQ(st, ORCJIT_EUNSUPPORTED);
    CHECK(name && strcmp(name, "foreign.a(arm.o)") == 0);
    CHECK(error && strstr(error, "foreign.a(arm.o)") && strstr(error, OJT_FOREIGN_NAME));
    CHECK_EQ(orcjit_inspect_num_symbols(in, 1), 0);
    snprintf(want, sizeof want, "%s", error ? error : "?");
    orcjit_session *s = ojt_new_session();
    orcjit_library *lib = ojt_new_library(s, "inspect_foreign");
    CHECK_STATUS(orcjit_library_add_memory(lib, b.p, b.n, "foreign.a"), st);
    CHECK_MSG(want);
    orcjit_library_release(lib);
    orcjit_session_release(s);
    orcjit_inspect_free(in);
    free(b.p);
    free(arm);
  }
  free(addo);
}

static void check_bad_input(void) {
  orcjit_inspection *in = (orcjit_inspection *)&in; /* must be reset to NULL */
  char path[4096];
  ojt_step("inspect: bad arguments and bad files");
  CHECK_STATUS(orcjit_inspect_file(ojt_obj("no_such_file.o"), 0, &in), ORCJIT_EIO);
  CHECK_MSG("cannot open");
  CHECK_MSG("no_such_file.o");
  CHECK(in == NULL);
  CHECK_STATUS(orcjit_inspect_file(ojt_objdir, 0, &in), ORCJIT_EIO);
  CHECK_MSG("is a directory");
  snprintf(path, sizeof path, "%s/empty.o", ojt_scratch_dir());
  ojt_write_file(path, "", 0);
  CHECK_STATUS(orcjit_inspect_file(path, 0, &in), ORCJIT_EFORMAT);
  CHECK_MSG("empty file");
  snprintf(path, sizeof path, "%s/text.o", ojt_scratch_dir());
  ojt_write_file(path, "hello, world\n", 13);
  CHECK_STATUS(orcjit_inspect_file(path, 0, &in), ORCJIT_EFORMAT);
  CHECK_MSG("not an ELF file");
  CHECK_STATUS(orcjit_inspect_file(ojt_obj("libadd_shared.so"), 0, &in), ORCJIT_EFORMAT);
  CHECK_MSG("shared library");
  CHECK_STATUS(orcjit_inspect_file(ojt_obj("exe_pie"), 0, &in), ORCJIT_EFORMAT);
  CHECK_STATUS(orcjit_inspect_file(NULL, 0, &in), ORCJIT_EINVAL);
  CHECK_STATUS(orcjit_inspect_file("", 0, &in), ORCJIT_EINVAL);
  CHECK_STATUS(orcjit_inspect_file(ojt_obj("add.o"), 0, NULL), ORCJIT_EINVAL);
  CHECK_STATUS(orcjit_inspect_memory(NULL, 5, "x", 0, &in), ORCJIT_EINVAL);
  CHECK_STATUS(orcjit_inspect_memory(NULL, 0, "nothing.o", 0, &in), ORCJIT_EFORMAT);
  CHECK_MSG("nothing.o: empty file");
  CHECK(in == NULL);
}

/* Whatever inspect refuses, the loader refuses with the same status and
** message: truncations and byte flips of add.o. */
static void check_agrees_with_loader(void) {
  size_t size = 0;
  unsigned char *orig = ojt_read_file(ojt_obj("add.o"), &size);
  unsigned char *buf = malloc(size);
  REQUIRE(buf != NULL);
  orcjit_session *s = ojt_new_session();
  orcjit_library *lib = ojt_new_library(s, "inspect_agree");
  char msg[8192];
  int refused = 0, tried = 0;
  for (size_t step = 0; step < 2 * size; step += 11) {
    size_t n = size;
    memcpy(buf, orig, size);
    if (step < size) {
      n = step; /* truncated */
    } else {
      size_t at = step - size;
      buf[at] ^= (unsigned char)(0x5a + at); /* one byte changed */
    }
    ojt_step("inspect vs load: %s at %zu", step < size ? "truncated" : "flipped",
             step < size ? step : step - size);
    orcjit_inspection *in = NULL;
    int rc = orcjit_inspect_memory(buf, n, "damaged.o", ORCJIT_INSPECT_RESOLVE, &in);
    tried++;
    if (rc == ORCJIT_OK) {
      CHECK(in != NULL && orcjit_inspect_num_objects(in) == 1);
      orcjit_inspect_free(in);
      continue;
    }
    refused++;
    OJT_INJECTED(rc);
    CHECK(in == NULL);
    snprintf(msg, sizeof msg, "%s", orcjit_last_error());
    CHECK(strncmp(msg, "damaged.o", 9) == 0);
    CHECK_STATUS(orcjit_library_add_memory(lib, buf, n, "damaged.o"), rc);
    CHECK_MSG(msg);
    if (orcjit_last_status() == ORCJIT_OK) { /* loaded after all: start afresh */
      orcjit_library_release(lib);
      lib = ojt_new_library(s, NULL);
    }
  }
  CHECK(refused > tried / 4); /* truncations alone are most of them */
  orcjit_library_release(lib);
  orcjit_session_release(s);
  free(buf);
  free(orig);
}

void ojt_case_inspect(void) {
  check_add_o();
  check_kinds();
  check_archives();
  check_bad_input();
  check_agrees_with_loader();
}
