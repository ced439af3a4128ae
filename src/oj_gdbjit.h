/*
** oj_gdbjit.h: the process's entries in gdb's JIT interface (oj_gdbjit.c).
**
** gdb reads a list of in-memory object files from __jit_debug_descriptor
** and is told of each change by a breakpoint on __jit_debug_register_code
** (gdb's manual, "JIT Interface").  Both names are LLVM's (JITLoaderGDB.cpp,
** in libLLVM or linked into this library from a static LLVM) and are
** exported by src/exports.map, where gdb finds them in a stripped library;
** the layouts are gdb's documented C ABI.
*/
#ifndef OJ_GDBJIT_H
#define OJ_GDBJIT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct oj_gdbjit_entry oj_gdbjit_entry;

/* Adds image[0..size) (malloc'd; owned by the entry from now on, freed
** with it) to gdb's list and tells gdb.  NULL when out of memory (the
** image is freed then; the object simply has no debugger entry). */
oj_gdbjit_entry *oj_gdbjit_register(unsigned char *image, size_t size);

/* Removes e from gdb's list, tells gdb, frees e and its image.  e may be
** NULL. */
void oj_gdbjit_unregister(oj_gdbjit_entry *e);

#ifdef __cplusplus
}
#endif
#endif /* OJ_GDBJIT_H */
