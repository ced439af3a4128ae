/*
** oj_rtobj.c: the runtime object every library that needs it gets: a tiny
** ELF relocatable for the host's machine, built here byte by byte (the
** code of atexit and its relocations are the machine's, oj_arch.h), that
** defines
**   __dso_handle  8 bytes of .data in the library's own JIT memory (code
**                 refers to it PC-relatively, so a host address would be
**                 out of range); its address identifies the library;
**   atexit        atexit(fn) = __cxa_atexit(fn, 0, &__dso_handle), as
**                 glibc's libc_nonshared.a does (libc.so does not export
**                 atexit);
** both hidden, so they never leak into other libraries.  __cxa_atexit is
** resolved by oj_resolve.c to oj_rt_cxa_atexit.  A library whose objects
** need __dso_handle and not atexit gets no runtime object: one of its
** objects defines __dso_handle at its anchor (oj_elf_define_dso), which
** spares a link graph per library; the variant with atexit alone serves
** such a library if a later object calls atexit.
*/
#include <elf.h>
#include <pthread.h>
#include <string.h>

#include "oj_arch.h"
#include "oj_internal.h"

static const char oj_rtobj_strtab[] = "\0atexit\0__dso_handle\0__cxa_atexit";
static const char oj_rtobj_shstr[] =
    "\0.text\0.data\0.rela.text\0.symtab\0.strtab\0.shstrtab";

enum { OJ_RT_NSEC = 7 };

typedef struct oj_rtobj_layout {
  Elf64_Ehdr eh;
  unsigned char text[OJ_ARCH_RT_TEXT_MAX];
  unsigned char data[8];
  Elf64_Rela rela[OJ_ARCH_RT_RELA_MAX];
  Elf64_Sym sym[4];
  char strtab[sizeof oj_rtobj_strtab];
  char shstr[sizeof oj_rtobj_shstr];
  char pad[7];
  Elf64_Shdr sh[OJ_RT_NSEC];
} oj_rtobj_layout;

static oj_rtobj_layout oj_rtobj, oj_rtobj_atexit;
static pthread_once_t oj_rtobj_once = PTHREAD_ONCE_INIT;

#define OJ_OFF(f) ((Elf64_Off)offsetof(oj_rtobj_layout, f))

static void oj_rtobj_section(int i, unsigned name_off, Elf64_Word type, Elf64_Xword flags,
                             Elf64_Off off, Elf64_Xword size, Elf64_Word link,
                             Elf64_Word info, Elf64_Xword align, Elf64_Xword entsize) {
  Elf64_Shdr *s = &oj_rtobj.sh[i];
  s->sh_name = name_off;
  s->sh_type = type;
  s->sh_flags = flags;
  s->sh_offset = off;
  s->sh_size = size;
  s->sh_link = link;
  s->sh_info = info;
  s->sh_addralign = align;
  s->sh_entsize = entsize;
}

static void oj_rtobj_build(void) {
  oj_rtobj_layout *o = &oj_rtobj;
  const oj_arch *a = oj_arch_host();
  memset(o, 0, sizeof *o);
  oj_arch_elf_header(a, &o->eh, ET_REL);
  o->eh.e_shentsize = sizeof(Elf64_Shdr);
  o->eh.e_shnum = OJ_RT_NSEC;
  o->eh.e_shstrndx = 6;
  o->eh.e_shoff = OJ_OFF(sh);

  memcpy(o->text, a->rt_text, a->rt_text_size);
  /* symbols: 0 null, 1 atexit, 2 __dso_handle, 3 __cxa_atexit (undefined) */
  o->sym[1].st_name = 1;
  o->sym[1].st_info = ELF64_ST_INFO(STB_GLOBAL, STT_FUNC);
  o->sym[1].st_other = STV_HIDDEN;
  o->sym[1].st_shndx = 1;
  o->sym[1].st_size = a->rt_atexit_size;
  o->sym[2].st_name = 8;
  o->sym[2].st_info = ELF64_ST_INFO(STB_GLOBAL, STT_OBJECT);
  o->sym[2].st_other = STV_HIDDEN;
  o->sym[2].st_shndx = 2;
  o->sym[2].st_size = 8;
  o->sym[3].st_name = 21;
  o->sym[3].st_info = ELF64_ST_INFO(STB_GLOBAL, STT_NOTYPE);
  for (uint32_t i = 0; i < a->rt_nrelocs; i++) {
    o->rela[i].r_offset = a->rt_relocs[i].offset;
    o->rela[i].r_info = ELF64_R_INFO(a->rt_relocs[i].sym, a->rt_relocs[i].type);
    o->rela[i].r_addend = a->rt_relocs[i].addend;
  }
  memcpy(o->strtab, oj_rtobj_strtab, sizeof oj_rtobj_strtab);
  memcpy(o->shstr, oj_rtobj_shstr, sizeof oj_rtobj_shstr);

  /* name offsets in oj_rtobj_shstr */
  oj_rtobj_section(1, 1, SHT_PROGBITS, SHF_ALLOC | SHF_EXECINSTR, OJ_OFF(text), a->rt_text_size,
                   0, 0, 16, 0);
  oj_rtobj_section(2, 7, SHT_PROGBITS, SHF_ALLOC | SHF_WRITE, OJ_OFF(data), 8, 0, 0, 8, 0);
  oj_rtobj_section(3, 13, SHT_RELA, SHF_INFO_LINK, OJ_OFF(rela),
                   a->rt_nrelocs * sizeof(Elf64_Rela), 4, 1, 8, sizeof(Elf64_Rela));
  oj_rtobj_section(4, 24, SHT_SYMTAB, 0, OJ_OFF(sym), sizeof o->sym, 5, 1, 8,
                   sizeof(Elf64_Sym));
  oj_rtobj_section(5, 32, SHT_STRTAB, 0, OJ_OFF(strtab), sizeof o->strtab, 0, 0, 1, 0);
  oj_rtobj_section(6, 40, SHT_STRTAB, 0, OJ_OFF(shstr), sizeof o->shstr, 0, 0, 1, 0);

  /* The same with __dso_handle undefined. */
  oj_rtobj_atexit = *o;
  oj_rtobj_atexit.sym[2].st_info = ELF64_ST_INFO(STB_GLOBAL, STT_NOTYPE);
  oj_rtobj_atexit.sym[2].st_shndx = SHN_UNDEF;
  oj_rtobj_atexit.sym[2].st_size = 0;
}

const unsigned char *oj_rtobj_image(int with_dso, size_t *size) {
  pthread_once(&oj_rtobj_once, oj_rtobj_build);
  *size = sizeof oj_rtobj;
  return (const unsigned char *)(with_dso ? &oj_rtobj : &oj_rtobj_atexit);
}
