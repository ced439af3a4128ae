/*
** oj_test.h: the tiny assertion and helper set of the C tests.
**
**   CHECK(cond)               records a failure (file:line, the condition and
**                             the last orcjit error) and goes on
**   REQUIRE(cond)             the same, then ends the test (exit status 1)
**   CHECK_OK(call)            call must return ORCJIT_OK
**   REQUIRE_OK(call)
**   CHECK_STATUS(call, st)    call must return st
**   CHECK_STATUS_IN(call, m)  call must return one of the statuses in the
**                             mask m (OJT_S(ORCJIT_EIO) | OJT_S(...))
**   CHECK_MSG(substr)         the error message captured by the last
**                             CHECK_STATUS* must contain substr
**   CHECK_EQ(a, b)            integers, both printed on failure
**
** The CHECK_STATUS* macros copy orcjit_last_error() right after the call
** (the pointer is only valid until the next orcjit_* call).  Every macro is
** usable from any thread.  A test case is a function void f(void); main()
** (oj_test_main.c) runs the case named on the command line and exits
** nonzero if any check failed.
*/
#ifndef OJ_TEST_H
#define OJ_TEST_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <tvm/ffi/c_api.h>

#include "tvm_ffi_orcjit/orcjit.h"

#define OJT_S(status) (1u << (unsigned)(status))

/* The machine the tests run on: its name in the loader's messages, the
** foreign object the machine checks load, and the relocation types the
** hand-edited objects of test_bad_input.c get. */
#if defined(__aarch64__)
#define OJT_MACHINE "aarch64"
#define OJT_FOREIGN "x86_64"       /* misc/other_arch-<OJT_FOREIGN>.o */
#define OJT_FOREIGN_NAME "x86-64" /* as the loader names it */
#define OJT_R_NONE 0              /* R_AARCH64_NONE */
#define OJT_R_ABS64 257           /* R_AARCH64_ABS64 */
#define OJT_R_PC32 261            /* R_AARCH64_PREL32 */
#define OJT_R_GOT 311             /* R_AARCH64_ADR_GOT_PAGE */
#define OJT_R_PC32_NAME "R_AARCH64_ADR_PREL_PG_HI21" /* how code reaches data */
#define OJT_LOW_WINDOW 0 /* -fno-pic code has no 32-bit absolute relocations */
#else
#define OJT_MACHINE "x86_64"
#define OJT_FOREIGN "aarch64"
#define OJT_FOREIGN_NAME "AArch64"
#define OJT_R_NONE 0  /* R_X86_64_NONE */
#define OJT_R_ABS64 1 /* R_X86_64_64 */
#define OJT_R_PC32 2  /* R_X86_64_PC32 */
#define OJT_R_GOT 9   /* R_X86_64_GOTPCREL */
#define OJT_R_PC32_NAME "R_X86_64_PC32"
#define OJT_LOW_WINDOW 1 /* -fno-pic code is placed below 2 GiB */
#endif

/* Under AddressSanitizer (ORCJIT_SANITIZE=ON) freed memory sits in a
** quarantine, so resident-memory bounds are not checked; and its runtime
** holds the address space next to the shared libraries (test_tls.c). */
#if defined(__SANITIZE_ADDRESS__)
#define OJT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define OJT_ASAN 1
#endif
#endif
#ifndef OJT_ASAN
#define OJT_ASAN 0
#endif

void ojt_fail(const char *file, int line, const char *what);
void ojt_fail_status(const char *file, int line, const char *call, int got,
                     unsigned want_mask);
void ojt_fail_i64(const char *file, int line, const char *a, const char *b,
                  int64_t va, int64_t vb);
void ojt_fail_msg(const char *file, int line, const char *substr);
void ojt_abort(void) __attribute__((noreturn));
/* Under fault injection (ORCJIT_FAULT_AT set): a status of ORCJIT_ENOMEM
** with a message ends the case successfully, as the injected failure
** (oj_test.c).  The CHECK macros do this themselves; OJT_INJECTED(rc) is
** for a status a test keeps to compare later. */
void ojt_injected(const char *file, int line, int status);
#define OJT_INJECTED(rc) ojt_injected(__FILE__, __LINE__, (rc))
/* The number of failed checks so far (in this process). */
int ojt_failures_count(void);
/* Copies the last orcjit error and status of this thread into the capture. */
void ojt_capture(void);
const char *ojt_captured_msg(void);
/* What the test is doing now, printed if it crashes. */
void ojt_step(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define CHECK(cond)                                                          \
  do {                                                                       \
    if (!(cond)) ojt_fail(__FILE__, __LINE__, #cond);                        \
  } while (0)
#define REQUIRE(cond)                                                        \
  do {                                                                       \
    if (!(cond)) {                                                           \
      ojt_fail(__FILE__, __LINE__, #cond);                                   \
      ojt_abort();                                                           \
    }                                                                        \
  } while (0)
#define CHECK_STATUS_IN(call, mask)                                          \
  do {                                                                       \
    int ojt_rc_ = (call);                                                    \
    ojt_capture();                                                           \
    if (!((mask) & OJT_S(ojt_rc_)) || ojt_rc_ < 0 || ojt_rc_ > 31)           \
      ojt_fail_status(__FILE__, __LINE__, #call, ojt_rc_, (mask));           \
  } while (0)
#define CHECK_STATUS(call, status) CHECK_STATUS_IN(call, OJT_S(status))
#define CHECK_OK(call) CHECK_STATUS_IN(call, OJT_S(ORCJIT_OK))
#define REQUIRE_OK(call)                                                     \
  do {                                                                       \
    int ojt_rc_ = (call);                                                    \
    ojt_capture();                                                           \
    if (ojt_rc_ != ORCJIT_OK) {                                              \
      ojt_fail_status(__FILE__, __LINE__, #call, ojt_rc_, OJT_S(ORCJIT_OK)); \
      ojt_abort();                                                           \
    }                                                                        \
  } while (0)
#define CHECK_MSG(substr)                                                    \
  do {                                                                       \
    const char *ojt_s_ = (substr);                                           \
    if (!strstr(ojt_captured_msg(), ojt_s_))                                 \
      ojt_fail_msg(__FILE__, __LINE__, ojt_s_);                              \
  } while (0)
#define CHECK_EQ(a, b)                                                       \
  do {                                                                       \
    int64_t ojt_a_ = (int64_t)(a), ojt_b_ = (int64_t)(b);                    \
    if (ojt_a_ != ojt_b_)                                                    \
      ojt_fail_i64(__FILE__, __LINE__, #a, #b, ojt_a_, ojt_b_);              \
  } while (0)

/* ---- test environment --------------------------------------------------- */

/* The directory of the objects of this run (compiler and -O level), and the
** directory of the compiler-independent ones (other architectures ...). */
extern const char *ojt_objdir;
extern const char *ojt_miscdir;
/* "<objdir>/<name>", in one of a few rotating static buffers. */
const char *ojt_obj(const char *name);
const char *ojt_misc(const char *name);
/* Reads a whole file (malloc'd; *size set); aborts the test on failure. */
void *ojt_read_file(const char *path, size_t *size);
/* Writes a file; aborts the test on failure. */
void ojt_write_file(const char *path, const void *data, size_t size);
/* A fresh scratch directory (removed with its files at exit). */
const char *ojt_scratch_dir(void);

/* ---- calling TVM-FFI safe-call functions --------------------------------- */

typedef int (*ojt_safe_call)(void *, const TVMFFIAny *, int32_t, TVMFFIAny *);

TVMFFIAny ojt_int(int64_t v);
/* Calls fn with n int arguments; returns its status, *out the int result
** (checks the result type is kTVMFFIInt when the call succeeds). */
int ojt_call(void *fn, int n, const int64_t *argv, int64_t *out);
/* Calls fn(x) / fn() and returns the int result; a failing call is a check
** failure (and returns INT64_MIN). */
#define OJT_CALL0(fn) ojt_call_checked(__FILE__, __LINE__, (fn), 0, 0, 0)
#define OJT_CALL1(fn, x) ojt_call_checked(__FILE__, __LINE__, (fn), 1, (x), 0)
#define OJT_CALL2(fn, x, y) ojt_call_checked(__FILE__, __LINE__, (fn), 2, (x), (y))
int64_t ojt_call_checked(const char *file, int line, void *fn, int n, int64_t a,
                         int64_t b);
/* After a call returned rc: checks rc == -1 and that the raised TVM-FFI
** error has the kind and a message containing substr; frees the error. */
#define CHECK_FFI_ERROR(rc, kind, substr)                                    \
  ojt_check_ffi_error(__FILE__, __LINE__, (rc), (kind), (substr))
void ojt_check_ffi_error(const char *file, int line, int rc, const char *kind,
                         const char *substr);

/* Looks up name with orcjit_library_get_function and calls it with (x);
** returns the result, INT64_MIN (and a check failure) on any error. */
#define OJT_GETCALL1(lib, name, x) \
  ojt_getcall(__FILE__, __LINE__, (lib), (name), 1, (x))
#define OJT_GETCALL0(lib, name) ojt_getcall(__FILE__, __LINE__, (lib), (name), 0, 0)
int64_t ojt_getcall(const char *file, int line, orcjit_library *lib,
                    const char *name, int n, int64_t x);

/* ---- recovery after failures --------------------------------------------- */

/* Adds the next unused probe object (probe<N>.o) to lib and calls its
** function: the library still links and runs new objects.  Also loads add.o
** into a fresh library of the same session and calls it. */
#define CHECK_STILL_WORKS(lib) ojt_check_still_works(__FILE__, __LINE__, (lib))
void ojt_check_still_works(const char *file, int line, orcjit_library *lib);

/* A new session / library, or the case is aborted. */
orcjit_session *ojt_new_session(void);
orcjit_library *ojt_new_library(orcjit_session *s, const char *name);
/* Resident memory of this process in KiB (0 if unknown). */
long ojt_rss_kib(void);

/* Under emulation (scripts/test_aarch64.sh sets ORCJIT_TEST_EMULATED, e.g.
** "qemu-user"), its name, else NULL.  What an emulator makes meaningless
** is skipped there, saying so: resident memory (the emulator's translation
** cache counts in it), RLIMIT_AS (not applied to the emulated process) and
** fork() of a threaded process (it can hang inside qemu-user). */
const char *ojt_emulated(void);
/* Under emulation: exits 77 (ctest: skipped) with a SKIP line saying why,
** or 1 if a check has failed already. */
void ojt_skip_if_emulated(const char *why);
/* Why the fork cases are skipped under emulation. */
#define OJT_EMULATED_FORK                                                    \
  "fork() of a threaded process can hang inside qemu-user: children stuck " \
  "past their own alarm (no signal reaches them), seen in fork_load and "   \
  "fork_vmem"

/* Sum and count of oj_test_host_note() calls made by ctor_host.o. */
#include <stdatomic.h>
extern atomic_int ojt_host_note_sum;
extern atomic_int ojt_host_note_calls;

/* ---- the cases ----------------------------------------------------------- */

typedef struct ojt_case {
  const char *name;
  void (*fn)(void);
  int needs_objects; /* 0: runs once, without an object directory */
} ojt_case;

#define OJT_CASES(X)                                                         \
  X(api, 0)                                                                  \
  X(load_call, 1)                                                            \
  X(ro_code, 1)                                                              \
  X(multi_object, 1)                                                         \
  X(namespaces, 1)                                                           \
  X(missing, 1)                                                              \
  X(cpp_errors, 1)                                                           \
  X(link_order, 1)                                                           \
  X(duplicate, 1)                                                            \
  X(unresolved, 1)                                                           \
  X(archive, 1)                                                              \
  X(add_many, 1)                                                             \
  X(reload, 1)                                                               \
  X(big_bss, 1)                                                              \
  X(big_objects, 1)                                                          \
  X(clear_count, 1)                                                          \
  X(rlimit_as, 1)                                                            \
  X(fork_vmem, 1)                                                            \
  X(fork_shared_pages, 1)                                                    \
  X(ctors, 1)                                                                \
  X(lifetime, 1)                                                             \
  X(bad_input, 1)                                                            \
  X(corrupt_elf, 1)                                                          \
  X(threads, 1)                                                              \
  X(tls, 1)                                                                  \
  X(nopic, 1)                                                                \
  X(inspect, 1)                                                              \
  X(debugger, 1)                                                             \
  X(perf_map, 1)                                                             \
  X(gdb, 1)                                                                  \
  X(debug_target, 1)                                                         \
  X(debugger_sections, 1)                                                    \
  X(matrix, 1)                                                               \
  X(reload_cpp, 1)                                                           \
  X(nopic_errors, 1)                                                         \
  X(initfini_order, 1)                                                       \
  X(static_state, 1)                                                         \
  X(unsupported, 1)                                                          \
  X(bad_files, 1)                                                            \
  X(fuzz_regressions, 1)                                                     \
  X(failed_add, 1)                                                           \
  X(link_cycle_threads, 1)                                                   \
  X(archive_linked, 1)                                                       \
  X(deep_release, 1)                                                         \
  X(link_cycles, 1)                                                          \
  X(fork_load, 1)                                                            \
  X(fork_in_ctor, 1)                                                         \
  X(weak_strong, 1)                                                          \
  X(failed_archive, 1)                                                       \
  X(deferred, 1)                                                         \
  X(tar, 1)                                                           \
  X(address_limit, 1)                                                        \
  X(slab_growth, 1)

#define OJT_DECLARE(name, objs) void ojt_case_##name(void);
OJT_CASES(OJT_DECLARE)
#undef OJT_DECLARE

#endif /* OJ_TEST_H */
