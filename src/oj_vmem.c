/*
** oj_vmem.c: the JIT memory of the process, for every session.
**
** What it owns:
**   - two shared windows of reserved address space ("slabs", mmap
**     PROT_NONE + MAP_NORESERVE: no memory until used), one for the whole
**     process, whatever the session: the near window, placed just below
**     libc (hints from dladdr(&gnu_get_libc_version), MAP_FIXED_NOREPLACE) with every
**     later slab next to the earlier ones, so that the window and libc span
**     less than 2 GiB - 16 MiB and 32-bit PC-relative references between
**     libraries and to the host reach; and the low window, below 2 GiB, for
**     link graphs with absolute 32-bit relocations (-fno-pic), reserved on
**     first need (MAP_32BIT, then hints);
**   - regions of their own for large allocations that reach nothing outside
**     themselves with a 32-bit relative relocation (OJ_VMEM_MOVABLE): 128
**     MiB or more, or any size when the near window is full.  All their
**     segments lie in one mapping, small ones first, so that the graph's
**     own PC-relative references reach; the region is unmapped at release;
**   - a two-level allocator over the slabs: 1 MiB chunks, each owned by
**     one protection class (R, RW, RX, ...), and page runs inside them
**     (first fit, sorted arrays of free ranges), so segments of one
**     protection share few kernel mappings;
**   - per slab of the near window, a memfd mapped twice (oj_vmview.c):
**     JITLink writes through a read-write alias, the slab's chunks keep the
**     final protection of their class, so a load makes no mprotect;
**     private pages otherwise (the low window, regions of their own,
**     OJ_VMEM_PLAIN for debugger sessions, systems without executable
**     memfds, ORCJIT_DUAL_MAP=0);
**   - the life of the pages: made RW (private ones) and zeroed for JITLink (pieces of 256
**     KiB or more by dropping their pages, MADV_DONTNEED, so a large .bss
**     is resident only where used), final protections, freed pieces back
**     in the free lists (kept committed for reuse; large ones dropped at
**     once), executable pages retired for good under a debugger, and
**     oj_vmem_clear giving free pages and wholly free slabs back;
**   - reserving what an address-space limit allows: under RLIMIT_AS a slab
**     takes at most a quarter of what is left, and a slab that cannot be
**     reserved is halved, down to what the allocation needs.
**
** What it does not own: link graphs and their relocations (glue/
** oj_memmgr.cc decides OJ_VMEM_LOW / OJ_VMEM_MOVABLE from the edges and
** runs the allocation actions), sessions (the windows are process-wide:
** memory a session releases serves any other).
**
** Locking: one process-wide mutex guards the windows (held across fork()
** by an atfork handler); protections, zeroing and unmapping of an
** allocation's own pages happen outside it.
*/
#include "oj_vmem.h"
#include "oj_internal.h" /* OJ_FORK_* */
#include "oj_rlist.h"
#include "oj_vmview.h"

#include <dlfcn.h>
#include <gnu/libc-version.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define OJ_VMEM_DROP_AT ((size_t)256 << 10)    /* zeroed by dropping pages */
#define OJ_VMEM_SLAB ((size_t)256 << 20)       /* default slab */
#define OJ_VMEM_SPAN (((uint64_t)1 << 31) - ((uint64_t)16 << 20))
#define OJ_VMEM_LOW_END ((uint64_t)1 << 31)    /* end of the low window */
#define OJ_VMEM_OWN_AT ((size_t)128 << 20)     /* movable: a region of its own */
#define OJ_VMEM_MAX ((uint64_t)1 << 36)        /* largest allocation (64 GiB) */
#define OJ_VMEM_CLASSES 16                     /* R|W|X combinations, | OJ_VMEM_CLS_PLAIN */
#define OJ_VMEM_CLS_PLAIN 8u /* a class of private pages, in slabs with two views too */

typedef struct oj_slab {
  uintptr_t base;
  size_t size;
  int single;     /* reserved for one allocation larger than a slab */
  oj_vmview view; /* its memfd and writable alias (near window), fd -1 if none */
} oj_slab;

/* One window of address space: its slabs, free chunks and per-class pages. */
typedef struct oj_window {
  int low;
  oj_slab *slabs;
  size_t nslabs, capslabs;
  oj_rlist chunks;                     /* free chunks, owned by no class */
  oj_rlist pages[OJ_VMEM_CLASSES];     /* free pages of chunks owned by a class */
  uintptr_t lo, hi;                    /* span of the slabs (and libc) */
  int near_libc;
  size_t used;                         /* bytes in live pieces */
} oj_window;

typedef struct oj_vmem_piece {
  uintptr_t addr;
  size_t size; /* page multiple */
  unsigned char cls, finalize_only, live;
  int prot;
  /* In a slab with two views (oj_vmview.c), while epoch is oj_vmem_epoch:
  ** the slab's memfd and the distance from the piece to its writable view.
  ** fd -1: plain memory, written where it lies and protected per load. */
  int fd;
  unsigned epoch;
  intptr_t delta;
  uintptr_t base; /* the slab's base (offsets into its memfd) */
} oj_vmem_piece;

struct oj_vmem_alloc {
  oj_window *w;     /* NULL: a region of its own */
  uintptr_t region; /* the region of its own */
  size_t region_size;
  size_t n;
  oj_vmem_piece p[];
};

static pthread_mutex_t oj_vmem_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t oj_vmem_once = PTHREAD_ONCE_INIT;
static size_t oj_vmem_page = 4096;
static uintptr_t oj_vmem_libc;
static oj_window oj_vmem_near, oj_vmem_lowwin = {.low = 1};
/* Whether near-window slabs get two views: by default on x86-64 only.
** On aarch64 the scheme is sound (the instruction cache is flushed by the
** executable address after writing through the alias) but has run only
** under qemu-user, whose translation cache does not see writes through
** another mapping of a page: reused code crashed there.  Until it has run
** on ARM64 hardware, ORCJIT_DUAL_MAP=1 turns it on; ORCJIT_DUAL_MAP=0
** turns it off anywhere. */
#if defined(__x86_64__)
static int oj_vmem_dual = 1;
#else
static int oj_vmem_dual = 0;
#endif
/* Bumped in a child after fork(): the views of older pieces are gone. */
static unsigned oj_vmem_epoch;
/* fork(): the child tells the parent, by closing the write end, that it
** has its own copy of the shared pages (see oj_vmview.c). */
static int oj_vmem_forkpipe[2] = {-1, -1};

/* fork(): oj_fork.c's handlers take the lock after every load in progress
** has finished (the lock is never held while waiting on anything else), so
** the child gets the windows in a consistent state and the lock free.  Its
** own pthread_atfork handler would run before oj_fork.c's and wait for a
** load that needs this lock. */
void oj_vmem_fork_lock(int how) {
  oj_window *w = &oj_vmem_near;
  if (how == OJ_FORK_LOCK) {
    pthread_mutex_lock(&oj_vmem_lock);
    int views = 0;
    for (size_t i = 0; i < w->nslabs; i++) views |= w->slabs[i].view.fd >= 0;
    /* Without the pipe the parent cannot wait: it then may reuse pages
    ** that the child still runs before the child has copied them. */
    if (!views || pipe2(oj_vmem_forkpipe, O_CLOEXEC) != 0)
      oj_vmem_forkpipe[0] = oj_vmem_forkpipe[1] = -1;
  } else if (how == OJ_FORK_UNLOCK) {
    if (oj_vmem_forkpipe[0] >= 0) {
      /* Until the child has its copy (or is gone, or fork() failed: no
      ** writer is left then either).  A child that never gets there (an
      ** earlier atfork handler stuck) does not hang the parent. */
      close(oj_vmem_forkpipe[1]);
      struct pollfd pfd = {.fd = oj_vmem_forkpipe[0], .events = POLLIN};
      while (poll(&pfd, 1, 10000) < 0 && errno == EINTR) {
      }
      close(oj_vmem_forkpipe[0]);
    }
    pthread_mutex_unlock(&oj_vmem_lock);
  } else {
    pthread_mutex_init(&oj_vmem_lock, NULL);
    for (size_t i = 0; i < w->nslabs; i++)
      oj_vmview_privatize(&w->slabs[i].view, w->slabs[i].base, w->slabs[i].size);
    oj_vmem_epoch++;
    if (oj_vmem_forkpipe[0] >= 0) {
      close(oj_vmem_forkpipe[0]);
      close(oj_vmem_forkpipe[1]);
    }
  }
  if (how != OJ_FORK_LOCK) oj_vmem_forkpipe[0] = oj_vmem_forkpipe[1] = -1;
}

/* The slab of w that holds address a, or NULL. */
static oj_slab *oj_window_slab(oj_window *w, uintptr_t a) {
  for (size_t i = 0; i < w->nslabs; i++)
    if (a - w->slabs[i].base < w->slabs[i].size) return &w->slabs[i];
  return NULL;
}

/* Free ranges never span two slabs (oj_rlist fence): a piece then lies in
** one memfd, and its writable view is contiguous. */
static int oj_window_fence(const void *ctx, uintptr_t at) {
  const oj_window *w = ctx;
  for (size_t i = 0; i < w->nslabs; i++)
    if (at == w->slabs[i].base || at == w->slabs[i].base + w->slabs[i].size) return 1;
  return 0;
}

static int oj_piece_dual(const oj_vmem_piece *p) {
  return p->fd >= 0 && p->epoch == oj_vmem_epoch;
}

static void oj_vmem_init(void) {
  oj_window *ws[2] = {&oj_vmem_near, &oj_vmem_lowwin};
  for (int k = 0; k < 2; k++) {
    ws[k]->chunks.fence = oj_window_fence;
    ws[k]->chunks.ctx = ws[k];
    for (unsigned c = 0; c < OJ_VMEM_CLASSES; c++) {
      ws[k]->pages[c].fence = oj_window_fence;
      ws[k]->pages[c].ctx = ws[k];
    }
  }
  /* Valgrind, like qemu-user, misses code written through the alias: its
  ** translations of reused addresses went stale and the process crashed
  ** (unless --smc-check=all).  It always preloads its vgpreload_*.so. */
  const char *pre = getenv("LD_PRELOAD");
  if (pre && strstr(pre, "vgpreload_")) oj_vmem_dual = 0;
  const char *d = getenv("ORCJIT_DUAL_MAP");
  if (d && *d) oj_vmem_dual = strcmp(d, "0") != 0;
  long ps = sysconf(_SC_PAGESIZE);
  if (ps > 0) oj_vmem_page = (size_t)ps;
  Dl_info info;
  /* A function of libc that sanitizers do not intercept: &printf is the
  ** interceptor in an ASan executable, and the window then went near the
  ** executable, out of reach of libstdc++'s data for PIE code. */
  if (dladdr((void *)&gnu_get_libc_version, &info) && info.dli_fbase)
    oj_vmem_libc = (uintptr_t)info.dli_fbase;
}

static uintptr_t oj_up(uintptr_t v, size_t a) { return (v + a - 1) / a * a; }
static uintptr_t oj_down(uintptr_t v, size_t a) { return v / a * a; }
static size_t oj_max(size_t a, size_t b) { return a > b ? a : b; }
static size_t oj_min(size_t a, size_t b) { return a < b ? a : b; }

static unsigned oj_vmem_class(int prot) {
  return ((prot & PROT_READ) ? 1u : 0u) | ((prot & PROT_WRITE) ? 2u : 0u) |
         ((prot & PROT_EXEC) ? 4u : 0u);
}

/* ---- windows ------------------------------------------------------------- */

static void *oj_vmem_map(uintptr_t hint, size_t size, int fixed, int map32) {
  int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
  if (fixed) flags |= MAP_FIXED_NOREPLACE;
#ifdef MAP_32BIT
  if (map32) flags |= MAP_32BIT;
#else
  (void)map32;
#endif
  void *p = mmap((void *)hint, size, PROT_NONE, flags, -1, 0);
  if (p == MAP_FAILED) return NULL;
  if (fixed && (uintptr_t)p != hint) { /* kernel without MAP_FIXED_NOREPLACE */
    munmap(p, size);
    return NULL;
  }
  return p;
}

/* size bytes anywhere (below 2 GiB with map32), aligned to a chunk; 0 if
** none. */
static uintptr_t oj_vmem_map_aligned(size_t size, int map32) {
  void *p = oj_vmem_map(0, size + OJ_VMEM_CHUNK, 0, map32);
  if (!p) return 0;
  uintptr_t b = oj_up((uintptr_t)p, OJ_VMEM_CHUNK), e = (uintptr_t)p + size + OJ_VMEM_CHUNK;
  if (b > (uintptr_t)p) munmap(p, b - (uintptr_t)p);
  if (e > b + size) munmap((void *)(b + size), e - (b + size));
  return b;
}

/* Recomputes the span of w after slabs came or went. */
static void oj_window_span(oj_window *w) {
  if (w->nslabs == 0) {
    w->lo = w->hi = 0;
    w->near_libc = 0;
    return;
  }
  uintptr_t lo = UINTPTR_MAX, hi = 0;
  for (size_t i = 0; i < w->nslabs; i++) {
    if (w->slabs[i].base < lo) lo = w->slabs[i].base;
    if (w->slabs[i].base + w->slabs[i].size > hi) hi = w->slabs[i].base + w->slabs[i].size;
  }
  if (w->near_libc) {
    if (oj_vmem_libc < lo) lo = oj_vmem_libc;
    if (oj_vmem_libc + OJ_VMEM_CHUNK > hi) hi = oj_vmem_libc + OJ_VMEM_CHUNK;
  }
  w->lo = lo;
  w->hi = hi;
}

/* Whether a slab [p, p+size) keeps w within its bounds. */
static int oj_window_accepts(const oj_window *w, uintptr_t p, size_t size) {
  if (w->low) return p + size <= OJ_VMEM_LOW_END;
  uintptr_t lo = w->nslabs && w->lo < p ? w->lo : p;
  uintptr_t hi = w->nslabs && w->hi > p + size ? w->hi : p + size;
  return (uint64_t)(hi - lo) <= OJ_VMEM_SPAN;
}

/* The address-space limit (RLIMIT_AS), 0 if there is none. */
static uint64_t oj_vmem_as_limit(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_AS, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 0;
  return (uint64_t)rl.rlim_cur;
}

static int oj_window_add_slab(oj_window *w, uintptr_t p, size_t size, int single) {
  if (w->nslabs == w->capslabs) {
    size_t cap = w->capslabs ? w->capslabs * 2 : 8;
    oj_slab *v = realloc(w->slabs, cap * sizeof *v);
    if (!v) return -1;
    w->slabs = v;
    w->capslabs = cap;
  }
  if (oj_rlist_insert(&w->chunks, p, size) < 0) return -1;
  if (w->nslabs == 0 && !w->low && oj_vmem_libc) {
    uintptr_t d = p > oj_vmem_libc ? p + size - oj_vmem_libc
                                    : oj_vmem_libc + OJ_VMEM_CHUNK - p;
    w->near_libc = d <= OJ_VMEM_SPAN;
  }
  oj_slab *s = &w->slabs[w->nslabs];
  s->base = p;
  s->size = size;
  s->single = single;
  /* Two views where the system allows them; plain memory otherwise: in
  ** the low window (its -fno-pic objects are rare) and under an
  ** address-space limit (the alias would count twice against it). */
  if (w->low || !oj_vmem_dual || oj_vmem_as_limit() ||
      oj_vmview_open(&s->view, p, size) != 0)
    s->view.fd = -1;
  w->nslabs++;
  oj_window_span(w);
  return 0;
}

/* Reserves a slab of size bytes (a multiple of a chunk) in w: exact
** candidates first (MAP_FIXED_NOREPLACE), then anywhere and checked.
** 0; -1 when mmap found room but not within w's bounds, -2 when it found
** none (an address-space limit) or memory ran out. */
static int oj_window_reserve(oj_window *w, size_t size, int single) {
  uintptr_t cands[32];
  size_t nc = 0;
  if (w->low) {
    uintptr_t b = oj_vmem_map_aligned(size, 1);
    if (b && b + size <= OJ_VMEM_LOW_END) {
      if (oj_window_add_slab(w, b, size, single) == 0) return 0;
      munmap((void *)b, size);
      return -2;
    }
    if (b) munmap((void *)b, size);
    size_t step = oj_max(size, (size_t)64 << 20);
    for (uintptr_t top = OJ_VMEM_LOW_END; top >= size + ((uintptr_t)64 << 20) && nc < 32;
         top -= step)
      cands[nc++] = oj_down(top - size, OJ_VMEM_CHUNK);
  } else if (w->nslabs == 0) {
    uintptr_t libc = oj_vmem_libc;
    for (unsigned k = 0; libc > size + OJ_VMEM_CHUNK && k < 16; k++) {
      uint64_t off = size + OJ_VMEM_CHUNK + (uint64_t)k * size;
      if (off > OJ_VMEM_SPAN || off >= libc) break;
      cands[nc++] = oj_down(libc - off, OJ_VMEM_CHUNK);
    }
  } else {
    for (unsigned k = 0; k < 16; k++) {
      uint64_t step = (uint64_t)k * size;
      if (w->lo > size + step) cands[nc++] = w->lo - size - step;
      cands[nc++] = w->hi + step;
    }
  }
  for (size_t i = 0; i < nc; i++) {
    if (!oj_window_accepts(w, cands[i], size)) continue;
    if (!oj_vmem_map(cands[i], size, 1, 0)) continue;
    if (oj_window_add_slab(w, cands[i], size, single) == 0) return 0;
    munmap((void *)cands[i], size);
    return -2;
  }
  uintptr_t b = oj_vmem_map_aligned(size, 0);
  if (!b) return -2;
  if ((w->nslabs == 0 && !w->low) || oj_window_accepts(w, b, size)) {
    if (oj_window_add_slab(w, b, size, single) == 0) return 0;
    munmap((void *)b, size);
    return -2;
  }
  munmap((void *)b, size);
  return -1;
}

static void oj_window_drop_slab(oj_window *w, size_t i) {
  oj_vmview_close(&w->slabs[i].view, w->slabs[i].size);
  munmap((void *)w->slabs[i].base, w->slabs[i].size);
  memmove(w->slabs + i, w->slabs + i + 1, (w->nslabs - i - 1) * sizeof *w->slabs);
  w->nslabs--;
}

/* Unmaps the wholly free slabs of w (only those reserved for one
** allocation when singles_only); returns how many. */
static size_t oj_window_unmap_free(oj_window *w, int singles_only) {
  size_t count = 0;
  for (size_t i = 0; i < w->nslabs;) {
    const oj_slab *s = &w->slabs[i];
    long r = singles_only && !s->single ? -1 : oj_rlist_holding(&w->chunks, s->base, s->size);
    if (r < 0 || oj_rlist_cut(&w->chunks, (size_t)r, s->base, s->size) != 0) {
      i++;
      continue;
    }
    oj_window_drop_slab(w, i);
    count++;
  }
  if (count) oj_window_span(w);
  return count;
}

/* Under an address-space limit (RLIMIT_AS), a quarter of what is left of
** it: a slab never takes what the rest of the process (LLVM's own memory,
** the input files) needs.  SIZE_MAX without a limit. */
static size_t oj_vmem_headroom(void) {
  uint64_t limit = oj_vmem_as_limit();
  if (!limit) return SIZE_MAX;
  unsigned long pages = 0;
  FILE *f = fopen("/proc/self/statm", "re");
  if (!f) return SIZE_MAX;
  if (fscanf(f, "%lu", &pages) != 1) pages = 0;
  fclose(f);
  uint64_t used = (uint64_t)pages * oj_vmem_page;
  return used < limit ? (size_t)((limit - used) / 4) : 0;
}

/* Takes n bytes (a page multiple) aligned to align for class cls.  0, or
** -1 with the reason in why. */
static int oj_window_piece(oj_window *w, unsigned cls, size_t n, size_t align, size_t slab_size,
                           uintptr_t *out, char *why, size_t cap) {
  int rc = oj_rlist_take(&w->pages[cls], n, align, out);
  if (rc <= 0) goto taken;
  size_t want = oj_up(n + (align > oj_vmem_page ? align : 0), OJ_VMEM_CHUNK);
  uintptr_t c;
  rc = oj_rlist_take(&w->chunks, want, OJ_VMEM_CHUNK, &c);
  if (rc > 0) {
    /* A new slab: the session's size, or what this needs; under an
    ** address-space limit (ulimit -v) at most a quarter of what is left;
    ** halved while the address space or the window cannot give it. */
    size_t slab = oj_max(oj_min(slab_size, oj_down(oj_vmem_headroom(), OJ_VMEM_CHUNK)), want);
    if (w->low) slab = oj_max(oj_min(slab, OJ_VMEM_SLAB), want);
    int r;
    while ((r = oj_window_reserve(w, slab, slab > slab_size)) != 0) {
      if (slab == want) {
        if (r == -2)
          snprintf(why, cap, "cannot reserve %zu MiB of address space", want >> 20);
        else if (w->low)
          snprintf(why, cap, "no address space is free below 2 GiB");
        else
          snprintf(why, cap,
                   "no address space is free within 2 GiB of libc and the process's "
                   "other JIT code (%zu MiB of it in use)",
                   w->used >> 20);
        return -1;
      }
      slab = oj_max(want, oj_up(slab / 2, OJ_VMEM_CHUNK));
    }
    rc = oj_rlist_take(&w->chunks, want, OJ_VMEM_CHUNK, &c);
  }
  if (rc != 0) goto taken;
  oj_slab *s = oj_window_slab(w, c);
  if (s && s->view.fd >= 0 &&
      ((cls & OJ_VMEM_CLS_PLAIN) ? oj_vmview_plain(&s->view, s->base, c, want)
                                 : oj_vmview_map(&s->view, s->base, c, want, (int)cls)) != 0) {
    snprintf(why, cap, "cannot map JIT memory: %s", strerror(errno));
    (void)oj_rlist_insert(&w->chunks, c, want);
    return -1;
  }
  if (oj_rlist_insert(&w->pages[cls], c, want) < 0) {
    rc = -1;
    goto taken;
  }
  rc = oj_rlist_take(&w->pages[cls], n, align, out);
taken:
  if (rc == 0) return 0;
  snprintf(why, cap, rc < 0 ? "out of memory" : "internal error: fresh chunk too small");
  return -1;
}

/* Returns the live pieces of a to w's free lists (lock held). */
static void oj_window_free_pieces(oj_window *w, oj_vmem_piece *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (!p[i].live) continue;
    p[i].live = 0;
    w->used -= p[i].size;
    oj_rlist *rl = &w->pages[p[i].cls];
    long at = oj_rlist_insert(rl, p[i].addr, p[i].size);
    if (at < 0) continue;
    /* Whole chunks go back to the shared pool, for any class. */
    uintptr_t s = rl->v[at].a, e = s + rl->v[at].n;
    uintptr_t cs = oj_up(s, OJ_VMEM_CHUNK), ce = oj_down(e, OJ_VMEM_CHUNK);
    if (cs < ce && oj_rlist_cut(rl, (size_t)at, cs, ce - cs) == 0 &&
        oj_rlist_insert(&w->chunks, cs, ce - cs) < 0) {
      /* lost: stays reserved */
    }
  }
}

/* ---- allocations --------------------------------------------------------- */

/* Places a's pieces (sizes and alignments set) in a region of their own:
** small ones first, the largest last, so that code and small data stay
** within reach of each other whatever follows. */
static int oj_vmem_own(oj_vmem_alloc *a, const oj_vmem_seg *segs, char *why, size_t cap) {
  size_t *order = malloc(a->n * sizeof *order);
  if (!order) {
    snprintf(why, cap, "out of memory");
    return -1;
  }
  for (size_t i = 0; i < a->n; i++) {
    size_t j = i;
    while (j > 0 && a->p[order[j - 1]].size > a->p[i].size) {
      order[j] = order[j - 1];
      j--;
    }
    order[j] = i;
  }
  uint64_t off = 0;
  for (size_t k = 0; k < a->n; k++) {
    oj_vmem_piece *p = &a->p[order[k]];
    off = oj_up(off, oj_max(segs[order[k]].align, oj_vmem_page));
    p->addr = (uintptr_t)off;
    off += p->size;
  }
  free(order);
  uintptr_t base = off <= OJ_VMEM_MAX ? oj_vmem_map_aligned((size_t)off, 0) : 0;
  if (!base) {
    snprintf(why, cap, "cannot reserve %llu MiB of address space",
             (unsigned long long)((off + OJ_VMEM_CHUNK - 1) >> 20));
    return -1;
  }
  for (size_t i = 0; i < a->n; i++) a->p[i].addr += base;
  a->w = NULL;
  a->region = base;
  a->region_size = (size_t)off;
  return 0;
}

static int oj_vmem_shared(oj_vmem_alloc *a, oj_window *w, const oj_vmem_seg *segs,
                          size_t slab_size, char *why, size_t cap) {
  pthread_mutex_lock(&oj_vmem_lock);
  a->w = w;
  int rc = 0;
  for (size_t i = 0; i < a->n && rc == 0; i++) {
    oj_vmem_piece *p = &a->p[i];
    size_t align = oj_max(segs[i].align, oj_vmem_page);
    if ((uint64_t)p->size > OJ_VMEM_SPAN) {
      snprintf(why, cap, "a segment of %zu MiB does not fit in a 2 GiB window", p->size >> 20);
      rc = -1;
    } else {
      rc = oj_window_piece(w, p->cls, p->size, align, slab_size, &p->addr, why, cap);
    }
    if (rc == 0) {
      p->live = 1;
      w->used += p->size;
      oj_slab *s = oj_window_slab(w, p->addr);
      if (s && s->view.fd >= 0 && !(p->cls & OJ_VMEM_CLS_PLAIN)) {
        p->fd = s->view.fd;
        p->epoch = oj_vmem_epoch;
        p->delta = (intptr_t)(s->view.alias - s->base);
        p->base = s->base;
      }
    }
  }
  if (rc != 0) {
    oj_window_free_pieces(w, a->p, a->n);
    oj_window_unmap_free(w, 1);
    /* A region of its own may take them next (OJ_VMEM_MOVABLE): plain. */
    for (size_t i = 0; i < a->n; i++) a->p[i].fd = -1;
  }
  pthread_mutex_unlock(&oj_vmem_lock);
  return rc;
}

int oj_vmem_alloc_segments(oj_vmem_seg *segs, size_t n, unsigned flags, size_t slab_size,
                           oj_vmem_alloc **out, char *why, size_t cap) {
  *out = NULL;
  pthread_once(&oj_vmem_once, oj_vmem_init);
  slab_size = oj_up(slab_size ? slab_size : OJ_VMEM_SLAB, OJ_VMEM_CHUNK);
  uint64_t total = 0;
  for (size_t i = 0; i < n; i++) {
    if (segs[i].align > OJ_VMEM_CHUNK) {
      snprintf(why, cap, "segment alignment %zu is larger than 1 MiB", segs[i].align);
      return OJ_VMEM_ENOSPACE;
    }
    /* The ELF pre-pass bounds this; sizes this large would wrap below. */
    if ((uint64_t)segs[i].size > OJ_VMEM_MAX || total + segs[i].size > OJ_VMEM_MAX) {
      snprintf(why, cap, "the segments need more than %llu GiB",
               (unsigned long long)(OJ_VMEM_MAX >> 30));
      return OJ_VMEM_ENOSPACE;
    }
    total += oj_up(oj_max(segs[i].size, 1), oj_vmem_page);
  }
  oj_vmem_alloc *a = calloc(1, sizeof *a + n * sizeof a->p[0]);
  if (!a) {
    snprintf(why, cap, "out of memory");
    return OJ_VMEM_ENOSPACE;
  }
  a->n = n;
  for (size_t i = 0; i < n; i++) {
    a->p[i].size = oj_up(oj_max(segs[i].size, 1), oj_vmem_page);
    a->p[i].prot = segs[i].prot;
    a->p[i].cls = (unsigned char)(oj_vmem_class(segs[i].prot) |
                                  ((flags & OJ_VMEM_PLAIN) ? OJ_VMEM_CLS_PLAIN : 0));
    a->p[i].finalize_only = segs[i].finalize_only != 0;
    a->p[i].fd = -1;
  }
  int rc;
  if (flags & OJ_VMEM_LOW) {
    rc = oj_vmem_shared(a, &oj_vmem_lowwin, segs, slab_size, why, cap);
  } else if ((flags & OJ_VMEM_MOVABLE) && total >= OJ_VMEM_OWN_AT) {
    rc = oj_vmem_own(a, segs, why, cap);
  } else {
    rc = oj_vmem_shared(a, &oj_vmem_near, segs, slab_size, why, cap);
    if (rc != 0 && (flags & OJ_VMEM_MOVABLE)) rc = oj_vmem_own(a, segs, why, cap);
  }
  if (rc != 0) {
    free(a);
    return OJ_VMEM_ENOSPACE;
  }
  /* Writable and zero for JITLink.  A region of its own is fresh (zero);
  ** shared pieces may hold what a released library left. */
  for (size_t i = 0; i < n; i++) {
    oj_vmem_piece *p = &a->p[i];
    if (oj_piece_dual(p)) { /* written through its writable view */
      if (p->size >= OJ_VMEM_DROP_AT) oj_vmview_drop(p->fd, p->addr - p->base, p->size);
      else memset((void *)(p->addr + (uintptr_t)p->delta), 0, p->size);
      continue;
    }
    if (mprotect((void *)p->addr, p->size, PROT_READ | PROT_WRITE) != 0) {
      snprintf(why, cap, "cannot commit JIT memory: %s", strerror(errno));
      oj_vmem_free(a, 0);
      return OJ_VMEM_ECOMMIT;
    }
    if (!a->w) continue;
    /* Large pieces are zeroed by dropping their pages (private anonymous
    ** memory reads back as zero): a big .bss then costs no resident
    ** memory until the code touches it, as with dlopen. */
    if (p->size >= OJ_VMEM_DROP_AT) madvise((void *)p->addr, p->size, MADV_DONTNEED);
    else memset((void *)p->addr, 0, p->size);
  }
  for (size_t i = 0; i < n; i++) {
    segs[i].addr = a->p[i].addr;
    segs[i].work = a->p[i].addr + (oj_piece_dual(&a->p[i]) ? (uintptr_t)a->p[i].delta : 0);
  }
  if (!a->w)
    for (size_t i = 0; i < n; i++) a->p[i].live = 1;
  *out = a;
  return 0;
}

int oj_vmem_protect(oj_vmem_alloc *a) {
  for (size_t i = 0; i < a->n; i++) {
    oj_vmem_piece *p = &a->p[i];
    if (!oj_piece_dual(p) && mprotect((void *)p->addr, p->size, p->prot) != 0) return -1;
    if (p->prot & PROT_EXEC)
      __builtin___clear_cache((char *)p->addr, (char *)p->addr + p->size);
  }
  return 0;
}

/* Takes the pieces of a that match (all, or the finalize-only ones) out of
** use: pages dropped where large (or all, for a region of its own, whose
** address space stays with the allocation), back in the free lists. */
/* Returns how many pieces of a shared window had their pages given back to
** the system now (the large ones: regions given back, for
** orcjit_session_clear_free_slabs' count). */
static size_t oj_vmem_release(oj_vmem_alloc *a, int finalize_only, int keep_code) {
  int any = 0;
  size_t dropped = 0;
  for (size_t i = 0; i < a->n; i++) {
    oj_vmem_piece *p = &a->p[i];
    if (!p->live || (finalize_only && !p->finalize_only)) continue;
    int retire = keep_code && (p->prot & PROT_EXEC);
    if (!a->w) {
      madvise((void *)p->addr, p->size, MADV_DONTNEED);
      mprotect((void *)p->addr, p->size, PROT_NONE);
      p->live = 0;
    } else if (retire || p->size >= OJ_VMEM_DROP_AT) {
      if (oj_piece_dual(p)) oj_vmview_drop(p->fd, p->addr - p->base, p->size);
      else madvise((void *)p->addr, p->size, MADV_DONTNEED);
      dropped++;
    }
    if (a->w && retire) {
      /* Executable pages are retired: their memory went back to the OS,
      ** their addresses are never handed out again. */
      pthread_mutex_lock(&oj_vmem_lock);
      a->w->used -= p->size;
      p->live = 0;
      pthread_mutex_unlock(&oj_vmem_lock);
    }
    if (p->live) any = 1;
  }
  if (!a->w || !any) return dropped;
  pthread_mutex_lock(&oj_vmem_lock);
  if (finalize_only) {
    for (size_t i = 0; i < a->n; i++)
      if (a->p[i].live && a->p[i].finalize_only) oj_window_free_pieces(a->w, &a->p[i], 1);
  } else {
    oj_window_free_pieces(a->w, a->p, a->n);
  }
  pthread_mutex_unlock(&oj_vmem_lock);
  return dropped;
}

void oj_vmem_drop_finalize_only(oj_vmem_alloc *a) { (void)oj_vmem_release(a, 1, 0); }

size_t oj_vmem_free(oj_vmem_alloc *a, int keep_code) {
  if (!a) return 0;
  size_t count = 0;
  if (!a->w) {
    if (keep_code) {
      /* Its code may have breakpoints: the pages go, the addresses stay
      ** reserved for good. */
      (void)oj_vmem_release(a, 0, 1);
    } else {
      munmap((void *)a->region, a->region_size);
      count = 1;
    }
  } else {
    count = oj_vmem_release(a, 0, keep_code);
    pthread_mutex_lock(&oj_vmem_lock);
    count += oj_window_unmap_free(a->w, 1);
    pthread_mutex_unlock(&oj_vmem_lock);
  }
  free(a);
  return count;
}

/* Gives the pages of a free range back to the system: the memfd's (shared)
** unless the range is private (plain), the private ones unless shared. */
static void oj_window_drop_pages(oj_window *w, const oj_range *r, int shared, int plain) {
  const oj_slab *s = oj_window_slab(w, r->a);
  int view = s && s->view.fd >= 0;
  if (view && shared) oj_vmview_drop(s->view.fd, r->a - s->base, r->n);
  if (!view || plain) madvise((void *)r->a, r->n, MADV_DONTNEED);
}

size_t oj_vmem_clear(void) {
  pthread_once(&oj_vmem_once, oj_vmem_init);
  size_t count = 0;
  pthread_mutex_lock(&oj_vmem_lock);
  oj_window *ws[2] = {&oj_vmem_near, &oj_vmem_lowwin};
  for (int k = 0; k < 2; k++) {
    oj_window *w = ws[k];
    for (unsigned c = 0; c < OJ_VMEM_CLASSES; c++)
      for (size_t i = 0; i < w->pages[c].n; i++)
        oj_window_drop_pages(w, &w->pages[c].v[i], !(c & OJ_VMEM_CLS_PLAIN),
                             (c & OJ_VMEM_CLS_PLAIN) != 0);
    count += oj_window_unmap_free(w, 0);
    for (size_t i = 0; i < w->chunks.n; i++) oj_window_drop_pages(w, &w->chunks.v[i], 1, 1);
  }
  pthread_mutex_unlock(&oj_vmem_lock);
  return count;
}
