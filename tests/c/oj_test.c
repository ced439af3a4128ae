/*
** oj_test.c: the helpers of oj_test.h and main().
**   orcjit_c_tests <case> <objdir> <miscdir>
** runs one case against the objects in <objdir> (one compiler, one -O
** level) and <miscdir> (compiler-independent inputs); exits 1 if any check
** failed.  "orcjit_c_tests list" prints the case names.
*/
#define _GNU_SOURCE
#include "oj_test.h"

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

const char *ojt_objdir = "";
const char *ojt_miscdir = "";

static atomic_int ojt_failures;
static _Thread_local char ojt_msg[8192];
static _Thread_local int ojt_msg_status;
static char ojt_step_buf[512] = "start";
static const char *ojt_case_name = "?";

/* ---- failures ------------------------------------------------------------ */

/* Fault injection (tests/fault/run.sh sets ORCJIT_FAULT_AT=N; the library
** is built with ORCJIT_FAULT_INJECT and fails its Nth allocation): a call
** that fails with ORCJIT_ENOMEM and a message is the injected failure,
** handled cleanly; the case ends there, successfully ("INJECTED").  Any
** other failure, a crash, or a leak (under LeakSanitizer) is a bug. */
static int ojt_fault_mode;

void ojt_injected(const char *file, int line, int status) {
  if (!ojt_fault_mode || status != ORCJIT_ENOMEM) return;
  const char *m = orcjit_last_error();
  if (!m || !*m) return; /* ENOMEM without a message: reported as a failure */
  printf("INJECTED %s [%s] at %s:%d (step: %s): %s\n", ojt_case_name, ojt_objdir, file, line,
         ojt_step_buf, m);
  fflush(NULL);
  exit(0);
}

static void ojt_report(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void ojt_report(const char *file, int line, const char *fmt, ...) {
  char buf[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  atomic_fetch_add(&ojt_failures, 1);
  fprintf(stderr, "%s:%d: FAIL [%s, %s] %s\n    (step: %s)\n", file, line,
          ojt_case_name, ojt_objdir, buf, ojt_step_buf);
  fflush(stderr);
}

void ojt_fail(const char *file, int line, const char *what) {
  ojt_injected(file, line, orcjit_last_status());
  ojt_report(file, line, "CHECK(%s)\n    last orcjit status %s, error: \"%s\"", what,
             orcjit_status_name(orcjit_last_status()), orcjit_last_error());
}

void ojt_fail_status(const char *file, int line, const char *call, int got,
                     unsigned want_mask) {
  if (got == ORCJIT_ENOMEM && ojt_msg_status == ORCJIT_ENOMEM) ojt_injected(file, line, got);
  char want[512] = "";
  for (int s = 0; s < 32; s++) {
    if (want_mask & OJT_S(s)) {
      if (want[0]) strncat(want, "|", sizeof want - strlen(want) - 1);
      strncat(want, orcjit_status_name(s), sizeof want - strlen(want) - 1);
    }
  }
  ojt_report(file, line, "%s\n    returned %s (%d), expected %s\n    error: \"%s\"", call,
             orcjit_status_name(got), got, want, ojt_msg);
}

void ojt_fail_i64(const char *file, int line, const char *a, const char *b,
                  int64_t va, int64_t vb) {
  ojt_injected(file, line, orcjit_last_status());
  ojt_report(file, line, "CHECK_EQ(%s, %s): %lld != %lld", a, b, (long long)va,
             (long long)vb);
}

void ojt_fail_msg(const char *file, int line, const char *substr) {
  if (ojt_msg_status == ORCJIT_ENOMEM) ojt_injected(file, line, orcjit_last_status());
  ojt_report(file, line, "error message \"%s\" (status %s) does not contain \"%s\"",
             ojt_msg, orcjit_status_name(ojt_msg_status), substr);
}

void ojt_abort(void) {
  fprintf(stderr, "FAIL %s [%s]: aborted after %d failed check(s)\n", ojt_case_name,
          ojt_objdir, atomic_load(&ojt_failures));
  exit(1);
}

int ojt_failures_count(void) { return atomic_load(&ojt_failures); }

void ojt_capture(void) {
  const char *m = orcjit_last_error();
  snprintf(ojt_msg, sizeof ojt_msg, "%s", m ? m : "(null)");
  ojt_msg_status = orcjit_last_status();
}

const char *ojt_captured_msg(void) { return ojt_msg; }

void ojt_step(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(ojt_step_buf, sizeof ojt_step_buf, fmt, ap);
  va_end(ap);
}

static void ojt_on_signal(int sig) {
  static const char pre[] = "\nCRASH: fatal signal during step: ";
  ssize_t r;
  r = write(2, pre, sizeof pre - 1);
  r = write(2, ojt_step_buf, strnlen(ojt_step_buf, sizeof ojt_step_buf));
  r = write(2, "\n", 1);
  (void)r;
  signal(sig, SIG_DFL);
  raise(sig);
}

/* ---- files --------------------------------------------------------------- */

const char *ojt_obj(const char *name) {
  static _Thread_local char bufs[8][4096];
  static _Thread_local int next;
  char *b = bufs[next++ & 7];
  snprintf(b, 4096, "%s/%s", ojt_objdir, name);
  return b;
}

const char *ojt_misc(const char *name) {
  static _Thread_local char bufs[8][4096];
  static _Thread_local int next;
  char *b = bufs[next++ & 7];
  snprintf(b, 4096, "%s/%s", ojt_miscdir, name);
  return b;
}

void *ojt_read_file(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "cannot open %s: %s\n", path, strerror(errno));
    REQUIRE(!"test input readable");
  }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  void *data = malloc(n > 0 ? (size_t)n : 1);
  REQUIRE(data != NULL);
  REQUIRE(fread(data, 1, (size_t)n, f) == (size_t)n);
  fclose(f);
  *size = (size_t)n;
  return data;
}

void ojt_write_file(const char *path, const void *data, size_t size) {
  FILE *f = fopen(path, "wb");
  REQUIRE(f != NULL);
  REQUIRE(size == 0 || fwrite(data, 1, size, f) == size);
  REQUIRE(fclose(f) == 0);
}

static char ojt_scratch[4096];

static int ojt_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  return remove(path);
}

static void ojt_scratch_cleanup(void) {
  if (ojt_scratch[0]) nftw(ojt_scratch, ojt_rm, 16, FTW_DEPTH | FTW_PHYS);
}

const char *ojt_scratch_dir(void) {
  if (!ojt_scratch[0]) {
    const char *tmp = getenv("TMPDIR");
    snprintf(ojt_scratch, sizeof ojt_scratch, "%s/orcjit_ctest.XXXXXX",
             tmp && tmp[0] ? tmp : "/tmp");
    REQUIRE(mkdtemp(ojt_scratch) != NULL);
    atexit(ojt_scratch_cleanup);
  }
  return ojt_scratch;
}

/* ---- calls --------------------------------------------------------------- */

TVMFFIAny ojt_int(int64_t v) {
  TVMFFIAny a;
  memset(&a, 0, sizeof a);
  a.type_index = kTVMFFIInt;
  a.v_int64 = v;
  return a;
}

int ojt_call(void *fn, int n, const int64_t *argv, int64_t *out) {
  TVMFFIAny args[4];
  TVMFFIAny result;
  memset(&result, 0, sizeof result);
  result.type_index = kTVMFFINone;
  for (int i = 0; i < n && i < 4; i++) args[i] = ojt_int(argv[i]);
  int rc = ((ojt_safe_call)fn)(NULL, args, n, &result);
  if (rc == 0) {
    CHECK_EQ(result.type_index, kTVMFFIInt);
    *out = result.v_int64;
  }
  return rc;
}

static void ojt_describe_ffi_error(char *buf, size_t size) {
  TVMFFIObjectHandle err = NULL;
  TVMFFIErrorMoveFromRaised(&err);
  if (!err) {
    snprintf(buf, size, "(no error raised)");
    return;
  }
  TVMFFIErrorCell *cell = (TVMFFIErrorCell *)((char *)err + sizeof(TVMFFIObject));
  snprintf(buf, size, "%.*s: %.*s", (int)cell->kind.size, cell->kind.data,
           (int)cell->message.size, cell->message.data);
  TVMFFIObjectDecRef(err);
}

int64_t ojt_call_checked(const char *file, int line, void *fn, int n, int64_t a,
                         int64_t b) {
  int64_t argv[2] = {a, b}, out = INT64_MIN;
  if (!fn) {
    ojt_report(file, line, "call through a NULL function pointer refused");
    return INT64_MIN;
  }
  int rc = ojt_call(fn, n, argv, &out);
  if (rc != 0) {
    char err[1024];
    ojt_describe_ffi_error(err, sizeof err);
    ojt_report(file, line, "safe call returned %d: %s", rc, err);
    return INT64_MIN;
  }
  return out;
}

void ojt_check_ffi_error(const char *file, int line, int rc, const char *kind,
                         const char *substr) {
  if (rc != -1) {
    ojt_report(file, line, "safe call returned %d, expected -1 (a raised error)", rc);
    return;
  }
  TVMFFIObjectHandle err = NULL;
  TVMFFIErrorMoveFromRaised(&err);
  if (!err) {
    ojt_report(file, line, "TVMFFIErrorMoveFromRaised gave no error object");
    return;
  }
  const TVMFFIObject *hdr = (const TVMFFIObject *)err;
  TVMFFIErrorCell *cell = (TVMFFIErrorCell *)((char *)err + sizeof(TVMFFIObject));
  char k[256], m[1024];
  snprintf(k, sizeof k, "%.*s", (int)cell->kind.size, cell->kind.data);
  snprintf(m, sizeof m, "%.*s", (int)cell->message.size, cell->message.data);
  if (hdr->type_index != kTVMFFIError)
    ojt_report(file, line, "raised object has type index %d, not kTVMFFIError",
               (int)hdr->type_index);
  if (strcmp(k, kind) != 0)
    ojt_report(file, line, "error kind \"%s\", expected \"%s\" (message \"%s\")", k, kind, m);
  if (!strstr(m, substr))
    ojt_report(file, line, "error message \"%s\" does not contain \"%s\"", m, substr);
  TVMFFIObjectDecRef(err);
  /* Moving it out cleared it. */
  TVMFFIObjectHandle again = NULL;
  TVMFFIErrorMoveFromRaised(&again);
  if (again) {
    ojt_report(file, line, "error still raised after TVMFFIErrorMoveFromRaised");
    TVMFFIObjectDecRef(again);
  }
}

int64_t ojt_getcall(const char *file, int line, orcjit_library *lib,
                    const char *name, int n, int64_t x) {
  void *fn = NULL;
  int rc = orcjit_library_get_function(lib, name, &fn);
  if (rc != ORCJIT_OK || !fn) {
    ojt_injected(file, line, rc);
    ojt_capture();
    ojt_report(file, line, "orcjit_library_get_function(\"%s\") returned %s: \"%s\"", name,
               orcjit_status_name(rc), ojt_msg);
    return INT64_MIN;
  }
  return ojt_call_checked(file, line, fn, n, x, 0);
}

/* ---- recovery ------------------------------------------------------------ */

#define OJT_FIRST_SHARED_PROBE 4
#define OJT_NPROBES 32
static atomic_int ojt_next_probe = OJT_FIRST_SHARED_PROBE;

void ojt_check_still_works(const char *file, int line, orcjit_library *lib) {
  int k = atomic_fetch_add(&ojt_next_probe, 1);
  char obj[64], fn[64];
  if (k >= OJT_NPROBES) {
    ojt_report(file, line, "test bug: out of probe objects");
    return;
  }
  snprintf(obj, sizeof obj, "probe%d.o", k);
  snprintf(fn, sizeof fn, "probe%d", k);
  int rc = orcjit_library_add_file(lib, ojt_obj(obj));
  ojt_injected(file, line, rc);
  ojt_capture();
  if (rc != ORCJIT_OK) {
    ojt_report(file, line, "after a failure, adding %s to library %s returned %s: \"%s\"",
               obj, orcjit_library_name(lib), orcjit_status_name(rc), ojt_msg);
  } else {
    int64_t v = ojt_getcall(file, line, lib, fn, 1, 5);
    if (v != 5 + 1000 * k)
      ojt_report(file, line, "after a failure, %s(5) = %lld, expected %d", fn, (long long)v,
                 5 + 1000 * k);
  }
  /* And a fresh library of the same session. */
  orcjit_library *fresh = NULL;
  rc = orcjit_library_create(orcjit_library_session(lib), NULL, &fresh);
  ojt_injected(file, line, rc);
  ojt_capture();
  if (rc != ORCJIT_OK) {
    ojt_report(file, line, "after a failure, a new library: %s \"%s\"",
               orcjit_status_name(rc), ojt_msg);
    return;
  }
  rc = orcjit_library_add_file(fresh, ojt_obj("add.o"));
  ojt_injected(file, line, rc);
  ojt_capture();
  if (rc != ORCJIT_OK) {
    ojt_report(file, line, "after a failure, add.o into a new library: %s \"%s\"",
               orcjit_status_name(rc), ojt_msg);
  } else {
    void *add = NULL;
    rc = orcjit_library_get_function(fresh, "add", &add);
    ojt_injected(file, line, rc);
    if (rc != ORCJIT_OK)
      ojt_report(file, line, "after a failure, get_function(add) in a new library: %s",
                 orcjit_status_name(rc));
    else if (ojt_call_checked(file, line, add, 2, 2, 3) != 5)
      ojt_report(file, line, "after a failure, add(2, 3) != 5 in a new library");
  }
  orcjit_library_release(fresh);
}

/* ---- main ---------------------------------------------------------------- */

#define OJT_ENTRY(name, objs) {#name, ojt_case_##name, objs},
static const ojt_case ojt_cases[] = {OJT_CASES(OJT_ENTRY)};
#undef OJT_ENTRY

/* Resolved by host_user.o from the test executable (exported with
** ENABLE_EXPORTS): a symbol of the host process. */
__attribute__((visibility("default"))) int oj_test_host_callback(int x) {
  return x * 7 + 3;
}

/* Called by ctor_host.o's constructor (+1) and destructor (-1). */
atomic_int ojt_host_note_sum;
atomic_int ojt_host_note_calls;
__attribute__((visibility("default"))) void oj_test_host_note(int v) {
  atomic_fetch_add(&ojt_host_note_sum, v);
  atomic_fetch_add(&ojt_host_note_calls, 1);
}

int main(int argc, char **argv) {
  const size_t ncases = sizeof ojt_cases / sizeof ojt_cases[0];
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc >= 2 && strcmp(argv[1], "list") == 0) {
    for (size_t i = 0; i < ncases; i++) printf("%s\n", ojt_cases[i].name);
    return 0;
  }
  if (argc < 2) {
    fprintf(stderr, "usage: %s <case> [<objdir> <miscdir>] | list\n", argv[0]);
    return 2;
  }
  const ojt_case *c = NULL;
  for (size_t i = 0; i < ncases; i++)
    if (strcmp(argv[1], ojt_cases[i].name) == 0) c = &ojt_cases[i];
  if (!c) {
    fprintf(stderr, "unknown case %s\n", argv[1]);
    return 2;
  }
  if (c->needs_objects && argc < 4) {
    fprintf(stderr, "case %s needs <objdir> <miscdir>\n", c->name);
    return 2;
  }
  if (argc >= 3) ojt_objdir = argv[2];
  if (argc >= 4) ojt_miscdir = argv[3];
  ojt_case_name = c->name;
  const char *fault_at = getenv("ORCJIT_FAULT_AT");
  ojt_fault_mode = fault_at && atoll(fault_at) > 0;
  signal(SIGSEGV, ojt_on_signal);
  signal(SIGBUS, ojt_on_signal);
  signal(SIGILL, ojt_on_signal);
  signal(SIGFPE, ojt_on_signal);
  signal(SIGABRT, ojt_on_signal);

  printf("case %s, objects %s\n", c->name, ojt_objdir);
  c->fn();
  int n = atomic_load(&ojt_failures);
  if (n) {
    printf("FAIL %s [%s]: %d failed check(s)\n", c->name, ojt_objdir, n);
    return 1;
  }
  printf("PASS %s [%s]\n", c->name, ojt_objdir);
  return 0;
}

orcjit_session *ojt_new_session(void) {
  orcjit_session *s = NULL;
  REQUIRE_OK(orcjit_session_create(NULL, &s));
  REQUIRE(s != NULL);
  return s;
}

orcjit_library *ojt_new_library(orcjit_session *s, const char *name) {
  orcjit_library *lib = NULL;
  REQUIRE_OK(orcjit_library_create(s, name, &lib));
  REQUIRE(lib != NULL);
  return lib;
}

const char *ojt_emulated(void) {
  const char *e = getenv("ORCJIT_TEST_EMULATED");
  return e && *e ? e : NULL;
}

void ojt_skip_if_emulated(const char *why) {
  if (!ojt_emulated()) return;
  printf("SKIP under %s emulation: %s\n", ojt_emulated(), why);
  fflush(NULL);
  exit(ojt_failures_count() ? 1 : 77); /* a failure so far is not hidden */
}

long ojt_rss_kib(void) {
  long pages = 0, resident = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f) return 0;
  if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
  fclose(f);
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}
