/*
** oj_arch.c: the generic helpers over a machine's descriptor (oj_arch.h):
** the descriptor of one relocation type, and the hint for a link error.
** The descriptors themselves are the oj_arch_<machine>.c files.
*/
#include <string.h>

#include "oj_arch.h"

const oj_arch_reloc *oj_arch_reloc_of(const oj_arch *a, uint32_t type) {
  if (type < a->nrelocs && a->relocs[type].name) return &a->relocs[type];
  return &a->unknown;
}

const char *oj_arch_link_hint(const oj_arch *a, const char *msg, int low) {
  for (const oj_arch_hint *h = a->link_hints; h && h->needle; h++)
    if ((!h->when_low || low) && strstr(msg, h->needle)) return h->hint;
  return NULL;
}
