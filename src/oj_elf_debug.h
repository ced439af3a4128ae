/*
** oj_elf_debug.h: the copy of a linked object that gdb reads
** (oj_elf_debug.c).
**
** It is the image the ELF pre-pass made, whose allocated sections' sh_addr
** are set to where JITLink put them and whose loader-made marker symbols
** (__orcjit.*) are made undefined so that gdb never names code after them;
** gdb reads it as a relocatable object: symbols, DWARF and .eh_frame are
** placed by those addresses.  Extended section numbering (e_shnum 0,
** e_shstrndx SHN_XINDEX: 65,280 sections or more) is read as ELF says.
*/
#ifndef OJ_ELF_DEBUG_H
#define OJ_ELF_DEBUG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct oj_elf_debug_sec {
  uint64_t offset, size, flags;
  uint32_t type;
  const char *name; /* inside the image, name_len bytes, "" if none */
  size_t name_len;
  uint64_t placed;  /* offset in the section of the lowest placed block,
                       UINT64_MAX: none yet */
} oj_elf_debug_sec;

typedef struct oj_elf_debug {
  unsigned char *image; /* malloc'd copy of the object */
  size_t size;
  uint64_t shoff;       /* of the section header table */
  uint32_t nsec;
  oj_elf_debug_sec *sec;
  uint32_t *byoff;      /* allocated sections with contents, by offset */
  uint32_t nbyoff;
} oj_elf_debug;

/* Copies data[0..size) into *d (zeroed first) and reads its section
** table.  0 on success; -1 if it is not a readable ELF64 object or memory
** ran out (then *d holds nothing and the object gets no entry). */
int oj_elf_debug_open(oj_elf_debug *d, const void *data, size_t size);

/* The section holding file offset off of the image (a block's contents),
** with the offset in it: 1, or 0 if off lies in no allocated section. */
int oj_elf_debug_section_at(const oj_elf_debug *d, uint64_t off, uint32_t *sec,
                            uint64_t *delta);

/* The first allocated zero-fill section named name[0..len): 1, or 0. */
int oj_elf_debug_nobits_named(const oj_elf_debug *d, const char *name, size_t len,
                              uint32_t *sec);

/* A block at offset delta of section sec was placed at addr: the section's
** sh_addr becomes addr - delta, from the block with the lowest delta. */
void oj_elf_debug_place(oj_elf_debug *d, uint32_t sec, uint64_t delta, uint64_t addr);

/* Makes the loader's marker symbols undefined (value and size 0). */
void oj_elf_debug_hide_markers(oj_elf_debug *d);

/* Hands the image over (the caller frees it) and frees the rest of *d. */
unsigned char *oj_elf_debug_take(oj_elf_debug *d, size_t *size);

/* Frees everything *d holds and zeroes it; safe on a zeroed struct. */
void oj_elf_debug_free(oj_elf_debug *d);

#ifdef __cplusplus
}
#endif
#endif /* OJ_ELF_DEBUG_H */
