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
**   - initial-exec and local-exec objects: refused with EUNSUPPORTED.
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

/* ---- models that cannot work --------------------------------------------- */

static void tls_refused(orcjit_session *s) {
  static const struct {
    const char *obj, *model;
  } cases[] = {{"tls_ie.o", "initial-exec"}, {"tls_le.o", "local-exec"}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    ojt_step("%s is refused", cases[i].obj);
    orcjit_library *lib = ojt_new_library(s, "tls_refused");
    CHECK_STATUS(orcjit_library_add_file(lib, ojt_obj(cases[i].obj)), ORCJIT_EUNSUPPORTED);
    CHECK_MSG(cases[i].obj);
    CHECK_MSG(cases[i].model);
    CHECK_MSG("oj_tls_static_model");
    CHECK_MSG("-fPIC");
    void *fn = NULL;
    CHECK_STATUS(orcjit_library_get_function(lib, "tls_model_read", &fn), ORCJIT_ENOTFOUND);
    CHECK_STILL_WORKS(lib);
    orcjit_library_release(lib);
  }
}

void ojt_case_tls(void) {
  orcjit_session *s = ojt_new_session();
  tls_c_data(s);
  tls_cpp(s);
  tls_release_under_thread(s);
  tls_refused(s);
  orcjit_session_release(s);
}
