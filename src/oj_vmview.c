/*
** oj_vmview.c: two views of the same pages, so that loading makes no
** mprotect.
**
** Each slab of the near window (oj_vmem.c) lives in a memfd that is mapped
** twice: once read-write anywhere (the alias, where JITLink writes code and
** data and applies fixups) and once at the slab's own addresses, chunk by
** chunk with the final protection of the class that owns the chunk (R,
** RX, RW; where code runs).  A chunk is mapped for its class when a class
** first takes it and stays so while it is free; a later load writes
** through the alias and finalizes with nothing more than an instruction
** cache flush.  The per-load mprotect calls this saves were 14% of a small
** object's load, and with two threads loading they serialised on the mm
** lock and the TLB shootdowns they cause (2-thread throughput 1.2x one
** thread before, 1.9x after: docs/design.md, "JIT memory").
**
** W^X holds per address: no page is ever writable and executable at the
** same address.  The system may refuse executable memfds
** (vm.memfd_noexec=2, an SELinux policy): the slab then stays plain
** anonymous memory, protected per load as before.
**
** fork(): MAP_SHARED pages are shared with a child, and a parent that
** reuses a released library's pages would rewrite code the child still
** runs.  The child therefore copies every mapped chunk into private memory
** of its own (oj_vmview_privatize, from oj_vmem.c's atfork handler) while
** the parent waits for it.
*/
#include "oj_vmview.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 1u
#endif
#ifndef MFD_EXEC
#define MFD_EXEC 0x10u
#endif

int memfd_create(const char *name, unsigned flags); /* glibc 2.27; oj_compat.c */

/* An anonymous PROT_NONE reservation over [a, a+n), as the slab began. */
static void oj_vmview_unmap(uintptr_t a, size_t n) {
  mmap((void *)a, n, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
}

int oj_vmview_open(oj_vmview *v, uintptr_t base, size_t size) {
  v->fd = -1;
  v->alias = 0;
  v->cls = NULL;
  /* MFD_EXEC: kernels with vm.memfd_noexec=1 seal new memfds against
  ** execution unless it is asked for; older kernels refuse the unknown
  ** flag, and then a memfd without it is executable. */
  int fd = memfd_create("tvm-ffi-orcjit-jit", MFD_CLOEXEC | MFD_EXEC);
  if (fd < 0 && errno == EINVAL) fd = memfd_create("tvm-ffi-orcjit-jit", MFD_CLOEXEC);
  if (fd < 0) return -1;
  unsigned char *cls = malloc(size / OJ_VMEM_CHUNK);
  void *alias = MAP_FAILED;
  if (!cls || ftruncate(fd, (off_t)size) != 0) goto fail;
  alias = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
  if (alias == MAP_FAILED) goto fail;
  /* Whether this system lets a memfd be executable: tried on the first
  ** chunk, which goes back to the reservation it was. */
  if (mmap((void *)base, OJ_VMEM_CHUNK, PROT_READ | PROT_EXEC, MAP_SHARED | MAP_FIXED, fd, 0) ==
      MAP_FAILED)
    goto fail;
  oj_vmview_unmap(base, OJ_VMEM_CHUNK);
  memset(cls, OJ_VMVIEW_UNMAPPED, size / OJ_VMEM_CHUNK);
  v->fd = fd;
  v->alias = (uintptr_t)alias;
  v->cls = cls;
  return 0;
fail:
  if (alias != MAP_FAILED) munmap(alias, size);
  free(cls);
  close(fd);
  return -1;
}

void oj_vmview_close(oj_vmview *v, size_t size) {
  if (v->fd < 0) return;
  munmap((void *)v->alias, size);
  close(v->fd);
  free(v->cls);
  v->fd = -1;
  v->alias = 0;
  v->cls = NULL;
}

int oj_vmview_map(oj_vmview *v, uintptr_t base, uintptr_t a, size_t n, int prot) {
  size_t i = (a - base) / OJ_VMEM_CHUNK, end = (a + n - base) / OJ_VMEM_CHUNK;
  while (i < end) {
    if (v->cls[i] == (unsigned char)prot) {
      i++;
      continue;
    }
    size_t j = i + 1;
    while (j < end && v->cls[j] != (unsigned char)prot) j++;
    off_t off = (off_t)(i * OJ_VMEM_CHUNK);
    if (mmap((void *)(base + (size_t)off), (j - i) * OJ_VMEM_CHUNK, prot, MAP_SHARED | MAP_FIXED,
             v->fd, off) == MAP_FAILED)
      return -1;
    memset(v->cls + i, prot, j - i);
    i = j;
  }
  return 0;
}

int oj_vmview_plain(oj_vmview *v, uintptr_t base, uintptr_t a, size_t n) {
  size_t i = (a - base) / OJ_VMEM_CHUNK, end = (a + n - base) / OJ_VMEM_CHUNK;
  for (; i < end; i++) {
    if (v->cls[i] == OJ_VMVIEW_PLAIN) continue;
    if (mmap((void *)(base + i * OJ_VMEM_CHUNK), OJ_VMEM_CHUNK, PROT_NONE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0) == MAP_FAILED)
      return -1;
    v->cls[i] = OJ_VMVIEW_PLAIN;
  }
  return 0;
}

void oj_vmview_drop(int fd, size_t off, size_t n) {
  (void)fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)n);
}

/* Copies the pages of the memfd that hold data in [off, off+n) to dst:
** holes stay untouched zero pages of the private copy. */
static void oj_vmview_copy_data(const oj_vmview *v, char *dst, off_t off, size_t n) {
  off_t end = off + (off_t)n;
  for (off_t o = off; o < end;) {
    off_t d = lseek(v->fd, o, SEEK_DATA);
    if (d < 0 || d >= end) return;
    off_t h = lseek(v->fd, d, SEEK_HOLE);
    if (h < 0 || h > end) h = end;
    memcpy(dst + (d - off), (const char *)v->alias + d, (size_t)(h - d));
    o = h;
  }
}

void oj_vmview_privatize(oj_vmview *v, uintptr_t base, size_t size) {
  if (v->fd < 0) return;
  size_t nch = size / OJ_VMEM_CHUNK;
  for (size_t i = 0; i < nch;) {
    unsigned char prot = v->cls[i];
    size_t j = i + 1;
    while (j < nch && v->cls[j] == prot) j++;
    if (prot != OJ_VMVIEW_UNMAPPED && prot != OJ_VMVIEW_PLAIN) {
      size_t n = (j - i) * OJ_VMEM_CHUNK;
      uintptr_t a = base + i * OJ_VMEM_CHUNK;
      void *tmp = mmap(NULL, n, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      /* Out of memory in the child: the chunk stays shared with the
      ** parent (what it holds is still correct until the parent reuses
      ** a page of it). */
      if (tmp != MAP_FAILED) {
        oj_vmview_copy_data(v, tmp, (off_t)(i * OJ_VMEM_CHUNK), n);
        if (mprotect(tmp, n, prot) != 0 ||
            mremap(tmp, n, n, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)a) == MAP_FAILED)
          munmap(tmp, n);
      }
    }
    i = j;
  }
  oj_vmview_close(v, size);
}
