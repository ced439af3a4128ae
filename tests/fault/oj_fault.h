/*
** oj_fault.h: allocation-failure injection for the C core (test builds
** only: CMake option ORCJIT_FAULT_INJECT, tests/fault/run.sh).  Forced
** into every C file of src/ with -include, so the sources stay as they are: the
** allocation functions they call become the counting wrappers of
** oj_fault.c, which make the Nth allocation (ORCJIT_FAULT_AT=N) fail as
** the real function would (NULL, or MAP_FAILED with errno ENOMEM).
*/
#ifndef OJ_FAULT_H
#define OJ_FAULT_H

/* The real declarations first: the macros below must not rename them. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>

void *oj_fault_malloc(size_t n);
void *oj_fault_calloc(size_t n, size_t size);
void *oj_fault_realloc(void *p, size_t n);
char *oj_fault_strdup(const char *s);
char *oj_fault_strndup(const char *s, size_t n);
void *oj_fault_aligned_alloc(size_t align, size_t n);
int oj_fault_posix_memalign(void **out, size_t align, size_t n);
void *oj_fault_mmap(void *addr, size_t n, int prot, int flags, int fd, off_t off);

#undef malloc
#undef calloc
#undef realloc
#undef strdup
#undef strndup
#undef aligned_alloc
#undef posix_memalign
#undef mmap
#define malloc(n) oj_fault_malloc(n)
#define calloc(n, size) oj_fault_calloc(n, size)
#define realloc(p, n) oj_fault_realloc(p, n)
#define strdup(s) oj_fault_strdup(s)
#define strndup(s, n) oj_fault_strndup(s, n)
#define aligned_alloc(a, n) oj_fault_aligned_alloc(a, n)
#define posix_memalign(o, a, n) oj_fault_posix_memalign(o, a, n)
#define mmap(a, n, p, f, d, o) oj_fault_mmap(a, n, p, f, d, o)

#endif /* OJ_FAULT_H */
