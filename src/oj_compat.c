/*
** oj_compat.c: older glibc symbol versions for the manylinux wheel
** (ORCJIT_MANYLINUX, CMakeLists.txt), on x86-64 and aarch64.  Built on a
** newer glibc, the library (LLVM's static archives and libstdc++, linked
** in, included) would need the versions that glibc gives its functions
** today: dlopen, dlsym and pthread_* at GLIBC_2.34 (moved from libdl and
** libpthread into libc), stat and friends at 2.33 (real functions since
** then; before, inline wrappers of __xstat), mallinfo2 at 2.33,
** pthread_sigmask and __libc_single_threaded at 2.32, exp, log, log2 and pow
** at 2.29 (new error handling).  The linker sends every reference to one of
** those names to __wrap_<name> here (-Wl,--wrap=<name>, listed in
** src/oj_compat.wrap), which calls the function under the version it had in
** glibc 2.28 (.symver), or does what the older glibc did.  The old versions
** differ by machine only in their names (OJ_COMPAT_V_*: the machine's first
** glibc version, GLIBC_2.2.5 on x86-64 and GLIBC_2.17 on aarch64) and in
** __xstat's version argument (OJ_COMPAT_STAT_VER).  memfd_create (2.27, not
** too new, but the only name above 2.18) becomes its system call.  The
** library also names libdl.so.2 and libpthread.so.0 as needed: on glibc
** before 2.34 those old versions live there, and on a newer one the two are
** empty stubs.  _dl_find_object (2.35) is looked up at run time in
** oj_resolve.c.  scripts/build_wheel.sh fails if any symbol version newer
** than GLIBC_2.28, or any GLIBCXX/CXXABI version at all, is left.
*/
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdint.h>

#if defined(ORCJIT_MANYLINUX) && defined(__GLIBC__) && \
    (defined(__x86_64__) || defined(__aarch64__))
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

/* The versions these functions had in glibc 2.28, per machine (objdump -T
** on libc.so.6, libm.so.6): OJ_COMPAT_V_BASE for all but dlinfo and
** dladdr1, which x86-64 gained later.  _STAT_VER: 1 (_STAT_VER_LINUX) on
** x86-64, 0 (_STAT_VER_KERNEL, the generic struct stat) on aarch64; on both
** struct stat is the kernel's and the same as struct stat64.  _MKNOD_VER is
** 0 on both. */
#if defined(__x86_64__)
#define OJ_COMPAT_V_BASE "GLIBC_2.2.5"
#define OJ_COMPAT_V_DLINFO "GLIBC_2.3.3"
#define OJ_COMPAT_STAT_VER 1
#else
#define OJ_COMPAT_V_BASE "GLIBC_2.17"
#define OJ_COMPAT_V_DLINFO "GLIBC_2.17"
#define OJ_COMPAT_STAT_VER 0
#endif
#define OJ_COMPAT_MKNOD_VER 0

/* __wrap_NAME calls NAME@VER. */
#define OJ_COMPAT_OLD(ret, name, ver, params, args)                      \
  extern ret oj_compat_old_##name params;                               \
  __asm__(".symver oj_compat_old_" #name ", " #name "@" ver);           \
  ret __wrap_##name params;                                             \
  ret __wrap_##name params { return oj_compat_old_##name args; }

/* libdl before 2.34 */
OJ_COMPAT_OLD(void *, dlopen, OJ_COMPAT_V_BASE, (const char *file, int mode), (file, mode))
OJ_COMPAT_OLD(void *, dlsym, OJ_COMPAT_V_BASE, (void *handle, const char *name), (handle, name))
OJ_COMPAT_OLD(int, dlclose, OJ_COMPAT_V_BASE, (void *handle), (handle))
OJ_COMPAT_OLD(char *, dlerror, OJ_COMPAT_V_BASE, (void), ())
OJ_COMPAT_OLD(int, dladdr, OJ_COMPAT_V_BASE, (const void *addr, Dl_info *info), (addr, info))
OJ_COMPAT_OLD(int, dlinfo, OJ_COMPAT_V_DLINFO, (void *handle, int request, void *arg),
              (handle, request, arg))
OJ_COMPAT_OLD(int, dladdr1, OJ_COMPAT_V_DLINFO,
              (const void *addr, Dl_info *info, void **extra, int flags),
              (addr, info, extra, flags))

/* libpthread before 2.34 (pthread_sigmask: before 2.32) */
OJ_COMPAT_OLD(int, pthread_create, OJ_COMPAT_V_BASE,
              (pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg),
              (t, attr, fn, arg))
OJ_COMPAT_OLD(int, pthread_detach, OJ_COMPAT_V_BASE, (pthread_t t), (t))
OJ_COMPAT_OLD(int, pthread_once, OJ_COMPAT_V_BASE, (pthread_once_t *once, void (*fn)(void)),
              (once, fn))
OJ_COMPAT_OLD(int, pthread_key_create, OJ_COMPAT_V_BASE,
              (pthread_key_t *key, void (*dtor)(void *)), (key, dtor))
OJ_COMPAT_OLD(int, pthread_setspecific, OJ_COMPAT_V_BASE, (pthread_key_t key, const void *v),
              (key, v))
OJ_COMPAT_OLD(int, pthread_rwlock_rdlock, OJ_COMPAT_V_BASE, (pthread_rwlock_t *l), (l))
OJ_COMPAT_OLD(int, pthread_rwlock_unlock, OJ_COMPAT_V_BASE, (pthread_rwlock_t *l), (l))
OJ_COMPAT_OLD(int, pthread_rwlock_init, OJ_COMPAT_V_BASE,
              (pthread_rwlock_t *l, const pthread_rwlockattr_t *a), (l, a))
OJ_COMPAT_OLD(int, pthread_rwlock_timedwrlock, OJ_COMPAT_V_BASE,
              (pthread_rwlock_t *l, const struct timespec *t), (l, t))
OJ_COMPAT_OLD(int, pthread_rwlockattr_init, OJ_COMPAT_V_BASE, (pthread_rwlockattr_t *a), (a))
OJ_COMPAT_OLD(int, pthread_rwlockattr_destroy, OJ_COMPAT_V_BASE, (pthread_rwlockattr_t *a), (a))
OJ_COMPAT_OLD(int, pthread_rwlockattr_setkind_np, OJ_COMPAT_V_BASE,
              (pthread_rwlockattr_t *a, int kind), (a, kind))
OJ_COMPAT_OLD(int, pthread_join, OJ_COMPAT_V_BASE, (pthread_t t, void **ret), (t, ret))
OJ_COMPAT_OLD(int, pthread_sigmask, OJ_COMPAT_V_BASE,
              (int how, const sigset_t *set, sigset_t *old), (how, set, old))

/* libm before 2.29: the same results, errors reported the SVID way too */
OJ_COMPAT_OLD(double, exp, OJ_COMPAT_V_BASE, (double x), (x))
OJ_COMPAT_OLD(double, log, OJ_COMPAT_V_BASE, (double x), (x))
OJ_COMPAT_OLD(double, log2, OJ_COMPAT_V_BASE, (double x), (x))
OJ_COMPAT_OLD(double, pow, OJ_COMPAT_V_BASE, (double x, double y), (x, y))

/* stat and friends before 2.33: __xstat with the kernel's struct stat. */
extern int oj_compat_xstat(int ver, const char *path, struct stat *st);
extern int oj_compat_lxstat(int ver, const char *path, struct stat *st);
extern int oj_compat_fxstat(int ver, int fd, struct stat *st);
extern int oj_compat_xmknod(int ver, const char *path, mode_t mode, dev_t *dev);
__asm__(".symver oj_compat_xstat, __xstat@" OJ_COMPAT_V_BASE);
__asm__(".symver oj_compat_lxstat, __lxstat@" OJ_COMPAT_V_BASE);
__asm__(".symver oj_compat_fxstat, __fxstat@" OJ_COMPAT_V_BASE);
__asm__(".symver oj_compat_xmknod, __xmknod@" OJ_COMPAT_V_BASE);

int __wrap_stat(const char *path, struct stat *st);
int __wrap_stat64(const char *path, struct stat *st);
int __wrap_lstat(const char *path, struct stat *st);
int __wrap_lstat64(const char *path, struct stat *st);
int __wrap_fstat(int fd, struct stat *st);
int __wrap_fstat64(int fd, struct stat *st);
int __wrap_mknod(const char *path, mode_t mode, dev_t dev);
int __wrap_stat(const char *path, struct stat *st) {
  return oj_compat_xstat(OJ_COMPAT_STAT_VER, path, st);
}
int __wrap_stat64(const char *path, struct stat *st) {
  return oj_compat_xstat(OJ_COMPAT_STAT_VER, path, st);
}
int __wrap_lstat(const char *path, struct stat *st) {
  return oj_compat_lxstat(OJ_COMPAT_STAT_VER, path, st);
}
int __wrap_lstat64(const char *path, struct stat *st) {
  return oj_compat_lxstat(OJ_COMPAT_STAT_VER, path, st);
}
int __wrap_fstat(int fd, struct stat *st) { return oj_compat_fxstat(OJ_COMPAT_STAT_VER, fd, st); }
int __wrap_fstat64(int fd, struct stat *st) {
  return oj_compat_fxstat(OJ_COMPAT_STAT_VER, fd, st);
}
int __wrap_mknod(const char *path, mode_t mode, dev_t dev) {
  return oj_compat_xmknod(OJ_COMPAT_MKNOD_VER, path, mode, &dev);
}

/* mallinfo2 (2.33) where the running glibc has it, else mallinfo's
** int-sized counters widened (LLVM reads them for -time-passes only). */
extern struct mallinfo oj_compat_mallinfo(void);
__asm__(".symver oj_compat_mallinfo, mallinfo@" OJ_COMPAT_V_BASE);
struct mallinfo2 __wrap_mallinfo2(void);
struct mallinfo2 __wrap_mallinfo2(void) {
  static _Atomic uintptr_t found; /* 0: not looked up yet, 1: absent */
  uintptr_t f = atomic_load_explicit(&found, memory_order_acquire);
  if (f == 0) {
    void *sym = __wrap_dlsym(RTLD_DEFAULT, "mallinfo2");
    f = sym ? (uintptr_t)sym : 1;
    atomic_store_explicit(&found, f, memory_order_release);
  }
  if (f != 1) return ((struct mallinfo2 (*)(void))f)();
  struct mallinfo m = oj_compat_mallinfo();
  struct mallinfo2 r = {
    .arena = (unsigned)m.arena, .ordblks = (unsigned)m.ordblks, .smblks = (unsigned)m.smblks,
    .hblks = (unsigned)m.hblks, .hblkhd = (unsigned)m.hblkhd, .usmblks = (unsigned)m.usmblks,
    .fsmblks = (unsigned)m.fsmblks, .uordblks = (unsigned)m.uordblks,
    .fordblks = (unsigned)m.fordblks, .keepcost = (unsigned)m.keepcost};
  return r;
}

/* memfd_create (2.27, oj_statictls.c): the system call itself (Linux
** 3.17), which is all glibc's function does, so that the newest version
** the library needs stays GLIBC_2.18 (__cxa_thread_atexit_impl). */
int __wrap_memfd_create(const char *name, unsigned flags);
int __wrap_memfd_create(const char *name, unsigned flags) {
  return (int)syscall(SYS_memfd_create, name, flags);
}

/* libstdc++'s headers (GCC 12) skip atomic reference counting when glibc
** says the process has one thread (2.32).  Our own copy, always 0 ("maybe
** several threads"), keeps the atomic path: correct everywhere. */
char __libc_single_threaded = 0;

#else
typedef int oj_compat_unused; /* ISO C: a translation unit is not empty */
#endif
