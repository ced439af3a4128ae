/*
** oj_fault.c: the counting allocation wrappers of oj_fault.h (fault
** injection builds only).  Every allocation the C core makes is counted,
** process-wide and in order; with ORCJIT_FAULT_AT=N in the environment the
** Nth one fails (once: later ones succeed, as after a transient shortage).
** At exit, when ORCJIT_FAULT_AT is set, one line goes to stderr:
**   orcjit-fault: at=N allocations=K injected=0|1
** which tells tests/fault/run.sh whether the run reached allocation N
** (injected=1: run N+1 next) or ended before it (injected=0: every
** allocation of the run has been failed once).
*/
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static atomic_llong oj_fault_count;
static atomic_int oj_fault_injected;
static long long oj_fault_at = -1; /* -1: not read yet; 0: never fail */
static atomic_flag oj_fault_once = ATOMIC_FLAG_INIT;

static void oj_fault_report(void) {
  fprintf(stderr, "orcjit-fault: at=%lld allocations=%lld injected=%d\n", oj_fault_at,
          (long long)atomic_load(&oj_fault_count), atomic_load(&oj_fault_injected));
}

/* Reads ORCJIT_FAULT_AT once: at load (the constructor), or at the first
** allocation if that comes first. */
static void oj_fault_setup(void) {
  if (atomic_flag_test_and_set(&oj_fault_once)) return;
  const char *v = getenv("ORCJIT_FAULT_AT");
  oj_fault_at = v && *v ? strtoll(v, NULL, 10) : 0;
  if (v && *v) atexit(oj_fault_report);
}

__attribute__((constructor)) static void oj_fault_init(void) { oj_fault_setup(); }

/* Counts one allocation; nonzero if this one is to fail. */
static int oj_fault_fail(void) {
  oj_fault_setup();
  long long n = atomic_fetch_add(&oj_fault_count, 1) + 1;
  if (oj_fault_at > 0 && n == oj_fault_at) {
    atomic_store(&oj_fault_injected, 1);
    return 1;
  }
  return 0;
}

#define OJ_FAIL_NULL()   \
  do {                   \
    errno = ENOMEM;      \
    return NULL;         \
  } while (0)

void *oj_fault_malloc(size_t n) {
  if (oj_fault_fail()) OJ_FAIL_NULL();
  return malloc(n);
}

void *oj_fault_calloc(size_t n, size_t size) {
  if (oj_fault_fail()) OJ_FAIL_NULL();
  return calloc(n, size);
}

void *oj_fault_realloc(void *p, size_t n) {
  if (oj_fault_fail()) OJ_FAIL_NULL(); /* p stays allocated, as on failure */
  return realloc(p, n);
}

char *oj_fault_strdup(const char *s) {
  if (oj_fault_fail()) OJ_FAIL_NULL();
  return strdup(s);
}

char *oj_fault_strndup(const char *s, size_t n) {
  if (oj_fault_fail()) OJ_FAIL_NULL();
  return strndup(s, n);
}

void *oj_fault_aligned_alloc(size_t align, size_t n) {
  if (oj_fault_fail()) OJ_FAIL_NULL();
  return aligned_alloc(align, n);
}

int oj_fault_posix_memalign(void **out, size_t align, size_t n) {
  if (oj_fault_fail()) return ENOMEM;
  return posix_memalign(out, align, n);
}

void *oj_fault_mmap(void *addr, size_t n, int prot, int flags, int fd, off_t off) {
  if (oj_fault_fail()) {
    errno = ENOMEM;
    return MAP_FAILED;
  }
  return mmap(addr, n, prot, flags, fd, off);
}
