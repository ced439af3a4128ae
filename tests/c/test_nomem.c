/*
** test_nomem.c: running out of memory while loading is ORCJIT_ENOMEM,
** never a crash, and leaves nothing behind.
**   address_limit  for limits from the process's current address-space
**                  size up to 448 MiB above it, in 16 MiB steps, a child
**                  process creates a session, sets RLIMIT_AS (the soft
**                  limit) and adds misc/bigdata.o (32 MiB of data): the add
**                  either works (the data reads back) or fails with
**                  ORCJIT_ENOMEM; so does a small object (add.o) added
**                  under the same limit.  Then the limit is lifted and the
**                  same session must load both (bigdata.o into the library
**                  whose add failed: nothing of the failed add was left in
**                  it).  The steps cross every allocation the load makes
**                  in proportion to the object (the file's bytes, the
**                  rewritten image, LLVM's copy, the JIT memory), so at
**                  least one limit must fail and one must pass.
**                  OJT_LIMIT_STEP_MIB / OJT_LIMIT_MAX_MIB change the sweep.
**   slab_growth    an object larger than the slab, after a small one.
** address_limit does not run under AddressSanitizer: its shadow memory and allocator do not work
** under an address-space limit (they abort rather than fail).
*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "oj_test.h"

#define BIG_MB 32 /* OJ_BIG_MB of bigdata.o (tests/c/CMakeLists.txt) */

/* VmSize of this process in bytes (0 if unknown). */
static size_t ojt_vm_size(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  size_t kib = 0;
  if (!f) return 0;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmSize: %zu kB", &kib) == 1) break;
  fclose(f);
  return kib << 10;
}

/* A size in MiB from the environment (to sweep by hand), or dflt. */
static size_t ojt_env_size(const char *name, size_t dflt) {
  const char *v = getenv(name);
  return v && *v ? (size_t)strtoull(v, NULL, 10) : dflt;
}

static int ojt_set_soft_as(rlim_t soft) {
  struct rlimit r;
  if (getrlimit(RLIMIT_AS, &r) != 0) return -1;
  r.rlim_cur = soft;
  return setrlimit(RLIMIT_AS, &r);
}

/* Loads bigdata.o and add.o under `extra` bytes of address space above
** the current size, then without a limit.  Exit status: 0 ok (stdout
** says which status the big add had), 1 a check failed. */
static void ojt_limit_child(size_t extra) {
  orcjit_session *s = ojt_new_session();
  orcjit_library *big = ojt_new_library(s, "big");
  orcjit_library *small = ojt_new_library(s, "small");
  size_t base = ojt_vm_size();
  REQUIRE(base != 0);
  REQUIRE(ojt_set_soft_as(base + extra) == 0);

  ojt_step("bigdata.o under a limit %zu MiB above %zu MiB", extra >> 20, base >> 20);
  int rc_big = orcjit_library_add_file(big, ojt_misc("bigdata.o"));
  ojt_capture();
  if (rc_big != ORCJIT_OK && rc_big != ORCJIT_ENOMEM)
    ojt_fail_status(__FILE__, __LINE__, "orcjit_library_add_file(big, bigdata.o)", rc_big,
                    OJT_S(ORCJIT_OK) | OJT_S(ORCJIT_ENOMEM));
  if (rc_big == ORCJIT_OK) CHECK_EQ(OJT_GETCALL1(big, "big_get", 2), 3);
  ojt_step("add.o under the same limit");
  int rc_small = orcjit_library_add_file(small, ojt_obj("add.o"));
  ojt_capture();
  if (rc_small != ORCJIT_OK && rc_small != ORCJIT_ENOMEM)
    ojt_fail_status(__FILE__, __LINE__, "orcjit_library_add_file(small, add.o)", rc_small,
                    OJT_S(ORCJIT_OK) | OJT_S(ORCJIT_ENOMEM));

  /* The limit lifted: the session works, and the failed adds left nothing
  ** (a leftover definition would make the second add a duplicate). */
  ojt_step("no limit: the adds again");
  REQUIRE(ojt_set_soft_as(RLIM_INFINITY) == 0);
  if (rc_big != ORCJIT_OK) CHECK_OK(orcjit_library_add_file(big, ojt_misc("bigdata.o")));
  CHECK_EQ(OJT_GETCALL1(big, "big_get", 0), 1);
  if (rc_small != ORCJIT_OK) CHECK_OK(orcjit_library_add_file(small, ojt_obj("add.o")));
  void *add = NULL;
  CHECK_OK(orcjit_library_get_function(small, "add", &add));
  if (add) CHECK_EQ(OJT_CALL2(add, 20, 22), 42);
  orcjit_library_release(big);
  orcjit_library_release(small);
  orcjit_session_release(s);
  printf("limit +%zu MiB: bigdata.o %s, add.o %s\n", extra >> 20,
         orcjit_status_name(rc_big), orcjit_status_name(rc_small));
}

void ojt_case_address_limit(void) {
  if (OJT_ASAN) {
    printf("address_limit: not run under AddressSanitizer\n");
    return;
  }
  ojt_skip_if_emulated("address_limit: RLIMIT_AS is not applied to emulated code");
  int n_ok = 0, n_nomem = 0;
  for (size_t extra = 0; extra <= ojt_env_size("OJT_LIMIT_MAX_MIB", 4 * BIG_MB + 256 + 64) << 20;
       extra += ojt_env_size("OJT_LIMIT_STEP_MIB", 16) << 20) {
    fflush(NULL);
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    int failed_before = ojt_failures_count();
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      close(fds[0]);
      dup2(fds[1], 1);
      ojt_limit_child(extra);
      fflush(NULL);
      _exit(ojt_failures_count() > failed_before ? 1 : 0);
    }
    close(fds[1]);
    char out[512] = "";
    size_t len = 0;
    ssize_t r;
    while ((r = read(fds[0], out + len, sizeof out - 1 - len)) > 0) len += (size_t)r;
    out[len] = '\0';
    close(fds[0]);
    int st = 0;
    REQUIRE(waitpid(pid, &st, 0) == pid);
    fputs(out, stdout);
    if (WIFSIGNALED(st)) {
      char what[128];
      snprintf(what, sizeof what, "child at +%zu MiB killed by signal %d (%s)", extra >> 20,
               WTERMSIG(st), strsignal(WTERMSIG(st)));
      ojt_fail(__FILE__, __LINE__, what);
      continue;
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      char what[128];
      snprintf(what, sizeof what, "child at +%zu MiB: a check failed (exit %d)", extra >> 20,
               WIFEXITED(st) ? WEXITSTATUS(st) : -1);
      ojt_fail(__FILE__, __LINE__, what);
      continue;
    }
    if (strstr(out, "bigdata.o ORCJIT_OK")) n_ok++;
    if (strstr(out, "bigdata.o ORCJIT_ENOMEM")) n_nomem++;
  }
  printf("address_limit: bigdata.o loaded under %d limits, ORCJIT_ENOMEM under %d\n", n_ok,
         n_nomem);
  CHECK(n_ok > 0);
  CHECK(n_nomem > 0);
}

/* An object larger than the session's slab after a small one: the memory
** manager reserves a second slab next to the first, whose window takes in
** libc's (only page-aligned) base; that slab must be chunk-aligned, or the
** object did not fit in it ("internal error: fresh slab too small").
** Found by address_limit's re-load with a 16 MiB slab. */
void ojt_case_slab_growth(void) {
  orcjit_session_options o;
  memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  o.slab_size = (size_t)16 << 20;
  orcjit_session *s = NULL;
  REQUIRE_OK(orcjit_session_create(&o, &s));
  orcjit_library *small = ojt_new_library(s, "small");
  orcjit_library *big = ojt_new_library(s, "big");
  CHECK_OK(orcjit_library_add_file(small, ojt_obj("add.o")));
  CHECK_OK(orcjit_library_add_file(big, ojt_misc("bigdata.o")));
  CHECK_EQ(OJT_GETCALL1(big, "big_get", 1), 2);
  void *add = NULL;
  CHECK_OK(orcjit_library_get_function(small, "add", &add));
  if (add) CHECK_EQ(OJT_CALL2(add, 2, 3), 5);
  orcjit_library_release(big);
  orcjit_library_release(small);
  orcjit_session_release(s);
}
