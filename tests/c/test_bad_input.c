/*
** test_bad_input.c: every kind of bad input gives a clear error naming the
** input and the library, and the library and its session keep working.
** Covered: a path that does not exist, a directory, an empty file, a text
** file, truncated ELF and corrupted ELF headers (from a file and from
** memory), other architectures and object formats, a shared library and
** executables.  corrupt_elf: damaged sections, symbols and relocations, and
** a deterministic byte-flip fuzz (any status, never a crash).  unsupported:
** objects compilers make that the loader refuses (initial-exec and
** local-exec TLS, compact relocations, large common symbols, AArch64) and
** archives with no usable member.  bad_files: a huge file, a file without
** read permission, a FIFO, a device.  fuzz_regressions: every input in
** fuzz/regressions/ is refused cleanly.
*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* setfsuid, mkfifo */
#endif
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

#include "oj_test.h"

#define FORMATISH (OJT_S(ORCJIT_EFORMAT) | OJT_S(ORCJIT_EUNSUPPORTED))
#define DEEP (OJT_S(ORCJIT_EFORMAT) | OJT_S(ORCJIT_ELINK) | OJT_S(ORCJIT_EUNSUPPORTED))

static orcjit_library *g_lib;
static void *g_version; /* __tvm_ffi_version of ver1.o, loaded in g_lib */
static const char *g_libname = "bad_lib";

/* After each failure: the library's code still runs.  (The library holds
** ver1.o, not add.o: the corrupted inputs are copies of add.o, and some of
** them would otherwise be refused as duplicates before their damage shows.) */
static void still_calls(const char *file, int line) {
  int64_t out = 0;
  if (ojt_call(g_version, 0, NULL, &out) != 0 || out != 11)
    ojt_fail(file, line, "version() == 11 after a refused input");
}

/* add_file(path) must fail with a status in mask, naming path and library. */
#define BAD_FILE(path, mask) bad_file(__FILE__, __LINE__, (path), (mask))
static void bad_file(const char *file, int line, const char *path, unsigned mask) {
  ojt_step("bad file %s", path);
  int rc = orcjit_library_add_file(g_lib, path);
  ojt_capture();
  if (!(mask & OJT_S(rc))) ojt_fail_status(file, line, path, rc, mask);
  if (!strstr(ojt_captured_msg(), path)) ojt_fail_msg(file, line, path);
  if (!strstr(ojt_captured_msg(), g_libname)) ojt_fail_msg(file, line, g_libname);
  if (orcjit_last_status() != rc) ojt_fail(file, line, "orcjit_last_status() == rc");
  still_calls(file, line);
}

/* Like BAD_FILE, and the message must also contain why1 and why2 (the
** cause; NULL for none). */
#define BAD_FILE_WHY(path, mask, why1, why2) \
  bad_file_why(__FILE__, __LINE__, (path), (mask), (why1), (why2))
static void bad_file_why(const char *file, int line, const char *path, unsigned mask,
                         const char *why1, const char *why2) {
  bad_file(file, line, path, mask);
  if (why1 && !strstr(ojt_captured_msg(), why1)) ojt_fail_msg(file, line, why1);
  if (why2 && !strstr(ojt_captured_msg(), why2)) ojt_fail_msg(file, line, why2);
}

/* add_memory(data) must fail with a status in mask, naming name. */
#define BAD_MEM(data, size, name, mask) \
  bad_mem(__FILE__, __LINE__, (data), (size), (name), (mask))
static void bad_mem(const char *file, int line, const void *data, size_t size,
                    const char *name, unsigned mask) {
  ojt_step("bad memory input %s", name);
  int rc = orcjit_library_add_memory(g_lib, data, size, name);
  ojt_capture();
  if (!(mask & OJT_S(rc))) ojt_fail_status(file, line, name, rc, mask);
  if (!strstr(ojt_captured_msg(), name)) ojt_fail_msg(file, line, name);
  still_calls(file, line);
}

/* Writes data into the scratch directory under name; returns the path. */
static const char *scratch_file(const char *name, const void *data, size_t size) {
  static char bufs[4][4096];
  static int next;
  char *p = bufs[next++ & 3];
  snprintf(p, 4096, "%s/%s", ojt_scratch_dir(), name);
  ojt_write_file(p, data, size);
  return p;
}

/* Applies a corruption to a copy of the object and checks it both from a
** file and from memory. */
typedef void (*corrupt_fn)(unsigned char *elf, size_t size);

static void check_corrupt(const char *what, const unsigned char *orig, size_t size,
                          corrupt_fn fn, unsigned mask) {
  /* OJT_SKIP=name,name...: skips corruptions (to look past a crash). */
  const char *skip = getenv("OJT_SKIP");
  if (skip && strstr(skip, what)) {
    printf("skipping corruption %s (OJT_SKIP)\n", what);
    return;
  }
  unsigned char *copy = malloc(size);
  REQUIRE(copy != NULL);
  memcpy(copy, orig, size);
  fn(copy, size);
  char name[128];
  snprintf(name, sizeof name, "corrupt-%s.o", what);
  bad_file(__FILE__, __LINE__, scratch_file(name, copy, size), mask);
  snprintf(name, sizeof name, "corrupt-%s-in-memory", what);
  bad_mem(__FILE__, __LINE__, copy, size, name, mask);
  free(copy);
}

static Elf64_Shdr *shdrs(unsigned char *e) {
  return (Elf64_Shdr *)(e + ((Elf64_Ehdr *)e)->e_shoff);
}
static Elf64_Shdr *find_section(unsigned char *e, uint32_t type) {
  Elf64_Ehdr *h = (Elf64_Ehdr *)e;
  for (int i = 0; i < h->e_shnum; i++)
    if (shdrs(e)[i].sh_type == type) return &shdrs(e)[i];
  return NULL;
}

static void c_magic(unsigned char *e, size_t n) { e[3] = 'G'; }
static void c_class32(unsigned char *e, size_t n) { e[EI_CLASS] = ELFCLASS32; }
static void c_bigendian(unsigned char *e, size_t n) { e[EI_DATA] = ELFDATA2MSB; }
static void c_type_dyn(unsigned char *e, size_t n) { ((Elf64_Ehdr *)e)->e_type = ET_DYN; }
static void c_type_exec(unsigned char *e, size_t n) { ((Elf64_Ehdr *)e)->e_type = ET_EXEC; }
static void c_machine(unsigned char *e, size_t n) {
  ((Elf64_Ehdr *)e)->e_machine = ((Elf64_Ehdr *)e)->e_machine == EM_AARCH64 ? EM_X86_64 : EM_AARCH64;
}
static void c_shoff_huge(unsigned char *e, size_t n) {
  ((Elf64_Ehdr *)e)->e_shoff = 0x7fffffff0000ull;
}
static void c_shoff_past_end(unsigned char *e, size_t n) {
  ((Elf64_Ehdr *)e)->e_shoff = n - 8;
}
static void c_shnum_huge(unsigned char *e, size_t n) { ((Elf64_Ehdr *)e)->e_shnum = 0xfff0; }
static void c_shentsize(unsigned char *e, size_t n) { ((Elf64_Ehdr *)e)->e_shentsize = 12; }
static void c_shstrndx(unsigned char *e, size_t n) {
  ((Elf64_Ehdr *)e)->e_shstrndx = ((Elf64_Ehdr *)e)->e_shnum + 5;
}
static void c_symtab_offset(unsigned char *e, size_t n) {
  find_section(e, SHT_SYMTAB)->sh_offset = n + 4096;
}
static void c_symtab_size(unsigned char *e, size_t n) {
  find_section(e, SHT_SYMTAB)->sh_size = 0x10000000ull;
}
static void c_symtab_link(unsigned char *e, size_t n) {
  find_section(e, SHT_SYMTAB)->sh_link = 0xffff;
}
static void c_symtab_entsize(unsigned char *e, size_t n) {
  find_section(e, SHT_SYMTAB)->sh_entsize = 7;
}
static void c_section_offset(unsigned char *e, size_t n) {
  /* The first PROGBITS section with content (.text) points past the end. */
  Elf64_Ehdr *h = (Elf64_Ehdr *)e;
  for (int i = 0; i < h->e_shnum; i++)
    if (shdrs(e)[i].sh_type == SHT_PROGBITS && shdrs(e)[i].sh_size) {
      shdrs(e)[i].sh_offset = n + 64;
      return;
    }
}
static void c_symbol_shndx(unsigned char *e, size_t n) {
  /* Every defined global symbol points at a section that does not exist. */
  Elf64_Shdr *st = find_section(e, SHT_SYMTAB);
  Elf64_Sym *syms = (Elf64_Sym *)(e + st->sh_offset);
  for (size_t i = st->sh_info; i < st->sh_size / sizeof(Elf64_Sym); i++)
    if (syms[i].st_shndx != SHN_UNDEF) syms[i].st_shndx = 0xfe00;
}
static void c_symbol_name(unsigned char *e, size_t n) {
  Elf64_Shdr *st = find_section(e, SHT_SYMTAB);
  Elf64_Sym *syms = (Elf64_Sym *)(e + st->sh_offset);
  for (size_t i = 1; i < st->sh_size / sizeof(Elf64_Sym); i++) syms[i].st_name = 0x7ffffff0;
}
static void c_reloc_symbol(unsigned char *e, size_t n) {
  Elf64_Shdr *rs = find_section(e, SHT_RELA);
  Elf64_Rela *r = (Elf64_Rela *)(e + rs->sh_offset);
  for (size_t i = 0; i < rs->sh_size / sizeof(Elf64_Rela); i++)
    r[i].r_info = ELF64_R_INFO(0xfffff0u, ELF64_R_TYPE(r[i].r_info));
}
static void c_reloc_offset(unsigned char *e, size_t n) {
  Elf64_Shdr *rs = find_section(e, SHT_RELA);
  Elf64_Rela *r = (Elf64_Rela *)(e + rs->sh_offset);
  for (size_t i = 0; i < rs->sh_size / sizeof(Elf64_Rela); i++) r[i].r_offset = 0x40000000;
}
static void c_reloc_type(unsigned char *e, size_t n) {
  Elf64_Shdr *rs = find_section(e, SHT_RELA);
  Elf64_Rela *r = (Elf64_Rela *)(e + rs->sh_offset);
  for (size_t i = 0; i < rs->sh_size / sizeof(Elf64_Rela); i++)
    r[i].r_info = ELF64_R_INFO(ELF64_R_SYM(r[i].r_info), 0xfe);
}
static void c_reloc_target(unsigned char *e, size_t n) {
  find_section(e, SHT_RELA)->sh_info = 0xfff;
}
static void c_strtab_unterminated(unsigned char *e, size_t n) {
  Elf64_Ehdr *h = (Elf64_Ehdr *)e;
  Elf64_Shdr *str = &shdrs(e)[find_section(e, SHT_SYMTAB)->sh_link];
  (void)h;
  memset(e + str->sh_offset, 'A', str->sh_size);
}

/* Every section unloaded (no SHF_ALLOC) / every loaded section of type
** SHT_NULL: JITLink 22 then links a graph with nothing to allocate and
** crashes on the first error (found by fuzz_load; refused by oj_elf.c). */
static void c_all_unallocated(unsigned char *e, size_t n) {
  for (int i = 0; i < ((Elf64_Ehdr *)e)->e_shnum; i++) shdrs(e)[i].sh_flags &= ~(uint64_t)SHF_ALLOC;
}
static void c_alloc_type_null(unsigned char *e, size_t n) {
  for (int i = 0; i < ((Elf64_Ehdr *)e)->e_shnum; i++)
    if (shdrs(e)[i].sh_flags & SHF_ALLOC) shdrs(e)[i].sh_type = SHT_NULL;
}

/* Section 0 turned into a copy of .rela.text that applies to .data (4
** bytes): JITLink reads a section 0 of type SHT_RELA, so these offsets
** would patch memory past .data (found by fuzz_elf). */
static void c_section0_rela(unsigned char *e, size_t n) {
  Elf64_Ehdr *h = (Elf64_Ehdr *)e;
  Elf64_Shdr *rela = find_section(e, SHT_RELA);
  int data = 0;
  const char *names = (const char *)e + shdrs(e)[h->e_shstrndx].sh_offset;
  for (int i = 0; i < h->e_shnum; i++)
    if (strcmp(names + shdrs(e)[i].sh_name, ".data") == 0) data = i;
  shdrs(e)[0] = *rela;
  shdrs(e)[0].sh_info = (uint32_t)data;
}
/* .eh_frame not allocated: JITLink would register it with the unwinder at
** address 0 (found by fuzz_load). */
static void c_eh_frame_unallocated(unsigned char *e, size_t n) {
  Elf64_Ehdr *h = (Elf64_Ehdr *)e;
  const char *names = (const char *)e + shdrs(e)[h->e_shstrndx].sh_offset;
  for (int i = 0; i < h->e_shnum; i++)
    if (strcmp(names + shdrs(e)[i].sh_name, ".eh_frame") == 0)
      shdrs(e)[i].sh_flags &= ~(uint64_t)SHF_ALLOC;
}

/* The second record of .eh_frame (the first FDE) points one byte past its
** CIE (found by fuzz_load: JITLink read out of bounds). */
static void c_eh_frame_cie_pointer(unsigned char *e, size_t n) {
  Elf64_Ehdr *h = (Elf64_Ehdr *)e;
  const char *names = (const char *)e + shdrs(e)[h->e_shstrndx].sh_offset;
  for (int i = 0; i < h->e_shnum; i++) {
    if (strcmp(names + shdrs(e)[i].sh_name, ".eh_frame") != 0) continue;
    unsigned char *p = e + shdrs(e)[i].sh_offset;
    uint32_t len, id;
    memcpy(&len, p, 4);
    memcpy(&id, p + 4 + len + 4, 4);
    id += 1;
    memcpy(p + 4 + len + 4, &id, 4);
  }
}
/* The CIE's FDE pointer encoding ("zR", byte 16 of the record in clang's
** and gcc's output) set to 0x08, a size DWARF does not define: JITLink 22
** reached llvm_unreachable (found by fuzz_load). */
static void c_eh_frame_encoding(unsigned char *e, size_t n) {
  Elf64_Ehdr *h = (Elf64_Ehdr *)e;
  const char *names = (const char *)e + shdrs(e)[h->e_shstrndx].sh_offset;
  for (int i = 0; i < h->e_shnum; i++)
    if (strcmp(names + shdrs(e)[i].sh_name, ".eh_frame") == 0) {
      unsigned char *p = e + shdrs(e)[i].sh_offset;
      if (memcmp(p + 9, "zR", 3) == 0) p[16] = 0x08;
    }
}
/* Symbol 0 given a value, and a relocation of an unknown type against it:
** JITLink 22 dereferenced a null pointer formatting its error (found by
** fuzz_load). */
static void c_symbol0_value(unsigned char *e, size_t n) {
  Elf64_Shdr *st = find_section(e, SHT_SYMTAB);
  Elf64_Sym *syms = (Elf64_Sym *)(e + st->sh_offset);
  Elf64_Shdr *rs = find_section(e, SHT_RELA);
  Elf64_Rela *r = (Elf64_Rela *)(e + rs->sh_offset);
  syms[0].st_value = 0x0600000000000000ull;
  r[0].r_info = ELF64_R_INFO(0, 0x01000002u);
}
/* The symbol string table's first byte made nonzero (symbol 0 then has a
** name), and a relocation of an unknown type against symbol 0: the same
** JITLink null dereference (found by fuzz_load). */
static void c_strtab_first_byte(unsigned char *e, size_t n) {
  Elf64_Shdr *st = find_section(e, SHT_SYMTAB);
  Elf64_Shdr *rs = find_section(e, SHT_RELA);
  Elf64_Rela *r = (Elf64_Rela *)(e + rs->sh_offset);
  e[shdrs(e)[st->sh_link].sh_offset] = 'x';
  r[0].r_info = ELF64_R_INFO(0, 0x502u);
}
/* .data turned into a zero-fill section of nearly 2^64 bytes: JITLink's
** layout and the memory manager's sizes wrapped around zero (found by
** fuzz_load: an object "loaded" with a block outside its memory). */
static void c_nobits_huge(unsigned char *e, size_t n) {
  Elf64_Ehdr *h = (Elf64_Ehdr *)e;
  const char *names = (const char *)e + shdrs(e)[h->e_shstrndx].sh_offset;
  for (int i = 0; i < h->e_shnum; i++)
    if (strcmp(names + shdrs(e)[i].sh_name, ".data") == 0) {
      shdrs(e)[i].sh_type = SHT_NOBITS;
      shdrs(e)[i].sh_size = 0xffffffffffffff9cull;
    }
}
/* Two global symbols made common, of 2^63 and 2^63 + 8 bytes: the sizes
** summed past 2^64 in JITLink's layout and the common section wrapped to 8
** bytes (found by review after the .bss case above). */
static void c_common_wrap(unsigned char *e, size_t n) {
  Elf64_Shdr *st = find_section(e, SHT_SYMTAB);
  Elf64_Sym *sym = (Elf64_Sym *)(e + st->sh_offset);
  uint64_t size = 1ull << 63;
  for (uint64_t i = st->sh_info; i < st->sh_size / sizeof *sym; i++)
    if (sym[i].st_shndx != SHN_UNDEF && size <= (1ull << 63) + 8) {
      sym[i].st_shndx = SHN_COMMON;
      sym[i].st_value = 4; /* the alignment, for a common symbol */
      sym[i].st_size = size;
      size += 8;
    }
}
static Elf64_Shdr *find_named(unsigned char *e, const char *name);

/* The first global definition of add.o, edited by the cases below. */
static Elf64_Sym *first_global_def(unsigned char *e) {
  Elf64_Shdr *st = find_section(e, SHT_SYMTAB);
  Elf64_Sym *sym = (Elf64_Sym *)(e + st->sh_offset);
  for (uint64_t i = st->sh_info; i < st->sh_size / sizeof *sym; i++)
    if (sym[i].st_shndx != SHN_UNDEF) return &sym[i];
  return NULL;
}
/* Made absolute: JITLink 22 defines no absolute symbol, and an object
** with nothing else to allocate crashed its error path (found by review). */
static void c_abs_global(unsigned char *e, size_t n) {
  first_global_def(e)->st_shndx = SHN_ABS;
}
/* st_value + st_size wraps past 2^64: JITLink's bounds check wrapped too
** and placed the symbol outside its block (found by review). */
static void c_symbol_wraps(unsigned char *e, size_t n) {
  Elf64_Sym *s = first_global_def(e);
  s->st_value = 0xfffffffffffffff8ull;
  s->st_size = 16;
}
/* Type STT_COMMON in a normal section: LLVM made it a common block of
** st_size bytes, outside the 64 GiB count (found by review). */
static void c_stt_common(unsigned char *e, size_t n) {
  Elf64_Sym *s = first_global_def(e);
  s->st_info = ELF64_ST_INFO(STB_GLOBAL, STT_COMMON);
  s->st_size = 1ull << 62;
}
/* The CIE's augmentation "zR" made "RR": JITLink 22 copies L, P and R
** into a 4-byte array without a bounds check, so a longer string smashed
** its stack (found by review); a letter twice is refused. */
static void c_cie_letters(unsigned char *e, size_t n) {
  Elf64_Shdr *eh = find_named(e, ".eh_frame");
  unsigned char *p = e + eh->sh_offset;
  if (p[8] == 1 && p[9] == 'z' && p[10] == 'R') p[9] = 'R'; /* version, "zR" */
}
/* .comment renamed .common, a name JITLink 22 gives its own section of
** common symbols (it adopted the object's, loaded or not: found by review). */
static void c_reserved_section(unsigned char *e, size_t n) {
  Elf64_Ehdr *h = (Elf64_Ehdr *)e;
  char *names = (char *)e + shdrs(e)[h->e_shstrndx].sh_offset;
  Elf64_Shdr *cm = find_named(e, ".comment");
  if (cm) memcpy(names + cm->sh_name, ".common", sizeof ".common");
}
/* The global oj_plain_mul renamed with the loader's marker prefix. */
static void c_marker_name(unsigned char *e, size_t n) {
  Elf64_Shdr *st = find_section(e, SHT_SYMTAB);
  char *str = (char *)e + shdrs(e)[st->sh_link].sh_offset;
  size_t len = shdrs(e)[st->sh_link].sh_size;
  char *at = memmem(str, len, "oj_plain_mul", sizeof "oj_plain_mul");
  if (at) memcpy(at, "__orcjit.J0", sizeof "__orcjit.J0");
}
/* oj_plain_mul renamed __dso_handle (same length): an object's own handle
** made its atexit handlers outlive the library (found by review). */
static void c_own_dso_handle(unsigned char *e, size_t n) {
  Elf64_Shdr *st = find_section(e, SHT_SYMTAB);
  char *str = (char *)e + shdrs(e)[st->sh_link].sh_offset;
  char *at = memmem(str, shdrs(e)[st->sh_link].sh_size, "oj_plain_mul", sizeof "oj_plain_mul");
  if (at) memcpy(at, "__dso_handle", sizeof "__dso_handle");
}
/* The first relocation of .text made a GOTPCREL of a section symbol:
** JITLink keyed GOT entries by name, so nameless targets shared one
** (found by review). */
static void c_got_nameless(unsigned char *e, size_t n) {
  Elf64_Shdr *st = find_section(e, SHT_SYMTAB);
  Elf64_Sym *sym = (Elf64_Sym *)(e + st->sh_offset);
  Elf64_Shdr *rt = find_named(e, ".rela.text");
  if (!rt) return;
  for (uint64_t i = 1; i < st->sh_info; i++)
    if (ELF64_ST_TYPE(sym[i].st_info) == STT_SECTION) {
      Elf64_Rela *r = (Elf64_Rela *)(e + rt->sh_offset);
      r->r_info = ELF64_R_INFO(i, OJT_R_GOT);
      return;
    }
}
/* add.o's first FDE (after one CIE): its PC range made 1 GiB, or its
** start address relocated against an undefined (host) function.  libgcc
** registered it, and the next C++ exception of the process crashed
** (found by review). */
static uint64_t first_fde(unsigned char *e) {
  Elf64_Shdr *eh = find_named(e, ".eh_frame");
  uint32_t len;
  memcpy(&len, e + eh->sh_offset, 4);
  return 4 + (uint64_t)len; /* offset of the FDE in .eh_frame */
}
static void c_fde_range(unsigned char *e, size_t n) {
  Elf64_Shdr *eh = find_named(e, ".eh_frame");
  uint32_t range = 0x40000000u; /* after length, CIE pointer, PC-begin (sdata4) */
  memcpy(e + eh->sh_offset + first_fde(e) + 12, &range, 4);
}
static void c_fde_undefined(unsigned char *e, size_t n) {
  Elf64_Shdr *st = find_section(e, SHT_SYMTAB);
  Elf64_Sym *sym = (Elf64_Sym *)(e + st->sh_offset);
  Elf64_Shdr *rs = find_named(e, ".rela.eh_frame");
  Elf64_Rela *r = (Elf64_Rela *)(e + rs->sh_offset);
  uint64_t undef = 0;
  for (uint64_t i = st->sh_info; i < st->sh_size / sizeof *sym && !undef; i++)
    if (sym[i].st_shndx == SHN_UNDEF) undef = i;
  for (uint64_t k = 0; k < rs->sh_size / sizeof *r; k++)
    if (r[k].r_offset == first_fde(e) + 8) {
      r[k].r_info = ELF64_R_INFO(undef, ELF64_R_TYPE(r[k].r_info));
      r[k].r_addend = 0;
    }
}
/* A function made thread-local (STT_TLS) in .text. */
static void c_tls_type(unsigned char *e, size_t n) {
  Elf64_Sym *s = first_global_def(e);
  s->st_info = ELF64_ST_INFO(STB_GLOBAL, STT_TLS);
}
/* An undefined symbol given binding STB_GNU_UNIQUE. */
static void c_undef_unique(unsigned char *e, size_t n) {
  Elf64_Shdr *st = find_section(e, SHT_SYMTAB);
  Elf64_Sym *sym = (Elf64_Sym *)(e + st->sh_offset);
  for (uint64_t i = st->sh_info; i < st->sh_size / sizeof *sym; i++)
    if (sym[i].st_shndx == SHN_UNDEF) {
      sym[i].st_info = ELF64_ST_INFO(STB_GNU_UNIQUE, ELF64_ST_TYPE(sym[i].st_info));
      break;
    }
}
/* The relocation of ctor_host.o's .init_array entry, edited below: each
** edit made the loader call something that is not a function of the
** object (found by review: garbage, address 0 + addend, data, the host). */
static Elf64_Rela *init_rela(unsigned char *e) {
  Elf64_Shdr *r = find_named(e, ".rela.init_array");
  return r ? (Elf64_Rela *)(e + r->sh_offset) : NULL;
}
static void c_init_no_reloc(unsigned char *e, size_t n) {
  Elf64_Rela *r = init_rela(e);
  Elf64_Shdr *ia = find_named(e, ".init_array");
  uint64_t junk = 0x4141414141ull;
  if (!r || !ia) return;
  r->r_info = ELF64_R_INFO(ELF64_R_SYM(r->r_info), OJT_R_NONE);
  memcpy(e + ia->sh_offset, &junk, 8);
}
static void c_init_pc32(unsigned char *e, size_t n) {
  Elf64_Rela *r = init_rela(e);
  if (r) r->r_info = ELF64_R_INFO(ELF64_R_SYM(r->r_info), OJT_R_PC32);
}
static void c_init_addend(unsigned char *e, size_t n) {
  Elf64_Rela *r = init_rela(e);
  if (r) r->r_addend = 0x10000000;
}
static void c_init_undefined(unsigned char *e, size_t n) {
  Elf64_Shdr *st = find_section(e, SHT_SYMTAB);
  Elf64_Sym *sym = (Elf64_Sym *)(e + st->sh_offset);
  Elf64_Rela *r = init_rela(e);
  if (!r) return;
  const char *str = (const char *)e + shdrs(e)[st->sh_link].sh_offset;
  for (uint64_t i = st->sh_info; i < st->sh_size / sizeof *sym; i++)
    if (sym[i].st_shndx == SHN_UNDEF && strcmp(str + sym[i].st_name, "oj_test_host_note") == 0)
      r->r_info = ELF64_R_INFO(i, OJT_R_ABS64);
}
/* .data (loaded) renamed like the first section before it that is not
** loaded (.strtab from clang, .rela.text from gcc): JITLink merges sections
** by name, and .data then got no memory (found by fuzz_load). */
static void c_same_name(unsigned char *e, size_t n) {
  Elf64_Ehdr *h = (Elf64_Ehdr *)e;
  const char *names = (const char *)e + shdrs(e)[h->e_shstrndx].sh_offset;
  int unloaded = 0;
  for (int i = 1; i < h->e_shnum; i++) {
    if (!unloaded && !(shdrs(e)[i].sh_flags & SHF_ALLOC)) unloaded = i;
    if (strcmp(names + shdrs(e)[i].sh_name, ".data") == 0 && unloaded)
      shdrs(e)[i].sh_name = shdrs(e)[unloaded].sh_name;
  }
}
/* .rela.text applied to .comment (not loaded, 20-odd bytes): offsets past
** its end were not checked for unloaded sections. */
static void c_reloc_into_unallocated(unsigned char *e, size_t n) {
  Elf64_Ehdr *h = (Elf64_Ehdr *)e;
  const char *names = (const char *)e + shdrs(e)[h->e_shstrndx].sh_offset;
  for (int i = 0; i < h->e_shnum; i++)
    if (strcmp(names + shdrs(e)[i].sh_name, ".comment") == 0)
      find_section(e, SHT_RELA)->sh_info = (uint32_t)i;
}
/* .comment moved onto the ELF header, then onto the section header table:
** no tool writes overlapping sections, and the pre-pass edits its copy in
** place (found by fuzz_elf: a resolved DTPOFF32 overwrote the ELF magic). */
static Elf64_Shdr *find_named(unsigned char *e, const char *name) {
  Elf64_Ehdr *h = (Elf64_Ehdr *)e;
  const char *names = (const char *)e + shdrs(e)[h->e_shstrndx].sh_offset;
  for (int i = 0; i < h->e_shnum; i++)
    if (strcmp(names + shdrs(e)[i].sh_name, name) == 0) return &shdrs(e)[i];
  return NULL;
}
static void c_overlap_header(unsigned char *e, size_t n) {
  find_named(e, ".comment")->sh_offset = 16;
}
static void c_overlap_table(unsigned char *e, size_t n) {
  find_named(e, ".comment")->sh_offset = ((Elf64_Ehdr *)e)->e_shoff;
}

static uint64_t xorshift(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static orcjit_session *setup(void) {
  orcjit_session *s = NULL;
  REQUIRE_OK(orcjit_session_create(NULL, &s));
  REQUIRE_OK(orcjit_library_create(s, g_libname, &g_lib));
  REQUIRE_OK(orcjit_library_add_file(g_lib, ojt_obj("ver1.o")));
  REQUIRE_OK(orcjit_library_get_function(g_lib, "version", &g_version));
  still_calls(__FILE__, __LINE__);
  return s;
}

void ojt_case_bad_input(void) {
  orcjit_session *s = setup();
  const char *dir = ojt_scratch_dir();
  char path[4096];

  /* ---- files that are not objects ---- */
  snprintf(path, sizeof path, "%s/does_not_exist.o", dir);
  BAD_FILE(path, OJT_S(ORCJIT_EIO));
  BAD_FILE("/nonexistent-dir-orcjit/x.o", OJT_S(ORCJIT_EIO));
  BAD_FILE(dir, OJT_S(ORCJIT_EIO) | OJT_S(ORCJIT_EFORMAT));
  BAD_FILE(scratch_file("empty.o", "", 0), OJT_S(ORCJIT_EFORMAT));
  static const char text[] =
      "This is a text file, not an object.\nIt has several lines.\n"
      "!<arch> appears here but not at the start.\n";
  BAD_FILE(scratch_file("text.o", text, sizeof text - 1), OJT_S(ORCJIT_EFORMAT));
  ojt_step("text from memory without a name");
  CHECK_STATUS(orcjit_library_add_memory(g_lib, text, sizeof text - 1, NULL), ORCJIT_EFORMAT);
  CHECK_MSG("<memory>");
  CHECK_MSG(g_libname);
  still_calls(__FILE__, __LINE__);
  BAD_FILE(scratch_file("tiny.o", "\x7f", 1), OJT_S(ORCJIT_EFORMAT));
  BAD_FILE(scratch_file("magic_only.o", "\x7f" "ELF", 4), OJT_S(ORCJIT_EFORMAT));
  /* An empty archive may be accepted (as a linker does) or refused. */
  ojt_step("empty archive");
  CHECK_STATUS_IN(orcjit_library_add_file(g_lib, scratch_file("empty.a", "!<arch>\n", 8)),
                  OJT_S(ORCJIT_EFORMAT) | OJT_S(ORCJIT_OK));
  still_calls(__FILE__, __LINE__);
  BAD_FILE(scratch_file("bad_archive.a", "!<arch>\ngarbage member header\n", 30),
           OJT_S(ORCJIT_EFORMAT));
  CHECK_STILL_WORKS(g_lib);

  /* ---- truncated ---- */
  size_t size = 0;
  unsigned char *elf = ojt_read_file(ojt_obj("add.o"), &size);
  REQUIRE(size > 1024);
  const size_t cuts[] = {10, 63, 64, 200, size / 2, size - 100, size - 1};
  for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
    char name[64];
    snprintf(name, sizeof name, "truncated-%zu.o", cuts[i]);
    unsigned mask = cuts[i] <= 64 ? OJT_S(ORCJIT_EFORMAT) : DEEP;
    BAD_FILE(scratch_file(name, elf, cuts[i]), mask);
    snprintf(name, sizeof name, "truncated-%zu-in-memory", cuts[i]);
    BAD_MEM(elf, cuts[i], name, mask);
  }
  BAD_MEM(elf, 0, "zero-bytes-in-memory", OJT_S(ORCJIT_EFORMAT) | OJT_S(ORCJIT_EINVAL));
  CHECK_STILL_WORKS(g_lib);

  /* ---- corrupted ---- */
  check_corrupt("magic", elf, size, c_magic, OJT_S(ORCJIT_EFORMAT));
  check_corrupt("class32", elf, size, c_class32, FORMATISH);
  check_corrupt("bigendian", elf, size, c_bigendian, FORMATISH);
  check_corrupt("type-dyn", elf, size, c_type_dyn, FORMATISH);
  check_corrupt("type-exec", elf, size, c_type_exec, FORMATISH);
  check_corrupt("machine", elf, size, c_machine, FORMATISH);
  check_corrupt("shoff-huge", elf, size, c_shoff_huge, OJT_S(ORCJIT_EFORMAT));
  check_corrupt("shoff-past-end", elf, size, c_shoff_past_end, OJT_S(ORCJIT_EFORMAT));
  check_corrupt("shnum-huge", elf, size, c_shnum_huge, OJT_S(ORCJIT_EFORMAT));
  check_corrupt("shentsize", elf, size, c_shentsize, OJT_S(ORCJIT_EFORMAT));
  check_corrupt("shstrndx", elf, size, c_shstrndx, OJT_S(ORCJIT_EFORMAT));
  CHECK_STILL_WORKS(g_lib);
  /* ---- other architectures and formats ---- */
  ojt_step("control: other_arch.c for this machine loads");
  orcjit_library *ctl = NULL;
  REQUIRE_OK(orcjit_library_create(s, "other_arch_control", &ctl));
  CHECK_OK(orcjit_library_add_file(ctl, ojt_misc("other_arch-" OJT_MACHINE ".o")));
  void *other = NULL;
  CHECK_OK(orcjit_library_lookup(ctl, "oj_other_arch_data", &other));
  CHECK(other && *(int *)other == 5);
  orcjit_library_release(ctl);
  static const char *const foreign[] = {
      "other_arch-" OJT_FOREIGN ".o", "other_arch-i686.o", "other_arch-riscv64.o",
      "other_arch-ppc64.o",   "other_arch-coff.obj",  "other_arch-macho.o",
      "other_arch.bc"};
  for (size_t i = 0; i < sizeof foreign / sizeof foreign[0]; i++) {
    BAD_FILE(ojt_misc(foreign[i]), FORMATISH);
    size_t fsize;
    void *fdata = ojt_read_file(ojt_misc(foreign[i]), &fsize);
    BAD_MEM(fdata, fsize, foreign[i], FORMATISH);
    free(fdata);
  }
  CHECK_STILL_WORKS(g_lib);

  /* ---- linked images passed as objects ---- */
  BAD_FILE(ojt_obj("libadd_shared.so"), FORMATISH);
  BAD_FILE(ojt_obj("exe_pie"), FORMATISH);
  BAD_FILE(ojt_obj("exe_nopie"), FORMATISH);
  CHECK_STILL_WORKS(g_lib);

  free(elf);

  CHECK_STILL_WORKS(g_lib);
  still_calls(__FILE__, __LINE__);
  orcjit_library_release(g_lib);
  orcjit_session_release(s);
}

/* Deeper damage (sections, symbols, relocations) and a byte-flip fuzz: a
** separate case, so that a crash here does not hide the results above. */
void ojt_case_corrupt_elf(void) {
  orcjit_session *s = setup();
  size_t size = 0;
  unsigned char *elf = ojt_read_file(ojt_obj("add.o"), &size);
  REQUIRE(size > 1024);

  check_corrupt("symtab-offset", elf, size, c_symtab_offset, DEEP);
  check_corrupt("symtab-size", elf, size, c_symtab_size, DEEP);
  check_corrupt("symtab-link", elf, size, c_symtab_link, DEEP);
  check_corrupt("symtab-entsize", elf, size, c_symtab_entsize, DEEP);
  check_corrupt("section-offset", elf, size, c_section_offset, DEEP);
  check_corrupt("symbol-shndx", elf, size, c_symbol_shndx, DEEP);
  check_corrupt("symbol-name", elf, size, c_symbol_name, DEEP);
  check_corrupt("strtab-unterminated", elf, size, c_strtab_unterminated, DEEP);
  check_corrupt("reloc-symbol", elf, size, c_reloc_symbol, DEEP);
  check_corrupt("reloc-offset", elf, size, c_reloc_offset, DEEP);
  check_corrupt("reloc-type", elf, size, c_reloc_type, DEEP);
  check_corrupt("reloc-target", elf, size, c_reloc_target, DEEP);
  CHECK_STILL_WORKS(g_lib);
  /* unres.o: its unresolved symbols are the error that used to crash. */
  size_t usize = 0;
  unsigned char *unres = ojt_read_file(ojt_obj("unres.o"), &usize);
  check_corrupt("all-unallocated", unres, usize, c_all_unallocated, OJT_S(ORCJIT_EFORMAT));
  CHECK_MSG("no SHF_ALLOC");
  check_corrupt("alloc-type-null", unres, usize, c_alloc_type_null, OJT_S(ORCJIT_EFORMAT));
  CHECK_MSG("SHT_NULL");
  check_corrupt("add-all-unallocated", elf, size, c_all_unallocated, OJT_S(ORCJIT_EFORMAT));
  check_corrupt("add-alloc-type-null", elf, size, c_alloc_type_null, OJT_S(ORCJIT_EFORMAT));
  free(unres);
  check_corrupt("section0-rela", elf, size, c_section0_rela, OJT_S(ORCJIT_EFORMAT));
  CHECK_MSG("section 0 has type 4");
  check_corrupt("eh-frame-unallocated", elf, size, c_eh_frame_unallocated,
                OJT_S(ORCJIT_EFORMAT));
  CHECK_MSG(".eh_frame");
  check_corrupt("eh-frame-cie-pointer", elf, size, c_eh_frame_cie_pointer,
                OJT_S(ORCJIT_EFORMAT));
  CHECK_MSG("points to no CIE");
  check_corrupt("symbol0-value", elf, size, c_symbol0_value, OJT_S(ORCJIT_EFORMAT));
  CHECK_MSG("symbol 0 is not the null symbol");
  check_corrupt("strtab-first-byte", elf, size, c_strtab_first_byte, OJT_S(ORCJIT_EFORMAT));
  CHECK_MSG("does not start with a NUL byte");
  check_corrupt("nobits-huge", elf, size, c_nobits_huge, OJT_S(ORCJIT_EUNSUPPORTED));
  CHECK_MSG("more than 64 GiB");
  check_corrupt("common-wrap", elf, size, c_common_wrap, OJT_S(ORCJIT_EUNSUPPORTED));
  CHECK_MSG("is a common symbol of 9223372036854775808 bytes");
  check_corrupt("abs-global", elf, size, c_abs_global, OJT_S(ORCJIT_EUNSUPPORTED));
  CHECK_MSG("global absolute symbol (SHN_ABS)");
  check_corrupt("symbol-wraps", elf, size, c_symbol_wraps, OJT_S(ORCJIT_EFORMAT));
  CHECK_MSG("does not lie inside");
  check_corrupt("stt-common", elf, size, c_stt_common, OJT_S(ORCJIT_EFORMAT));
  CHECK_MSG("has type STT_COMMON but is not in SHN_COMMON");
  check_corrupt("cie-letters", elf, size, c_cie_letters, OJT_S(ORCJIT_EFORMAT));
  CHECK_MSG("names L, P or R more than once");
  check_corrupt("reserved-section", elf, size, c_reserved_section, OJT_S(ORCJIT_EFORMAT));
  CHECK_MSG("(.common) has a name JITLink 22 keeps for its own sections");
  check_corrupt("marker-name", elf, size, c_marker_name, OJT_S(ORCJIT_EUNSUPPORTED));
  CHECK_MSG("(__orcjit.J0) has a name the loader keeps for itself");
  check_corrupt("own-dso-handle", elf, size, c_own_dso_handle, OJT_S(ORCJIT_EUNSUPPORTED));
  CHECK_MSG("(__dso_handle) is defined in the object");
  check_corrupt("got-nameless", elf, size, c_got_nameless, OJT_S(ORCJIT_EUNSUPPORTED));
  CHECK_MSG("asks for a GOT entry of symbol");
  check_corrupt("fde-range", elf, size, c_fde_range, OJT_S(ORCJIT_EFORMAT));
  CHECK_MSG("its address range does not end inside its code's section");
  check_corrupt("fde-undefined", elf, size, c_fde_undefined, OJT_S(ORCJIT_EFORMAT));
  CHECK_MSG("it does not describe code of this object");
  check_corrupt("tls-type", elf, size, c_tls_type, OJT_S(ORCJIT_EFORMAT));
  CHECK_MSG("is thread-local (STT_TLS) but section");
  check_corrupt("undef-unique", elf, size, c_undef_unique, OJT_S(ORCJIT_EFORMAT));
  CHECK_MSG("is undefined with binding STB_GNU_UNIQUE");
  check_corrupt("same-name", elf, size, c_same_name, OJT_S(ORCJIT_EFORMAT));
  CHECK_MSG("has the name of");
  check_corrupt("eh-frame-encoding", elf, size, c_eh_frame_encoding, OJT_S(ORCJIT_EFORMAT));
  CHECK_MSG("pointer encoding 0x08");
  check_corrupt("reloc-into-unallocated", elf, size, c_reloc_into_unallocated,
                OJT_S(ORCJIT_EFORMAT));
  CHECK_MSG("outside its section");
  check_corrupt("overlap-header", elf, size, c_overlap_header, OJT_S(ORCJIT_EFORMAT));
  CHECK_MSG("overlaps the ELF header");
  check_corrupt("overlap-table", elf, size, c_overlap_table, OJT_S(ORCJIT_EFORMAT));
  CHECK_MSG("overlaps");
  CHECK_MSG("section header table");
  CHECK_STILL_WORKS(g_lib);

  /* ---- constructor tables that do not hold functions of the object ---- */
  size_t csize = 0;
  unsigned char *ctor = ojt_read_file(ojt_obj("ctor_host.o"), &csize);
  REQUIRE(ctor && init_rela(ctor) != NULL);
  check_corrupt("init-no-reloc", ctor, csize, c_init_no_reloc, OJT_S(ORCJIT_EFORMAT));
  CHECK_MSG("holds 0x4141414141 and no relocation patches it");
  check_corrupt("init-pc32", ctor, csize, c_init_pc32, OJT_S(ORCJIT_EFORMAT));
  CHECK_MSG(OJT_MACHINE[0] == 'a' ? "only R_AARCH64_ABS64" : "only R_X86_64_64");
  check_corrupt("init-addend", ctor, csize, c_init_addend, OJT_S(ORCJIT_EFORMAT));
  CHECK_MSG("points 268435456 bytes from");
  check_corrupt("init-undefined", ctor, csize, c_init_undefined, OJT_S(ORCJIT_EFORMAT));
  CHECK_MSG("(oj_test_host_note), which is not a function of this object");
  free(ctor);
  CHECK_STILL_WORKS(g_lib);

  /* ---- byte-flip fuzz: any status, never a crash ---- */
  uint64_t seed = 0x9e3779b97f4a7c15ull;
  int accepted = 0, refused = 0;
  unsigned char *copy = malloc(size);
  REQUIRE(copy != NULL);
  const char *skip = getenv("OJT_SKIP");
  int rounds = skip && strstr(skip, "fuzz") ? 0 : 300;
  for (int round = 0; round < rounds; round++) {
    memcpy(copy, elf, size);
    int flips = 1 + (int)(xorshift(&seed) % 4);
    /* Mostly the header, section headers, symbols and relocations. */
    char where[128] = "";
    for (int k = 0; k < flips; k++) {
      size_t at = (size_t)(xorshift(&seed) % size);
      if (round & 1) at = (size_t)(xorshift(&seed) % 64);
      unsigned bit = (unsigned)(xorshift(&seed) % 8);
      copy[at] ^= (unsigned char)(1u << bit);
      snprintf(where + strlen(where), sizeof where - strlen(where), " %zu:%u", at, bit);
    }
    ojt_step("fuzz round %d of add.o, flipped offset:bit%s", round, where);
    orcjit_library *f = NULL;
    REQUIRE_OK(orcjit_library_create(s, NULL, &f));
    int rc = orcjit_library_add_memory(f, copy, size, "fuzzed");
    ojt_capture();
    if (rc == ORCJIT_OK)
      accepted++;
    else {
      refused++;
      CHECK(rc > 0 && rc <= ORCJIT_EUNSUPPORTED);
      CHECK_MSG("fuzzed");
    }
    orcjit_library_release(f);
  }
  printf("fuzz: %d accepted, %d refused\n", accepted, refused);
  free(copy);

  free(elf);
  CHECK_STILL_WORKS(g_lib);
  still_calls(__FILE__, __LINE__);
  orcjit_library_release(g_lib);
  orcjit_session_release(s);
}

/* ---- unsupported: what compilers make and the loader refuses ------------ */

/* 1 if the (compiler-independent) input exists; otherwise says why the
** checks with it are skipped. */
static int have_misc(const char *name, const char *needs) {
  if (access(ojt_misc(name), R_OK) == 0) return 1;
  printf("skipped %s: not built (needs %s)\n", name, needs);
  return 0;
}

/* The same input from memory: same status, the memory name and the cause. */
static void bad_mem_of_file(const char *path, const char *name, unsigned mask,
                            const char *why) {
  size_t size;
  void *data = ojt_read_file(path, &size);
  bad_mem(__FILE__, __LINE__, data, size, name, mask);
  if (why && !strstr(ojt_captured_msg(), why)) ojt_fail_msg(__FILE__, __LINE__, why);
  free(data);
}

/* A symbol of a refused object is nowhere to be found. */
static void not_defined(const char *symbol) {
  void *p = NULL;
  CHECK_STATUS(orcjit_library_lookup(g_lib, symbol, &p), ORCJIT_ENOTFOUND);
  CHECK(p == NULL);
}

void ojt_case_unsupported(void) {
  orcjit_session *s = setup();
  const unsigned U = OJT_S(ORCJIT_EUNSUPPORTED);

  /* Thread-local data of the object itself: through TLS descriptors
  ** (-mtls-dialect=gnu2); in static TLS (PIE code), initialised with an
  ** address (relocated .tdata) or weak: refused, naming the symbol and
  ** the reason.  (Initial- and local-exec code loads: test_tls.c.) */
#if !defined(__aarch64__) /* there TLS descriptors are the default, and load (test_tls.c) */
  BAD_FILE_WHY(ojt_obj("tls_desc.o"), U, "oj_tls_static_model", "TLS-descriptor");
  bad_mem_of_file(ojt_obj("tls_desc.o"), "tls_desc-in-memory", U, "TLS-descriptor");
#endif
  /* (gcc for aarch64 reaches them through a section anchor, .LANCHOR0) */
  BAD_FILE_WHY(ojt_obj("tls_addr.o"), U, OJT_LOW_WINDOW ? "oj_tls_" : "thread-local",
               "relocates the initial values");
  bad_mem_of_file(ojt_obj("tls_addr.o"), "tls_addr-in-memory", U, ".rela.tdata");
  BAD_FILE_WHY(ojt_obj("tls_weak.o"), U, "oj_tls_weak", "weak thread-local");
  not_defined("oj_tls_static_model");
  not_defined("__tvm_ffi_tls_model_read");
  CHECK_STILL_WORKS(g_lib);

  /* A section kind JITLink cannot read: compact relocations (SHT_CREL). */
  if (have_misc("crel.o", "clang-22")) {
    BAD_FILE_WHY(ojt_misc("crel.o"), U, "SHT_CREL", "--crel");
    bad_mem_of_file(ojt_misc("crel.o"), "crel-in-memory", U, "SHT_CREL");
    not_defined("__tvm_ffi_add");
  }
  /* A symbol kind it cannot place: a large common symbol. */
  if (have_misc("lcommon.o", "gcc")) {
    BAD_FILE_WHY(ojt_misc("lcommon.o"), U, "oj_big_common", "SHN_X86_64_LCOMMON");
    not_defined("oj_big_common");
  }
  /* Another architecture. */
  if (have_misc("other_arch-" OJT_FOREIGN ".o", "clang-22")) {
    BAD_FILE_WHY(ojt_misc("other_arch-" OJT_FOREIGN ".o"), U, OJT_FOREIGN_NAME,
                 OJT_MACHINE[0] == 'a' ? "only aarch64" : "only x86-64");
    bad_mem_of_file(ojt_misc("other_arch-" OJT_FOREIGN ".o"), "foreign-in-memory", U,
                    OJT_FOREIGN_NAME);
    not_defined("oj_other_arch_data");
  }
  CHECK_STILL_WORKS(g_lib);

  /* ---- archives with no usable member ---- */
  if (have_misc("libojforeign.a", "clang-22")) {
    /* Its member is named as archive(member), with the cause. */
    BAD_FILE_WHY(ojt_misc("libojforeign.a"), U, "(other_arch-" OJT_FOREIGN ".o)",
                 OJT_FOREIGN_NAME);
    bad_mem_of_file(ojt_misc("libojforeign.a"), "foreign-archive-in-memory", U,
                    "(other_arch-" OJT_FOREIGN ".o)");
    not_defined("oj_other_arch_data");
  }
  BAD_FILE_WHY(ojt_misc("libojtext.a"), OJT_S(ORCJIT_EFORMAT), "no usable member",
               "2 members");
  bad_mem_of_file(ojt_misc("libojtext.a"), "text-archive-in-memory", OJT_S(ORCJIT_EFORMAT),
                  "no usable member");
  BAD_FILE_WHY(scratch_file("empty.a", "!<arch>\n", 8), OJT_S(ORCJIT_EFORMAT),
               "no usable member", "empty archive");
  BAD_MEM("!<arch>\n", 8, "empty-archive-in-memory", OJT_S(ORCJIT_EFORMAT));
  CHECK_MSG("empty archive");
  /* After all that, an archive that is fine still works in this library. */
  ojt_step("a good archive after the bad ones");
  CHECK_OK(orcjit_library_add_file(g_lib, ojt_obj("libojarch.a")));
  CHECK_OK(orcjit_library_add_file(g_lib, ojt_obj("arch_user.o")));
  CHECK_EQ(OJT_GETCALL1(g_lib, "arch_user", 1), 12 + 34);

  CHECK_STILL_WORKS(g_lib);
  still_calls(__FILE__, __LINE__);
  orcjit_library_release(g_lib);
  orcjit_session_release(s);
}

/* ---- bad_files: files that must be refused before they are read --------- */

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

/* Adds path on a thread whose file-system user is `nobody` (65534):
** setfsuid(2) changes only the calling thread, and a thread that is not
** fsuid 0 has no CAP_DAC_OVERRIDE, so root's reads obey the file mode. */
typedef struct unprivileged_add {
  const char *path;
  int rc, skipped;
  char msg[1024], why[256];
} unprivileged_add;

static void *unprivileged_thread(void *arg) {
  unprivileged_add *u = arg;
  setfsuid(65534);
  if (setfsuid((uid_t)-1) != 65534) {
    snprintf(u->why, sizeof u->why, "setfsuid(65534) had no effect");
    u->skipped = 1;
    return NULL;
  }
  int fd = open(u->path, O_RDONLY);
  if (fd >= 0 || errno != EACCES) {
    snprintf(u->why, sizeof u->why, "open() as fsuid 65534 did not fail with EACCES");
    if (fd >= 0) close(fd);
    u->skipped = 1;
  } else {
    u->rc = orcjit_library_add_file(g_lib, u->path);
    snprintf(u->msg, sizeof u->msg, "%s", orcjit_last_error());
  }
  setfsuid(0);
  return NULL;
}

void ojt_case_bad_files(void) {
  orcjit_session *s = setup();
  const char *dir = ojt_scratch_dir();
  char path[4096];
  size_t size;
  unsigned char *elf = ojt_read_file(ojt_obj("add.o"), &size);
  alarm(60); /* a blocking open() or read() must fail the case, not hang it */

  /* A 5 GiB sparse file that starts like a real object: refused from its
  ** size, at once, without reading it (ORCJIT_MAX_INPUT_SIZE). */
  ojt_step("huge file");
  snprintf(path, sizeof path, "%s/huge.o", dir);
  int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
  REQUIRE(fd >= 0);
  REQUIRE(write(fd, elf, 64) == 64);
  int sparse = ftruncate(fd, (off_t)5 << 30) == 0;
  close(fd);
  if (!sparse) {
    printf("skipped the huge file: ftruncate to 5 GiB failed: %s\n", strerror(errno));
  } else {
    long rss0 = ojt_rss_kib();
    double t0 = now_s();
    BAD_FILE_WHY(path, OJT_S(ORCJIT_EFORMAT), "too large", "5368709120 bytes");
    double dt = now_s() - t0;
    long grown = ojt_rss_kib() - rss0;
    printf("huge file refused in %.3f s, resident memory grew by %ld KiB\n", dt, grown);
    CHECK(dt < 1.0);
    CHECK(grown < 64 * 1024);
    unlink(path);
  }
  /* The same size from memory: 5 GiB of address space that is never
  ** touched (reading it would only map the zero page, but copying it
  ** would need 5 GiB). */
  ojt_step("huge memory input");
  size_t huge = (size_t)5 << 30;
  void *map = mmap(NULL, huge, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (map == MAP_FAILED) {
    printf("skipped the huge memory input: mmap of 5 GiB failed: %s\n", strerror(errno));
  } else {
    BAD_MEM(map, huge, "huge-in-memory", OJT_S(ORCJIT_EFORMAT));
    CHECK_MSG("too large");
    munmap(map, huge);
  }
  /* The limit leaves room for real objects and archives. */
  CHECK(ORCJIT_MAX_INPUT_SIZE >= ((size_t)1 << 30));

  /* No read permission.  As root, mode 000 does not stop a read, so the
  ** add runs on a thread with file-system user `nobody`. */
  ojt_step("no read permission");
  snprintf(path, sizeof path, "%s/noread.o", dir);
  ojt_write_file(path, elf, size);
  REQUIRE(chmod(path, 0) == 0);
  REQUIRE(chmod(dir, 0711) == 0); /* nobody may pass through the directory */
  if (geteuid() != 0) {
    BAD_FILE_WHY(path, OJT_S(ORCJIT_EIO), "cannot open", strerror(EACCES));
  } else {
    unprivileged_add u;
    memset(&u, 0, sizeof u);
    u.path = path;
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, unprivileged_thread, &u) == 0);
    pthread_join(t, NULL);
    if (u.skipped) {
      printf("skipped the unreadable file: running as root and %s\n", u.why);
    } else {
      CHECK_EQ(u.rc, ORCJIT_EIO);
      CHECK(strstr(u.msg, path) != NULL);
      CHECK(strstr(u.msg, strerror(EACCES)) != NULL);
      CHECK(strstr(u.msg, g_libname) != NULL);
      if (u.rc != ORCJIT_EIO || !strstr(u.msg, strerror(EACCES)))
        printf("unreadable file: status %d, message \"%s\"\n", u.rc, u.msg);
      still_calls(__FILE__, __LINE__);
    }
  }
  REQUIRE(chmod(path, 0644) == 0);
  REQUIRE(chmod(dir, 0700) == 0);
  /* Readable again, it loads: nothing of the refusal stuck. */
  CHECK_OK(orcjit_library_add_file(g_lib, path));
  CHECK_EQ(OJT_GETCALL1(g_lib, "digits", 12345), 5);

  /* Files that are not regular files: never opened for reading in a way
  ** that blocks, never read to the end. */
  snprintf(path, sizeof path, "%s/fifo.o", dir);
  REQUIRE(mkfifo(path, 0600) == 0);
  BAD_FILE_WHY(path, OJT_S(ORCJIT_EIO), "not a regular file", NULL);
  BAD_FILE_WHY("/dev/zero", OJT_S(ORCJIT_EIO), "not a regular file", NULL);
  BAD_FILE_WHY("/dev/null", OJT_S(ORCJIT_EIO), "not a regular file", NULL);
  /* A path through a file. */
  snprintf(path, sizeof path, "%s/x.o", ojt_obj("add.o"));
  BAD_FILE_WHY(path, OJT_S(ORCJIT_EIO), "cannot open", strerror(ENOTDIR));
  alarm(0);

  free(elf);
  CHECK_STILL_WORKS(g_lib);
  still_calls(__FILE__, __LINE__);
  orcjit_library_release(g_lib);
  orcjit_session_release(s);
}

/* ---- fuzz_regressions: what the fuzzers found stays fixed --------------- */

#ifndef OJT_FUZZ_REGRESSIONS_DIR
#error "OJT_FUZZ_REGRESSIONS_DIR must name fuzz/regressions"
#endif

/* One regression input into a fresh library: refused with a known status
** and a message naming it, or accepted (some inputs found a bug in a
** harness, not in the loader); never a crash.  Nothing of it is called.
** Then the library still links and runs a real object. */
/* Whether msg is valid UTF-8 without control characters other than a
** newline or a tab (Python decodes it; some inputs have names of raw bytes
** that LLVM quotes).  Checked with the C library's UTF-8 decoder. */
static int printable_utf8(const char *msg) {
  mbstate_t st;
  const char *p = msg;
  memset(&st, 0, sizeof st);
  for (const unsigned char *q = (const unsigned char *)msg; *q; q++)
    if ((*q < 0x20 && *q != '\n' && *q != '\t') || *q == 0x7f) return 0;
  locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
  if (!utf8) return 1; /* no UTF-8 locale to check with */
  locale_t old = uselocale(utf8);
  size_t n = mbsrtowcs(NULL, &p, 0, &st);
  uselocale(old);
  freelocale(utf8);
  return n != (size_t)-1;
}

static void replay_one(orcjit_session *s, const char *path, const char *name,
                       const void *data, size_t size) {
  static const unsigned known = DEEP | OJT_S(ORCJIT_EUNRESOLVED) | OJT_S(ORCJIT_EDUPLICATE);
  orcjit_library *lib = ojt_new_library(s, NULL);
  const char *what = path ? path : name;
  ojt_step("regression %s into a fresh library", what);
  int rc = path ? orcjit_library_add_file(lib, path)
                : orcjit_library_add_memory(lib, data, size, name);
  ojt_capture();
  printf("  %s: %s%s%s\n", what, orcjit_status_name(rc), rc ? ": " : "",
         rc ? ojt_captured_msg() : "");
  if (rc != ORCJIT_OK) {
    CHECK_STATUS_IN(rc, known);
    CHECK_MSG(what);
    CHECK_MSG(orcjit_library_name(lib));
    if (!printable_utf8(ojt_captured_msg()))
      ojt_fail(__FILE__, __LINE__, "the message is not printable UTF-8");
  } else {
    static const char *const names[] = {"__tvm_ffi_add", "oj_add_counter", "main"};
    void *p;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
      (void)orcjit_library_lookup(lib, names[i], &p);
  }
  CHECK_OK(orcjit_library_add_file(lib, ojt_obj("add.o")));
  CHECK_EQ(OJT_GETCALL1(lib, "digits", 12345), 5);
  orcjit_library_release(lib);
}

void ojt_case_fuzz_regressions(void) {
  orcjit_session *s = setup();
  DIR *d = opendir(OJT_FUZZ_REGRESSIONS_DIR);
  REQUIRE(d != NULL);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", OJT_FUZZ_REGRESSIONS_DIR, e->d_name);
    if (e->d_name[0] == '.' || stat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
    size_t size;
    void *data = ojt_read_file(path, &size);
    replay_one(s, path, NULL, NULL, 0);
    replay_one(s, NULL, e->d_name, data, size);
    free(data);
    n++;
  }
  closedir(d);
  printf("%d regression inputs replayed\n", n);
  REQUIRE(n >= 4);
  CHECK_STILL_WORKS(g_lib);
  still_calls(__FILE__, __LINE__);
  orcjit_library_release(g_lib);
  orcjit_session_release(s);
}
