/*
** bench_load.c: the C-API-level benchmarks of tvm-ffi-orcjit (SPEC 6).
**
** Usage: bench_load MODE [args...]; every mode prints its raw measurements
** as lines "FIG {json}" (and "SERIES {json}" for the plot); bench/report.py
** turns them into medians, spreads, ratios and PASS/MISS.
**
**   load NAME OBJ SO FUNC N   N loads of OBJ into this project (create a
**                             library, add the file, get FUNC), interleaved
**                             with N dlopen+dlsym of SO copied to a fresh
**                             file each time (RTLD_LAZY|RTLD_LOCAL)
**   session N                 N session creations (and the first, cold one)
**   cycles OBJ WARM N [renamed]
**                             RSS growth over N load/release cycles after
**                             WARM; `renamed`: each cycle loads OBJ from
**                             memory with __tvm_ffi_noop renamed to a name
**                             not seen before (ORC's string pool must not
**                             keep the names of released libraries)
**   libs OBJ N                N live libraries in one session: RSS per
**                             library, load time of the first vs the Nth
**   threads OBJ N REPS        loads/s of 1 thread vs 2 threads in 2 sessions
**
** Times are CLOCK_MONOTONIC; RSS is read from /proc/self/statm.
*/
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <tvm/ffi/c_api.h>
#include <tvm_ffi_orcjit/orcjit.h>

typedef int (*safe_call)(void *, const TVMFFIAny *, int32_t, TVMFFIAny *);

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double rss_kib(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long size = 0, res = 0;
  if (!f) return -1;
  if (fscanf(f, "%ld %ld", &size, &res) != 2) res = -1;
  fclose(f);
  return (double)res * (double)sysconf(_SC_PAGESIZE) / 1024.0;
}

static void die(const char *what) {
  fprintf(stderr, "bench_load: %s failed: %s (%s)\n", what, orcjit_last_error(),
          orcjit_status_name(orcjit_last_status()));
  exit(1);
}

static const char *tmpdir(void) {
  const char *d = getenv("BENCH_TMP");
  return d && *d ? d : "/tmp";
}

/* Calls a one-int or two-int function and checks that it answers an int. */
static void check_call(void *fn, int nargs) {
  TVMFFIAny args[2], res;
  memset(args, 0, sizeof args);
  memset(&res, 0, sizeof res);
  for (int i = 0; i < 2; i++) {
    args[i].type_index = kTVMFFIInt;
    args[i].v_int64 = i + 1;
  }
  if (((safe_call)fn)(NULL, args, nargs, &res) != 0 || res.type_index != kTVMFFIInt) {
    fprintf(stderr, "bench_load: a loaded function gave a wrong answer\n");
    exit(1);
  }
}

/* ---- output ------------------------------------------------------------ */

static void print_array(const double *v, int n) {
  putchar('[');
  for (int i = 0; i < n; i++) printf("%s%.6g", i ? "," : "", v[i]);
  putchar(']');
}

/* FIG {"name":..,"label":..,"unit":..,"samples":[..],"ref_label":..,
**      "ref_samples":[..],"target":{"kind":..,"op":..,"value":..},"note":..}
** kind "ratio": median(samples)/median(ref) compared with value;
** kind "abs": median(samples) compared with value; kind "info": no target. */
static void fig(const char *name, const char *label, const char *unit, const double *s,
                int n, const char *ref_label, const double *r, int nr, const char *kind,
                const char *op, double value, const char *note) {
  printf("FIG {\"name\":\"%s\",\"label\":\"%s\",\"unit\":\"%s\",\"samples\":", name, label,
         unit);
  print_array(s, n);
  printf(",\"ref_label\":\"%s\",\"ref_samples\":", ref_label ? ref_label : "");
  print_array(r, r ? nr : 0);
  printf(",\"target\":{\"kind\":\"%s\",\"op\":\"%s\",\"value\":%g},\"note\":\"%s\"}\n", kind,
         op, value, note ? note : "");
  fflush(stdout);
}

/* ---- files ------------------------------------------------------------- */

static char *read_all(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "bench_load: cannot open %s: %s\n", path, strerror(errno));
    exit(1);
  }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n);
  if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
    fprintf(stderr, "bench_load: cannot read %s\n", path);
    exit(1);
  }
  fclose(f);
  *size = (size_t)n;
  return buf;
}

static void write_all(const char *path, const char *buf, size_t n) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0755);
  if (fd < 0 || write(fd, buf, n) != (ssize_t)n || close(fd) != 0) {
    fprintf(stderr, "bench_load: cannot write %s: %s\n", path, strerror(errno));
    exit(1);
  }
}

/* ---- one load ------------------------------------------------------------ */

/* One load of this project: create a library, add obj, get func. */
static orcjit_library *oj_load(orcjit_session *s, const char *obj, const char *func,
                               void **fn) {
  orcjit_library *lib = NULL;
  if (orcjit_library_create(s, NULL, &lib) != ORCJIT_OK) die("orcjit_library_create");
  if (orcjit_library_add_file(lib, obj) != ORCJIT_OK) die("orcjit_library_add_file");
  if (orcjit_library_get_function(lib, func, fn) != ORCJIT_OK) die("orcjit_library_get_function");
  return lib;
}

static int func_nargs(const char *func) { return strcmp(func, "add") == 0 ? 2 : 1; }

/* ---- modes ------------------------------------------------------------- */

static int mode_load(int argc, char **argv) {
  if (argc < 7) return 2;
  const char *name = argv[2], *obj = argv[3], *so = argv[4], *func = argv[5];
  int n = atoi(argv[6]);
  char sym[256], label[512], path[4096];
  snprintf(sym, sizeof sym, "__tvm_ffi_%s", func);
  size_t so_size;
  char *so_bytes = read_all(so, &so_size);
  double *ours = calloc((size_t)n, sizeof(double)), *ref = calloc((size_t)n, sizeof(double));
  double *ours_rel = calloc((size_t)n, sizeof(double)), *ref_rel = calloc((size_t)n, sizeof(double));
  orcjit_session *s = NULL;
  if (orcjit_session_create(NULL, &s) != ORCJIT_OK) die("orcjit_session_create");
  int warm = n / 10 < 3 ? 3 : n / 10;
  for (int i = -warm; i < n; i++) {
    /* this project */
    void *fn = NULL;
    double t0 = now_s();
    orcjit_library *lib = oj_load(s, obj, func, &fn);
    double t1 = now_s();
    check_call(fn, func_nargs(func));
    double t2 = now_s();
    orcjit_library_release(lib);
    double t3 = now_s();
    /* dlopen + dlsym of the .so written to a fresh file */
    snprintf(path, sizeof path, "%s/bench_%s_%d_%d.so", tmpdir(), name, (int)getpid(), i + warm);
    write_all(path, so_bytes, so_size);
    double u0 = now_s();
    void *h = dlopen(path, RTLD_LAZY | RTLD_LOCAL);
    void *f2 = h ? dlsym(h, sym) : NULL;
    double u1 = now_s();
    if (!f2) {
      fprintf(stderr, "bench_load: dlopen/dlsym %s: %s\n", path, dlerror());
      return 1;
    }
    check_call(f2, func_nargs(func));
    double u2 = now_s();
    dlclose(h);
    double u3 = now_s();
    unlink(path);
    if (i >= 0) {
      ours[i] = (t1 - t0) * 1e6;
      ref[i] = (u1 - u0) * 1e6;
      ours_rel[i] = (t3 - t2) * 1e6;
      ref_rel[i] = (u3 - u2) * 1e6;
    }
  }
  snprintf(label, sizeof label, "load %s and get a function (C API)", obj);
  int small = strcmp(name, "small") == 0;
  fig(small ? "load_small_c" : (snprintf(path, sizeof path, "load_%s_c", name), path), label,
      "us", ours, n, "dlopen+dlsym of the .so (fresh file)", ref, n, small ? "ratio" : "info",
      "<=", small ? 1.0 : 0, "");
  snprintf(label, sizeof label, "release the %s library (C API)", obj);
  snprintf(path, sizeof path, "release_%s_c", name);
  fig(path, label, "us", ours_rel, n, "dlclose", ref_rel, n, "info", "", 0, "");
  orcjit_session_release(s);
  return 0;
}

static int mode_session(int argc, char **argv) {
  if (argc < 3) return 2;
  int n = atoi(argv[2]);
  double *t = calloc((size_t)n, sizeof(double)), *rel = calloc((size_t)n, sizeof(double));
  double cold = 0;
  for (int i = -1; i < n; i++) {
    orcjit_session *s = NULL;
    double t0 = now_s();
    if (orcjit_session_create(NULL, &s) != ORCJIT_OK) die("orcjit_session_create");
    double t1 = now_s();
    orcjit_session_release(s);
    double t2 = now_s();
    if (i < 0) {
      cold = (t1 - t0) * 1e3;
    } else {
      t[i] = (t1 - t0) * 1e3;
      rel[i] = (t2 - t1) * 1e3;
    }
  }
  fig("session_create", "create a session (C API, warm process)", "ms", t, n, NULL, NULL, 0,
      "abs", "<", 5.0, "");
  fig("session_create_cold", "create the first session of a process (C API)", "ms", &cold, 1,
      NULL, NULL, 0, "abs", "<", 5.0, "");
  fig("session_release", "release an empty session (C API)", "ms", rel, n, NULL, NULL, 0, "info",
      "", 0, "");
  return 0;
}

static int mode_cycles(int argc, char **argv) {
  if (argc < 5) return 2;
  const char *obj = argv[2];
  int warm = atoi(argv[3]), n = atoi(argv[4]);
  int renamed = argc > 5 && strcmp(argv[5], "renamed") == 0;
  size_t size = 0;
  char *bytes = NULL, *tag = NULL;
  if (renamed) {
    bytes = read_all(obj, &size);
    tag = memmem(bytes, size, "__tvm_ffi_noop", sizeof "__tvm_ffi_noop");
    if (!tag) die("cycles renamed: no __tvm_ffi_noop in the object");
    tag += strlen("__tvm_ffi_n"); /* "oop" becomes three base-36 digits */
  }
  orcjit_session *s = NULL;
  if (orcjit_session_create(NULL, &s) != ORCJIT_OK) die("orcjit_session_create");
  double before = 0;
  int step = n / 20 > 0 ? n / 20 : 1;
  printf("SERIES {\"name\":\"%s\",\"points\":[", renamed ? "cycles_renamed" : "cycles");
  for (int i = -warm; i < n; i++) {
    if (i == 0) before = rss_kib();
    void *fn = NULL;
    orcjit_library *lib;
    if (renamed) {
      static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
      unsigned k = (unsigned)(i + warm);
      for (int d = 2; d >= 0; d--, k /= 36) tag[d] = digits[k % 36];
      if (orcjit_library_create(s, NULL, &lib) != ORCJIT_OK) die("orcjit_library_create");
      if (orcjit_library_add_memory(lib, bytes, size, "renamed.o") != ORCJIT_OK)
        die("orcjit_library_add_memory");
      if (orcjit_library_get_function(lib, "add", &fn) != ORCJIT_OK)
        die("orcjit_library_get_function");
    } else {
      lib = oj_load(s, obj, "add", &fn);
    }
    check_call(fn, 2);
    orcjit_library_release(lib);
    if (i >= 0 && (i + 1) % step == 0) printf("%s[%d,%.0f]", i + 1 == step ? "" : ",", i + 1, rss_kib());
  }
  printf("]}\n");
  double after = rss_kib();
  double growth = after - before;
  char note[128];
  snprintf(note, sizeof note, "after %d warm-up cycles", warm);
  fig(renamed ? "cycles_rss_growth_renamed" : "cycles_rss_growth",
      renamed ? "RSS growth over 10,000 load/release cycles, a new symbol name in each"
              : "RSS growth over 10,000 load/release cycles",
      "KiB", &growth, 1, NULL, NULL, 0, "abs", "<", 1024.0, note);
  orcjit_session_release(s);
  free(bytes);
  return 0;
}

static int mode_libs(int argc, char **argv) {
  if (argc < 4) return 2;
  const char *obj = argv[2];
  int n = atoi(argv[3]);
  int k = 40; /* probe loads of the 1st and of the nth library */
  /* Session a stays empty; session b gets n-1 live libraries.  Then the
  ** load of the 1st library (into a) and of the nth (into b) are timed in
  ** alternation, each released again, so both see the same machine. */
  orcjit_session *a = NULL, *b = NULL;
  if (orcjit_session_create(NULL, &a) != ORCJIT_OK) die("orcjit_session_create");
  if (orcjit_session_create(NULL, &b) != ORCJIT_OK) die("orcjit_session_create");
  for (int i = 0; i < 20; i++) { /* warm-up, released again */
    void *fn;
    orcjit_library_release(oj_load(a, obj, "add", &fn));
    orcjit_library_release(oj_load(b, obj, "add", &fn));
  }
  orcjit_library **libs = calloc((size_t)n, sizeof *libs);
  double *first = calloc((size_t)k, sizeof(double)), *last = calloc((size_t)k, sizeof(double));
  double before = rss_kib();
  printf("SERIES {\"name\":\"libs\",\"points\":[");
  for (int i = 0; i < n; i++) {
    void *fn = NULL;
    double t0 = now_s();
    libs[i] = oj_load(b, obj, "add", &fn);
    double t1 = now_s();
    check_call(fn, 2);
    /* [library count, load time us, RSS KiB] */
    printf("%s[%d,%.2f,%.0f]", i ? "," : "", i + 1, (t1 - t0) * 1e6, rss_kib());
  }
  printf("]}\n");
  double after = rss_kib();
  double per = (after - before) / n;
  fig("libs_rss_per_lib", "RSS per live library (1,000 in one session)", "KiB", &per, 1, NULL,
      NULL, 0, "abs", "<", 64.0, "");
  orcjit_library_release(libs[n - 1]); /* the nth is re-loaded by the probes */
  for (int j = 0; j < k; j++) {
    void *fn = NULL;
    for (int which = 0; which < 2; which++) {
      int into_a = (which == 0) == (j % 2 == 0);
      double t0 = now_s();
      orcjit_library *lib = oj_load(into_a ? a : b, obj, "add", &fn);
      double t1 = now_s();
      check_call(fn, 2);
      orcjit_library_release(lib);
      (into_a ? first : last)[j] = (t1 - t0) * 1e6;
    }
  }
  char note[160];
  snprintf(note, sizeof note, "%d alternating probes each: into a session with %d live libraries vs an empty one",
           k, n - 1);
  fig("libs_last_vs_first", "load time of the 1,000th library", "us", last, k,
      "load time of the 1st library", first, k, "ratio", "<=", 1.2, note);
  double t0 = now_s();
  for (int i = n - 2; i >= 0; i--) orcjit_library_release(libs[i]);
  double t1 = now_s();
  double rel = (t1 - t0) * 1e6 / (n - 1);
  fig("libs_release", "release one of 1,000 live libraries", "us", &rel, 1, NULL, NULL, 0, "info",
      "", 0, "");
  size_t freed = 0;
  orcjit_session_clear_free_slabs(b, &freed);
  double end = rss_kib() - before;
  fig("libs_rss_after_release", "RSS left after releasing them and clear_free_slabs", "KiB",
      &end, 1, NULL, NULL, 0, "info", "", 0, "");
  orcjit_session_release(a);
  orcjit_session_release(b);
  return 0;
}

/* ---- threads --------------------------------------------------------------- */

typedef struct {
  const char *obj;
  int n;
  orcjit_session *s;
  pthread_barrier_t *bar;
} worker_arg;

static void *worker(void *p) {
  worker_arg *w = p;
  for (int i = 0; i < 10; i++) { /* per-session warm-up */
    void *fn;
    orcjit_library_release(oj_load(w->s, w->obj, "add", &fn));
  }
  pthread_barrier_wait(w->bar);
  for (int i = 0; i < w->n; i++) {
    void *fn = NULL;
    orcjit_library *lib = oj_load(w->s, w->obj, "add", &fn);
    check_call(fn, 2);
    orcjit_library_release(lib);
  }
  return NULL;
}

/* Loads/s with nthreads threads, each loading n objects into its own session. */
static double run_threads(const char *obj, int nthreads, int n) {
  pthread_t th[2];
  worker_arg w[2];
  pthread_barrier_t bar;
  pthread_barrier_init(&bar, NULL, (unsigned)nthreads + 1);
  for (int i = 0; i < nthreads; i++) {
    w[i].obj = obj;
    w[i].n = n;
    w[i].bar = &bar;
    if (orcjit_session_create(NULL, &w[i].s) != ORCJIT_OK) die("orcjit_session_create");
    pthread_create(&th[i], NULL, worker, &w[i]);
  }
  pthread_barrier_wait(&bar);
  double t0 = now_s();
  for (int i = 0; i < nthreads; i++) pthread_join(th[i], NULL);
  double t1 = now_s();
  for (int i = 0; i < nthreads; i++) orcjit_session_release(w[i].s);
  pthread_barrier_destroy(&bar);
  return (double)(nthreads * n) / (t1 - t0);
}

/* The machine's own scaling: a pure CPU loop on 1 vs 2 threads (work/s). */
static void *spin(void *p) {
  volatile unsigned long x = 0;
  for (unsigned long i = 0; i < 60000000UL; i++) x += i;
  (void)p;
  return NULL;
}

static double run_spin(int nthreads) {
  pthread_t th[2];
  double t0 = now_s();
  for (int i = 0; i < nthreads; i++) pthread_create(&th[i], NULL, spin, NULL);
  for (int i = 0; i < nthreads; i++) pthread_join(th[i], NULL);
  return nthreads / (now_s() - t0);
}

static int mode_threads(int argc, char **argv) {
  if (argc < 5) return 2;
  const char *obj = argv[2];
  int n = atoi(argv[3]), reps = atoi(argv[4]);
  double *one = calloc((size_t)reps, sizeof(double)), *two = calloc((size_t)reps, sizeof(double));
  double *c1 = calloc((size_t)reps, sizeof(double)), *c2 = calloc((size_t)reps, sizeof(double));
  for (int r = 0; r < reps; r++) {
    one[r] = run_threads(obj, 1, n);
    two[r] = run_threads(obj, 2, n);
    c1[r] = run_spin(1);
    c2[r] = run_spin(2);
  }
  char note[128];
  snprintf(note, sizeof note, "%d loads per thread per run; %ld CPUs", n,
           sysconf(_SC_NPROCESSORS_ONLN));
  fig("threads_2_vs_1", "loads/s, 2 threads into 2 sessions", "loads/s", two, reps,
      "loads/s, 1 thread", one, reps, "ratio", ">=", 1.7, note);
  fig("cpu_scaling_2_vs_1", "machine check: a pure CPU loop, 2 threads", "loops/s", c2, reps,
      "1 thread", c1, reps, "info", "", 0, "the most the 2-thread ratio can reach here");
  /* The load scaling against the machine's own: 1.0 means loading scales
  ** as well as a loop that shares nothing. */
  double *ls = calloc((size_t)reps, sizeof(double)), *cs = calloc((size_t)reps, sizeof(double));
  for (int r = 0; r < reps; r++) {
    ls[r] = two[r] / one[r];
    cs[r] = c2[r] / c1[r];
  }
  fig("threads_vs_machine", "2-thread speed-up of loads", "x", ls, reps,
      "2-thread speed-up of the CPU loop", cs, reps, "info", "", 0,
      "ratio: the share of the machine's own scaling that loads reach");
  free(ls);
  free(cs);
  return 0;
}

int main(int argc, char **argv) {
  int rc = 2;
  if (argc >= 2) {
    if (!strcmp(argv[1], "load")) rc = mode_load(argc, argv);
    else if (!strcmp(argv[1], "session")) rc = mode_session(argc, argv);
    else if (!strcmp(argv[1], "cycles")) rc = mode_cycles(argc, argv);
    else if (!strcmp(argv[1], "libs")) rc = mode_libs(argc, argv);
    else if (!strcmp(argv[1], "threads")) rc = mode_threads(argc, argv);
  }
  if (rc == 2) fprintf(stderr, "usage: bench_load load|session|cycles|libs|threads ...\n");
  return rc;
}
