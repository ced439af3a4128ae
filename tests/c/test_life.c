/*
** test_life.c: lifetimes.
**   reload    create/add/call/release 1,000 times with the same name (C),
**             plus C++ and constructor objects, with a memory growth bound
**   ctors     constructors at add (priority order), destructors and atexit
**             handlers at release, the link callback
**   lifetime  references: retain/release, Function objects keeping their
**             library alive, a library outliving its session's handle,
**             names reusable once released
*/
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "oj_test.h"

/* Sets the destructor log of a library holding ctors.o. */
static void set_dtor_log(orcjit_library *lib, int *log, int *count) {
  void *set = NULL;
  REQUIRE_OK(orcjit_library_lookup(lib, "oj_ctors_set_log", &set));
  *count = 0;
  ((void (*)(int *, int *))set)(log, count);
}

/* The destructors of ctors.o ran exactly once each, in priority order
** (plain, 200, 101), and its atexit handler ran once. */
#define CHECK_DTORS(log, n) check_dtors(__FILE__, __LINE__, (log), (n))
static void check_dtors(const char *file, int line, const int *log, int n) {
  int pos = 0, atexit_runs = 0, ok = (n == 4);
  static const int want[3] = {-1, -200, -101};
  for (int i = 0; i < n && i < 16; i++) {
    if (log[i] == -7)
      atexit_runs++;
    else if (pos < 3 && log[i] == want[pos])
      pos++;
    else
      ok = 0;
  }
  if (!ok || pos != 3 || atexit_runs != 1) {
    char buf[256] = "";
    for (int i = 0; i < n && i < 16; i++)
      snprintf(buf + strlen(buf), sizeof buf - strlen(buf), " %d", log[i]);
    fprintf(stderr, "destructor log:%s (want -1 -200 -101 in order, -7 once)\n", buf);
    ojt_fail(file, line, "destructors ran in order, once each, with the atexit handler");
  }
}

/* ---- a large zero-fill section ---------------------------------------- */

/* bigbss.o's 192 MiB .bss is resident only where it is touched, goes back
** to the OS at release, and is zero again in the next library that gets
** the same memory (glue/oj_memmgr.cc zeroes large pieces by dropping their
** pages instead of writing them). */
void ojt_case_big_bss(void) {
  orcjit_session *s = ojt_new_session();
  for (int round = 0; round < 3; round++) {
    ojt_step("load bigbss.o, round %d", round);
    long rss0 = ojt_rss_kib();
    orcjit_library *lib = ojt_new_library(s, "big");
    REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj("bigbss.o")));
    void *big = NULL, *size_fn = NULL;
    REQUIRE_OK(orcjit_library_lookup(lib, "oj_big", &big));
    REQUIRE_OK(orcjit_library_lookup(lib, "oj_big_size", &size_fn));
    long size = ((long (*)(void))size_fn)();
    REQUIRE(size == 192L << 20);
    long grown = ojt_rss_kib() - rss0;
    printf("big_bss: round %d: %ld KiB resident after the load\n", round, grown);
    CHECK(OJT_ASAN || grown < 32 * 1024);
    /* zero everywhere (sampled), then dirty 16 MiB of it */
    unsigned char *p = big;
    long nonzero = 0;
    for (long at = 0; at < size; at += 4093) nonzero += p[at] != 0;
    CHECK_EQ(nonzero, 0);
    CHECK_EQ(p[size - 1], 0);
    memset(p, 0xa5, 16L << 20);
    p[size - 1] = 0x5a;
    orcjit_library_release(lib);
    grown = ojt_rss_kib() - rss0;
    printf("big_bss: round %d: %ld KiB resident after the release\n", round, grown);
    CHECK(OJT_ASAN || grown < 32 * 1024);
  }
  orcjit_session_release(s);
}

/* ---- reload -------------------------------------------------------------- */

void ojt_case_reload(void) {
  orcjit_session *s = ojt_new_session();
  size_t size;
  void *bytes = ojt_read_file(ojt_obj("add.o"), &size);
  long rss_start = 0;
  for (int i = 0; i < 1000; i++) {
    ojt_step("reload add.o, iteration %d", i);
    orcjit_library *lib = ojt_new_library(s, "reload");
    REQUIRE(strcmp(orcjit_library_name(lib), "reload") == 0);
    if (i & 1)
      REQUIRE_OK(orcjit_library_add_memory(lib, bytes, size, "reload-from-memory"));
    else
      REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj("add.o")));
    void *add = NULL, *counter = NULL;
    REQUIRE_OK(orcjit_library_get_function(lib, "add", &add));
    REQUIRE(OJT_CALL2(add, i, 1) == i + 1);
    REQUIRE_OK(orcjit_library_lookup(lib, "oj_add_counter", &counter));
    REQUIRE(*(int *)counter == 41); /* fresh data every time */
    *(int *)counter = i;
    orcjit_library_release(lib);
    if (i == 199) rss_start = ojt_rss_kib();
  }
  long grown = ojt_rss_kib() - rss_start;
  printf("reload: resident memory grew by %ld KiB over the last 800 loads\n", grown);
  CHECK(OJT_ASAN || grown < 8 * 1024);
  free(bytes);
  size_t freed = 0;
  CHECK_OK(orcjit_session_clear_free_slabs(s, &freed));

  ojt_step("reload ctors.o");
  for (int i = 0; i < 100; i++) {
    int log[16], n = 0;
    void *count = NULL;
    orcjit_library *lib = ojt_new_library(s, "reload");
    REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj("ctors.o")));
    REQUIRE_OK(orcjit_library_lookup(lib, "oj_ctor_count", &count));
    REQUIRE(*(int *)count == 3);
    set_dtor_log(lib, log, &n);
    orcjit_library_release(lib);
    REQUIRE(n == 4);
  }

  ojt_step("reload cpp_add.o");
  for (int i = 0; i < 100; i++) {
    orcjit_library *lib = ojt_new_library(s, "reload");
    REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj("cpp_add.o")));
    void *tw = NULL;
    REQUIRE_OK(orcjit_library_get_function(lib, "twice_or_throw", &tw));
    REQUIRE(OJT_CALL1(tw, i) == 2 * i);
    int64_t argv[1] = {-1}, out;
    int rc = ojt_call(tw, 1, argv, &out);
    CHECK_FFI_ERROR(rc, "ValueError", "negative input -1");
    REQUIRE(rc == -1);
    REQUIRE(OJT_GETCALL1(lib, "vec_sum", 4) == 6);
    orcjit_library_release(lib);
  }
  orcjit_session_release(s);
}

/* ---- ctors --------------------------------------------------------------- */

typedef struct cb_state {
  int calls;
  orcjit_library *lib_seen;
  int refuse;
} cb_state;

static int link_cb(orcjit_library *lib, void *user) {
  cb_state *st = user;
  st->calls++;
  st->lib_seen = lib;
  if (st->refuse) return orcjit_set_error(ORCJIT_EINIT, "refused by the test callback #%d", 77);
  return 0;
}

void ojt_case_ctors(void) {
  orcjit_session *s = ojt_new_session();
  int log[16], n = 0;
  void *p = NULL;

  ojt_step("constructors at add");
  orcjit_library *lib = ojt_new_library(s, "ctor_lib");
  REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj("ctors.o")));
  void *count = NULL, *clog = NULL;
  REQUIRE_OK(orcjit_library_lookup(lib, "oj_ctor_count", &count));
  REQUIRE_OK(orcjit_library_lookup(lib, "oj_ctor_log", &clog));
  CHECK_EQ(*(int *)count, 3);
  CHECK_EQ(((int *)clog)[0], 101);
  CHECK_EQ(((int *)clog)[1], 200);
  CHECK_EQ(((int *)clog)[2], 1);
  CHECK_EQ(OJT_GETCALL0(lib, "ctor_count"), 3);

  ojt_step("destructors at release");
  set_dtor_log(lib, log, &n);
  orcjit_library_retain(lib);
  orcjit_library_release(lib);
  CHECK_EQ(n, 0); /* one reference left */
  orcjit_library_release(lib);
  CHECK_DTORS(log, n);

  ojt_step("the same name again: fresh state");
  lib = ojt_new_library(s, "ctor_lib");
  REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj("ctors.o")));
  REQUIRE_OK(orcjit_library_lookup(lib, "oj_ctor_count", &count));
  CHECK_EQ(*(int *)count, 3);
  set_dtor_log(lib, log, &n);
  orcjit_library_release(lib);
  CHECK_DTORS(log, n);

  ojt_step("constructors calling into the host");
  int sum0 = atomic_load(&ojt_host_note_sum), calls0 = atomic_load(&ojt_host_note_calls);
  lib = ojt_new_library(s, "ctor_host");
  REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj("ctor_host.o")));
  CHECK_EQ(atomic_load(&ojt_host_note_sum) - sum0, 1);
  CHECK_EQ(OJT_GETCALL1(lib, "ctor_host", 5), 5);
  orcjit_library_release(lib);
  CHECK_EQ(atomic_load(&ojt_host_note_sum) - sum0, 0);
  CHECK_EQ(atomic_load(&ojt_host_note_calls) - calls0, 2);

  ojt_step("link callback");
  cb_state st = {0, NULL, 0};
  lib = ojt_new_library(s, "cb_lib");
  CHECK_OK(orcjit_library_set_link_callback(lib, link_cb, &st));
  REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj("add.o")));
  CHECK_EQ(st.calls, 1);
  CHECK(st.lib_seen == lib);
  REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj("ctors.o")));
  CHECK_EQ(st.calls, 2);

  ojt_step("a refusing link callback fails the add before constructors run");
  st.refuse = 1;
  sum0 = atomic_load(&ojt_host_note_sum), calls0 = atomic_load(&ojt_host_note_calls);
  int rc = orcjit_library_add_file(lib, ojt_obj("ctor_host.o"));
  ojt_capture();
  CHECK(rc != ORCJIT_OK);
  CHECK_MSG("refused by the test callback #77");
  CHECK_EQ(st.calls, 3);
  CHECK_EQ(atomic_load(&ojt_host_note_calls) - calls0, 0);
  CHECK_STATUS(orcjit_library_get_function(lib, "ctor_host", &p), ORCJIT_ENOTFOUND);
  CHECK_EQ(OJT_GETCALL0(lib, "ctor_count"), 3);
  CHECK_EQ(OJT_GETCALL1(lib, "digits", 99), 2);

  ojt_step("callback removed");
  CHECK_OK(orcjit_library_set_link_callback(lib, NULL, NULL));
  REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj("ctor_host.o")));
  CHECK_EQ(st.calls, 3);
  CHECK_EQ(atomic_load(&ojt_host_note_sum) - sum0, 1);
  set_dtor_log(lib, log, &n);
  orcjit_library_release(lib);
  CHECK_EQ(atomic_load(&ojt_host_note_sum) - sum0, 0);
  CHECK_DTORS(log, n);

  /* A library whose first object needs __dso_handle and not atexit gets
  ** the handle from that object (no runtime object), and the runtime
  ** object with atexit alone when a later object calls atexit; the other
  ** order gets the whole runtime object first. */
  for (int order = 0; order < 2; order++) {
    ojt_step("__dso_handle from an object, atexit later (order %d)", order);
    int dlog[16], dn = 0;
    lib = ojt_new_library(s, "dso_lib");
    REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj(order ? "ctors.o" : "dso_user.o")));
    REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj(order ? "dso_user.o" : "ctors.o")));
    void *dso = NULL, *set = NULL;
    REQUIRE_OK(orcjit_library_lookup(lib, "oj_dso_handle", &dso));
    REQUIRE_OK(orcjit_library_lookup(lib, "oj_dso_set_log", &set));
    CHECK(((void *(*)(void))dso)() != NULL);
    ((void (*)(int *, int *))set)(dlog, &dn);
    set_dtor_log(lib, log, &n);
    orcjit_library_release(lib);
    CHECK_DTORS(log, n);
    CHECK_EQ(dn, 1);
    CHECK_EQ(dlog[0], -9);
  }

  orcjit_session_release(s);
}

/* ---- lifetime ------------------------------------------------------------ */

void ojt_case_lifetime(void) {
  orcjit_session *s = ojt_new_session();
  orcjit_library *lib = ojt_new_library(s, "life"), *other = NULL;
  int log[16], n = 0;
  ojt_step("add add.o and ctors.o");
  REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj("add.o")));
  REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj("ctors.o")));
  set_dtor_log(lib, log, &n);

  ojt_step("a live name is refused");
  CHECK_STATUS(orcjit_library_create(s, "life", &other), ORCJIT_EINVAL);
  CHECK_MSG("life");

  ojt_step("the library outlives its session handle");
  orcjit_session_release(s);
  REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj("probe2.o")));
  CHECK_EQ(OJT_GETCALL1(lib, "probe2", 1), 2001);
  CHECK(orcjit_library_session(lib) == s);

  ojt_step("Function objects keep the library alive");
  void *f = NULL, *g = NULL;
  REQUIRE_OK(orcjit_library_get_ffi_function(lib, "add", &f));
  REQUIRE_OK(orcjit_library_get_ffi_function(lib, "probe2", &g));
  orcjit_library_release(lib);
  CHECK_EQ(n, 0); /* not yet destroyed */
  TVMFFIAny args[2] = {ojt_int(20), ojt_int(22)}, res;
  memset(&res, 0, sizeof res);
  CHECK_EQ(TVMFFIFunctionCall(f, args, 2, &res), 0);
  CHECK_EQ(res.type_index, kTVMFFIInt);
  CHECK_EQ(res.v_int64, 42);
  TVMFFIObjectDecRef(f);
  CHECK_EQ(n, 0); /* g still holds it */
  memset(&res, 0, sizeof res);
  CHECK_EQ(TVMFFIFunctionCall(g, args, 1, &res), 0);
  CHECK_EQ(res.v_int64, 2020);
  TVMFFIObjectDecRef(g);
  CHECK_DTORS(log, n);

  ojt_step("names are reusable once released");
  s = ojt_new_session();
  lib = ojt_new_library(s, "again");
  REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj("ver1.o")));
  orcjit_library_release(lib);
  lib = ojt_new_library(s, "again");
  CHECK_STATUS(orcjit_library_get_function(lib, "version", &f), ORCJIT_ENOTFOUND);
  REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj("ver2.o")));
  CHECK_EQ(OJT_GETCALL0(lib, "version"), 22);

  ojt_step("raw function pointers need the library");
  orcjit_library_retain(lib);
  void *raw = NULL;
  REQUIRE_OK(orcjit_library_get_function(lib, "version", &raw));
  orcjit_library_release(lib);
  CHECK_EQ(OJT_CALL0(raw), 22); /* still one reference */
  orcjit_library_release(lib);

  /* Libraries still alive at process exit: their destructors (C fini,
  ** atexit, and the C++ function-local static registered with
  ** __cxa_atexit by the first call) must not crash the exit.  The test's
  ** exit status catches a crash. */
  ojt_step("libraries alive at exit");
  static int exit_log[16], exit_n;
  lib = ojt_new_library(s, "alive_at_exit");
  REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj("ctors.o")));
  REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj("cpp_add.o")));
  CHECK_EQ(OJT_GETCALL1(lib, "vec_sum", 3), 3);
  set_dtor_log(lib, exit_log, &exit_n);
  orcjit_session_release(s); /* lib keeps the session */
}
