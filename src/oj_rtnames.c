/*
** oj_rtnames.c: the one list of the undefined symbols the loader provides
** itself instead of taking them from the host process.  The resolver
** (oj_resolve.c) binds the shims, the library decides from it whether an
** object needs the per-library runtime object (oj_add.c), and
** orcjit_inspect_* reports these names as ORCJIT_SYM_RUNTIME (oj_inspect.c).
**   shims:          __cxa_atexit (handlers run when the library unloads),
**                   __tls_get_addr, __cxa_thread_atexit(_impl) (oj_tls.c)
**   aarch64:        __tlsdesc_resolver and the outline-atomics helpers
**                   __aarch64_* (oj_a64rt.c)
**   runtime object: atexit, __dso_handle, one per library (oj_rtobj.c)
**   the linker:     _GLOBAL_OFFSET_TABLE_ (JITLink defines it per graph)
*/
#include <string.h>

#include "oj_internal.h"

static const struct {
  const char *name;
  int kind;   /* OJ_RT_* */
  void *shim; /* for OJ_RT_SHIM */
} oj_rtnames[] = {
    {"__cxa_atexit", OJ_RT_SHIM, (void *)&oj_rt_cxa_atexit},
    {"__tls_get_addr", OJ_RT_SHIM, (void *)&oj_tls_get_addr},
    {"__cxa_thread_atexit", OJ_RT_SHIM, (void *)&oj_tls_cxa_thread_atexit},
    {"__cxa_thread_atexit_impl", OJ_RT_SHIM, (void *)&oj_tls_cxa_thread_atexit},
    {"atexit", OJ_RT_OBJECT, NULL},
    {"__dso_handle", OJ_RT_OBJECT, NULL},
    {"_GLOBAL_OFFSET_TABLE_", OJ_RT_LINKER, NULL},
};

static int oj_rtnames_find(const char *name) {
  if (name[0] != '_' && name[0] != 'a') return -1;
  /* The first bytes first: C++ names (_Z...) match none, and strcmp was
  ** half of binding a C++ object's imports.  Every name here has 6+ bytes. */
  for (size_t i = 0; i < sizeof oj_rtnames / sizeof *oj_rtnames; i++) {
    const char *t = oj_rtnames[i].name;
    if (name[1] == t[1] && name[2] == t[2] && strcmp(name, t) == 0) return (int)i;
  }
  return -1;
}

int oj_rtnames_kind(const char *name) {
  int i = oj_rtnames_find(name);
  if (i < 0) return oj_a64rt_find(name) ? OJ_RT_SHIM : 0;
  return oj_rtnames[i].kind;
}

uint64_t oj_rtnames_shim(const char *name) {
  int i = oj_rtnames_find(name);
  return i < 0 ? oj_a64rt_find(name) : (uint64_t)(uintptr_t)oj_rtnames[i].shim;
}
