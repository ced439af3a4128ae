/*
** prof_load.c: load loops for profilers (bench/profile.sh runs them under
** callgrind; perf record works as well).  Not a benchmark: it prints the
** median wall time of the measured operation, nothing else.
**
** Usage:
**   prof_load OBJ N [LIVE [FUNC]]
**     Creates a session, loads OBJ LIVE times and keeps those libraries
**     (default 0), does 20 warm-up loads, then N loads of OBJ: create a
**     library, add the file, get __tvm_ffi_FUNC (default add), call it with
**     (1, 2) or (1), release.  FUNC written -NAME: get __tvm_ffi_NAME, no
**     call (a TVM kernel takes tensors).
**   prof_load --dlopen SO N
**     The reference: N times, SO copied to a fresh file, then dlopen +
**     dlsym(__tvm_ffi_add) of it, dlclose, unlink.
** Under callgrind (valgrind --tool=callgrind --instr-atstart=no) only the N
** measured loads are collected (for --dlopen only dlopen + dlsym), so the
** instruction count per load is the total / N.
*/
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec * 1e-3;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static int nocall;

static void check(void *fn) {
  TVMFFIAny args[2], res;
  memset(args, 0, sizeof args);
  memset(&res, 0, sizeof res);
  args[0].type_index = args[1].type_index = kTVMFFIInt;
  args[0].v_int64 = 1;
  args[1].v_int64 = 2;
  int add = strcmp(func, "add") == 0;
  if (((safe_call)fn)(NULL, args, add ? 2 : 1, &res) != 0 || res.type_index != kTVMFFIInt ||
      (add && res.v_int64 != 3)) {
    fprintf(stderr, "prof_load: wrong answer\n");
    exit(1);
  }
}

static orcjit_library *load(orcjit_session *s, const char *obj) {
  orcjit_library *lib = NULL;
  void *fn = NULL;
  if (orcjit_library_create(s, NULL, &lib) != ORCJIT_OK ||
      orcjit_library_add_file(lib, obj) != ORCJIT_OK ||
      orcjit_library_get_function(lib, func, &fn) != ORCJIT_OK) {
    fprintf(stderr, "prof_load: %s\n", orcjit_last_error());
    exit(1);
  }
  if (!nocall) check(fn);
  return lib;
}

static int run_dlopen(const char *so, int n) {
  FILE *f = fopen(so, "rb");
  if (!f) {
    perror(so);
    return 1;
  }
  static char buf[16 << 20];
  size_t size = fread(buf, 1, sizeof buf, f);
  fclose(f);
  const char *dir = getenv("BENCH_TMP") && *getenv("BENCH_TMP") ? getenv("BENCH_TMP") : "/tmp";
  double *t = calloc((size_t)(n > 0 ? n : 1), sizeof *t);
  char path[4096];
  for (int i = -20; i < n; i++) {
    snprintf(path, sizeof path, "%s/prof_load_%d_%d.so", dir, (int)getpid(), i + 20);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0755);
    if (fd < 0 || write(fd, buf, size) != (ssize_t)size || close(fd) != 0) {
      perror(path);
      return 1;
    }
    double a = now_us();
    if (i >= 0) CALLGRIND_START_INSTRUMENTATION;
    void *h = dlopen(path, RTLD_LAZY | RTLD_LOCAL);
    void *fn = h ? dlsym(h, "__tvm_ffi_add") : NULL;
    CALLGRIND_STOP_INSTRUMENTATION;
    double b = now_us();
    if (!fn) {
      fprintf(stderr, "prof_load: %s\n", dlerror());
      return 1;
    }
    check(fn);
    dlclose(h);
    unlink(path);
    if (i >= 0) t[i] = b - a;
  }
  qsort(t, (size_t)n, sizeof *t, cmp_double);
  printf("%d dlopen+dlsym, median %.1f us\n", n, n > 0 ? t[n / 2] : 0.0);
  free(t);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 4 && strcmp(argv[1], "--dlopen") == 0) return run_dlopen(argv[2], atoi(argv[3]));
  if (argc < 3) {
    fprintf(stderr, "usage: prof_load OBJ N [LIVE [FUNC]] | prof_load --dlopen SO N\n");
    return 2;
  }
  const char *obj = argv[1];
  int n = atoi(argv[2]), live = argc > 3 ? atoi(argv[3]) : 0;
  if (argc > 4) func = argv[4];
  if (func[0] == '-') {
    nocall = 1;
    func++;
  }
  orcjit_session *s = NULL;
  if (orcjit_session_create(NULL, &s) != ORCJIT_OK) {
    fprintf(stderr, "prof_load: %s\n", orcjit_last_error());
    return 1;
  }
  orcjit_library **keep = calloc((size_t)(live > 0 ? live : 1), sizeof *keep);
  for (int i = 0; i < live; i++) keep[i] = load(s, obj);
  for (int i = 0; i < 20; i++) orcjit_library_release(load(s, obj));
  double *t = calloc((size_t)(n > 0 ? n : 1), sizeof *t);
  CALLGRIND_ZERO_STATS;
  CALLGRIND_START_INSTRUMENTATION;
  for (int i = 0; i < n; i++) {
    double a = now_us();
    orcjit_library *lib = load(s, obj);
    t[i] = now_us() - a;
    orcjit_library_release(lib);
  }
  CALLGRIND_STOP_INSTRUMENTATION;
  qsort(t, (size_t)n, sizeof *t, cmp_double);
  for (int i = 0; i < live; i++) orcjit_library_release(keep[i]);
  free(keep);
  orcjit_session_release(s);
  printf("%d loads, median %.1f us (create, add, get function, call; release not timed)\n", n,
         n > 0 ? t[n / 2] : 0.0);
  free(t);
  return 0;
}
