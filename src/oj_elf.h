/*
** oj_elf.h: the ELF pre-pass (oj_elf.c and the oj_elf_*.c, oj_ehframe.c
** files it lists).
**
** Validates an ELF relocatable object of the host's machine completely
** (every offset and size is bounds-checked: arbitrary bytes never crash
** it) and produces a
** rewritten copy that JITLink 22 links correctly (on x86-64; what each
** relocation type means is the machine's table, oj_arch_x86_64.c):
**   - R_X86_64_GOTPCRELX (41) and R_X86_64_REX_GOTPCRELX (42) become
**     R_X86_64_GOTPCREL (9): JITLink 22 relaxes them into an absolute
**     "addr32 call" when the target address fits in 32 bits, which crashes
**     (LLVM #190968, fixed in 23).  The GOT load costs one indirection.
**   - STV_INTERNAL symbols become STV_HIDDEN (JITLink rejects visibility 1).
**   - a global marker symbol is added at offset 0 of every init/fini
**     section (.init_array[.N], .fini_array[.N], .ctors[.N], .dtors[.N]),
**     so that ORC keeps the section alive and we learn its linked address.
**   - one more global marker ("anchor") is added at offset 0 of the first
**     allocated section with nonzero size, so that looking it up forces the
**     object to link even when it exports nothing.
**   - thread-local storage: the object's SHF_TLS sections are laid out, in
**     section order, as one block (the object's TLS "module", see oj_tls.c)
**     and each gets a marker at offset 0.  Local-dynamic references, which
**     JITLink 22 does not implement, become general-dynamic ones:
**     R_X86_64_TLSLD becomes R_X86_64_TLSGD against the marker of the
**     block's first section (offset 0), and R_X86_64_DTPOFF32/64 (a
**     variable's offset in the block) are resolved here into constants and
**     become R_X86_64_NONE.  Initial-exec (R_X86_64_GOTTPOFF) and
**     local-exec (R_X86_64_TPOFF32/64) references to the object's own
**     thread-locals (the default of PIE code) put its block in static TLS:
**     an initial-exec load becomes a local-exec immediate (as a static
**     linker relaxes it), the relocation becomes R_X86_64_NONE, and each
**     field is listed in tls_patch, filled in once the block's offset from
**     the thread pointer is known (oj_elf_tls_static_apply).  An
**     initial-exec reference to a thread-local X it does not define
**     becomes a GOT load (R_X86_64_GOTPCREL) of the undefined symbol
**     "__orcjit.tpoff.X", whose "address" the resolver makes X's offset
**     from the thread pointer.  TLS descriptors are refused with
**     ORCJIT_EUNSUPPORTED.
** It also lists the object's defined and undefined global symbols.
** It does not touch memory it does not own and keeps no global state.
*/
#ifndef OJ_ELF_H
#define OJ_ELF_H

#include <stddef.h>
#include <stdint.h>

/* Kinds of init/fini section. */
enum {
  OJ_ELF_INIT_ARRAY = 0, /* .init_array, .init_array.N */
  OJ_ELF_FINI_ARRAY = 1, /* .fini_array, .fini_array.N */
  OJ_ELF_CTORS = 2,      /* .ctors, .ctors.N   (entries run last to first) */
  OJ_ELF_DTORS = 3       /* .dtors, .dtors.N */
};

typedef struct oj_elf_initfini {
  int kind;          /* OJ_ELF_* above */
  uint32_t priority; /* N of .init_array.N / .fini_array.N, 65535 - N of .ctors.N /
                     ** .dtors.N (as ld sorts them); 65536 if unnumbered */
  uint32_t count;    /* number of 8-byte pointers (sh_size / 8) */
  char *marker;      /* the name of the marker symbol added at its start */
} oj_elf_initfini;

/* Symbol flags. */
enum {
  OJ_ELF_SYM_WEAK = 1,   /* STB_WEAK (for defined: may be merged; for
                            undefined: may stay unresolved) */
  OJ_ELF_SYM_HIDDEN = 2, /* STV_HIDDEN or STV_INTERNAL (not exported to
                            other libraries) */
  OJ_ELF_SYM_FUNC = 4,   /* STT_FUNC or STT_GNU_IFUNC */
  OJ_ELF_SYM_TLS = 8     /* STT_TLS (defined or undefined) */
};

/* One SHF_TLS section with nonzero size, in the object's TLS block. */
typedef struct oj_elf_tls {
  uint64_t size;  /* sh_size */
  uint64_t voff;  /* offset in the block */
  int nobits;     /* SHT_NOBITS (.tbss): zero-initialised */
  char *marker;   /* the name of the marker symbol added at its start */
} oj_elf_tls;

/* A field of the image that gets (the offset of the object's static TLS
** block from the thread pointer) + v once the block is reserved
** (oj_elf_tls_static_apply). */
typedef struct oj_elf_tls_patch {
  uint64_t off;  /* offset of the field in the image */
  int64_t v;     /* offset of the variable in the block, plus the addend */
  unsigned field;/* OJ_F_DATA32, OJ_F_DATA64 or the machine's instruction
                    field (oj_arch.h) */
} oj_elf_tls_patch;

typedef struct oj_elf_sym {
  char *name;     /* owned by the oj_elf_object */
  unsigned flags; /* OJ_ELF_SYM_* */
} oj_elf_sym;

typedef struct oj_elf_object {
  unsigned char *image; /* the rewritten object, malloc'd */
  size_t image_size;
  oj_elf_sym *defined;  /* global/weak symbols with a section (not UNDEF,
                           not COMMON handled as defined too), one entry per
                           name, in symbol-table order */
  size_t ndefined;
  oj_elf_sym *undefined;/* global/weak symbols with st_shndx == SHN_UNDEF and
                           a nonempty name */
  size_t nundefined;
  oj_elf_initfini *initfini; /* one per init/fini section, in section order */
  size_t ninitfini;
  char *anchor;         /* marker of the anchor symbol, NULL if the object
                           has no allocated section with nonzero size */
  oj_elf_tls *tls;      /* its TLS sections, in section order */
  size_t ntls;
  uint64_t tls_size;    /* size of the TLS block (0: no TLS) */
  uint64_t tls_align;   /* its alignment (a power of two) */
  int tls_static;       /* reaches its own thread-locals with initial- or
                           local-exec code: its block must be in static TLS
                           (oj_statictls.c), at an offset from the thread
                           pointer patched into tls_patch */
  unsigned char *tls_init; /* the block's initial bytes (tls_static only) */
  uint64_t tls_init_size;
  oj_elf_tls_patch *tls_patch;
  size_t ntls_patch;
  int abs32;            /* has relocations of class OJ_RC_ABS32_LOW
                           (oj_arch.h; x86-64: R_X86_64_32/32S) in allocated
                           sections (-fno-pic code): its library must live
                           below 2 GiB */
} oj_elf_object;

/* Result of oj_elf_classify. */
enum {
  OJ_ELF_KIND_UNKNOWN = 0,
  OJ_ELF_KIND_RELOCATABLE = 1, /* ELF ET_REL */
  OJ_ELF_KIND_ARCHIVE = 2      /* starts with "!<arch>\n" */
};
int oj_elf_classify(const void *data, size_t size);

/* The prefix of the marker names; an input defining such a name is refused,
** so the image (which has them) does not pass oj_elf_prepare again. */
#define OJ_ELF_MARKER_PREFIX "__orcjit."

/*
** Validates data[0..size) and fills *out (zeroed first).  Marker names are
** "__orcjit.<tag>.<section index>" for init/fini sections and
** "__orcjit.<tag>.anchor" for the anchor, where tag is the caller's unique
** string (the library's JITDylib and object sequence number, e.g. "J3.O7").
** On failure returns an ORCJIT_E* status (EFORMAT for malformed input or
** wrong ELF type, EUNSUPPORTED for another machine or ELF class/endianness)
** after recording a message with oj_error_set() that starts with `what`
** (the file path or memory name) and says what is wrong, for example:
**   "kernel.o: not an ELF file (bad magic)"
**   "kernel.o: is a shared library (ET_DYN), not a relocatable object (.o)"
**   "kernel.o: is an executable (ET_EXEC), not a relocatable object (.o)"
**   "kernel.o: object is for AArch64 (e_machine 183); only x86-64 is supported"
**   "kernel.o: truncated or corrupt ELF: section 5 extends past end of file"
**   "kernel.o: empty file"
** On failure *out holds nothing that needs freeing.
*/
int oj_elf_prepare(const void *data, size_t size, const char *what,
                   const char *tag, unsigned flags, oj_elf_object *out);

/* Flags of oj_elf_prepare. */
enum {
  OJ_ELF_KEEP_DEBUG = 1 /* keep the sections that are not loaded (DWARF's
                           .debug_*, .comment) in the image: for debugger
                           sessions, which hand it to gdb, and for inspection.
                           Otherwise they are dropped: JITLink 22 builds blocks
                           and edges of them and applies their relocations, a
                           quarter of a TVM kernel's load. */
};

/* oj_elf_prepare, for an input the caller hands over: data (malloc'd) is freed
** or becomes the image, which is the input edited in place and grown with
** realloc (that moves a large block without copying it).  Spares a copy
** of a large object read from a file. */
int oj_elf_prepare_owned(unsigned char *data, size_t size, const char *what,
                         const char *tag, unsigned flags, oj_elf_object *out);

/* A static linker's resolution of a weak definition that loses to another
** object's definition of the same name: every weak definition in
** obj->image whose name `lose` accepts becomes an undefined (STB_GLOBAL)
** reference, so the object's own references go to the winner, and its
** entry moves from obj->defined to obj->undefined.  The code or data of
** the losing definition stays, unnamed.  Only weak definitions (STB_WEAK)
** are touched.  ORCJIT_OK, or ORCJIT_ENOMEM
** (message set, obj unchanged). */
int oj_elf_undefine(oj_elf_object *obj, int (*lose)(const char *name, void *ctx),
                    void *ctx);

/* Makes obj's undefined reference to __dso_handle a hidden definition at
** its anchor (the start of an allocated section of the object, which the
** loader keeps by looking the anchor up): __dso_handle only needs an
** address unique to its library, which C++ hands to __cxa_atexit, and one
** in the library's own memory, which its code reaches PC-relatively.
** 1 if done; 0 if obj has no anchor, no such reference, or its anchor is
** in a thread-local section or needs an extended section index (obj
** unchanged). */
int oj_elf_define_dso(oj_elf_object *obj);

/* The prefix of the undefined symbol that an initial-exec reference to a
** thread-local X the object does not define is rewritten against (a GOT
** load of "__orcjit.tpoff.X"): the resolver binds it to X's offset from the
** thread pointer, which must be static TLS of the process. */
#define OJ_ELF_TPOFF_PREFIX OJ_ELF_MARKER_PREFIX "tpoff."

/* Writes (tpoff + v) into every tls_patch field of obj's image, tpoff
** being the offset of its static TLS block from the thread pointer.
** ORCJIT_OK, or ORCJIT_EUNSUPPORTED if a value does not fit its field. */
int oj_elf_tls_static_apply(oj_elf_object *obj, int64_t tpoff);

/* Frees everything *obj owns and zeroes it.  Safe on a zeroed struct. */
void oj_elf_object_free(oj_elf_object *obj);

#endif /* OJ_ELF_H */
