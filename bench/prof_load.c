/*
** prof_load.c: a load loop for profilers (bench/profile.sh runs it under
** callgrind and perf).  Not a benchmark: it prints nothing but a count.
**
** Usage: prof_load OBJ N [LIVE [FUNC]]
**   Creates a session, loads OBJ LIVE times and keeps those libraries (0 if
**   absent), does 20 warm-up loads, then N loads of OBJ (create a library,
**   add the file, get __tvm_ffi_FUNC (default add), call it with (1, 2) or
**   (1), release).  Under callgrind
**   only the N loads are measured (the collection is switched on around
**   them), so instruction counts per load are total / N.
*/
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tvm/ffi/c_api.h>
#include <tvm_ffi_orcjit/orcjit.h>

#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#endif
#endif
#ifndef CALLGRIND_START_INSTRUMENTATION
#define CALLGRIND_START_INSTRUMENTATION
#define CALLGRIND_STOP_INSTRUMENTATION
#define CALLGRIND_ZERO_STATS
#endif

typedef int (*safe_call)(void *, const TVMFFIAny *, int32_t, TVMFFIAny *);

static const char *func = "add";

static orcjit_library *load(orcjit_session *s, const char *obj) {
  orcjit_library *lib = NULL;
  void *fn = NULL;
  if (orcjit_library_create(s, NULL, &lib) != ORCJIT_OK ||
      orcjit_library_add_file(lib, obj) != ORCJIT_OK ||
      orcjit_library_get_function(lib, func, &fn) != ORCJIT_OK) {
    fprintf(stderr, "prof_load: %s\n", orcjit_last_error());
    exit(1);
  }
  TVMFFIAny args[2], res;
  memset(args, 0, sizeof args);
  memset(&res, 0, sizeof res);
  args[0].type_index = args[1].type_index = kTVMFFIInt;
  args[0].v_int64 = 1;
  args[1].v_int64 = 2;
  int bad = ((safe_call)fn)(NULL, args, strcmp(func, "add") ? 1 : 2, &res) != 0 ||
            res.type_index != kTVMFFIInt || (!strcmp(func, "add") && res.v_int64 != 3);
  if (bad) {
    fprintf(stderr, "prof_load: wrong answer\n");
    exit(1);
  }
  return lib;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: prof_load OBJ N [LIVE [FUNC]]\n");
    return 2;
  }
  const char *obj = argv[1];
  int n = atoi(argv[2]), live = argc > 3 ? atoi(argv[3]) : 0;
  if (argc > 4) func = argv[4];
  orcjit_session *s = NULL;
  if (orcjit_session_create(NULL, &s) != ORCJIT_OK) {
    fprintf(stderr, "prof_load: %s\n", orcjit_last_error());
    return 1;
  }
  orcjit_library **keep = calloc((size_t)(live > 0 ? live : 1), sizeof *keep);
  for (int i = 0; i < live; i++) keep[i] = load(s, obj);
  for (int i = 0; i < 20; i++) orcjit_library_release(load(s, obj));
  CALLGRIND_ZERO_STATS;
  CALLGRIND_START_INSTRUMENTATION;
  double *t = calloc((size_t)(n > 0 ? n : 1), sizeof *t);
  for (int i = 0; i < n; i++) {
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    orcjit_library *lib = load(s, obj);
    clock_gettime(CLOCK_MONOTONIC, &b);
    t[i] = (double)(b.tv_sec - a.tv_sec) * 1e6 + (double)(b.tv_nsec - a.tv_nsec) * 1e-3;
    orcjit_library_release(lib);
  }
  CALLGRIND_STOP_INSTRUMENTATION;
  qsort(t, (size_t)n, sizeof *t, cmp_double);
  for (int i = 0; i < live; i++) orcjit_library_release(keep[i]);
  free(keep);
  orcjit_session_release(s);
  printf("%d loads, median %.1f us (load, add, get function, call)\n", n, n > 0 ? t[n / 2] : 0.0);
  free(t);
  return 0;
}
