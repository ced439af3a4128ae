/*
** test_tls.c: thread-local storage of loaded objects (case tls).
**   - C: __thread data in .tdata and .tbss, general- and local-dynamic
**     accesses, one copy per thread, initial values on every thread;
**   - a thread-local of another library (link order) and of the host;
**   - orcjit_library_lookup of a thread-local: the calling thread's copy;
**   - C++ thread_local objects: constructed per thread, destroyed at thread
**     exit, and at release for the releasing thread;
**   - releasing a library while another thread still holds copies of its
**     data and a pending thread_local destructor (run at the release);
**   - the compilers' default PIE code (tls_static.c, tls_once.cc): its
**     own thread-locals by local-exec code, in static TLS, fresh on the
**     loading thread, on a thread made before the load, on threads made
**     after, and again after release and reload; the host's by
**     initial-exec code (oj_test_host_tls; libstdc++'s std::call_once
**     state); -ftls-model=initial-exec/local-exec objects;
**   - refused: more static TLS than the C library has (the message gives
**     both sizes), initial-exec code to another library's thread-local.
*/
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "oj_test.h"

/* Defined here, read and written by tls_user.o from JIT code. */
__attribute__((visibility("default"))) __thread int oj_test_host_tls = 100;

typedef struct tls_fns {
  void *bump, *table_sum, *exported, *zero_addr;
  orcjit_library *lib;
} tls_fns;

static void tls_get(orcjit_library *lib, tls_fns *f) {
  f->lib = lib;
  REQUIRE_OK(orcjit_library_get_function(lib, "tls_bump", &f->bump));
  REQUIRE_OK(orcjit_library_get_function(lib, "tls_table_sum", &f->table_sum));
  REQUIRE_OK(orcjit_library_get_function(lib, "tls_exported", &f->exported));
  REQUIRE_OK(orcjit_library_get_function(lib, "tls_zero_addr", &f->zero_addr));
}

/* What every thread sees the first time: fresh copies of the initial
** values, whatever other threads did. */
typedef struct tls_seen {
  int64_t bump[3], sum[2], exported, exported_after, zero_addr;
  int64_t lookup_ok;
} tls_seen;

static void tls_use(const tls_fns *f, tls_seen *s) {
  for (int i = 0; i < 3; i++) s->bump[i] = OJT_CALL0(f->bump);
  for (int i = 0; i < 2; i++) s->sum[i] = OJT_CALL0(f->table_sum);
  s->exported = OJT_CALL0(f->exported);
  s->zero_addr = OJT_CALL0(f->zero_addr);
  /* The looked-up address is this thread's copy: writing it changes what
  ** this thread's code reads. */
  int *p = NULL;
  s->lookup_ok = orcjit_library_lookup(f->lib, "oj_tls_exported", (void **)&p) == ORCJIT_OK &&
                 p != NULL;
  if (s->lookup_ok) *p = 40 + (int)(s->zero_addr & 7);
  s->exported_after = OJT_CALL0(f->exported);
}

static void tls_check_fresh(const tls_seen *s) {
  CHECK_EQ(s->bump[0], 1);
  CHECK_EQ(s->bump[1], 2);
  CHECK_EQ(s->bump[2], 3);
  CHECK_EQ(s->sum[0], 6); /* {1, 2, 3, 0...} */
  CHECK_EQ(s->sum[1], 7); /* table[0] was incremented */
  CHECK_EQ(s->exported, 5);
  CHECK(s->lookup_ok);
  CHECK_EQ(s->exported_after, 40 + (s->zero_addr & 7));
}

typedef struct tls_job {
  const tls_fns *f;
  pthread_barrier_t *alive; /* all threads hold their copies at once */
  tls_seen seen;
} tls_job;

static void *tls_thread(void *arg) {
  tls_job *j = arg;
  tls_use(j->f, &j->seen);
  pthread_barrier_wait(j->alive);
  return NULL;
}

static void tls_c_data(orcjit_session *s) {
  ojt_step("C thread-locals, 4 threads");
  orcjit_library *lib = ojt_new_library(s, "tls");
  REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj("tls.o")));
  tls_fns f;
  tls_get(lib, &f);
  tls_seen main_seen;
  tls_use(&f, &main_seen);
  tls_check_fresh(&main_seen);

  enum { N = 4 };
  tls_job jobs[N];
  pthread_t th[N];
  pthread_barrier_t alive;
  pthread_barrier_init(&alive, NULL, N);
  for (int i = 0; i < N; i++) {
    memset(&jobs[i], 0, sizeof jobs[i]);
    jobs[i].f = &f;
    jobs[i].alive = &alive;
    REQUIRE(pthread_create(&th[i], NULL, tls_thread, &jobs[i]) == 0);
  }
  for (int i = 0; i < N; i++) pthread_join(th[i], NULL);
  pthread_barrier_destroy(&alive);
  for (int i = 0; i < N; i++) {
    tls_check_fresh(&jobs[i].seen);
    CHECK(jobs[i].seen.zero_addr != main_seen.zero_addr);
    for (int k = 0; k < i; k++) CHECK(jobs[i].seen.zero_addr != jobs[k].seen.zero_addr);
  }
  /* The main thread's copies were left alone. */
  CHECK_EQ(OJT_CALL0(f.bump), 4);
  CHECK_EQ(OJT_CALL0(f.table_sum), 8);
  CHECK_EQ(OJT_CALL0(f.zero_addr), main_seen.zero_addr);

  ojt_step("a thread-local of another library and of the host");
  orcjit_library *user = ojt_new_library(s, "tls_user");
  REQUIRE_OK(orcjit_library_set_link_order(user, &lib, 1));
  REQUIRE_OK(orcjit_library_add_file(user, ojt_obj("tls_user.o")));
  void *user_exported = NULL, *host_bump = NULL;
  REQUIRE_OK(orcjit_library_get_function(user, "tls_user_exported", &user_exported));
  REQUIRE_OK(orcjit_library_get_function(user, "tls_host_bump", &host_bump));
  CHECK_EQ(OJT_CALL0(user_exported), main_seen.exported_after);
  oj_test_host_tls = 100;
  CHECK_EQ(OJT_CALL0(host_bump), 101);
  CHECK_EQ(oj_test_host_tls, 101); /* the host's own variable */
  CHECK_EQ(OJT_CALL0(host_bump), 102);
  orcjit_library_release(user);
  orcjit_library_release(lib);
}

/* ---- C++ thread_local objects ------------------------------------------ */

static void *tls_cpp_thread(void *fn) {
  int64_t *out = malloc(2 * sizeof *out);
  out[0] = OJT_CALL0(fn);
  out[1] = OJT_CALL0(fn);
  return out;
}

static void tls_cpp(orcjit_session *s) {
  ojt_step("C++ thread_local objects");
  orcjit_library *lib = ojt_new_library(s, "tls_cpp");
  REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj("tls_cpp.o")));
  void *use = NULL;
  REQUIRE_OK(orcjit_library_get_function(lib, "tls_cpp_use", &use));
  /* name "thread" (6) + 3 values + uses*100 + counter (10, 11, ...) */
  CHECK_EQ(OJT_CALL0(use), 6 + 3 + 100 + 10);
  CHECK_EQ(OJT_CALL0(use), 6 + 3 + 200 + 11);

  int sum0 = atomic_load(&ojt_host_note_sum);
  pthread_t th[2];
  for (int i = 0; i < 2; i++) REQUIRE(pthread_create(&th[i], NULL, tls_cpp_thread, use) == 0);
  for (int i = 0; i < 2; i++) {
    int64_t *r = NULL;
    pthread_join(th[i], (void **)&r);
    REQUIRE(r != NULL);
    CHECK_EQ(r[0], 6 + 3 + 100 + 10); /* a fresh object in each thread */
    CHECK_EQ(r[1], 6 + 3 + 200 + 11);
    free(r);
  }
  /* Each thread's object was destroyed when the thread ended. */
  CHECK_EQ(atomic_load(&ojt_host_note_sum) - sum0, 2000);
  /* The main thread's one, when the library is released. */
  sum0 = atomic_load(&ojt_host_note_sum);
  orcjit_library_release(lib);
  CHECK_EQ(atomic_load(&ojt_host_note_sum) - sum0, 1000);
}

/* ---- release while another thread holds copies ------------------------- */

typedef struct tls_holder {
  void *bump, *cpp_use;
  pthread_barrier_t used, released;
  int64_t bump_value, cpp_value;
} tls_holder;

static void *tls_holder_thread(void *arg) {
  tls_holder *h = arg;
  h->bump_value = OJT_CALL0(h->bump);
  h->cpp_value = OJT_CALL0(h->cpp_use); /* registers a thread_local dtor */
  pthread_barrier_wait(&h->used);
  pthread_barrier_wait(&h->released); /* the library is gone now */
  return NULL;                         /* exit must not run its dtor again */
}

static void tls_release_under_thread(orcjit_session *s) {
  ojt_step("release while another thread holds thread-local copies");
  orcjit_library *lib = ojt_new_library(s, "tls_held");
  REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj("tls.o")));
  REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj("tls_cpp.o")));
  tls_holder h;
  memset(&h, 0, sizeof h);
  REQUIRE_OK(orcjit_library_get_function(lib, "tls_bump", &h.bump));
  REQUIRE_OK(orcjit_library_get_function(lib, "tls_cpp_use", &h.cpp_use));
  pthread_barrier_init(&h.used, NULL, 2);
  pthread_barrier_init(&h.released, NULL, 2);
  pthread_t th;
  REQUIRE(pthread_create(&th, NULL, tls_holder_thread, &h) == 0);
  pthread_barrier_wait(&h.used);
  int sum0 = atomic_load(&ojt_host_note_sum);
  orcjit_library_release(lib); /* runs the thread's dtor, frees its copies */
  CHECK_EQ(atomic_load(&ojt_host_note_sum) - sum0, 1000);
  pthread_barrier_wait(&h.released);
  pthread_join(th, NULL);
  CHECK_EQ(h.bump_value, 1);
  CHECK_EQ(h.cpp_value, 6 + 3 + 100 + 10);
  CHECK_EQ(atomic_load(&ojt_host_note_sum) - sum0, 1000);
  pthread_barrier_destroy(&h.used);
  pthread_barrier_destroy(&h.released);

  /* Loading again gives fresh data (the old blocks are gone). */
  lib = ojt_new_library(s, "tls_again");
  REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj("tls.o")));
  void *bump = NULL;
  REQUIRE_OK(orcjit_library_get_function(lib, "tls_bump", &bump));
  CHECK_EQ(OJT_CALL0(bump), 1);
  orcjit_library_release(lib);
}

/* ---- static TLS: initial-exec and local-exec code ---------------------- */

typedef struct ts_fns {
  void *state, *write, *addr, *host_bump;
} ts_fns;

static void ts_get(orcjit_library *lib, ts_fns *f) {
  REQUIRE_OK(orcjit_library_get_function(lib, "ts_state", &f->state));
  REQUIRE_OK(orcjit_library_get_function(lib, "ts_write", &f->write));
  REQUIRE_OK(orcjit_library_get_function(lib, "ts_addr", &f->addr));
  REQUIRE_OK(orcjit_library_get_function(lib, "ts_host_bump", &f->host_bump));
}

enum { TS_FRESH = 7000010, TS_WRITTEN = 8002013 };

/* A thread made before the library is loaded: it waits, then uses the
** library's functions (fresh values), writes, and reports. */
typedef struct ts_early {
  pthread_barrier_t go, done, again, done2;
  const ts_fns *f;
  int64_t seen, written, seen_again, host;
} ts_early;

static void *ts_early_thread(void *arg) {
  ts_early *e = arg;
  pthread_barrier_wait(&e->go); /* the library is loaded now */
  e->seen = OJT_CALL0(e->f->state);
  e->written = OJT_CALL0(e->f->write);
  oj_test_host_tls = 200;
  e->host = OJT_CALL0(e->f->host_bump);
  pthread_barrier_wait(&e->done);
  pthread_barrier_wait(&e->again); /* released and loaded again */
  e->seen_again = OJT_CALL0(e->f->state);
  pthread_barrier_wait(&e->done2);
  return NULL;
}

static void *ts_late_thread(void *arg) {
  const ts_fns *f = arg;
  int64_t *r = malloc(3 * sizeof *r);
  r[0] = OJT_CALL0(f->state);
  r[1] = OJT_CALL0(f->write);
  r[2] = OJT_CALL0(f->addr);
  return r;
}

/* Threads made after the load: fresh values, copies of their own. */
static void ts_check_late_threads(ts_fns *f) {
  enum { N = 3 };
  pthread_t th[N];
  int64_t *r[N];
  for (int i = 0; i < N; i++) REQUIRE(pthread_create(&th[i], NULL, ts_late_thread, f) == 0);
  for (int i = 0; i < N; i++) {
    r[i] = NULL;
    pthread_join(th[i], (void **)&r[i]);
    REQUIRE(r[i] != NULL);
    CHECK_EQ(r[i][0], TS_FRESH);
    CHECK_EQ(r[i][1], TS_WRITTEN);
    CHECK(r[i][2] != OJT_CALL0(f->addr));
  }
  for (int i = 0; i < N; i++) free(r[i]);
}

static void tls_static(orcjit_session *s) {
  ojt_step("default PIE code: local-exec and initial-exec thread-locals");
  ts_early e;
  memset(&e, 0, sizeof e);
  ts_fns f;
  e.f = &f;
  pthread_barrier_init(&e.go, NULL, 2);
  pthread_barrier_init(&e.done, NULL, 2);
  pthread_barrier_init(&e.again, NULL, 2);
  pthread_barrier_init(&e.done2, NULL, 2);
  pthread_t early;
  REQUIRE(pthread_create(&early, NULL, ts_early_thread, &e) == 0);

  orcjit_library *lib = ojt_new_library(s, "tls_static");
  REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj("tls_static.o")));
  ts_get(lib, &f);
  CHECK_EQ(OJT_CALL0(f.state), TS_FRESH);
  CHECK_EQ(OJT_CALL0(f.write), TS_WRITTEN);
  /* The looked-up address is this thread's copy, the code's too. */
  int *p = NULL;
  REQUIRE_OK(orcjit_library_lookup(lib, "ts_init", (void **)&p));
  CHECK_EQ((int64_t)(intptr_t)p, OJT_CALL0(f.addr));
  CHECK_EQ(*p, 8);
  /* The host's thread-local, by initial-exec code. */
  oj_test_host_tls = 100;
  CHECK_EQ(OJT_CALL0(f.host_bump), 101);
  CHECK_EQ(oj_test_host_tls, 101);

  /* A thread that existed before the load sees the initial values. */
  pthread_barrier_wait(&e.go);
  pthread_barrier_wait(&e.done);
  CHECK_EQ(e.seen, TS_FRESH);
  CHECK_EQ(e.written, TS_WRITTEN);
  CHECK_EQ(e.host, 201);
  CHECK_EQ(oj_test_host_tls, 101); /* its write was its own */
  CHECK_EQ(OJT_CALL0(f.state), TS_WRITTEN);

  ts_check_late_threads(&f);
  CHECK_EQ(OJT_CALL0(f.state), TS_WRITTEN);

  /* Two libraries with static TLS at once: separate blocks. */
  orcjit_library *two = ojt_new_library(s, "tls_static_2");
  REQUIRE_OK(orcjit_library_add_file(two, ojt_obj("tls_static.o")));
  ts_fns f2;
  ts_get(two, &f2);
  CHECK_EQ(OJT_CALL0(f2.state), TS_FRESH);
  CHECK(OJT_CALL0(f2.addr) != OJT_CALL0(f.addr));
  CHECK_EQ(OJT_CALL0(f.state), TS_WRITTEN);
  orcjit_library_release(two);

  /* Released and loaded again: fresh values on every thread, the one
  ** that wrote into the old block included. */
  orcjit_library_release(lib);
  lib = ojt_new_library(s, "tls_static_again");
  REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj("tls_static.o")));
  ts_get(lib, &f);
  CHECK_EQ(OJT_CALL0(f.state), TS_FRESH);
  pthread_barrier_wait(&e.again);
  pthread_barrier_wait(&e.done2);
  CHECK_EQ(e.seen_again, TS_FRESH);
  pthread_join(early, NULL);
  pthread_barrier_destroy(&e.go);
  pthread_barrier_destroy(&e.done);
  pthread_barrier_destroy(&e.again);
  pthread_barrier_destroy(&e.done2);
  orcjit_library_release(lib);
  oj_test_host_tls = 100;

  /* Built with -ffunction-sections: the code that reaches the
  ** thread-locals lies in several sections, which the pre-pass merges
  ** into one (src/oj_elf_merge.c), and the offsets it patches into that
  ** code (local-exec) must follow the bytes. */
  ojt_step("PIE code in many sections, merged: the patched TLS offsets follow");
  lib = ojt_new_library(s, "tls_static_sections");
  REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj("tls_static_fs.o")));
  ts_get(lib, &f);
  CHECK_EQ(OJT_CALL0(f.state), TS_FRESH);
  CHECK_EQ(OJT_CALL0(f.write), TS_WRITTEN);
  p = NULL;
  REQUIRE_OK(orcjit_library_lookup(lib, "ts_init", (void **)&p));
  CHECK_EQ((int64_t)(intptr_t)p, OJT_CALL0(f.addr));
  CHECK_EQ(OJT_CALL0(f.host_bump), 101);
  ts_check_late_threads(&f);
  orcjit_library_release(lib);
  oj_test_host_tls = 100;

  ojt_step("C++ PIE code: std::call_once (libstdc++'s thread-locals) and thread_local");
  lib = ojt_new_library(s, "tls_once");
#if OJT_ASAN
  /* Under ASan its runtime holds the address space next to the shared
  ** libraries, so no JIT memory lies within 2 GiB of libstdc++, and PIE
  ** code's PC32 reference to libstdc++'s typeinfo cannot reach: the add is
  ** refused with the -fPIC hint, which is the documented outcome there. */
  {
    int st = orcjit_library_add_file(lib, ojt_obj("tls_once.o"));
    if (st == ORCJIT_ELINK && strstr(orcjit_last_error(), "out of range of Delta32")) {
      printf("note: tls_once.o not placeable under ASan (host data out of PC32 reach)\n");
      orcjit_library_release(lib);
      return;
    }
    REQUIRE_OK(st);
  }
#else
  REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj("tls_once.o")));
#endif
  void *use = NULL;
  REQUIRE_OK(orcjit_library_get_function(lib, "tls_once_use", &use));
  CHECK_EQ(OJT_CALL0(use), 10000 + 7000 + 100 + 10);
  CHECK_EQ(OJT_CALL0(use), 10000 + 7000 + 200 + 11);
  int sum0 = atomic_load(&ojt_host_note_sum);
  pthread_t t2[2];
  for (int i = 0; i < 2; i++) REQUIRE(pthread_create(&t2[i], NULL, tls_cpp_thread, use) == 0);
  for (int i = 0; i < 2; i++) {
    int64_t *rr = NULL;
    pthread_join(t2[i], (void **)&rr);
    REQUIRE(rr != NULL);
    CHECK_EQ(rr[0], 10000 + 7000 + 100 + 10); /* a fresh object in each thread */
    CHECK_EQ(rr[1], 10000 + 7000 + 200 + 11);
    free(rr);
  }
  CHECK_EQ(atomic_load(&ojt_host_note_sum) - sum0, 2000);
  sum0 = atomic_load(&ojt_host_note_sum);
  orcjit_library_release(lib);
  CHECK_EQ(atomic_load(&ojt_host_note_sum) - sum0, 1000);
}

/* ---- TLS models that work and cases that cannot ------------------------ */

static void tls_models(orcjit_session *s) {
  /* -fPIC -ftls-model=initial-exec (relaxed to local-exec) and -fno-pic
  ** -ftls-model=local-exec: both were refused once. */
  static const char *const objs[] = {"tls_ie.o", "tls_le.o",
#if defined(__aarch64__)
                                     "tls_desc.o" /* TLS descriptors, the default there */
#endif
  };
  for (size_t i = 0; i < sizeof objs / sizeof objs[0]; i++) {
    ojt_step("%s loads", objs[i]);
    orcjit_library *lib = ojt_new_library(s, "tls_model");
    REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj(objs[i])));
    void *fn = NULL;
    REQUIRE_OK(orcjit_library_get_function(lib, "tls_model_read", &fn));
    CHECK_EQ(OJT_CALL0(fn), 3);
    int *p = NULL;
    REQUIRE_OK(orcjit_library_lookup(lib, "oj_tls_static_model", (void **)&p));
    *p = 9;
    CHECK_EQ(OJT_CALL0(fn), 9);
    pthread_t th;
    int64_t *r = NULL;
    REQUIRE(pthread_create(&th, NULL, tls_cpp_thread, fn) == 0);
    pthread_join(th, (void **)&r);
    REQUIRE(r != NULL);
    CHECK_EQ(r[0], 3);
    free(r);
    orcjit_library_release(lib);
  }

  ojt_step("more static TLS than the C library has: refused");
  orcjit_library *lib = ojt_new_library(s, "tls_big");
  CHECK_STATUS(orcjit_library_add_file(lib, ojt_obj("tls_static_big.o")), ORCJIT_EUNSUPPORTED);
  CHECK_MSG("tls_static_big.o");
  CHECK_MSG("static TLS");
  CHECK_MSG("need 1048");
  CHECK_MSG("GLIBC_TUNABLES=glibc.rtld.optional_static_tls");
  CHECK_MSG("-fPIC");
  void *fn = NULL;
  CHECK_STATUS(orcjit_library_get_function(lib, "ts_state", &fn), ORCJIT_ENOTFOUND);
  CHECK_STILL_WORKS(lib);
  /* Nothing was kept: a small one still fits. */
  REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj("tls_static.o")));
  REQUIRE_OK(orcjit_library_get_function(lib, "ts_state", &fn));
  CHECK_EQ(OJT_CALL0(fn), TS_FRESH);
  orcjit_library_release(lib);

  ojt_step("initial-exec reference to another library's thread-local: refused");
  orcjit_library *base = ojt_new_library(s, "tls_base");
  REQUIRE_OK(orcjit_library_add_file(base, ojt_obj("tls.o")));
  orcjit_library *user = ojt_new_library(s, "tls_user_pie");
  REQUIRE_OK(orcjit_library_set_link_order(user, &base, 1));
  CHECK_STATUS(orcjit_library_add_file(user, ojt_obj("tls_user_pie.o")), ORCJIT_EUNSUPPORTED);
  CHECK_MSG("oj_tls_exported");
  CHECK_MSG("initial-exec");
  CHECK_MSG("-fPIC");
  CHECK_STILL_WORKS(user);
  orcjit_library_release(user);
  orcjit_library_release(base);
}

void ojt_case_tls(void) {
  orcjit_session *s = ojt_new_session();
  tls_c_data(s);
  tls_cpp(s);
  tls_release_under_thread(s);
  tls_static(s);
  tls_models(s);
  orcjit_session_release(s);
}
