/*
** oj_arch.c: the generic helpers over a machine's descriptor (oj_arch.h):
** the descriptor of one relocation type, the hint for a link error, and
** the ELF header of an object the loader writes.
** The descriptors themselves are the oj_arch_<machine>.c files.
*/
#include <elf.h>
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

void oj_arch_elf_header(const oj_arch *a, void *ehdr, uint16_t type) {
  Elf64_Ehdr *eh = ehdr;
  memcpy(eh->e_ident, ELFMAG, SELFMAG);
  eh->e_ident[EI_CLASS] = ELFCLASS64;
  eh->e_ident[EI_DATA] = ELFDATA2LSB;
  eh->e_ident[EI_VERSION] = EV_CURRENT;
  eh->e_type = type;
  eh->e_machine = a->e_machine;
  eh->e_version = EV_CURRENT;
  eh->e_ehsize = sizeof(Elf64_Ehdr);
}
