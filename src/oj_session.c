/*
** oj_session.c: sessions.  A session owns one LLJIT (its ExecutionSession,
** memory manager and symbol string pool), the pool of JITDylibs that its
** libraries use, and the error reporter that carries LLVM's link errors
** into our messages.  It reads its options (and the environment variables
** that turn on debugger and perf support, attached by glue/oj_debug.cc).
** Libraries are in oj_library.c.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oj_debug.h"
#include "oj_internal.h"
#include "oj_jit.h"
#include "oj_link.h"
#include "oj_memmgr.h"

pthread_mutex_t oj_global_lock = PTHREAD_MUTEX_INITIALIZER;
orcjit_session *oj_global_sessions;

/* ---- LLVM's error text, per thread ------------------------------------- */

#define OJ_LLVM_ERR_MAX 4096
static _Thread_local char oj_llvm_err[OJ_LLVM_ERR_MAX];
static _Thread_local size_t oj_llvm_err_len;
/* Whether one of those errors was an allocation failure. */
static _Thread_local int oj_llvm_err_nomem;

void oj_llvm_errors_reset(void) {
  oj_llvm_err_len = 0;
  oj_llvm_err[0] = '\0';
  oj_llvm_err_nomem = 0;
}

const char *oj_llvm_errors(void) { return oj_llvm_err; }

static void oj_llvm_errors_append(const char *msg) {
  size_t room = sizeof oj_llvm_err - oj_llvm_err_len;
  if (room <= 1) return;
  int n = snprintf(oj_llvm_err + oj_llvm_err_len, room, "%s%s",
                   oj_llvm_err_len ? "; " : "", msg);
  if (n > 0) oj_llvm_err_len += (size_t)n < room ? (size_t)n : room - 1;
}

/* Link errors reach LLVM's caller only as "Failed to materialize symbols";
** the cause goes to this reporter, on the thread that ran the link (ours:
** the session uses an in-place task dispatcher). */
static void oj_session_report(void *ctx, LLVMErrorRef err) {
  if (oj_link_error_is_nomem(err)) oj_llvm_err_nomem = 1;
  char *msg = LLVMGetErrorMessage(err);
  oj_llvm_errors_append(msg);
  LLVMDisposeErrorMessage(msg);
}

int oj_error_from_llvm(int status, LLVMErrorRef err, const char *fmt, ...) {
  char prefix[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  /* An allocation failure anywhere in the cause is ORCJIT_ENOMEM. */
  if (oj_llvm_err_nomem || oj_link_error_is_nomem(err)) status = ORCJIT_ENOMEM;
  char *msg = err ? LLVMGetErrorMessage(err) : NULL;
  const char *extra = oj_llvm_errors();
  if (msg && *extra && !strstr(extra, msg))
    oj_error_set(status, "%s: %s (%s)", prefix, extra, msg);
  else if (*extra)
    oj_error_set(status, "%s: %s", prefix, extra);
  else
    oj_error_set(status, "%s: %s", prefix, msg ? msg : "unknown LLVM error");
  if (msg) LLVMDisposeErrorMessage(msg);
  return status;
}

/* ---- process-wide set-up ----------------------------------------------- */

static pthread_once_t oj_once = PTHREAD_ONCE_INIT;

static void oj_process_init(void) {
  /* No LLVMInitializeNativeTarget: objects need no code generator, and
  ** the LLJIT is built without a TargetMachine (glue/oj_jit.cc). */
  /* Libraries still alive at exit are finalised while their code is still
  ** mapped: their destructors run before the process's own. */
  atexit(oj_initfini_atexit_hook);
  oj_fork_init();
}

/* ---- sessions ---------------------------------------------------------- */

/* An environment variable counts as set unless absent, "" or "0". */
static int oj_env_on(const char *name) {
  const char *v = getenv(name);
  return v && *v && strcmp(v, "0") != 0;
}

/* The session flags that the environment turns on for every session. */
static unsigned oj_session_env_flags(void) {
  unsigned flags = 0;
  if (oj_env_on("TVM_FFI_ORCJIT_DEBUG")) flags |= ORCJIT_SESSION_DEBUGGER;
  if (oj_env_on("TVM_FFI_ORCJIT_PERF_MAP")) flags |= ORCJIT_SESSION_PERF_MAP;
  return flags;
}

static int oj_session_create(const orcjit_session_options *opts, orcjit_session **out);

int orcjit_session_create(const orcjit_session_options *opts,
                          orcjit_session **out) {
  oj_error_clear();
  if (!out) return oj_error_set(ORCJIT_EINVAL, "orcjit_session_create: out is NULL");
  *out = NULL;
  pthread_once(&oj_once, oj_process_init);
  oj_fork_enter(NULL);
  int rc = oj_session_create(opts, out);
  oj_fork_leave();
  return rc;
}

static void oj_session_free_locks(orcjit_session *s) {
  pthread_mutex_destroy(&s->lock);
  pthread_mutex_destroy(&s->links_lock);
  pthread_mutex_destroy(&s->host_lock);
}

static int oj_session_create(const orcjit_session_options *opts, orcjit_session **out) {
  orcjit_session *s = calloc(1, sizeof *s);
  if (!s) return oj_error_set(ORCJIT_ENOMEM, "cannot create session: out of memory");
  atomic_init(&s->refs, 1);
  pthread_mutex_init(&s->lock, NULL);
  pthread_mutex_init(&s->links_lock, NULL);
  pthread_mutex_init(&s->host_lock, NULL);
  s->fork_epoch = oj_fork_current_epoch();
  if (opts) {
    /* Read only the fields the caller's struct_size covers. */
    size_t n = opts->struct_size ? opts->struct_size : sizeof *opts;
#define OJ_OPT_HAS(field) \
  (n >= offsetof(orcjit_session_options, field) + sizeof opts->field)
    if (OJ_OPT_HAS(slab_size)) s->slab_size = opts->slab_size;
    if (OJ_OPT_HAS(flags)) s->flags = opts->flags;
#undef OJ_OPT_HAS
  }
  s->flags |= oj_session_env_flags();

  /* The object layer allocates from our memory manager: code and data in
  ** one window near libc (src/oj_vmem.c), so PC-relative relocations
  ** between libraries never overflow, and -fno-pic objects below 2 GiB. */
  s->mm = oj_memmgr_create(s->slab_size);
  if (!s->mm) {
    oj_session_free_locks(s);
    free(s);
    return oj_error_set(ORCJIT_ENOMEM, "cannot create session: out of memory");
  }
  if (!oj_limit_room(OJ_LIMIT_MARGIN, NULL)) {
    oj_memmgr_destroy(s->mm);
    oj_session_free_locks(s);
    free(s);
    return oj_error_set(ORCJIT_ENOMEM, "cannot create session: out of memory (the "
                                       "address-space limit, RLIMIT_AS, leaves too little)");
  }
  LLVMOrcLLJITBuilderRef b = LLVMOrcCreateLLJITBuilder();
  LLVMOrcLLJITBuilderSetObjectLinkingLayerCreator(b, oj_memmgr_create_object_layer, s->mm);
  oj_jit_builder_objects_only(b);
  int rc;
  LLVMErrorRef err = LLVMOrcCreateLLJIT(&s->jit, b); /* consumes b */
  if (err) {
    oj_llvm_errors_reset();
    rc = oj_error_from_llvm(ORCJIT_ELINK, err, "cannot create LLVM JIT");
    oj_memmgr_destroy(s->mm);
    pthread_mutex_destroy(&s->lock);
    free(s);
    return rc;
  }
  s->es = LLVMOrcLLJITGetExecutionSession(s->jit);
  LLVMOrcExecutionSessionSetErrorReporter(s->es, oj_session_report, s);
  rc = oj_debug_attach(LLVMOrcLLJITGetObjLinkingLayer(s->jit), s->flags);
  if (rc != ORCJIT_OK) {
    err = LLVMOrcDisposeLLJIT(s->jit);
    if (err) LLVMConsumeError(err);
    oj_memmgr_destroy(s->mm);
    oj_session_free_locks(s);
    free(s);
    return rc;
  }
  /* gdb leaves the breakpoints of an unregistered object inserted: code
  ** must never be placed again where released code was. */
  if (s->flags & ORCJIT_SESSION_DEBUGGER) oj_memmgr_set_keep_code(s->mm, 1);

  pthread_mutex_lock(&oj_global_lock);
  s->next_global = oj_global_sessions;
  if (oj_global_sessions) oj_global_sessions->prev_global = s;
  oj_global_sessions = s;
  pthread_mutex_unlock(&oj_global_lock);
  *out = s;
  return ORCJIT_OK;
}

void orcjit_session_retain(orcjit_session *s) {
  if (s) atomic_fetch_add(&s->refs, 1);
}

static void oj_session_destroy(orcjit_session *s) {
  pthread_mutex_lock(&oj_global_lock);
  if (s->prev_global) s->prev_global->next_global = s->next_global;
  else oj_global_sessions = s->next_global;
  if (s->next_global) s->next_global->prev_global = s->prev_global;
  pthread_mutex_unlock(&oj_global_lock);

  /* Disposing the LLJIT ends the ExecutionSession, which frees every
  ** JITDylib (and our generators with them). */
  LLVMErrorRef err = LLVMOrcDisposeLLJIT(s->jit);
  if (err) LLVMConsumeError(err);
  oj_memmgr_destroy(s->mm);
  oj_slot *slot = s->free_slots;
  while (slot) {
    oj_slot *next = slot->next;
    free(slot);
    slot = next;
  }
  oj_symtab_free(&s->lib_names);
  oj_symtab_free(&s->host_syms);
  oj_session_free_locks(s);
  free(s);
}

void orcjit_session_release(orcjit_session *s) {
  if (!s || atomic_fetch_sub(&s->refs, 1) != 1) return;
  /* Inherited unusable through fork(): left alone (oj_fork.c). */
  if (oj_fork_enter(s) != ORCJIT_OK) return;
  oj_session_destroy(s);
  oj_fork_leave();
}

/* Frees the names in ORC's string pool that nothing refers to any more
** (see oj_session_objects_dropped). */
static void oj_session_clear_dead_names(orcjit_session *s) {
  LLVMOrcSymbolStringPoolClearDeadEntries(LLVMOrcExecutionSessionGetSymbolStringPool(s->es));
}

int orcjit_session_clear_free_slabs(orcjit_session *s, size_t *regions) {
  oj_error_clear();
  if (regions) *regions = 0;
  if (!s) return oj_error_set(ORCJIT_EINVAL, "orcjit_session_clear_free_slabs: session is NULL");
  if (oj_fork_enter(s) != ORCJIT_OK) return oj_error_status();
  size_t n = oj_memmgr_clear_free_slabs(s->mm);
  oj_file_buf_drop(); /* the spare input buffers too */
  if (regions) *regions = n;
  oj_session_clear_dead_names(s);
  oj_fork_leave();
  return ORCJIT_OK;
}

/* ORC interns every symbol name in the session's string pool and never
** frees an entry by itself, even when nothing refers to it any more: a
** process that loads kernels with new names and releases them would grow
** by about 70 bytes per name (measured: 2.7 MB over 40,000 names).  The
** dead entries are cleared once as many objects have been dropped as
** there are live libraries (at least 64), so the walk over the pool costs
** a bounded amount per dropped object.  Clearing locks only the pool; an
** entry with no reference cannot be in use anywhere (llvm-c/Orc.h). */
void oj_session_objects_dropped(orcjit_session *s, size_t n) {
  pthread_mutex_lock(&s->lock);
  size_t live = s->lib_names.count, every = live > 64 ? live : 64;
  s->dropped += n;
  int clear = s->dropped >= every;
  if (clear) s->dropped = 0;
  pthread_mutex_unlock(&s->lock);
  if (clear) oj_session_clear_dead_names(s);
}

/* ---- the JITDylib pool ------------------------------------------------- */

int oj_session_slot_acquire(orcjit_session *s, oj_slot **out) {
  pthread_mutex_lock(&s->lock);
  oj_slot *slot = s->free_slots;
  if (slot) {
    s->free_slots = slot->next;
    pthread_mutex_unlock(&s->lock);
    slot->next = NULL;
    *out = slot;
    return ORCJIT_OK;
  }
  unsigned n = s->nslots++;
  pthread_mutex_unlock(&s->lock);

  slot = calloc(1, sizeof *slot);
  if (!slot || !oj_limit_room(OJ_LIMIT_MARGIN, NULL)) {
    free(slot);
    return oj_error_set(ORCJIT_ENOMEM, "cannot create library: out of memory");
  }
  char jdname[32];
  snprintf(jdname, sizeof jdname, "orcjit.jd%u", n);
  slot->session = s;
  slot->index = n;
  slot->jd = LLVMOrcExecutionSessionCreateBareJITDylib(s->es, jdname);
  int rc = oj_resolve_attach(slot);
  if (rc != ORCJIT_OK) {
    free(slot); /* the JITDylib stays with the session, empty */
    return rc;
  }
  *out = slot;
  return ORCJIT_OK;
}

void oj_session_slot_release(orcjit_session *s, oj_slot *slot) {
  pthread_mutex_lock(&s->lock);
  slot->next = s->free_slots;
  s->free_slots = slot;
  pthread_mutex_unlock(&s->lock);
}
