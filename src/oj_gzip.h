/*
** oj_gzip.h: decompressing gzip data (oj_gzip.c).
*/
#ifndef OJ_GZIP_H
#define OJ_GZIP_H

#include <stddef.h>

/* 1 if data starts like a gzip member (RFC 1952: 1f 8b, method 8). */
int oj_gzip_is(const void *data, size_t size);

/* Decompresses every gzip member of data into one malloc'd buffer (*out,
** *nout; *out is never NULL on success).  Bounds-checked against arbitrary
** bytes; the CRC-32 and length of each member are verified; output beyond
** `limit` bytes is refused.  On failure: ORCJIT_EFORMAT (or ORCJIT_ENOMEM)
** with a message naming `what`, and *out NULL. */
int oj_gzip_inflate(const void *data, size_t size, const char *what, size_t limit,
                    unsigned char **out, size_t *nout);

#endif /* OJ_GZIP_H */
