/*
** oj_vmem.h: the JIT memory of the process (oj_vmem.c): address space,
** page allocation, protections, zeroing, giving memory back.  Used by the
** session's JITLink memory manager (glue/oj_memmgr.cc), which only
** translates a link graph's segments into oj_vmem_seg and back.
*/
#ifndef OJ_VMEM_H
#define OJ_VMEM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One segment of a link graph (one protection and lifetime). */
typedef struct oj_vmem_seg {
  size_t size;       /* bytes (content + zero fill), > 0 */
  size_t align;      /* a power of two */
  int prot;          /* PROT_* after finalize */
  int finalize_only; /* freed once finalized (MemLifetime::Finalize) */
  uintptr_t addr;    /* out: where it goes */
  uintptr_t work;    /* out: where to write it until finalize (addr, or the
                     ** same pages' writable view: src/oj_vmview.c) */
} oj_vmem_seg;

/* Where an allocation may go (oj_vmem_alloc's flags). */
enum {
  /* Below 2 GiB (absolute 32-bit relocations to itself). */
  OJ_VMEM_LOW = 1,
  /* The allocation reaches nothing outside itself with a 32-bit relative
  ** relocation: when it is large, or when the shared window is full, it
  ** may get a region of its own anywhere in the address space. */
  OJ_VMEM_MOVABLE = 2,
  /* Private pages, written where they lie and protected per load, never
  ** the shared pages of two views (src/oj_vmview.c): a debugger can write
  ** breakpoints only into private pages. */
  OJ_VMEM_PLAIN = 4
};

typedef struct oj_vmem_alloc oj_vmem_alloc;

/* oj_vmem_alloc_segments's failures. */
enum {
  OJ_VMEM_ENOSPACE = 1, /* no room that the flags allow (or out of memory) */
  OJ_VMEM_ECOMMIT = 2   /* the pages could not be made writable */
};

/* Places the n segments, makes their pages writable and zero, sets each
** segs[i].addr and *out.  slab_size: address space to reserve at a time in
** a shared window (0: the default, 256 MiB).  On failure returns an
** OJ_VMEM_E* code and writes the reason (without the object's name) into
** why[0..cap). */
int oj_vmem_alloc_segments(oj_vmem_seg *segs, size_t n, unsigned flags, size_t slab_size,
                           oj_vmem_alloc **out, char *why, size_t cap);

/* Gives every segment its final protection (and flushes the instruction
** cache of code).  0, or -1 with errno set (the allocation is unchanged). */
int oj_vmem_protect(oj_vmem_alloc *a);

/* Frees the finalize-only segments (after the allocation actions ran). */
void oj_vmem_drop_finalize_only(oj_vmem_alloc *a);

/* Frees the allocation.  keep_code != 0: its executable pages are given
** back to the OS and their addresses never handed out again (a debugger
** may still have breakpoints there).  Returns the number of regions this
** gave back: reserved ones unmapped (a region of its own, a slab reserved
** for it) and pieces of 256 KiB or more whose pages were dropped. */
size_t oj_vmem_free(oj_vmem_alloc *a, int keep_code);

/* Gives the pages of free memory back to the OS and unmaps every wholly
** free slab of the shared windows.  Returns the number of slabs unmapped. */
size_t oj_vmem_clear(void);

#ifdef __cplusplus
}
#endif
#endif /* OJ_VMEM_H */
