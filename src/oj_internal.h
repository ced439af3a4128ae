/*
** oj_internal.h: the structures shared by the files of the C core.
**
**   oj_session.c   sessions: the LLJIT, the error reporter, the JITDylib pool
**   oj_library.c   libraries: create, lookup, link order, freeing
**   oj_add.c       adding objects: linking a batch, the add calls, tars
**   oj_settle.c    one definition per name: duplicates, weak definitions
**   oj_members.c   archive members and deferred objects that wait
**   oj_orclookup.c the synchronous ORC lookup, link errors worded
**                  (these five share oj_library_int.h)
**   oj_lifetime.c  library references, link-order cycles, release
**   oj_fork.c      fork() while other threads are inside the loader
**   oj_symtab.c    the string -> address hash table of a library
**   oj_resolve.c   the definition generator: link order, host, runtime shims
**   oj_initfini.c  constructors, destructors, atexit handlers per library
**   oj_rtobj.c     the per-library runtime object (__dso_handle, atexit)
**   oj_tls.c       thread-local storage of loaded objects, thread_local dtors
**   oj_statictls.c static TLS from the C library (initial-/local-exec code)
**   oj_elf.c       the ELF pre-pass (validate and rewrite an object)
**   oj_file.c      reading an input file whole
**   oj_vmem.c      the process's JIT memory (windows, slabs, pages)
**   oj_vmview.c    a slab's two views (memfd): no mprotect per load
**   oj_rlist.c     the free range lists of oj_vmem.c
**   oj_limit.c     room under RLIMIT_AS before work inside LLVM
**   oj_error.c     the per-thread last error
**   oj_rtnames.c   the one list of the names the loader provides itself
**   oj_pin.c       libraries kept loaded because they registered with TVM-FFI
**   oj_ffiabi.c    TVM-FFI Functions over JIT code; adopting what it returns
**   oj_libbin.c    the reader of an embedded __tvm_ffi__library_bin
**
** Locking.  The locks, and what each guards:
**   oj_fork.c's read-write lock   taken shared (recursively per thread) by
**       every C API path that enters ORC, JITLink or the memory manager or
**       takes the locks below: create, add, lookup, set_link_order, the
**       release that destroys, session create/destroy/clear; exclusive
**       only by fork()'s prepare handler;
**   oj_global_lock                the process-wide list of sessions;
**   a session's `lock`            its library list and names, the JITDylib
**       pool, the dropped-object count;
**   a session's `links_lock`      every library's held[]/linkrefs/cyclic/
**       dying/gc_* fields and the 1 -> 0 drop of a library's refs
**       (oj_lifetime.c);
**   a library's `lock`            its symbol table, objects, trackers, link
**       order (link[]), pending members, fini and atexit lists, TLS modules,
**       low pages and link callback;
**   oj_dso_lock (oj_initfini.c), oj_tls_lock (oj_tls.c)   leaves.
** Order: fork lock, then global, then session lock, then links_lock, then
** one library lock, then a leaf.  Never two library locks at once (a link
** order is read entry by entry, then the linked library locked alone: link
** orders may form cycles).  No lock but the fork lock is held while
** calling into LLVM or JIT code.  A library's `busy` flag (one add at a
** time) is only ever tried, never waited for.
*/
#ifndef OJ_INTERNAL_H
#define OJ_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <llvm-c/Core.h>
#include <llvm-c/Error.h>
#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>

#include "oj_elf.h"
#include "oj_error.h"
#include "oj_file.h"
#include "oj_rtnames.h"
#include "tvm_ffi_orcjit/orcjit.h"

/* Makes room for `need` elements of size `elem` in *arr (capacity *cap),
** doubling; 0 on success, -1 on out of memory (then *arr is unchanged). */
int oj_grow(void **arr, size_t *cap, size_t need, size_t elem);

/* ---- symbol table (oj_symtab.c) ---------------------------------------- */

enum {
  OJ_SYM_HIDDEN = 1,   /* not visible to other libraries */
  OJ_SYM_WEAK = 2,     /* a weak definition */
  OJ_SYM_IMPORTED = 4, /* not ours: copied from the link order or the host */
  OJ_SYM_TLS = 8       /* thread-local: addr is its initial image (oj_tls.c) */
};

typedef struct oj_symtab_entry {
  char *name;      /* NULL: empty slot */
  uint64_t addr;
  uint32_t hash;
  uint16_t flags;  /* OJ_SYM_* */
  uint16_t pad;
  uint32_t object; /* index of the defining object in the library */
} oj_symtab_entry;

typedef struct oj_symtab {
  oj_symtab_entry *slots;
  size_t cap;   /* power of two, or 0 */
  size_t count;
} oj_symtab;

void oj_symtab_free(oj_symtab *t);
oj_symtab_entry *oj_symtab_find(const oj_symtab *t, const char *name);
/* Inserts name if absent; returns the entry (new or existing), NULL on
** ENOMEM.  *created tells which. */
oj_symtab_entry *oj_symtab_insert(oj_symtab *t, const char *name, int *created);
/* The same with name's hash (oj_symtab_hash) computed once by the caller,
** for a name looked up in several tables. */
uint32_t oj_symtab_hash(const char *name);
oj_symtab_entry *oj_symtab_find_h(const oj_symtab *t, const char *name, uint32_t h);
oj_symtab_entry *oj_symtab_insert_h(oj_symtab *t, const char *name, uint32_t h,
                                    int *created);
/* Makes room for n more entries at once (no rehash on the way); without
** the memory, nothing happens and inserts grow the table as usual. */
void oj_symtab_reserve(oj_symtab *t, size_t n);
/* Removes name, if present. */
void oj_symtab_remove(oj_symtab *t, const char *name);
/* Removes every entry for which pred(entry, ctx) is nonzero. */
void oj_symtab_remove_if(oj_symtab *t, int (*pred)(const oj_symtab_entry *, void *),
                         void *ctx);

/* ---- init/fini (oj_initfini.c) ----------------------------------------- */

typedef struct oj_fini {
  uint32_t priority;
  uint32_t seq; /* load order of the object, then of the section */
  void (*fn)(void);
} oj_fini;

typedef struct oj_atexit {
  void (*fn)(void *);
  void *arg;
} oj_atexit;

/* An archive member waiting until something needs one of its symbols, or
** (deferred) an object added by orcjit_library_add_deferred, waiting for
** the library's next lookup. */
typedef struct oj_pending {
  char *what;           /* "archive.a(member.o)" */
  unsigned char *bytes; /* a copy of the member (NULL once a deferred object
                           is linked) */
  size_t size;
  int taken;            /* linked, or being linked */
  int deferred;         /* linked at the next lookup, needed or not */
  uint64_t tried;       /* deferred: the link generation it last failed in */
} oj_pending;

/* ---- sessions and libraries -------------------------------------------- */

/* One JITDylib with our generator attached; reused after its library is
** released, because a JITDylib cannot be removed from a session. */
typedef struct oj_slot {
  LLVMOrcJITDylibRef jd;
  struct orcjit_library *_Atomic lib; /* current owner, NULL when pooled */
  struct orcjit_session *session;
  struct oj_slot *next;               /* in the free pool */
  unsigned index;                     /* n of the JITDylib's name orcjit.jd<n>;
                                         marker names use it, not the library
                                         id, so that they repeat when the slot
                                         is reused and ORC's string pool does
                                         not grow with every load */
} oj_slot;

struct orcjit_session {
  atomic_int refs; /* callers' references + one per live library */
  LLVMOrcLLJITRef jit;
  LLVMOrcExecutionSessionRef es;
  pthread_mutex_t lock;
  oj_slot *free_slots;
  struct orcjit_library *libs; /* live libraries, newest first */
  oj_symtab lib_names;         /* their names (for create's uniqueness test) */
  unsigned next_lib_id;
  unsigned nslots;
  size_t dropped;       /* objects dropped since ORC's string pool was cleared */
  size_t slab_size;
  unsigned flags;       /* ORCJIT_SESSION_* (options | environment) */
  struct oj_memmgr *mm; /* glue/oj_memmgr.cc: JIT memory (src/oj_vmem.c) */
  struct orcjit_session *next_global; /* in the process-wide list */
  struct orcjit_session *prev_global;
  pthread_mutex_t links_lock; /* link-order references (oj_lifetime.c) */
  unsigned gc_epoch;          /* marks of the trial deletions, under links_lock */
  unsigned fork_epoch;        /* oj_fork.c's epoch when it was created */
  pthread_mutex_t host_lock;  /* the two below (oj_resolve.c) */
  oj_symtab host_syms;        /* host addresses dlsym found, by name */
  uint64_t host_subs;         /* glibc's count of unloads when it was valid */
};

struct orcjit_library {
  atomic_int refs;  /* external: handles, retains, Functions (oj_lifetime.c) */
  orcjit_session *session;
  oj_slot *slot;
  char *name;
  unsigned id;
  atomic_flag busy; /* an add is running */
  atomic_int finalized; /* destructors ran (at release or process exit) */
  _Atomic int low;  /* lives below 2 GiB (it has -fno-pic objects) */
  _Atomic int pinned; /* never unloaded: its code registered with TVM-FFI (oj_pin.c) */
  struct oj_lowpage *lowcopies; /* host read-only data copied below 2 GiB */
  struct oj_lowpage *lowstubs;  /* jumps below 2 GiB to host functions */

  pthread_mutex_t lock; /* guards everything below */
  oj_symtab syms;
  char **objects; /* names of the objects added, by index */
  size_t nobjects, capobjects;
  LLVMOrcResourceTrackerRef *trackers; /* one per object, to remove them */
  size_t ntrackers, captrackers;
  struct orcjit_library **link; /* current link order */
  size_t nlink;
  /* Under the session's links_lock (oj_lifetime.c): */
  struct orcjit_library **held; /* every library ever in the link order */
  size_t nheld, capheld;
  size_t linkrefs;              /* libraries holding this one in their held */
  unsigned char cyclic;         /* may be on a link-order cycle */
  unsigned char dying;          /* garbage: being destroyed */
  unsigned char gc_live;        /* trial deletion marks */
  unsigned gc_epoch;
  size_t gc_internal;
  struct orcjit_library *gc_next; /* in a garbage list */

  oj_fini *fini;
  size_t nfini, capfini;
  uint32_t fini_seq;
  oj_atexit *atexits;
  size_t natexit, capatexit;
  uint64_t dso_handle; /* address of this library's __dso_handle, or 0 */
  int has_atexit;      /* its runtime object (atexit) is linked */
  struct oj_tls_module **tls; /* thread-local data of its objects */
  size_t ntls, captls;
  struct oj_pending *pending; /* archive members not linked (yet) */
  size_t npending, cappending;
  oj_symtab pending_index;    /* name -> index in pending (in .object) */
  oj_symtab deferred_index;   /* name -> deferred object defining it (weak
                                 definitions flagged OJ_SYM_WEAK) */
  size_t ndeferred;           /* deferred objects not linked */

  orcjit_link_callback link_cb;
  void *link_cb_user;
  void (*free_hook)(void *); /* orcjit_library_set_free_hook */
  void *free_hook_arg;

  struct orcjit_library *next; /* in the session's list */
  struct orcjit_library *prev;
};

/* oj_session.c */
int oj_session_slot_acquire(orcjit_session *s, oj_slot **out);
void oj_session_slot_release(orcjit_session *s, oj_slot *slot);
/* n objects were removed from the session's JITDylibs (release or a failed
** add): clears ORC's dead symbol names now and then. */
void oj_session_objects_dropped(orcjit_session *s, size_t n);
/* The LLVM error text collected for this thread since the last reset. */
void oj_llvm_errors_reset(void);
const char *oj_llvm_errors(void);
/* Turns an LLVMErrorRef into a message (consumes it).  The status becomes
** ORCJIT_ENOMEM when err, or an error reported since the reset, is an
** allocation failure (oj_link_error_is_nomem). */
int oj_error_from_llvm(int status, LLVMErrorRef err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* oj_resolve.c */
int oj_resolve_attach(oj_slot *slot);
/* Whether p lies in the mapping of a loaded module (not JIT memory). */
int oj_resolve_in_module(void *p);
/* Frees the library's copies of host read-only data and its stubs. */
void oj_resolve_free_copies(orcjit_library *lib);
/* Names of required symbols that nothing provided during the current add
** on this thread (comma separated), and reset. */
void oj_resolve_missing_reset(void);
/* Empties the session's cache of host addresses if a module was unloaded
** since it was filled; before each add's lookup. */
void oj_resolve_sync(orcjit_session *s);
const char *oj_resolve_missing(void);
int oj_resolve_missing_count(void);

/* The add running on this thread (oj_orclookup.c pushes one around each
** ORC lookup that links objects): its library, and whether a name is
** defined by the objects being linked. */
typedef struct oj_adding {
  struct orcjit_library *lib;
  int (*defines)(const void *ctx, LLVMOrcSymbolStringPoolEntryRef name);
  const void *ctx;
  struct oj_adding *prev;
} oj_adding;
void oj_resolve_adding_push(oj_adding *a);
void oj_resolve_adding_pop(oj_adding *a);
/* Called by glue/oj_link.cc for each undefined symbol of an object being
** linked into jd: 1 and *addr when the symbol is bound here (link order,
** host, runtime shims), 0 when it is left to ORC (defined in the
** JITDylib, or not found). */
int oj_resolve_external(LLVMOrcJITDylibRef jd, LLVMOrcSymbolStringPoolEntryRef name,
                        uint64_t *addr);

/* oj_initfini.c */
int oj_initfini_run_object(orcjit_library *lib, const oj_elf_object *obj,
                           const uint64_t *marker_addrs, uint32_t seq);
void oj_initfini_finalize(orcjit_library *lib);
int oj_initfini_register_dso(orcjit_library *lib, uint64_t dso);
void oj_initfini_unregister_dso(orcjit_library *lib);
int oj_rt_cxa_atexit(void (*fn)(void *), void *arg, void *dso);
void oj_initfini_atexit_hook(void);
/* Whether dso is the __dso_handle of a live library. */
int oj_initfini_owns_dso(uint64_t dso);

/* oj_tls.c */
typedef struct oj_tls_module oj_tls_module;
/* Before linking: the TLS module of an object (*out NULL if it has no
** TLS); for initial-/local-exec code, its static TLS block reserved and
** its offset patched into obj->image (oj_statictls.c). */
int oj_tls_prepare(oj_elf_object *obj, oj_tls_module **out);
/* After linking: publishes m (marker_addrs: the linked address of each
** obj->tls[i]).  NULL is fine. */
int oj_tls_register(oj_tls_module *m, const uint64_t *marker_addrs);
/* Frees every thread's copy; the object's memory may go after this. */
void oj_tls_unregister(oj_tls_module *m);
/* The offset from the thread pointer of the host thread-local `name` at
** addr (this thread's copy), as a symbol value for an initial-exec GOT
** load ("__orcjit.tpoff.<name>"); 0, with the reason for
** oj_tls_tpoff_why, unless it is in the process's static TLS. */
uint64_t oj_tls_host_tpoff(void *addr, const char *name);
void oj_tls_tpoff_refuse(const char *name, const char *why);
#define OJ_TLS_IE_WHY "reached with initial-exec TLS code" /* in its reasons */
const char *oj_tls_tpoff_why(void);
/* The shims bound to __tls_get_addr and __cxa_thread_atexit(_impl). */
void *oj_tls_get_addr(const uint64_t *entry);

/* oj_a64rt.c: the address of the aarch64 helper `name` the loader provides
** (__tlsdesc_resolver, __aarch64_* outline atomics), or 0 (always 0 on
** other machines). */
uint64_t oj_a64rt_find(const char *name);
int oj_tls_cxa_thread_atexit(void (*fn)(void *), void *obj, void *dso);
/* The calling thread's copy of a linked thread-local address (NULL if it
** is not one). */
void *oj_tls_address(uint64_t linked);
/* If addr is the calling thread's copy of a host thread-local, the address
** to bind the symbol to instead (for oj_tls_get_addr); else 0; UINT64_MAX
** if the entry could not be allocated. */
uint64_t oj_tls_host_entry(void *addr);
/* Runs the thread_local destructors registered with dso by every thread
** (the calling thread's first). */
void oj_tls_finalize(uint64_t dso);

/* oj_pin.c */
/* The TVM-FFI registration function obj calls (see oj_pin.c), or NULL. */
const char *oj_pin_reason(const oj_elf_object *obj);
/* Pins lib if obj calls one (before obj's constructors run). */
void oj_pin_note(orcjit_library *lib, const oj_elf_object *obj);
/* At the last release: 1 if lib is pinned (then kept, off its session's
** list), 0 if it is to be destroyed. */
int oj_pin_keep(orcjit_library *lib);
/* oj_limit.c: whether the address-space limit (RLIMIT_AS) leaves at least
** need bytes (1 also when there is no limit); *left (if not NULL) gets the
** room left, SIZE_MAX without a limit. */
int oj_limit_room(size_t need, size_t *left);
/* What LLVM may take besides what is proportional to an object. */
#define OJ_LIMIT_MARGIN ((size_t)16 << 20)

/* oj_rtobj.c: the bytes of the per-library runtime object; with_dso 0:
** atexit only, __dso_handle undefined (an object of the library defines
** it, oj_elf_define_dso). */
const unsigned char *oj_rtobj_image(int with_dso, size_t *size);

/* oj_library.c: frees a library that is garbage (oj_lifetime.c decided,
** its destructors ran, its link-order references were dropped). */
void oj_library_free(orcjit_library *lib);

/* oj_lifetime.c */
/* Adds libs[0..n) to lib's held libraries (a link-order reference each). */
int oj_lifetime_hold(orcjit_library *lib, orcjit_library *const *libs, size_t n);
/* At process exit: runs the destructors of every live library of s, newest
** first, each under a reference; returns how many it finalized. */
size_t oj_library_finalize_all(orcjit_session *s);

/* oj_fork.c */
void oj_fork_init(void);
unsigned oj_fork_current_epoch(void);
/* Enters the loader (the fork lock shared); s may be NULL.  An error (and
** the lock not held) if s was inherited unusable through fork(). */
int oj_fork_enter(const orcjit_session *s);
void oj_fork_leave(void);
/* The process-wide leaf mutexes of oj_initfini.c and oj_tls.c, for fork. */
enum { OJ_FORK_LOCK, OJ_FORK_UNLOCK, OJ_FORK_REINIT };
void oj_initfini_fork_lock(int how);
void oj_tls_fork_lock(int how);
void oj_vmem_fork_lock(int how); /* oj_vmem.c */

/* Process-wide list of sessions (for finalisation at exit). */
extern pthread_mutex_t oj_global_lock;
extern orcjit_session *oj_global_sessions;

#endif /* OJ_INTERNAL_H */
