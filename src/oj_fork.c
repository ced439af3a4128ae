/*
** oj_fork.c: fork() while other threads use a session.
**
** A child process has only the thread that called fork().  A lock that
** another thread of the parent held at that moment (ORC's session mutex,
** the memory manager's, a library's) stays locked in the child for good,
** and the child's next load into an inherited session waited on it
** forever.  So every path of the C API that enters ORC, JITLink or the
** memory manager of a session, or takes a session or library lock, runs
** inside oj_fork_enter/oj_fork_leave (oj_internal.h lists them): a process-wide read-write lock taken
** shared (recursively per thread: a constructor may call the API again).
** A pthread_atfork prepare handler takes it exclusive, so fork() waits
** until no other thread is inside the loader, then takes the loader's
** process-wide mutexes; the parent and child handlers give them back (the
** child re-initialises them: it is single-threaded then).
**
** The thread calling fork() may itself be inside the loader (fork() from a
** constructor or the link callback of an add).  It cannot wait for itself,
** and other threads may be inside ORC then: the child marks every session
** created before the fork as unusable (oj_fork_enter reports it at once),
** and the parent carries on.  Such a session is never torn down in the
** child either (releasing it leaks it): that would enter ORC.  A prepare handler that waits too long (a
** thread inside the loader waits for the forking thread, e.g. JIT code
** that needs Python's GIL held by the thread calling os.fork) does the
** same after OJ_FORK_WAIT_S seconds instead of hanging.
*/
/* (_GNU_SOURCE, set by CMakeLists.txt: pthread_rwlockattr_setkind_np) */
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "oj_internal.h"

#define OJ_FORK_WAIT_S 30

static pthread_rwlock_t oj_fork_lock;
static pthread_once_t oj_fork_once = PTHREAD_ONCE_INIT;
/* Depth of oj_fork_enter on this thread (the lock is taken at depth 0). */
static _Thread_local unsigned oj_fork_depth;
/* Incremented in a child whose inherited sessions cannot be used. */
static _Atomic unsigned oj_fork_epoch;
/* Set by the prepare handler: it holds oj_fork_lock exclusive. */
static int oj_fork_exclusive;

static void oj_fork_lock_init(void) {
  pthread_rwlockattr_t a;
  pthread_rwlockattr_init(&a);
  /* Writers first: fork() must not wait behind a stream of new loads. */
  pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  pthread_rwlock_init(&oj_fork_lock, &a);
  pthread_rwlockattr_destroy(&a);
}

static void oj_fork_prepare(void) {
  oj_fork_exclusive = 0;
  if (oj_fork_depth == 0) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += OJ_FORK_WAIT_S;
    oj_fork_exclusive = pthread_rwlock_timedwrlock(&oj_fork_lock, &until) == 0;
  }
  pthread_mutex_lock(&oj_global_lock);
  oj_initfini_fork_lock(OJ_FORK_LOCK);
  oj_tls_fork_lock(OJ_FORK_LOCK);
  oj_vmem_fork_lock(OJ_FORK_LOCK);
}

static void oj_fork_parent(void) {
  oj_vmem_fork_lock(OJ_FORK_UNLOCK);
  oj_tls_fork_lock(OJ_FORK_UNLOCK);
  oj_initfini_fork_lock(OJ_FORK_UNLOCK);
  pthread_mutex_unlock(&oj_global_lock);
  if (oj_fork_exclusive) pthread_rwlock_unlock(&oj_fork_lock);
}

static void oj_fork_child(void) {
  /* The child's only thread holds these (with the parent's thread id):
  ** fresh mutexes rather than unlocks. */
  oj_vmem_fork_lock(OJ_FORK_REINIT);
  oj_tls_fork_lock(OJ_FORK_REINIT);
  oj_initfini_fork_lock(OJ_FORK_REINIT);
  pthread_mutex_init(&oj_global_lock, NULL);
  /* Other threads of the parent may have been counted as waiting readers:
  ** a fresh lock, taken again if this thread is inside the loader. */
  oj_fork_lock_init();
  if (oj_fork_depth) pthread_rwlock_rdlock(&oj_fork_lock);
  if (!oj_fork_exclusive) atomic_fetch_add(&oj_fork_epoch, 1);
}

static void oj_fork_setup(void) {
  oj_fork_lock_init();
  pthread_atfork(oj_fork_prepare, oj_fork_parent, oj_fork_child);
}

void oj_fork_init(void) { pthread_once(&oj_fork_once, oj_fork_setup); }

unsigned oj_fork_current_epoch(void) { return atomic_load(&oj_fork_epoch); }

void oj_fork_leave(void) {
  if (--oj_fork_depth == 0) pthread_rwlock_unlock(&oj_fork_lock);
}

int oj_fork_enter(const orcjit_session *s) {
  oj_fork_init();
  if (oj_fork_depth++ == 0) pthread_rwlock_rdlock(&oj_fork_lock);
  if (!s || s->fork_epoch == atomic_load(&oj_fork_epoch)) return ORCJIT_OK;
  oj_fork_leave();
  return oj_error_set(ORCJIT_EINVAL,
                      "this session was inherited through fork() called while a load was in "
                      "progress (fork from a constructor, or a fork that could not wait for "
                      "the other threads' loads): it cannot be used in the child; create a "
                      "new session");
}
