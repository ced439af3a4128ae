/*
** oj_vmview.h: the two views of a slab of JIT memory (oj_vmview.c), used
** by the allocator (oj_vmem.c).
*/
#ifndef OJ_VMVIEW_H
#define OJ_VMVIEW_H
#include <stddef.h>
#include <stdint.h>

#define OJ_VMEM_CHUNK ((size_t)1 << 20) /* 1 MiB: a slab's unit of protection */
#define OJ_VMVIEW_UNMAPPED 0xff         /* a chunk still PROT_NONE anonymous */
#define OJ_VMVIEW_PLAIN 0xfe            /* a chunk of private anonymous pages */

typedef struct oj_vmview {
  int fd;             /* the memfd behind the slab; -1: plain anonymous memory */
  uintptr_t alias;    /* the slab's writable view (MAP_SHARED, read-write) */
  unsigned char *cls; /* per chunk: the protection its target view has */
} oj_vmview;

/* Gives the slab [base, base+size) (reserved PROT_NONE, a multiple of
** OJ_VMEM_CHUNK) a memfd and a writable alias.  0; or -1 when the system
** refuses (no memfd, executable memfds forbidden, no address space): v->fd
** is then -1 and the slab stays as it was. */
int oj_vmview_open(oj_vmview *v, uintptr_t base, size_t size);
/* Unmaps the alias and closes the memfd (the slab itself is the caller's). */
void oj_vmview_close(oj_vmview *v, size_t size);
/* Maps the chunks of [a, a+n) from the memfd with protection prot where
** they are not mapped so already.  0, or -1 with errno set. */
int oj_vmview_map(oj_vmview *v, uintptr_t base, uintptr_t a, size_t n, int prot);
/* Gives the chunks of [a, a+n) private anonymous pages (PROT_NONE) where
** they have the memfd's.  0, or -1 with errno set. */
int oj_vmview_plain(oj_vmview *v, uintptr_t base, uintptr_t a, size_t n);
/* Gives the pages [off, off+n) of memfd fd back to the system; they read
** back as zero in both views. */
void oj_vmview_drop(int fd, size_t off, size_t n);
/* In a child after fork(): replaces every mapped chunk by a private copy
** of its pages, with the same protection, and closes the memfd (v->fd
** becomes -1: the slab is plain anonymous memory from then on).  Uses only
** system calls and memcpy. */
void oj_vmview_privatize(oj_vmview *v, uintptr_t base, size_t size);

#endif /* OJ_VMVIEW_H */
