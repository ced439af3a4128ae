/*
** test_vmem.c: JIT memory at scale and under limits (src/oj_vmem.c,
** glue/oj_memmgr.cc): cases big_objects, clear_count, rlimit_as.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "oj_test.h"

/* A library of the objects named (NULL-terminated), or NULL with the
** status in *rc and the message captured. */
static orcjit_library *load_objs(orcjit_session *s, int *rc, const char *const *names) {
  orcjit_library *lib = ojt_new_library(s, "");
  for (; *names; names++) {
    *rc = orcjit_library_add_file(lib, ojt_obj(*names));
    ojt_capture();
    if (*rc != ORCJIT_OK) {
      orcjit_library_release(lib);
      return NULL;
    }
  }
  return lib;
}

#define LOAD(s, rc, ...) load_objs((s), (rc), (const char *const[]){__VA_ARGS__, NULL})

static void *sym(orcjit_library *lib, const char *name) {
  void *p = NULL;
  REQUIRE_OK(orcjit_library_lookup(lib, name, &p));
  return p;
}

/* The array of a bss_sized.c object is as large as built, zero, and
** writable at its first and last byte. */
static void check_bss(orcjit_library *lib, long mib) {
  long size = ((long (*)(void))sym(lib, "oj_bss_size"))();
  int (*swap)(long, int) = (int (*)(long, int))sym(lib, "oj_bss_swap");
  CHECK_EQ(size, mib << 20);
  CHECK_EQ(swap(0, 5), 0);
  CHECK_EQ(swap(0, 6), 5);
  CHECK_EQ(swap(size - 1, 9), 0);
  CHECK_EQ(swap(size - 1, 1), 9);
  CHECK_EQ(swap(size / 2, 3), 0);
}

/* The "(N MiB of it in use)" of a message, or -1. */
static long in_use_mib(const char *msg) {
  const char *p = strstr(msg, " MiB of it in use)");
  if (!p) return -1;
  while (p > msg && p[-1] >= '0' && p[-1] <= '9') p--;
  return atol(p);
}

/* Objects of 200 MiB to 3 GiB (.bss) load in any session after earlier
** loads: address space released by one session serves the others, objects
** that reach nothing outside themselves PC-relatively go anywhere (3 GiB
** too), and those that do are refused with the relocation named when the
** window near libc cannot hold them. */
void ojt_case_big_objects(void) {
  orcjit_session *s1 = ojt_new_session(), *s2 = ojt_new_session();
  int rc;
  size_t regions = 0;

  ojt_step("200 MiB near (PC32 to near_value.o), released");
  orcjit_library *a = LOAD(s1, &rc, "near_value.o", "bss200mnear.o");
  REQUIRE(a);
  CHECK_EQ(((int (*)(void))sym(a, "oj_bss_near"))(), 7);
  check_bss(a, 200);
  orcjit_library_release(a);
  CHECK_OK(orcjit_session_clear_free_slabs(s1, &regions));

  ojt_step("1 GiB near after it, released, then in a second session");
  orcjit_library *b = LOAD(s1, &rc, "near_value.o", "bss1gnear.o");
  REQUIRE(b);
  check_bss(b, 1024);
  orcjit_library_release(b);
  orcjit_library *c = LOAD(s2, &rc, "near_value.o", "bss1gnear.o");
  REQUIRE(c);
  CHECK_EQ(((int (*)(void))sym(c, "oj_bss_near"))(), 7);
  check_bss(c, 1024);

  ojt_step("a second 1 GiB near object while the first lives: refused");
  orcjit_library *d = LOAD(s2, &rc, "near_value.o", "bss1gnear.o");
  CHECK(d == NULL);
  CHECK_EQ(rc, ORCJIT_ELINK);
  CHECK_MSG("bss1gnear.o");
  CHECK_MSG("no address space is free within 2 GiB");
  CHECK_MSG(OJT_R_PC32_NAME);
  CHECK_MSG("'oj_near_value'");
  /* What is in use is the live object, not the span of the window. */
  long used = in_use_mib(ojt_captured_msg());
  printf("big_objects: refused with %ld MiB in use: %s\n", used, ojt_captured_msg());
  CHECK(used >= 1024 && used < 1100);
  if (d) orcjit_library_release(d);

  ojt_step("1 GiB and 3 GiB that reach nothing outside: a region of their own");
  orcjit_library *e = LOAD(s1, &rc, "bss1g.o");
  REQUIRE(e);
  check_bss(e, 1024);
  orcjit_library *f = LOAD(s2, &rc, "bss3g.o");
  REQUIRE(f);
  check_bss(f, 3072);
  orcjit_library_release(f);
  f = LOAD(s1, &rc, "bss3g.o");
  REQUIRE(f);
  check_bss(f, 3072);

  ojt_step("3 GiB with a PC32 to another object: refused, the relocation named");
  orcjit_library *g = LOAD(s1, &rc, "near_value.o", "bss3gnear.o");
  CHECK(g == NULL);
  CHECK_EQ(rc, ORCJIT_ELINK);
  CHECK_MSG("bss3gnear.o");
  CHECK_MSG(OJT_R_PC32_NAME);
  CHECK_MSG("'oj_near_value'");
  if (g) orcjit_library_release(g);

  CHECK_STILL_WORKS(e);
  orcjit_library_release(c);
  orcjit_library_release(e);
  orcjit_library_release(f);
  CHECK_OK(orcjit_session_clear_free_slabs(s1, &regions));
  CHECK(regions >= 1);
  orcjit_session_release(s1);
  orcjit_session_release(s2);
}

/* orcjit_session_clear_free_slabs counts the regions of address space
** given back: a large object's own region, unmapped at its release; a
** wholly free slab of the shared window, unmapped by the call. */
void ojt_case_clear_count(void) {
  orcjit_session *s = ojt_new_session();
  int rc;
  size_t regions = 99;
  CHECK_OK(orcjit_session_clear_free_slabs(s, &regions));
  CHECK_EQ(regions, 0);

  ojt_step("200 MiB .bss (a region of its own), released");
  orcjit_library *lib = LOAD(s, &rc, "bss200m.o");
  REQUIRE(lib);
  check_bss(lib, 200);
  orcjit_library_release(lib);
  CHECK_OK(orcjit_session_clear_free_slabs(s, &regions));
  CHECK_EQ(regions, 1);
  CHECK_OK(orcjit_session_clear_free_slabs(s, &regions));
  CHECK_EQ(regions, 0);

  ojt_step("add.o (the shared window's slab), released");
  lib = LOAD(s, &rc, "add.o");
  REQUIRE(lib);
  CHECK_OK(orcjit_session_clear_free_slabs(s, &regions));
  CHECK_EQ(regions, 0); /* its slab is in use */
  orcjit_library_release(lib);
  CHECK_OK(orcjit_session_clear_free_slabs(s, &regions));
  CHECK_EQ(regions, 1);
  orcjit_session_release(s);
}

/* Address space of this process, in bytes (0 if unknown). */
static long vsize(void) {
  long pages = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f) return 0;
  if (fscanf(f, "%ld", &pages) != 1) pages = 0;
  fclose(f);
  return pages * sysconf(_SC_PAGESIZE);
}

/* Under an address-space limit that leaves 128 MiB (less than the 256 MiB
** slab), a session with default options still loads and runs an object:
** the slab is halved until it fits. */
void ojt_case_rlimit_as(void) {
  fflush(NULL);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    long limit = vsize() + (128L << 20);
    struct rlimit rl = {(rlim_t)limit, (rlim_t)limit};
    if (setrlimit(RLIMIT_AS, &rl) != 0) _exit(3);
    orcjit_session *s = NULL;
    orcjit_library *lib = NULL;
    void *add = NULL;
    if (orcjit_session_create(NULL, &s) != ORCJIT_OK ||
        orcjit_library_create(s, "small", &lib) != ORCJIT_OK ||
        orcjit_library_add_file(lib, ojt_obj("add.o")) != ORCJIT_OK ||
        orcjit_library_get_function(lib, "add", &add) != ORCJIT_OK) {
      fprintf(stderr, "rlimit_as: limit %ld MiB: %s\n", limit >> 20, orcjit_last_error());
      _exit(1);
    }
    int64_t argv[2] = {2, 3}, out = 0;
    int ok = ojt_call(add, 2, argv, &out) == 0 && out == 5;
    orcjit_library_release(lib);
    orcjit_session_release(s);
    _exit(ok ? 0 : 2);
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  CHECK_EQ(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0);
}

/* ---- fork while another thread allocates ---------------------------------- */

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

static atomic_int fork_stop;

static void *fork_loader(void *arg) {
  orcjit_session *s = arg;
  while (!atomic_load(&fork_stop)) {
    orcjit_library *lib = NULL;
    if (orcjit_library_create(s, "", &lib) != ORCJIT_OK) break;
    orcjit_library_add_file(lib, ojt_obj("add.o"));
    orcjit_library_release(lib);
    orcjit_session_clear_free_slabs(s, NULL);
  }
  return NULL;
}

/* JIT memory is the process's, behind one lock: a child forked while
** another thread allocates or frees still loads into a new session (the
** lock is held across fork by an atfork handler). */
void ojt_case_fork_vmem(void) {
  ojt_skip_if_emulated(OJT_EMULATED_FORK);
  orcjit_session *s = ojt_new_session();
  pthread_t t;
  REQUIRE(pthread_create(&t, NULL, fork_loader, s) == 0);
  int bad = 0;
  for (int i = 0; i < 40; i++) {
    usleep(1000 + 500 * (i % 7));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) continue;
    if (pid == 0) {
      alarm(20);
      orcjit_session *c = NULL;
      orcjit_library *lib = NULL;
      void *add = NULL;
      int64_t argv[2] = {2, 3}, out = 0;
      int ok = orcjit_session_create(NULL, &c) == ORCJIT_OK &&
               orcjit_library_create(c, "child", &lib) == ORCJIT_OK &&
               orcjit_library_add_file(lib, ojt_obj("bss200m.o")) == ORCJIT_OK &&
               orcjit_library_add_file(lib, ojt_obj("add.o")) == ORCJIT_OK &&
               orcjit_library_get_function(lib, "add", &add) == ORCJIT_OK &&
               ojt_call(add, 2, argv, &out) == 0 && out == 5;
      _exit(ok ? 0 : 1);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      fprintf(stderr, "fork_vmem: child %d: status %#x\n", i, status);
      bad++;
    }
  }
  atomic_store(&fork_stop, 1);
  pthread_join(t, NULL);
  CHECK_EQ(bad, 0);
  orcjit_session_release(s);
}

/* ---- fork and the pages a child inherits ---------------------------------- */

/* A child keeps running the code it inherited while the parent releases
** that library and loads others into the same pages: the child's copy is
** its own (src/oj_vmview.c copies the shared views in the child), and the
** child can still load, into the inherited session and into a new one. */
void ojt_case_fork_shared_pages(void) {
  ojt_skip_if_emulated(OJT_EMULATED_FORK);
  orcjit_session *s = ojt_new_session();
  int rc;
  orcjit_library *a = LOAD(s, &rc, "add.o");
  REQUIRE(a);
  void *add = NULL;
  CHECK_OK(orcjit_library_get_function(a, "add", &add));
  REQUIRE(add);
  unsigned char before[64];
  memcpy(before, add, sizeof before);
  int to_child[2], to_parent[2];
  REQUIRE(pipe(to_child) == 0 && pipe(to_parent) == 0);
  fflush(NULL);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    alarm(20);
    char go = 0;
    if (read(to_child[0], &go, 1) != 1) _exit(3);
    int64_t argv[2] = {2, 3}, out = 0;
    if (memcmp(add, before, sizeof before) != 0) _exit(4); /* the parent's new code */
    if (ojt_call(add, 2, argv, &out) != 0 || out != 5) _exit(5);
    orcjit_session *c = NULL;
    orcjit_library *l1 = NULL, *l2 = NULL;
    void *f1 = NULL, *f2 = NULL;
    int64_t o1 = 0, o2 = 0;
    int ok = orcjit_library_create(s, "in-child", &l1) == ORCJIT_OK &&
             orcjit_library_add_file(l1, ojt_obj("add.o")) == ORCJIT_OK &&
             orcjit_library_get_function(l1, "add", &f1) == ORCJIT_OK &&
             ojt_call(f1, 2, argv, &o1) == 0 && o1 == 5 &&
             orcjit_session_create(NULL, &c) == ORCJIT_OK &&
             orcjit_library_create(c, "new", &l2) == ORCJIT_OK &&
             orcjit_library_add_file(l2, ojt_obj("add.o")) == ORCJIT_OK &&
             orcjit_library_get_function(l2, "add", &f2) == ORCJIT_OK &&
             ojt_call(f2, 2, argv, &o2) == 0 && o2 == 5;
    _exit(ok ? 0 : 6);
  }
  close(to_child[0]);
  close(to_parent[1]);
  /* Released, and its pages taken by other objects' code. */
  orcjit_library_release(a);
  orcjit_library *others[4] = {NULL};
  int reused = 0;
  for (int i = 0; i < 4; i++) {
    others[i] = LOAD(s, &rc, i % 2 ? "multi_a.o" : "foo.o");
    CHECK(others[i] != NULL);
    reused |= memcmp(add, before, sizeof before) != 0;
  }
  /* Otherwise this case would test nothing. */
  CHECK(reused);
  char go = 1;
  CHECK_EQ(write(to_child[1], &go, 1), 1);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    fprintf(stderr, "fork_shared_pages: child status %#x\n", status);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  close(to_child[1]);
  close(to_parent[0]);
  for (int i = 0; i < 4; i++)
    if (others[i]) orcjit_library_release(others[i]);
  orcjit_session_release(s);
}
