/*
** oj_statictls.h: static TLS reserved from the C library for loaded
** objects that use initial-exec or local-exec thread-locals
** (oj_statictls.c).
*/
#ifndef OJ_STATICTLS_H
#define OJ_STATICTLS_H

#include <stdint.h>

typedef struct oj_statictls oj_statictls;

/* Reserves a block of `size` bytes at alignment `align` in every thread's
** static TLS, initialised from init[0..initsz) and zeros after, in the
** threads that exist and in every thread created later.  ORCJIT_OK, or
** ORCJIT_EUNSUPPORTED with a message saying how much was needed and how
** much the C library had left (the caller prefixes the library and file). */
int oj_statictls_alloc(const void *init, uint64_t initsz, uint64_t size, uint64_t align,
                       oj_statictls **out);
/* The block's offset from the thread pointer (negative on x86-64). */
int64_t oj_statictls_tpoff(const oj_statictls *s);
/* Gives the block back.  NULL is fine. */
void oj_statictls_free(oj_statictls *s);

#endif /* OJ_STATICTLS_H */
