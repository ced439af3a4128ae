/*
** oj_memmgr.h: the JIT memory manager of a session (C interface to
** glue/oj_memmgr.cc).
**
** The memory itself is the process's (src/oj_vmem.c): one shared window
** near libc for every session (within +-2 GiB of libc and of each other),
** a second one below 2 GiB for link graphs with absolute 32-bit
** relocations (-fno-pic), and regions of their own for large graphs that
** reach nothing outside themselves with a 32-bit relative relocation.
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
** (rounded up to 1 MiB; halved while an address-space limit refuses it);
** 0 means the default, 256 MiB.  Reserved space costs no memory until
** used.  NULL on out of memory. */
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

/* Gives the pages of free JIT memory back to the operating system (madvise
** MADV_DONTNEED) and unmaps every wholly free slab of the process's shared
** windows.  Returns the number of reserved regions given back: the slabs
** this call unmapped, plus the regions (a large allocation's own region or
** the slab reserved for it) unmapped when libraries of this session were
** released since the previous call. */
size_t oj_memmgr_clear_free_slabs(oj_memmgr *m);

/* Frees the manager and unmaps its memory.  Only after the LLJIT that used
** it is disposed.  NULL is a no-op. */
void oj_memmgr_destroy(oj_memmgr *m);

#ifdef __cplusplus
}
#endif
#endif /* OJ_MEMMGR_H */
