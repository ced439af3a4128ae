/*
** test_basic.c: loading and calling.
**   load_call     C and C++ objects, safe calls, raised errors, plain C
**                 symbols, TVM-FFI Function objects, add from memory
**   multi_object  several objects in one library resolving each other
**   namespaces    two libraries defining the same symbols
**   missing       functions and symbols that are not there
**   cpp_errors    C++ exceptions inside JIT code and through the ABI; an
**                 error raised through a Function outlives its library
*/
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "oj_test.h"

/* ---- load_call ----------------------------------------------------------- */

void ojt_case_load_call(void) {
  orcjit_session *s = ojt_new_session();
  orcjit_library *lib = ojt_new_library(s, "calls");
  CHECK(strcmp(orcjit_library_name(lib), "calls") == 0);
  CHECK(orcjit_library_session(lib) == s);

  ojt_step("add add.o");
  REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj("add.o")));

  ojt_step("call add");
  void *add = NULL;
  REQUIRE_OK(orcjit_library_get_function(lib, "add", &add));
  REQUIRE(add != NULL);
  CHECK_EQ(OJT_CALL2(add, 2, 3), 5);
  CHECK_EQ(OJT_CALL2(add, -7, 1000000000000LL), 999999999993LL);

  /* The raw ABI, spelled out. */
  TVMFFIAny args[2] = {ojt_int(40), ojt_int(2)};
  TVMFFIAny res;
  memset(&res, 0, sizeof res);
  res.type_index = kTVMFFINone;
  CHECK_EQ(((ojt_safe_call)add)(NULL, args, 2, &res), 0);
  CHECK_EQ(res.type_index, kTVMFFIInt);
  CHECK_EQ(res.v_int64, 42);

  /* The object checks num_args and the type indexes and raises TypeError. */
  ojt_step("add with bad arguments");
  memset(&res, 0, sizeof res);
  int rc = ((ojt_safe_call)add)(NULL, args, 1, &res);
  CHECK_FFI_ERROR(rc, "TypeError", "expected 2 arguments");
  args[1].type_index = kTVMFFIFloat;
  args[1].v_float64 = 1.5;
  rc = ((ojt_safe_call)add)(NULL, args, 2, &res);
  CHECK_FFI_ERROR(rc, "TypeError", "expected int arguments");

  ojt_step("raise_error");
  void *raise = NULL;
  REQUIRE_OK(orcjit_library_get_function(lib, "raise_error", &raise));
  REQUIRE(raise != NULL);
  CHECK(raise != add);
  memset(&res, 0, sizeof res);
  rc = ((ojt_safe_call)raise)(NULL, NULL, 0, &res);
  CHECK_FFI_ERROR(rc, "ValueError", "oj-sentinel-4711");
  CHECK_EQ(OJT_CALL2(add, 1, 1), 2); /* still fine after an error */

  ojt_step("plain C symbols");
  void *counter = NULL, *mul = NULL, *add_sym = NULL;
  REQUIRE_OK(orcjit_library_lookup(lib, "oj_add_counter", &counter));
  REQUIRE(counter != NULL);
  CHECK_EQ(*(int *)counter, 41);
  CHECK_EQ(OJT_GETCALL0(lib, "get_counter"), 41);
  *(int *)counter = 1234; /* the JIT code reads the same variable */
  CHECK_EQ(OJT_GETCALL0(lib, "get_counter"), 1234);
  REQUIRE_OK(orcjit_library_lookup(lib, "oj_plain_mul", &mul));
  REQUIRE(mul != NULL);
  CHECK_EQ(((int (*)(int, int))mul)(6, 7), 42);
  CHECK_EQ(((int (*)(int, int))mul)(-3, 5), -15);
  CHECK_OK(orcjit_library_lookup(lib, "__tvm_ffi_add", &add_sym));
  CHECK(add_sym == add);

  ojt_step("libc from the host process");
  CHECK_EQ(OJT_GETCALL1(lib, "digits", 123456), 6);
  CHECK_EQ(OJT_GETCALL1(lib, "digits", -42), 3);

  ojt_step("TVM-FFI Function objects");
  void *f = NULL, *fe = NULL;
  REQUIRE_OK(orcjit_library_get_ffi_function(lib, "add", &f));
  REQUIRE(f != NULL);
  CHECK_EQ(((TVMFFIObject *)f)->type_index, kTVMFFIFunction);
  TVMFFIAny fa[2] = {ojt_int(20), ojt_int(22)};
  TVMFFIAny fr;
  memset(&fr, 0, sizeof fr);
  fr.type_index = kTVMFFINone;
  CHECK_EQ(TVMFFIFunctionCall(f, fa, 2, &fr), 0);
  CHECK_EQ(fr.type_index, kTVMFFIInt);
  CHECK_EQ(fr.v_int64, 42);
  REQUIRE_OK(orcjit_library_get_ffi_function(lib, "raise_error", &fe));
  REQUIRE(fe != NULL);
  memset(&fr, 0, sizeof fr);
  rc = TVMFFIFunctionCall(fe, NULL, 0, &fr);
  CHECK_FFI_ERROR(rc, "ValueError", "oj-sentinel-4711");

  ojt_step("add from memory");
  orcjit_library *mlib = ojt_new_library(s, "calls_mem");
  size_t size = 0;
  unsigned char *data = ojt_read_file(ojt_obj("add.o"), &size);
  REQUIRE_OK(orcjit_library_add_memory(mlib, data, size, "add-from-memory"));
  memset(data, 0xCC, size); /* the bytes were copied */
  free(data);
  void *madd = NULL;
  REQUIRE_OK(orcjit_library_get_function(mlib, "add", &madd));
  CHECK(madd != add);
  CHECK_EQ(OJT_CALL2(madd, 30, 12), 42);
  CHECK_EQ(OJT_GETCALL0(mlib, "get_counter"), 41); /* its own copy */

  ojt_step("C++ object (TVM_FFI_DLL_EXPORT_TYPED_FUNC)");
  orcjit_library *cpp = ojt_new_library(s, "calls_cpp");
  REQUIRE_OK(orcjit_library_add_file(cpp, ojt_obj("cpp_add.o")));
  void *add_cpp = NULL;
  REQUIRE_OK(orcjit_library_get_function(cpp, "add_cpp", &add_cpp));
  CHECK_EQ(OJT_CALL2(add_cpp, 2, 3), 5);
  CHECK_EQ(OJT_CALL2(add_cpp, -100, 58), -42);
  CHECK_EQ(OJT_GETCALL1(cpp, "vec_sum", 10), 45);
  CHECK_EQ(OJT_GETCALL1(cpp, "vec_sum", 1000), 499500);
  void *fcpp = NULL;
  REQUIRE_OK(orcjit_library_get_ffi_function(cpp, "add_cpp", &fcpp));
  fa[0] = ojt_int(7), fa[1] = ojt_int(8);
  memset(&fr, 0, sizeof fr);
  CHECK_EQ(TVMFFIFunctionCall(fcpp, fa, 2, &fr), 0);
  CHECK_EQ(fr.type_index, kTVMFFIInt);
  CHECK_EQ(fr.v_int64, 15);

  ojt_step("Function objects outlive the released library");
  orcjit_library_release(lib);
  orcjit_library_release(cpp);
  fa[0] = ojt_int(1), fa[1] = ojt_int(2);
  memset(&fr, 0, sizeof fr);
  CHECK_EQ(TVMFFIFunctionCall(f, fa, 2, &fr), 0);
  CHECK_EQ(fr.v_int64, 3);
  fa[0] = ojt_int(3), fa[1] = ojt_int(4);
  memset(&fr, 0, sizeof fr);
  CHECK_EQ(TVMFFIFunctionCall(fcpp, fa, 2, &fr), 0);
  CHECK_EQ(fr.v_int64, 7);
  TVMFFIObjectDecRef(f);
  TVMFFIObjectDecRef(fe);
  TVMFFIObjectDecRef(fcpp);

  orcjit_library_release(mlib);
  orcjit_session_release(s);
}

/* ---- multi_object -------------------------------------------------------- */

/* Code reaching its read-only data, jump tables and static functions
** PC-relatively: resolved by the pre-pass on x86-64 (oj_elf_merge.c), by
** JITLink elsewhere; the addresses the code computes must be those JITLink
** put in its data. */
void ojt_case_ro_code(void) {
  /* rocode_g.o carries DWARF, which the pre-pass drops outside debugger
  ** sessions (OJ_ELF_KEEP_DEBUG). */
  static const char *const objs[] = {"rocode.o", "rocode_fs.o", "rocode_g.o"};
  static const long want[12] = {101, 203, 606, 1212, 16, 'o', 66, 777, -8, 54, 11, 304};
  orcjit_session *s = ojt_new_session();
  for (int k = 0; k < 3; k++) {
    ojt_step("%s", objs[k]);
    orcjit_library *lib = ojt_new_library(s, objs[k]);
    REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj(objs[k])));
    CHECK_EQ(OJT_GETCALL0(lib, "ro_same"), 0);
    for (int i = 0; i < 12; i++) CHECK_EQ(OJT_GETCALL1(lib, "ro_pick", i), want[i]);
    CHECK_EQ(OJT_GETCALL1(lib, "ro_pick", 12), -1);
    orcjit_library_release(lib);
  }
  orcjit_session_release(s);
}

void ojt_case_multi_object(void) {
  orcjit_session *s = ojt_new_session();
  orcjit_library *lib = ojt_new_library(s, "multi");
  ojt_step("add multi_a, multi_b, multi_c");
  REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj("multi_a.o")));
  REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj("multi_b.o")));
  REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj("multi_c.o")));

  CHECK_EQ(OJT_GETCALL1(lib, "multi_a", 2), 7);           /* 2*3+1 */
  CHECK_EQ(OJT_GETCALL1(lib, "multi_b", 2), 7 + 300 + 1002);
  CHECK_EQ(OJT_GETCALL1(lib, "multi_c", 10), 10 + 4);      /* 2*(10-5) + (1*3+1) */

  /* One variable, shared by all three objects. */
  void *scale = NULL;
  REQUIRE_OK(orcjit_library_lookup(lib, "oj_multi_scale", &scale));
  CHECK_EQ(*(int *)scale, 3);
  *(int *)scale = 4;
  CHECK_EQ(OJT_GETCALL1(lib, "multi_a", 2), 9);
  CHECK_EQ(OJT_GETCALL1(lib, "multi_b", 2), 9 + 400 + 1002);
  CHECK_EQ(OJT_GETCALL1(lib, "multi_c", 10), 10 + 5);

  /* The same objects in a second library, from memory: their own copies. */
  ojt_step("second library from memory");
  orcjit_library *lib2 = ojt_new_library(s, "multi_mem");
  const char *names[3] = {"multi_a.o", "multi_b.o", "multi_c.o"};
  for (int i = 0; i < 3; i++) {
    size_t size;
    void *data = ojt_read_file(ojt_obj(names[i]), &size);
    REQUIRE_OK(orcjit_library_add_memory(lib2, data, size, names[i]));
    free(data);
  }
  CHECK_EQ(OJT_GETCALL1(lib2, "multi_a", 2), 7);
  CHECK_EQ(OJT_GETCALL1(lib2, "multi_b", 2), 7 + 300 + 1002);
  CHECK_EQ(OJT_GETCALL1(lib, "multi_a", 2), 9);

  /* multi_b first: its symbols from multi_a are not there yet. */
  ojt_step("wrong order");
  orcjit_library *lib3 = ojt_new_library(s, "multi_order");
  CHECK_STATUS(orcjit_library_add_file(lib3, ojt_obj("multi_b.o")), ORCJIT_EUNRESOLVED);
  CHECK_MSG("oj_multi_helper");
  CHECK_MSG("multi_b.o");
  CHECK_OK(orcjit_library_add_file(lib3, ojt_obj("multi_a.o")));
  CHECK_OK(orcjit_library_add_file(lib3, ojt_obj("multi_b.o")));
  CHECK_EQ(OJT_GETCALL1(lib3, "multi_b", 1), 4 + 300 + 1001);

  orcjit_library_release(lib3);
  orcjit_library_release(lib2);
  orcjit_library_release(lib);
  orcjit_session_release(s);
}

/* ---- namespaces ---------------------------------------------------------- */

void ojt_case_namespaces(void) {
  orcjit_session *s = ojt_new_session();
  orcjit_library *one = ojt_new_library(s, "ns_one");
  orcjit_library *two = ojt_new_library(s, "ns_two");
  ojt_step("add ver1.o and ver2.o to two libraries");
  REQUIRE_OK(orcjit_library_add_file(one, ojt_obj("ver1.o")));
  REQUIRE_OK(orcjit_library_add_file(two, ojt_obj("ver2.o")));
  CHECK_EQ(OJT_GETCALL0(one, "version"), 11);
  CHECK_EQ(OJT_GETCALL0(two, "version"), 22);

  void *f1 = NULL, *f2 = NULL, *v1 = NULL, *v2 = NULL, *g1 = NULL, *g2 = NULL;
  REQUIRE_OK(orcjit_library_get_function(one, "version", &f1));
  REQUIRE_OK(orcjit_library_get_function(two, "version", &f2));
  CHECK(f1 != f2);
  REQUIRE_OK(orcjit_library_lookup(one, "oj_version", &v1));
  REQUIRE_OK(orcjit_library_lookup(two, "oj_version", &v2));
  CHECK(v1 != v2);
  CHECK_EQ(*(int *)v1, 1);
  CHECK_EQ(*(int *)v2, 2);
  *(int *)v1 = 5;
  CHECK_EQ(OJT_CALL0(f1), 55);
  CHECK_EQ(OJT_CALL0(f2), 22);
  REQUIRE_OK(orcjit_library_lookup(one, "oj_version_fn", &g1));
  REQUIRE_OK(orcjit_library_lookup(two, "oj_version_fn", &g2));
  CHECK(g1 != g2);
  CHECK_EQ(((int (*)(void))g1)(), 50);
  CHECK_EQ(((int (*)(void))g2)(), 20);

  /* Same library name in another session: a separate namespace too. */
  ojt_step("second session");
  orcjit_session *s2 = ojt_new_session();
  orcjit_library *one2 = ojt_new_library(s2, "ns_one");
  REQUIRE_OK(orcjit_library_add_file(one2, ojt_obj("ver1.o")));
  CHECK_EQ(OJT_GETCALL0(one2, "version"), 11);
  CHECK_EQ(OJT_CALL0(f1), 55);

  /* Releasing one leaves the other intact. */
  orcjit_library_release(one);
  CHECK_EQ(OJT_CALL0(f2), 22);
  CHECK_EQ(OJT_GETCALL0(one2, "version"), 11);
  orcjit_library_release(one2);
  orcjit_session_release(s2);
  orcjit_library_release(two);
  orcjit_session_release(s);
}

/* ---- missing ------------------------------------------------------------- */

void ojt_case_missing(void) {
  orcjit_session *s = ojt_new_session();
  orcjit_library *lib = ojt_new_library(s, "missing_lib");
  REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj("add.o")));
  void *p = NULL;

  ojt_step("function that is not exported");
  CHECK_STATUS(orcjit_library_get_function(lib, "no_such_function", &p), ORCJIT_ENOTFOUND);
  CHECK_MSG("no_such_function");
  CHECK_MSG("missing_lib");
  CHECK_EQ(orcjit_last_status(), ORCJIT_ENOTFOUND);
  /* A plain C function is not a TVM-FFI export. */
  CHECK_STATUS(orcjit_library_get_function(lib, "oj_plain_mul", &p), ORCJIT_ENOTFOUND);
  CHECK_MSG("oj_plain_mul");
  /* get_function adds the prefix itself. */
  CHECK_STATUS(orcjit_library_get_function(lib, "__tvm_ffi_add", &p), ORCJIT_ENOTFOUND);
  CHECK_STATUS(orcjit_library_get_function(lib, "ADD", &p), ORCJIT_ENOTFOUND);
  CHECK_STATUS(orcjit_library_get_function(lib, "ad", &p), ORCJIT_ENOTFOUND);
  CHECK_STATUS(orcjit_library_get_ffi_function(lib, "no_such_ffi_function", &p),
               ORCJIT_ENOTFOUND);
  CHECK_MSG("no_such_ffi_function");
  CHECK_MSG("missing_lib");

  ojt_step("symbol that is not defined");
  CHECK_STATUS(orcjit_library_lookup(lib, "oj_no_such_symbol", &p), ORCJIT_ENOTFOUND);
  CHECK_MSG("oj_no_such_symbol");
  CHECK_MSG("missing_lib");
  /* The exported name without its prefix is not a symbol. */
  CHECK_STATUS(orcjit_library_lookup(lib, "add", &p), ORCJIT_ENOTFOUND);
  /* Host symbols are not defined by this library. */
  CHECK_STATUS(orcjit_library_lookup(lib, "snprintf", &p), ORCJIT_ENOTFOUND);
  CHECK_MSG("snprintf");

  ojt_step("still works");
  CHECK_EQ(OJT_GETCALL0(lib, "get_counter"), 41);
  void *add = NULL;
  CHECK_OK(orcjit_library_get_function(lib, "add", &add));
  CHECK_EQ(OJT_CALL2(add, 1, 2), 3);
  CHECK_STILL_WORKS(lib);

  /* An empty library. */
  orcjit_library *empty = ojt_new_library(s, "empty_lib");
  CHECK_STATUS(orcjit_library_get_function(empty, "add", &p), ORCJIT_ENOTFOUND);
  CHECK_MSG("add");
  CHECK_MSG("empty_lib");
  CHECK_STATUS(orcjit_library_lookup(empty, "oj_add_counter", &p), ORCJIT_ENOTFOUND);
  CHECK_MSG("oj_add_counter");
  orcjit_library_release(empty);

  orcjit_library_release(lib);
  orcjit_session_release(s);
}

/* ---- cpp_errors ---------------------------------------------------------- */

void ojt_case_cpp_errors(void) {
  orcjit_session *s = ojt_new_session();
  orcjit_library *lib = ojt_new_library(s, "cpp_err");
  ojt_step("add cpp_add.o");
  REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj("cpp_add.o")));
  void *tw = NULL, *ci = NULL, *ac = NULL;
  REQUIRE_OK(orcjit_library_get_function(lib, "twice_or_throw", &tw));
  REQUIRE_OK(orcjit_library_get_function(lib, "catch_inside", &ci));
  REQUIRE_OK(orcjit_library_get_function(lib, "add_cpp", &ac));

  ojt_step("C++ throw -> TVM-FFI error");
  CHECK_EQ(OJT_CALL1(tw, 21), 42);
  int64_t argv[2] = {-3, 0}, out = 0;
  int rc = ojt_call(tw, 1, argv, &out);
  CHECK_FFI_ERROR(rc, "ValueError", "negative input -3");
  CHECK_EQ(OJT_CALL1(tw, 4), 8);

  ojt_step("throw and catch inside JIT code");
  CHECK_EQ(OJT_CALL1(ci, 5), 6);
  CHECK_EQ(OJT_CALL1(ci, 41), 42);

  ojt_step("argument errors of a typed function");
  rc = ojt_call(ac, 1, argv, &out);
  CHECK_FFI_ERROR(rc, "TypeError", "add_cpp");
  TVMFFIAny args[2] = {ojt_int(1), ojt_int(2)};
  TVMFFIAny res;
  memset(&res, 0, sizeof res);
  args[1].type_index = kTVMFFIRawStr;
  args[1].v_c_str = "not a number";
  rc = ((ojt_safe_call)ac)(NULL, args, 2, &res);
  CHECK_FFI_ERROR(rc, "TypeError", "add_cpp");

  ojt_step("many throws");
  for (int i = 1; i <= 200; i++) {
    argv[0] = -i;
    rc = ojt_call(tw, 1, argv, &out);
    TVMFFIObjectHandle err = NULL;
    TVMFFIErrorMoveFromRaised(&err);
    CHECK(rc == -1 && err != NULL);
    if (err) TVMFFIObjectDecRef(err);
    if (rc != -1) break;
  }
  CHECK_EQ(OJT_CALL2(ac, 40, 2), 42);

  ojt_step("through a Function object");
  void *f = NULL;
  REQUIRE_OK(orcjit_library_get_ffi_function(lib, "twice_or_throw", &f));
  TVMFFIAny a = ojt_int(-9);
  memset(&res, 0, sizeof res);
  rc = TVMFFIFunctionCall(f, &a, 1, &res);
  CHECK_FFI_ERROR(rc, "ValueError", "negative input -9");
  a = ojt_int(9);
  memset(&res, 0, sizeof res);
  CHECK_EQ(TVMFFIFunctionCall(f, &a, 1, &res), 0);
  CHECK_EQ(res.type_index, kTVMFFIInt);
  CHECK_EQ(res.v_int64, 18);
  TVMFFIObjectDecRef(f);

  CHECK_STILL_WORKS(lib);

  ojt_step("an error raised through a Function outlives the library");
  REQUIRE_OK(orcjit_library_get_ffi_function(lib, "twice_or_throw", &f));
  orcjit_library_release(lib); /* the Function holds the last reference */
  a = ojt_int(-5);
  memset(&res, 0, sizeof res);
  CHECK_EQ(TVMFFIFunctionCall(f, &a, 1, &res), -1);
  TVMFFIObjectHandle kept = NULL;
  TVMFFIErrorMoveFromRaised(&kept);
  REQUIRE(kept != NULL);
  TVMFFIObjectDecRef(f); /* unloads the library */
  /* its deleter is libtvm_ffi's, not JIT code that is gone now */
  Dl_info info;
  CHECK(dladdr((void *)((TVMFFIObject *)kept)->deleter, &info) != 0);
  for (int i = 0; i < 4; i++) { /* new code where the old was */
    orcjit_library *other = ojt_new_library(s, NULL);
    REQUIRE_OK(orcjit_library_add_file(other, ojt_obj("cpp_add.o")));
    void *add2 = NULL;
    REQUIRE_OK(orcjit_library_get_function(other, "add_cpp", &add2));
    CHECK_EQ(OJT_CALL2(add2, 40, 2), 42);
    orcjit_library_release(other);
  }
  const TVMFFIErrorCell *cell =
      (const TVMFFIErrorCell *)((const char *)kept + sizeof(TVMFFIObject));
  CHECK(cell->message.size == strlen("negative input -5") &&
        memcmp(cell->message.data, "negative input -5", cell->message.size) == 0);
  CHECK(cell->kind.size == 10 && memcmp(cell->kind.data, "ValueError", 10) == 0);
  TVMFFIObjectDecRef(kept);
  orcjit_session_release(s);
}
