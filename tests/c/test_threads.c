/*
** test_threads.c: threads.
**   - two threads adding into one library at the same time: each gets
**     ORCJIT_OK or ORCJIT_EBUSY, at least one succeeds, the loser leaves
**     nothing behind and succeeds when retried; never a crash
**   - adds into different sessions in parallel all succeed
**   - calls into JIT code from several threads while the same session and
**     library keep loading
**   - the last error is per thread
*/
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "oj_test.h"

/* ---- racing adds into one library ---------------------------------------- */

typedef struct racer {
  orcjit_library *lib;
  pthread_barrier_t *barrier;
  int probe;
  int rc;
  char msg[1024];
} racer;

static void *racer_main(void *arg) {
  racer *r = arg;
  char obj[32];
  snprintf(obj, sizeof obj, "probe%d.o", r->probe);
  const char *path = ojt_obj(obj);
  pthread_barrier_wait(r->barrier);
  r->rc = orcjit_library_add_file(r->lib, path);
  snprintf(r->msg, sizeof r->msg, "%s", orcjit_last_error());
  return NULL;
}

static void race_one_library(orcjit_session *s) {
  int busy = 0, both = 0;
  for (int round = 0; round < 100; round++) {
    ojt_step("race round %d", round);
    orcjit_library *lib = NULL;
    REQUIRE_OK(orcjit_library_create(s, NULL, &lib));
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, 2);
    racer r[2];
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
      memset(&r[i], 0, sizeof r[i]);
      r[i].lib = lib, r[i].barrier = &barrier, r[i].probe = i;
      REQUIRE(pthread_create(&t[i], NULL, racer_main, &r[i]) == 0);
    }
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    pthread_barrier_destroy(&barrier);

    CHECK(r[0].rc == ORCJIT_OK || r[1].rc == ORCJIT_OK);
    for (int i = 0; i < 2; i++) {
      char fn[32];
      void *p = NULL;
      snprintf(fn, sizeof fn, "probe%d", i);
      if (r[i].rc == ORCJIT_OK) {
        CHECK_EQ(OJT_GETCALL1(lib, fn, 3), 3 + 1000 * i);
        continue;
      }
      if (r[i].rc != ORCJIT_EBUSY) {
        fprintf(stderr, "racing add returned %s: %s\n", orcjit_status_name(r[i].rc), r[i].msg);
        CHECK(r[i].rc == ORCJIT_OK || r[i].rc == ORCJIT_EBUSY);
        continue;
      }
      busy++;
      if (!strstr(r[i].msg, orcjit_library_name(lib))) {
        fprintf(stderr, "EBUSY message \"%s\" does not name library %s\n", r[i].msg,
                orcjit_library_name(lib));
        CHECK(!"EBUSY message names the library");
      }
      /* The loser left nothing behind and can try again. */
      CHECK_STATUS(orcjit_library_get_function(lib, fn, &p), ORCJIT_ENOTFOUND);
      char obj[32];
      snprintf(obj, sizeof obj, "probe%d.o", i);
      CHECK_OK(orcjit_library_add_file(lib, ojt_obj(obj)));
      CHECK_EQ(OJT_GETCALL1(lib, fn, 3), 3 + 1000 * i);
    }
    if (r[0].rc == ORCJIT_OK && r[1].rc == ORCJIT_OK) both++;
    orcjit_library_release(lib);
  }
  printf("race: %d adds refused with ORCJIT_EBUSY, %d rounds both succeeded\n", busy, both);
}

/* ---- parallel sessions --------------------------------------------------- */

static void *session_worker(void *arg) {
  int *ok = arg;
  orcjit_session *s = NULL;
  *ok = 0;
  if (orcjit_session_create(NULL, &s) != ORCJIT_OK) return NULL;
  int good = 1;
  for (int i = 0; i < 30 && good; i++) {
    orcjit_library *lib = NULL;
    void *add = NULL;
    int64_t argv[2] = {i, 100}, out = 0;
    good = orcjit_library_create(s, "worker", &lib) == ORCJIT_OK &&
           orcjit_library_add_file(lib, ojt_obj(i % 2 ? "add.o" : "cpp_add.o")) == ORCJIT_OK &&
           orcjit_library_get_function(lib, i % 2 ? "add" : "add_cpp", &add) == ORCJIT_OK &&
           ojt_call(add, 2, argv, &out) == 0 && out == i + 100;
    if (!good) fprintf(stderr, "session worker: %s\n", orcjit_last_error());
    orcjit_library_release(lib);
  }
  orcjit_session_release(s);
  *ok = good;
  return NULL;
}

/* ---- calls while loading ------------------------------------------------- */

typedef struct caller_arg {
  void *add;
  atomic_int *stop;
  long calls;
  long wrong;
} caller_arg;

static void *caller_main(void *p) {
  caller_arg *c = p;
  int64_t i = 0;
  while (!atomic_load(c->stop) || c->calls < 1000) {
    int64_t argv[2] = {i, 7}, out = 0;
    if (ojt_call(c->add, 2, argv, &out) != 0 || out != i + 7) c->wrong++;
    c->calls++;
    i++;
  }
  return NULL;
}

static void calls_while_loading(orcjit_session *s) {
  ojt_step("calls while loading");
  orcjit_library *hot = NULL;
  REQUIRE_OK(orcjit_library_create(s, "hot", &hot));
  REQUIRE_OK(orcjit_library_add_file(hot, ojt_obj("add.o")));
  void *add = NULL;
  REQUIRE_OK(orcjit_library_get_function(hot, "add", &add));
  atomic_int stop = 0;
  caller_arg c[3];
  pthread_t t[3];
  for (int i = 0; i < 3; i++) {
    c[i] = (caller_arg){add, &stop, 0, 0};
    REQUIRE(pthread_create(&t[i], NULL, caller_main, &c[i]) == 0);
  }
  /* Meanwhile: more objects into the same library, and other libraries. */
  CHECK_OK(orcjit_library_add_file(hot, ojt_obj("probe2.o")));
  CHECK_OK(orcjit_library_add_file(hot, ojt_obj("ctors.o")));
  for (int i = 0; i < 20; i++) {
    orcjit_library *l = NULL;
    CHECK_OK(orcjit_library_create(s, NULL, &l));
    CHECK_OK(orcjit_library_add_file(l, ojt_obj("multi_a.o")));
    CHECK_OK(orcjit_library_add_file(l, ojt_obj("multi_b.o")));
    orcjit_library_release(l);
  }
  CHECK_OK(orcjit_library_add_file(hot, ojt_obj("probe3.o")));
  atomic_store(&stop, 1);
  long calls = 0;
  for (int i = 0; i < 3; i++) {
    pthread_join(t[i], NULL);
    CHECK_EQ(c[i].wrong, 0);
    calls += c[i].calls;
  }
  printf("calls while loading: %ld calls\n", calls);
  CHECK_EQ(OJT_GETCALL1(hot, "probe3", 1), 3001);
  orcjit_library_release(hot);
}

/* ---- per-thread errors --------------------------------------------------- */

typedef struct err_arg {
  orcjit_library *lib;
  int initial_status;
  char initial_msg[256];
  int rc;
  char msg[1024];
} err_arg;

static void *err_thread(void *p) {
  err_arg *e = p;
  void *out = NULL;
  e->initial_status = orcjit_last_status();
  snprintf(e->initial_msg, sizeof e->initial_msg, "%s", orcjit_last_error());
  e->rc = orcjit_library_lookup(e->lib, "thread_only_symbol_xyz", &out);
  snprintf(e->msg, sizeof e->msg, "%s", orcjit_last_error());
  return NULL;
}

static void per_thread_errors(orcjit_session *s) {
  ojt_step("per-thread errors");
  orcjit_library *lib = NULL;
  REQUIRE_OK(orcjit_library_create(s, "errs", &lib));
  orcjit_set_error(ORCJIT_EIO, "main thread error %d", 123);
  err_arg e;
  memset(&e, 0, sizeof e);
  e.lib = lib;
  pthread_t t;
  REQUIRE(pthread_create(&t, NULL, err_thread, &e) == 0);
  pthread_join(t, NULL);
  CHECK_EQ(e.initial_status, ORCJIT_OK);
  CHECK(e.initial_msg[0] == '\0');
  CHECK_EQ(e.rc, ORCJIT_ENOTFOUND);
  CHECK(strstr(e.msg, "thread_only_symbol_xyz") != NULL);
  CHECK_EQ(orcjit_last_status(), ORCJIT_EIO);
  CHECK(strstr(orcjit_last_error(), "main thread error 123") != NULL);
  orcjit_library_release(lib);
}

void ojt_case_threads(void) {
  orcjit_session *s = NULL;
  REQUIRE_OK(orcjit_session_create(NULL, &s));

  race_one_library(s);

  ojt_step("parallel sessions");
  pthread_t t[4];
  int ok[4];
  for (int i = 0; i < 4; i++) REQUIRE(pthread_create(&t[i], NULL, session_worker, &ok[i]) == 0);
  for (int i = 0; i < 4; i++) {
    pthread_join(t[i], NULL);
    CHECK(ok[i]);
  }

  calls_while_loading(s);
  per_thread_errors(s);

  orcjit_library *lib = NULL;
  REQUIRE_OK(orcjit_library_create(s, "threads_end", &lib));
  CHECK_STILL_WORKS(lib);
  orcjit_library_release(lib);
  orcjit_session_release(s);
}
