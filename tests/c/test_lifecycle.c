/*
** test_lifecycle.c: library lifetimes, link orders and locking (issue #18).
**   link_cycle_threads  A links B and B links A; two threads add 200 times
**                       each into A and B (an object whose 64 weak
**                       references are all searched through the link
**                       order): both finish (the old lock nesting
**                       deadlocked)
**   archive_linked      z holds an archive, x links z: an object added to
**                       x pulls the members it needs into z
**   deep_release        a 30,000-deep chain of link orders released from a
**                       thread with a 512 KiB stack (the old recursive
**                       release overflowed it)
**   link_cycles         link-order cycles (2, self, 3, with an outside
**                       holder: a library or a Function) are freed once
**                       nothing outside refers to them: destructors ran,
**                       names free again; 2,000 dropped pairs give their
**                       memory back
**   fork_load           fork() while another thread loads into session S:
**                       every child's load into S works (40 forks)
**   fork_in_ctor        fork() from a constructor, in the middle of an add:
**                       in the child the inherited session fails at once
**                       with a clear error, a new session works
*/
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdatomic.h>

#include "oj_test.h"

/* A hang is a failure, not a stuck test run. */
static void lifecycle_hung(int sig) {
  static const char msg[] = "FAIL: the case did not finish (deadlock?)\n";
  (void)sig;
  if (write(2, msg, sizeof msg - 1) < 0) _exit(1);
  _exit(1);
}

static void lifecycle_watchdog(unsigned seconds) {
  signal(SIGALRM, lifecycle_hung);
  alarm(seconds);
}

/* ---- adds into the two libraries of a link-order cycle ------------------- */

typedef struct cycle_adder {
  orcjit_library *lib;
  const char *path;
  pthread_barrier_t *barrier;
  int failures;
  char msg[512];
} cycle_adder;

static void *cycle_adder_main(void *arg) {
  cycle_adder *a = arg;
  pthread_barrier_wait(a->barrier);
  for (int i = 0; i < 200; i++) {
    if (orcjit_library_add_file(a->lib, a->path) != ORCJIT_OK) {
      if (!a->failures++) snprintf(a->msg, sizeof a->msg, "%s", orcjit_last_error());
    }
  }
  return NULL;
}

void ojt_case_link_cycle_threads(void) {
  lifecycle_watchdog(100);
  orcjit_session *s = ojt_new_session();
  orcjit_library *a = ojt_new_library(s, "cyc_a");
  orcjit_library *b = ojt_new_library(s, "cyc_b");
  REQUIRE_OK(orcjit_library_set_link_order(a, &b, 1));
  REQUIRE_OK(orcjit_library_set_link_order(b, &a, 1));
  ojt_step("two threads x 200 adds into A and B");
  pthread_barrier_t barrier;
  pthread_barrier_init(&barrier, NULL, 2);
  char path[4096];
  snprintf(path, sizeof path, "%s", ojt_obj("weakrefs.o"));
  cycle_adder ad[2] = {{a, path, &barrier, 0, ""}, {b, path, &barrier, 0, ""}};
  pthread_t t[2];
  for (int i = 0; i < 2; i++) REQUIRE(pthread_create(&t[i], NULL, cycle_adder_main, &ad[i]) == 0);
  for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
  pthread_barrier_destroy(&barrier);
  for (int i = 0; i < 2; i++) {
    if (ad[i].failures) fprintf(stderr, "adder %d: %s\n", i, ad[i].msg);
    CHECK_EQ(ad[i].failures, 0);
  }
  CHECK_STILL_WORKS(a);
  orcjit_library_release(a);
  orcjit_library_release(b);
  orcjit_session_release(s);
  alarm(0);
}

/* ---- archive members pulled through a link order -------------------------- */

void ojt_case_archive_linked(void) {
  orcjit_session *s = ojt_new_session();
  ojt_step("z holds libojarch.a; x links z and adds arch_user.o");
  orcjit_library *z = ojt_new_library(s, "arch_z");
  REQUIRE_OK(orcjit_library_add_file(z, ojt_obj("libojarch.a")));
  orcjit_library *x = ojt_new_library(s, "arch_x");
  REQUIRE_OK(orcjit_library_set_link_order(x, &z, 1));
  CHECK_OK(orcjit_library_add_file(x, ojt_obj("arch_user.o")));
  /* (x + 11) + (x + 33) */
  CHECK_EQ(OJT_GETCALL1(x, "arch_user", 1), 46);
  /* The members went into z (as z's own lookup would have put them), not x. */
  void *p = NULL;
  CHECK_OK(orcjit_library_lookup(z, "oj_arch_a", &p));
  CHECK_OK(orcjit_library_lookup(z, "oj_arch_b", &p));
  CHECK_STATUS(orcjit_library_lookup(x, "oj_arch_a", &p), ORCJIT_ENOTFOUND);

  ojt_step("a second library linking z uses the members already linked");
  orcjit_library *y = ojt_new_library(s, "arch_y");
  REQUIRE_OK(orcjit_library_set_link_order(y, &z, 1));
  CHECK_OK(orcjit_library_add_file(y, ojt_obj("arch_user.o")));
  CHECK_EQ(OJT_GETCALL1(y, "arch_user", 2), 48);

  ojt_step("the same through add_many");
  orcjit_library *w = ojt_new_library(s, "arch_w");
  orcjit_library *z2 = ojt_new_library(s, "arch_z2");
  REQUIRE_OK(orcjit_library_add_file(z2, ojt_obj("libojarch.a")));
  REQUIRE_OK(orcjit_library_set_link_order(w, &z2, 1));
  orcjit_input in[2];
  memset(in, 0, sizeof in);
  in[0].path = ojt_obj("arch_user.o");
  in[1].path = ojt_obj("add.o");
  CHECK_OK(orcjit_library_add_many(w, in, 2));
  CHECK_EQ(OJT_GETCALL1(w, "arch_user", 3), 50);

  ojt_step("a symbol defined by no member still fails, naming it");
  orcjit_library *v = ojt_new_library(s, "arch_v");
  orcjit_library *empty = ojt_new_library(s, "arch_empty");
  REQUIRE_OK(orcjit_library_set_link_order(v, &empty, 1));
  CHECK_STATUS(orcjit_library_add_file(v, ojt_obj("arch_user.o")), ORCJIT_EUNRESOLVED);
  CHECK_MSG("oj_arch_");
  orcjit_library *libs[] = {x, y, z, w, z2, v, empty};
  for (size_t i = 0; i < sizeof libs / sizeof libs[0]; i++) orcjit_library_release(libs[i]);
  orcjit_session_release(s);
}

/* ---- releasing a deep chain ------------------------------------------------ */

static void *deep_release_main(void *arg) {
  orcjit_library_release(arg);
  return NULL;
}

void ojt_case_deep_release(void) {
  enum { N = 30000 };
  orcjit_session *s = ojt_new_session();
  int sum0 = atomic_load(&ojt_host_note_sum);
  ojt_step("a chain of %d libraries, each linking the previous one", N);
  orcjit_library *prev = ojt_new_library(s, "deep_bottom");
  REQUIRE_OK(orcjit_library_add_file(prev, ojt_obj("ctor_host.o")));
  CHECK_EQ(atomic_load(&ojt_host_note_sum) - sum0, 1);
  for (int i = 1; i < N; i++) {
    orcjit_library *lib = NULL;
    REQUIRE_OK(orcjit_library_create(s, NULL, &lib));
    REQUIRE_OK(orcjit_library_set_link_order(lib, &prev, 1));
    orcjit_library_release(prev); /* kept alive by lib's link order */
    prev = lib;
  }
  CHECK_EQ(atomic_load(&ojt_host_note_sum) - sum0, 1);
  ojt_step("release the head on a thread with a 512 KiB stack");
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 512 << 10);
  pthread_t t;
  REQUIRE(pthread_create(&t, &attr, deep_release_main, prev) == 0);
  pthread_join(t, NULL);
  pthread_attr_destroy(&attr);
  /* the bottom library's destructor ran: the whole chain is gone */
  CHECK_EQ(atomic_load(&ojt_host_note_sum) - sum0, 0);
  orcjit_library *again = ojt_new_library(s, "deep_bottom");
  orcjit_library_release(again);
  orcjit_session_release(s);
}

/* ---- link-order cycles ------------------------------------------------------- */

/* A library holding ctor_host.o: +1 on the host's note sum while it lives. */
static orcjit_library *noted_library(orcjit_session *s, const char *name) {
  orcjit_library *lib = ojt_new_library(s, name);
  REQUIRE_OK(orcjit_library_add_file(lib, ojt_obj("ctor_host.o")));
  return lib;
}

static void link2(orcjit_library *from, orcjit_library *to) {
  REQUIRE_OK(orcjit_library_set_link_order(from, &to, 1));
}

#define LIVE() (atomic_load(&ojt_host_note_sum) - sum0)

void ojt_case_link_cycles(void) {
  orcjit_session *s = ojt_new_session();
  int sum0 = atomic_load(&ojt_host_note_sum);

  ojt_step("a <-> b");
  orcjit_library *a = noted_library(s, "cyc_a"), *b = noted_library(s, "cyc_b");
  link2(a, b);
  link2(b, a);
  CHECK_EQ(LIVE(), 2);
  orcjit_library_release(a);
  CHECK_EQ(LIVE(), 2); /* b still has its handle, and links a */
  CHECK_EQ(OJT_GETCALL1(b, "ctor_host", 5), 5);
  orcjit_library_release(b);
  CHECK_EQ(LIVE(), 0);
  /* the names are free again */
  a = noted_library(s, "cyc_a");
  b = noted_library(s, "cyc_b");
  orcjit_library_release(a);
  orcjit_library_release(b);
  CHECK_EQ(LIVE(), 0);

  ojt_step("self cycle");
  orcjit_library *c = noted_library(s, "cyc_self");
  link2(c, c);
  orcjit_library_release(c);
  CHECK_EQ(LIVE(), 0);

  ojt_step("x -> y -> z -> x, released in every order");
  static const int orders[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2},
                                   {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
  for (int o = 0; o < 6; o++) {
    orcjit_library *v[3] = {noted_library(s, "cyc_x"), noted_library(s, "cyc_y"),
                            noted_library(s, "cyc_z")};
    for (int i = 0; i < 3; i++) link2(v[i], v[(i + 1) % 3]);
    orcjit_library_release(v[orders[o][0]]);
    orcjit_library_release(v[orders[o][1]]);
    CHECK_EQ(LIVE(), 3);
    orcjit_library_release(v[orders[o][2]]);
    CHECK_EQ(LIVE(), 0);
  }

  ojt_step("p <-> q held by h: stays until h goes");
  orcjit_library *p = noted_library(s, "cyc_p"), *q = noted_library(s, "cyc_q");
  orcjit_library *h = noted_library(s, "cyc_h");
  link2(p, q);
  link2(q, p);
  link2(h, p);
  orcjit_library_release(p);
  orcjit_library_release(q);
  CHECK_EQ(LIVE(), 3);
  orcjit_library_release(h);
  CHECK_EQ(LIVE(), 0);

  ojt_step("p <-> q held by a Function of p");
  p = noted_library(s, "cyc_p");
  q = noted_library(s, "cyc_q");
  link2(p, q);
  link2(q, p);
  void *fn = NULL;
  REQUIRE_OK(orcjit_library_get_ffi_function(p, "ctor_host", &fn));
  orcjit_library_release(q);
  orcjit_library_release(p);
  CHECK_EQ(LIVE(), 2);
  TVMFFIAny arg = ojt_int(9), res;
  memset(&res, 0, sizeof res);
  CHECK_EQ(TVMFFIFunctionCall(fn, &arg, 1, &res), 0);
  CHECK_EQ(res.v_int64, 9);
  TVMFFIObjectDecRef(fn);
  CHECK_EQ(LIVE(), 0);

  ojt_step("two cycles linked by a chain: (a1 <-> a2) -> m -> (b1 <-> b2)");
  orcjit_library *a1 = noted_library(s, "cyc_a1"), *a2 = noted_library(s, "cyc_a2");
  orcjit_library *m = noted_library(s, "cyc_m");
  orcjit_library *b1 = noted_library(s, "cyc_b1"), *b2 = noted_library(s, "cyc_b2");
  link2(a1, a2);
  link2(b1, b2);
  link2(b2, b1);
  orcjit_library *a2links[2] = {a1, m};
  REQUIRE_OK(orcjit_library_set_link_order(a2, a2links, 2));
  link2(m, b1);
  orcjit_library_release(b1);
  orcjit_library_release(b2);
  orcjit_library_release(m);
  CHECK_EQ(LIVE(), 5);
  orcjit_library_release(a1);
  CHECK_EQ(LIVE(), 5);
  orcjit_library_release(a2);
  CHECK_EQ(LIVE(), 0);

  ojt_step("2,000 dropped pairs");
  long rss0 = 0;
  for (int round = 0; round < 2200; round++) {
    if (round == 200) rss0 = ojt_rss_kib(); /* after a warm-up */
    a = noted_library(s, "pair_a");
    b = noted_library(s, "pair_b");
    link2(a, b);
    link2(b, a);
    orcjit_library_release(a);
    orcjit_library_release(b);
  }
  long grown = ojt_rss_kib() - rss0;
  printf("link_cycles: 2,000 dropped pairs: %ld KiB more resident\n", grown);
  CHECK_EQ(LIVE(), 0);
  CHECK(OJT_ASAN || grown < 8 * 1024);
  orcjit_session_release(s);
}

/* ---- fork ---------------------------------------------------------------------- */

static atomic_int fork_stop;

static char fork_loader_path[4096];

static void *fork_loader_main(void *arg) {
  orcjit_session *s = arg;
  while (!atomic_load(&fork_stop)) {
    orcjit_library *lib = NULL;
    if (orcjit_library_create(s, NULL, &lib) != ORCJIT_OK) continue;
    orcjit_library_add_file(lib, fork_loader_path);
    orcjit_library_release(lib);
  }
  return NULL;
}

/* In a child: one load into s and a call; the exit status says what failed. */
static int fork_child_load(orcjit_session *s) {
  orcjit_library *lib = NULL;
  if (orcjit_library_create(s, NULL, &lib) != ORCJIT_OK) return 2;
  if (orcjit_library_add_file(lib, ojt_obj("probe0.o")) != ORCJIT_OK) return 3;
  void *fn = NULL;
  if (orcjit_library_get_function(lib, "probe0", &fn) != ORCJIT_OK) return 4;
  orcjit_library_release(lib);
  return 0;
}

void ojt_case_fork_load(void) {
  ojt_skip_if_emulated(OJT_EMULATED_FORK);
  orcjit_session *s = ojt_new_session();
  pthread_t t;
  atomic_store(&fork_stop, 0);
  snprintf(fork_loader_path, sizeof fork_loader_path, "%s", ojt_obj("add.o"));
  REQUIRE(pthread_create(&t, NULL, fork_loader_main, s) == 0);
  int ok = 0;
  for (int i = 0; i < 40; i++) {
    ojt_step("fork %d", i);
    usleep(2000 + 500 * (i % 7));
    fflush(NULL);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      alarm(10); /* a hang ends the child with SIGALRM */
      _exit(fork_child_load(s));
    }
    int st = 0;
    /* The child's own alarm ends a hang in its code (a lock it inherited
    ** waits in a system call, which SIGALRM interrupts); one that outlives
    ** it by far is killed here, so that the case fails instead of hanging
    ** (under qemu-user such children were seen: OJT_EMULATED_FORK). */
    int waited = 0;
    pid_t w;
    while ((w = waitpid(pid, &st, WNOHANG)) == 0 && waited < 600) {
      usleep(100000);
      waited++;
    }
    if (w == 0) {
      kill(pid, SIGKILL);
      REQUIRE(waitpid(pid, &st, 0) == pid);
      fprintf(stderr, "fork %d: child stuck for 60 s, past its 10 s alarm: killed\n", i);
      continue;
    }
    REQUIRE(w == pid);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
      ok++;
    else
      fprintf(stderr, "fork %d: child %s %d\n", i, WIFSIGNALED(st) ? "killed by signal" : "exited",
              WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
  }
  atomic_store(&fork_stop, 1);
  pthread_join(t, NULL);
  CHECK_EQ(ok, 40);
  CHECK_STILL_WORKS(ojt_new_library(s, "after_forks"));
  orcjit_session_release(s);
}

void ojt_case_fork_in_ctor(void) {
  ojt_skip_if_emulated(OJT_EMULATED_FORK);
  orcjit_session *s = ojt_new_session();
  orcjit_library *lib = ojt_new_library(s, "forker");
  fflush(NULL);
  pid_t parent = getpid();
  int rc = orcjit_library_add_file(lib, ojt_obj("fork_ctor.o"));
  if (getpid() != parent) {
    /* the child: the add went on and finished; the session is unusable */
    alarm(10);
    if (rc != ORCJIT_OK) _exit(2);
    orcjit_library *other = NULL;
    if (orcjit_library_create(s, NULL, &other) != ORCJIT_EINVAL) _exit(3);
    if (!strstr(orcjit_last_error(), "fork()")) _exit(4);
    void *p = NULL;
    if (orcjit_library_lookup(lib, "oj_fork_ctor_pid", &p) != ORCJIT_EINVAL) _exit(5);
    /* a new session works */
    orcjit_session *s2 = NULL;
    if (orcjit_session_create(NULL, &s2) != ORCJIT_OK) _exit(6);
    _exit(fork_child_load(s2) == 0 ? 0 : 7);
  }
  REQUIRE_OK(rc);
  void *pidp = NULL;
  REQUIRE_OK(orcjit_library_lookup(lib, "oj_fork_ctor_pid", &pidp));
  pid_t pid = *(int *)pidp;
  REQUIRE(pid > 0);
  int st = 0;
  REQUIRE(waitpid(pid, &st, 0) == pid);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
    fprintf(stderr, "child: %s %d\n", WIFSIGNALED(st) ? "killed by signal" : "exited",
            WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  /* the parent's session carries on */
  CHECK_STILL_WORKS(lib);
  orcjit_library_release(lib);
  orcjit_session_release(s);
}
