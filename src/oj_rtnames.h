/*
** oj_rtnames.h: the one list of the names the loader provides itself,
** never taken from the host (oj_rtnames.c).
*/
#ifndef OJ_RTNAMES_H
#define OJ_RTNAMES_H

#include <stdint.h>

enum {
  OJ_RT_SHIM = 1,   /* bound to a function of the loader (oj_rtnames_shim) */
  OJ_RT_OBJECT = 2, /* defined by the library's runtime object (oj_rtobj.c) */
  OJ_RT_LINKER = 3  /* defined by JITLink */
};
/* OJ_RT_* of name, 0 if the host provides it. */
int oj_rtnames_kind(const char *name);
/* The address of the loader's shim for name, 0 if it has none. */
uint64_t oj_rtnames_shim(const char *name);

#endif /* OJ_RTNAMES_H */
