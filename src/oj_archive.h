/*
** oj_archive.h: reading static archives (oj_archive.c).
*/
#ifndef OJ_ARCHIVE_H
#define OJ_ARCHIVE_H

#include <stddef.h>

typedef struct oj_ar_member {
  char *name;                /* "<archive>(<member>)", malloc'd */
  const unsigned char *data; /* points into the archive bytes */
  size_t size;
} oj_ar_member;

/* Splits an ar archive (GNU or BSD names) into its members, skipping the
** symbol index and the long-name table.  Bounds-checked; on failure returns
** ORCJIT_EFORMAT with a message naming `what`. */
int oj_archive_parse(const void *data, size_t size, const char *what,
                     oj_ar_member **out, size_t *nout);
void oj_archive_free(oj_ar_member *m, size_t n);

#endif /* OJ_ARCHIVE_H */
