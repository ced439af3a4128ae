/*
** cycles.c: link-order cycles under ThreadSanitizer (its deadlock detector
** reports any lock-order inversion, even one that did not hang this run).
**
**   cycles ITERATIONS OBJDIR
**
** OBJDIR holds loop_obj0.o .. loop_obj7.o and weakrefs.o.  Two shared
** libraries g0 <-> g1 form a cycle.  NTHREADS threads each, per iteration:
**   - make a pair a <-> b of their own, a also linking g0 or g1, add an
**     object into each, look up and call through them, release them
**     (the pair is garbage then: freed by the cycle collection), sometimes
**     keeping b for the next iteration;
**   - add weakrefs.o (64 weak references, searched through the link order)
**     into g0 or g1 while the other threads do the same (EBUSY allowed);
**   - call into g0 and g1, reset g0's link order, retain/release g1.
** At the end g0 and g1 are released: their names must be free again.
*/
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tvm/ffi/c_api.h>

#include "tvm_ffi_orcjit/orcjit.h"

#define NTHREADS 6

typedef int (*safe_call)(void *, const TVMFFIAny *, int32_t, TVMFFIAny *);

static const char *g_dir;
static long g_iters;
static orcjit_session *g_s;
static orcjit_library *g_lib[2];
static atomic_int g_failures;
static pthread_barrier_t g_barrier;

static void fail(int t, long i, const char *what, int st) {
  fprintf(stderr, "cycles: thread %d iteration %ld: %s: %s: %s\n", t, i, what,
          orcjit_status_name(st), orcjit_last_error());
  atomic_fetch_add(&g_failures, 1);
}

static void path_of(char *buf, size_t n, const char *name) { snprintf(buf, n, "%s/%s", g_dir, name); }

static int call_add(orcjit_library *lib, int id, int64_t *out) {
  char fn[32];
  void *p = NULL;
  TVMFFIAny args[2], res;
  int st;
  snprintf(fn, sizeof fn, "loop_add%d", id);
  if ((st = orcjit_library_get_function(lib, fn, &p)) != ORCJIT_OK) return st;
  memset(args, 0, sizeof args);
  memset(&res, 0, sizeof res);
  args[0].type_index = kTVMFFIInt, args[0].v_int64 = 1;
  args[1].type_index = kTVMFFIInt, args[1].v_int64 = 2;
  if (((safe_call)p)(NULL, args, 2, &res) != 0) return -1;
  *out = res.v_int64;
  return ORCJIT_OK;
}

static void *worker(void *arg) {
  int t = (int)(intptr_t)arg;
  char path[4096], weak[4096];
  orcjit_library *kept = NULL;
  int64_t v;
  int st;
  path_of(weak, sizeof weak, "weakrefs.o");
  pthread_barrier_wait(&g_barrier);
  for (long i = 0; i < g_iters; i++) {
    orcjit_library *a = NULL, *b = NULL, *g = g_lib[(t + i) & 1];
    if ((st = orcjit_library_create(g_s, NULL, &a)) != ORCJIT_OK ||
        (st = orcjit_library_create(g_s, NULL, &b)) != ORCJIT_OK) {
      fail(t, i, "create", st);
      orcjit_library_release(a);
      continue;
    }
    orcjit_library *alinks[3] = {b, g, kept ? kept : g};
    if ((st = orcjit_library_set_link_order(a, alinks, 3)) != ORCJIT_OK)
      fail(t, i, "set_link_order a", st);
    if ((st = orcjit_library_set_link_order(b, &a, 1)) != ORCJIT_OK)
      fail(t, i, "set_link_order b", st);
    int ida = (t + (int)i) % 6 + 2, idb = (ida + 1) % 6 + 2;
    char pb[4096];
    snprintf(pb, sizeof pb, "%s/loop_obj%d.o", g_dir, idb);
    snprintf(path, sizeof path, "%s/loop_obj%d.o", g_dir, ida);
    if ((st = orcjit_library_add_file(b, pb)) != ORCJIT_OK) fail(t, i, "add b", st);
    if ((st = orcjit_library_add_file(a, path)) != ORCJIT_OK) fail(t, i, "add a", st);
    if ((st = call_add(a, ida, &v)) != ORCJIT_OK || v != 1003) fail(t, i, "call a", st);
    if ((st = call_add(b, idb, &v)) != ORCJIT_OK || v != 1003) fail(t, i, "call b", st);
    /* adds into the shared cycle, racing the other threads */
    st = orcjit_library_add_file(g, weak);
    if (st != ORCJIT_OK && st != ORCJIT_EBUSY) fail(t, i, "add into g", st);
    if ((st = call_add(g_lib[0], 0, &v)) != ORCJIT_OK || v != 1003) fail(t, i, "call g0", st);
    if ((st = call_add(g_lib[1], 1, &v)) != ORCJIT_OK || v != 1003) fail(t, i, "call g1", st);
    if (i % 4 == 0) {
      if ((st = orcjit_library_set_link_order(g_lib[0], &g_lib[1], 1)) != ORCJIT_OK)
        fail(t, i, "set_link_order g0", st);
      orcjit_library_retain(g_lib[1]);
      orcjit_library_release(g_lib[1]);
    }
    orcjit_library_release(a);
    if (i % 3 == 0) {
      orcjit_library_release(kept);
      kept = b; /* held by nothing but this thread (a is gone) */
    } else {
      orcjit_library_release(b);
    }
  }
  orcjit_library_release(kept);
  return NULL;
}

int main(int argc, char **argv) {
  char path[4096];
  int st;
  if (argc < 3) {
    fprintf(stderr, "usage: cycles ITERATIONS OBJDIR\n");
    return 2;
  }
  g_iters = atol(argv[1]);
  g_dir = argv[2];
  if ((st = orcjit_session_create(NULL, &g_s)) != ORCJIT_OK) {
    fprintf(stderr, "cycles: setup: %s\n", orcjit_last_error());
    return 1;
  }
  for (int k = 0; k < 2; k++) {
    char name[8];
    snprintf(name, sizeof name, "g%d", k);
    snprintf(path, sizeof path, "%s/loop_obj%d.o", g_dir, k);
    if ((st = orcjit_library_create(g_s, name, &g_lib[k])) != ORCJIT_OK ||
        (st = orcjit_library_add_file(g_lib[k], path)) != ORCJIT_OK) {
      fprintf(stderr, "cycles: setup: %s\n", orcjit_last_error());
      return 1;
    }
  }
  orcjit_library_set_link_order(g_lib[0], &g_lib[1], 1);
  orcjit_library_set_link_order(g_lib[1], &g_lib[0], 1);
  pthread_t th[NTHREADS];
  pthread_barrier_init(&g_barrier, NULL, NTHREADS);
  for (int t = 0; t < NTHREADS; t++) pthread_create(&th[t], NULL, worker, (void *)(intptr_t)t);
  for (int t = 0; t < NTHREADS; t++) pthread_join(th[t], NULL);
  pthread_barrier_destroy(&g_barrier);
  orcjit_library_release(g_lib[0]);
  orcjit_library_release(g_lib[1]);
  /* the cycle is gone: its names are free */
  orcjit_library *again = NULL;
  if ((st = orcjit_library_create(g_s, "g0", &again)) != ORCJIT_OK) fail(-1, -1, "reuse g0", st);
  orcjit_library_release(again);
  orcjit_session_release(g_s);
  printf("cycles: %d threads x %ld iterations, %d failure(s)\n", NTHREADS, g_iters,
         atomic_load(&g_failures));
  return atomic_load(&g_failures) ? 1 : 0;
}
