/*
** stress.c: threads loading, calling and releasing libraries, for
** ThreadSanitizer (tests/sanitize/run.sh builds it with -fsanitize=thread
** against a TSan build of the library).
**
**   stress ITERATIONS OBJDIR
**
** OBJDIR holds loop_obj0.o .. loop_obj7.o (loop_obj.c with LOOP_ID=0..7).
**   - 8 "shared" threads on one session: each iteration creates a library,
**     adds loop_obj<t>.o (from a file or from memory), looks up and calls
**     its function, calls the long-lived library made by main (while other
**     threads load and release), and releases its library; every 8th
**     iteration it also retains and releases the long-lived library;
**   - at the start, the 8 shared threads all add their object into one
**     common library at once (ORCJIT_EBUSY is allowed and retried);
**   - 2 "private" threads, each with its own session, do the same loop;
**   - the last error is checked to be per thread.
** Every failure prints the thread, the iteration and the error; the exit
** status is 0 only if every thread finished without one.
*/
#define _GNU_SOURCE /* pthread_barrier_t under -std=c11 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tvm/ffi/c_api.h>

#include "tvm_ffi_orcjit/orcjit.h"

#define NSHARED 8
#define NPRIVATE 2

typedef int (*safe_call)(void *, const TVMFFIAny *, int32_t, TVMFFIAny *);

static const char *g_dir;
static long g_iters;
static orcjit_session *g_session;
static orcjit_library *g_long;   /* loop_obj0.o, lives for the whole run */
static orcjit_library *g_common; /* every shared thread adds into it */
static pthread_barrier_t g_barrier;
static atomic_int g_failures;
static unsigned char *g_bytes[NSHARED];
static size_t g_sizes[NSHARED];

static void fail(int t, long i, const char *what, int st) {
  fprintf(stderr, "stress: thread %d iteration %ld: %s: %s: %s\n", t, i, what,
          orcjit_status_name(st), orcjit_last_error());
  atomic_fetch_add(&g_failures, 1);
}

static void obj_path(char *buf, size_t n, int id) {
  snprintf(buf, n, "%s/loop_obj%d.o", g_dir, id);
}

static int call_add(orcjit_library *lib, int id, int64_t a, int64_t b, int64_t *out) {
  char fn[32];
  void *p = NULL;
  TVMFFIAny args[2], res;
  int st;
  snprintf(fn, sizeof fn, "loop_add%d", id);
  if ((st = orcjit_library_get_function(lib, fn, &p)) != ORCJIT_OK) return st;
  memset(args, 0, sizeof args);
  memset(&res, 0, sizeof res);
  args[0].type_index = kTVMFFIInt, args[0].v_int64 = a;
  args[1].type_index = kTVMFFIInt, args[1].v_int64 = b;
  if (((safe_call)p)(NULL, args, 2, &res) != 0) return -1;
  *out = res.v_int64;
  return ORCJIT_OK;
}

/* One load/call/release round into session s; returns 0 on success. */
static int round_trip(orcjit_session *s, int t, int id, long i) {
  orcjit_library *lib = NULL;
  char path[4096];
  void *addr = NULL;
  int64_t v = 0;
  int st;
  if ((st = orcjit_library_create(s, NULL, &lib)) != ORCJIT_OK)
    return fail(t, i, "library_create", st), 1;
  obj_path(path, sizeof path, id);
  st = (i & 1) ? orcjit_library_add_memory(lib, g_bytes[id], g_sizes[id], path)
               : orcjit_library_add_file(lib, path);
  if (st != ORCJIT_OK) {
    fail(t, i, "add", st);
    orcjit_library_release(lib);
    return 1;
  }
  char sym[32];
  snprintf(sym, sizeof sym, "loop_state%d", id);
  if ((st = orcjit_library_lookup(lib, sym, &addr)) != ORCJIT_OK || !addr ||
      *(int *)addr != 1000)
    fail(t, i, "lookup loop_state", st);
  if ((st = call_add(lib, id, t, i, &v)) != ORCJIT_OK || v != t + i + 1000)
    fail(t, i, "call own library", st);
  /* Not exported: must fail with ENOTFOUND, and the message is ours. */
  st = orcjit_library_get_function(lib, "no_such_function", &addr);
  if (st != ORCJIT_ENOTFOUND || !strstr(orcjit_last_error(), "no_such_function"))
    fail(t, i, "missing function", st);
  orcjit_library_release(lib);
  return 0;
}

static void *shared_main(void *arg) {
  int t = (int)(intptr_t)arg;
  char path[4096];
  int st, tries = 0;
  int64_t v;
  pthread_barrier_wait(&g_barrier);
  /* All shared threads add into the common library at once. */
  obj_path(path, sizeof path, t);
  while ((st = orcjit_library_add_file(g_common, path)) == ORCJIT_EBUSY) {
    if (++tries > 1000000) break;
    sched_yield();
  }
  if (st != ORCJIT_OK) fail(t, -1, "add into the common library", st);
  for (long i = 0; i < g_iters; i++) {
    round_trip(g_session, t, t, i);
    if ((st = call_add(g_long, 0, 1, 2, &v)) != ORCJIT_OK || v != 1003)
      fail(t, i, "call the long-lived library", st);
    if (i % 8 == 0) {
      orcjit_library_retain(g_long);
      orcjit_library_release(g_long);
    }
  }
  if ((st = call_add(g_common, t, 0, 0, &v)) != ORCJIT_OK || v != 1000)
    fail(t, -1, "call into the common library", st);
  return NULL;
}

static void *private_main(void *arg) {
  int t = (int)(intptr_t)arg;
  orcjit_session *s = NULL;
  int st;
  if ((st = orcjit_session_create(NULL, &s)) != ORCJIT_OK)
    return fail(t, -1, "session_create", st), NULL;
  pthread_barrier_wait(&g_barrier);
  for (long i = 0; i < g_iters; i++) round_trip(s, t, t % NSHARED, i);
  orcjit_session_release(s);
  return NULL;
}

static unsigned char *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  long sz;
  unsigned char *b;
  if (!f || fseek(f, 0, SEEK_END) || (sz = ftell(f)) < 0 || fseek(f, 0, SEEK_SET))
    return NULL;
  b = malloc((size_t)sz + 1);
  if (b && fread(b, 1, (size_t)sz, f) != (size_t)sz) free(b), b = NULL;
  fclose(f);
  *n = (size_t)sz;
  return b;
}

int main(int argc, char **argv) {
  pthread_t th[NSHARED + NPRIVATE];
  char path[4096];
  int st;
  if (argc < 3) {
    fprintf(stderr, "usage: stress ITERATIONS OBJDIR\n");
    return 2;
  }
  g_iters = atol(argv[1]);
  g_dir = argv[2];
  for (int i = 0; i < NSHARED; i++) {
    obj_path(path, sizeof path, i);
    if (!(g_bytes[i] = slurp(path, &g_sizes[i]))) {
      perror(path);
      return 2;
    }
  }
  if ((st = orcjit_session_create(NULL, &g_session)) != ORCJIT_OK ||
      (st = orcjit_library_create(g_session, "long", &g_long)) != ORCJIT_OK ||
      (st = orcjit_library_create(g_session, "common", &g_common)) != ORCJIT_OK) {
    fprintf(stderr, "stress: setup: %s\n", orcjit_last_error());
    return 1;
  }
  obj_path(path, sizeof path, 0);
  if ((st = orcjit_library_add_file(g_long, path)) != ORCJIT_OK) {
    fprintf(stderr, "stress: setup add: %s\n", orcjit_last_error());
    return 1;
  }
  pthread_barrier_init(&g_barrier, NULL, NSHARED + NPRIVATE);
  for (int t = 0; t < NSHARED; t++)
    pthread_create(&th[t], NULL, shared_main, (void *)(intptr_t)t);
  for (int t = NSHARED; t < NSHARED + NPRIVATE; t++)
    pthread_create(&th[t], NULL, private_main, (void *)(intptr_t)t);
  for (int t = 0; t < NSHARED + NPRIVATE; t++) pthread_join(th[t], NULL);
  pthread_barrier_destroy(&g_barrier);
  orcjit_library_release(g_common);
  orcjit_library_release(g_long);
  orcjit_session_release(g_session);
  for (int i = 0; i < NSHARED; i++) free(g_bytes[i]);
  printf("stress: %d threads x %ld iterations, %d failure(s)\n", NSHARED + NPRIVATE,
         g_iters, atomic_load(&g_failures));
  return atomic_load(&g_failures) ? 1 : 0;
}
