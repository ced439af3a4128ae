/*
** oj_tar.h: reading tar files of objects (oj_tar.c), as Apache TVM's
** export_library("x.tar") writes them.
*/
#ifndef OJ_TAR_H
#define OJ_TAR_H

#include <stddef.h>

typedef struct oj_tar_member {
  char *name;                /* "<tar>(<member>)", malloc'd */
  const unsigned char *data; /* points into the tar's bytes */
  size_t size;
} oj_tar_member;

typedef struct oj_tar {
  unsigned char *plain;   /* the decompressed tar (gzip input), or NULL */
  oj_tar_member *objects; /* the members to load, in tar order */
  size_t nobjects;
  size_t nfiles; /* regular-file members in all, skipped ones included */
} oj_tar;

/* 1 if data is a tar (POSIX ustar or GNU magic) or gzip data (read as a
** compressed tar: TVM writes `tar -czf` output under the name x.tar). */
int oj_tar_is(const void *data, size_t size);

/* Reads a tar (gzip-compressed or not; bounds-checked, header checksums
** verified) and picks the members to load: regular files named *.o or
** *.a, or whose content is ELF or an ar archive.  Other members
** (directories, links, text or metadata files) are skipped.  A tar with
** nothing to load is an error.  On failure: ORCJIT_EFORMAT (or
** ORCJIT_ENOMEM) with a message naming `what` and the member, and *out
** zeroed.  `data` must outlive *out unless it was compressed. */
int oj_tar_open(const void *data, size_t size, const char *what, oj_tar *out);
void oj_tar_close(oj_tar *t);

#endif /* OJ_TAR_H */
