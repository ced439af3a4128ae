/*
** oj_memmgr.h: the JIT memory manager of a session (C interface to
** glue/oj_memmgr.cc).
**
** A session's code and data live in one window of reserved address space
** (all of it within +-2 GiB, near libc), sub-allocated page by page and
** reused after a library is released.  Link graphs with absolute 32-bit
** relocations (objects built with -fno-pic) are placed in a second window
** below 2 GiB, reserved on first need.
**
** Use:
**   oj_memmgr *mm = oj_memmgr_create(opts->slab_size);
**   LLVMOrcLLJITBuilderSetObjectLinkingLayerCreator(b,
**       oj_memmgr_create_object_layer, mm);
**   LLVMOrcCreateLLJIT(&jit, b);
**   ...
**   LLVMOrcDisposeLLJIT(jit);
**   oj_memmgr_destroy(mm);        (only after the LLJIT is gone)
**
** All functions are thread-safe.
*/
#ifndef OJ_MEMMGR_H
#define OJ_MEMMGR_H

#include <stddef.h>

#include <llvm-c/Orc.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct oj_memmgr oj_memmgr;

/* Creates the manager.  slab_size is the address space reserved at a time
** (rounded up to 1 MiB); 0 means the default, 256 MiB.  Reserved space
** costs no memory until used.  NULL on out of memory. */
oj_memmgr *oj_memmgr_create(size_t slab_size);

/* An LLVMOrcLLJITBuilderObjectLinkingLayerCreatorFunction; ctx is the
** oj_memmgr.  Makes a JITLink ObjectLinkingLayer that allocates from the
** manager and registers eh-frames (as LLJIT's default layer does).  Never
** returns NULL. */
LLVMOrcObjectLayerRef oj_memmgr_create_object_layer(void *ctx,
                                                    LLVMOrcExecutionSessionRef es,
                                                    const char *triple);

/* Makes every later allocation for jd go below 2 GiB (low != 0) or back to
** the automatic choice (low == 0).  Automatic: a link graph goes low when
** it has an R_X86_64_32/32S relocation to its own code or data.  Use this
** when an object of the library has such relocations to symbols of other
** objects (or of the library's runtime object) that are linked before it;
** clear it when the JITDylib is given to another library. */
void oj_memmgr_set_dylib_low(oj_memmgr *m, LLVMOrcJITDylibRef jd, int low);

/* keep != 0: executable pages freed from now on are returned to the OS and
** never reused (their address space stays reserved), so that new code never
** lands where a debugger may still have a breakpoint of released code.
** Set by sessions with debugger support. */
void oj_memmgr_set_keep_code(oj_memmgr *m, int keep);

/* Gives the memory of free pages back to the operating system (madvise
** MADV_DONTNEED) and unmaps wholly free slabs (except the first one of
** the normal window).  Returns the bytes of memory released (pages that
** were resident). */
size_t oj_memmgr_clear_free_slabs(oj_memmgr *m);

typedef struct oj_memmgr_stats {
  size_t reserved;      /* address space reserved, both windows */
  size_t reserved_low;  /* of which below 2 GiB */
  size_t used;          /* bytes in live allocations (page granular) */
  size_t slabs;         /* reservations (mappings before protections) */
  size_t allocations;   /* live finalized allocations */
  uintptr_t lowest;     /* lowest and highest address of the normal window */
  uintptr_t highest;
} oj_memmgr_stats;

void oj_memmgr_get_stats(oj_memmgr *m, oj_memmgr_stats *out);

/* Frees the manager and unmaps its memory.  Only after the LLJIT that used
** it is disposed.  NULL is a no-op. */
void oj_memmgr_destroy(oj_memmgr *m);

#ifdef __cplusplus
}
#endif
#endif /* OJ_MEMMGR_H */
