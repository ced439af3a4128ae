/*
** oj_arch.h: the machine seam.  What a relocation type, an instruction
** sequence or a machine-specific ELF constant means on one machine is data
** in one table-driven file per machine (oj_arch_x86_64.c, oj_arch_aarch64.c); generic code
** (the ELF pre-pass, the runtime object, the link-error hints) reads it
** through oj_arch_host() and switches on the relocation classes below,
** never on R_<MACHINE>_* numbers.  Modelled on musl's arch/<arch>/reloc.h.
**
** A new ELF machine is one new file, src/oj_arch_<machine>.c (the build
** takes every .c file of src/), that defines its oj_arch and, under
** #if defined(__<machine>__), oj_arch_host() (see oj_arch_x86_64.c), plus
** its tests.  Generic helpers over the descriptor are in oj_arch.c.
**
** Not here yet: the JITLink edge kinds the C++ glue tests (glue/oj_link.cc
** applyFixupsEarly, glue/oj_memmgr.cc scanPlacement and kSpanLimit, which
** is window_span below).  The below-2-GiB copies and jump stubs of
** oj_resolve.c are made only where low_window is set and the C library
** defines MAP_32BIT (glibc: x86 only).
*/
#ifndef OJ_ARCH_H
#define OJ_ARCH_H

#include <stddef.h>
#include <stdint.h>

/* What the pre-pass needs to know about a relocation (musl's REL_*). */
enum oj_rclass {
  OJ_RC_NONE = 0,    /* writes nothing: skipped everywhere */
  OJ_RC_ABS,         /* absolute address (any width the low window does not need) */
  OJ_RC_ABS32_LOW,   /* 32-bit absolute (-fno-pic code): in an allocated section
                        it puts the library in the low window (oj_elf_object.abs32) */
  OJ_RC_PCREL,       /* PC-relative data reference */
  OJ_RC_BRANCH,      /* call or jump (JITLink stubs far targets) */
  OJ_RC_GOT,         /* the symbol's GOT entry: the symbol must have a name
                        (JITLink keys GOT entries by name) */
  OJ_RC_GOTREL,      /* relative to the GOT or to the GOT's address */
  OJ_RC_SIZE,        /* the symbol's size: it must be defined in the object */
  OJ_RC_TLS_GD,      /* general-dynamic TLS: kept */
  OJ_RC_TLS_LD,      /* local-dynamic TLS: becomes `rewrite` (general-dynamic)
                        against the marker of the object's TLS block */
  OJ_RC_TLS_DTPREL,  /* offset in the TLS block: resolved by the pre-pass
                        into `field`, the relocation becomes r_none */
  OJ_RC_TLS_IE,      /* initial-exec TLS: to the object's own thread-local,
                        relaxed (ie_to_le) to local-exec; to another, the
                        type `rewrite` (a GOT load) of "__orcjit.tpoff.X" */
  OJ_RC_TLS_LE,      /* local-exec TLS: the object's own thread-locals,
                        static TLS offset patched into `field` */
  OJ_RC_TLS_DESC,    /* TLS descriptors: refused */
  OJ_RC_DYNAMIC,     /* a dynamic-linker relocation, never in a .o; left to
                        JITLink, which refuses what it does not know */
  OJ_RC_UNSUPPORTED  /* anything else, unknown numbers too: left to JITLink */
};

/* Relocation flags. */
enum {
  OJ_RF_TLS = 1,  /* a thread-local relocation: it needs a symbol, and any
                     class but TLS_GD, TLS_LD, TLS_DTPREL, TLS_IE, TLS_LE is
                     refused with `why` (DTPMOD64 on x86-64 is DYNAMIC and
                     TLS) */
  OJ_RF_NAMED = 2, /* JITLink keys its entry by the symbol's name and drops
                     the addend (aarch64 TLS descriptors): the symbol must
                     have a name and the addend must be 0 */
  OJ_RF_INPLACE = 4 /* S + A - P into 4 bytes of data, signed (x86-64 PC32,
                     PLT32): to a local symbol of the section it patches,
                     the pre-pass writes it and drops the relocation
                     (oj_elf_merge.c) */
};

/* Where a TLS_DTPREL, TLS_LE or (relaxed) TLS_IE relocation puts its value. */
enum {
  OJ_F_NONE = 0,
  OJ_F_DATA32 = 1, /* 4 bytes of data, signed: must fit in 32 bits */
  OJ_F_DATA64 = 2, /* 8 bytes of data */
  OJ_F_ARCH = 16   /* from here: instruction fields, see oj_arch.put_field */
};

/* One relocation type. */
typedef struct oj_arch_reloc {
  const char *name;  /* "R_X86_64_GOTPCRELX"; NULL: no such type */
  uint8_t rclass;    /* OJ_RC_* */
  uint8_t width;     /* bytes it patches, bounds-checked inside the section */
  uint8_t field;     /* OJ_F_*, for OJ_RC_TLS_DTPREL */
  uint8_t flags;     /* OJ_RF_* */
  uint32_t rewrite;  /* the type the image gets instead (0: kept) */
  const char *why;   /* for refused ones: what it is, in the refusal */
} oj_arch_reloc;

/* A relocation of the runtime object's code (oj_rtobj.c), against one of
** its symbols. */
enum { OJ_ARCH_RT_DSO_HANDLE = 2, OJ_ARCH_RT_CXA_ATEXIT = 3 };
#define OJ_ARCH_RT_TEXT_MAX 16 /* bytes of code at most */
#define OJ_ARCH_RT_RELA_MAX 4  /* relocations at most */
typedef struct oj_arch_rtreloc {
  uint32_t offset, type, sym; /* sym: OJ_ARCH_RT_* */
  int64_t addend;
} oj_arch_rtreloc;

/* A hint added to a JITLink error whose text contains `needle`. */
typedef struct oj_arch_hint {
  const char *needle;
  int when_low; /* 1: only for a library in the low window; 0: always */
  const char *hint;
} oj_arch_hint;

typedef struct oj_arch {
  const char *name;   /* "x86-64", in messages */
  uint16_t e_machine; /* EM_* */
  /* Relocations, indexed by type; `unknown` for a type past the table or
  ** without a name. */
  const oj_arch_reloc *relocs;
  uint32_t nrelocs;
  oj_arch_reloc unknown;
  uint32_t r_none;          /* the type that does nothing */
  int rodata_in_code;       /* 1: read-only data merges into the code
                               section (oj_elf_merge.c), where its
                               OJ_RF_INPLACE relocations get resolved */
  /* Calls to another object's function (oj_elf_merge.c): every call site
  ** of the code to it is routed to one stub of call_stub_size bytes at the
  ** end of the code, call_stub (a jump), whose one relocation of type
  ** r_call at call_stub_at (addend call_addend) reaches the function.
  ** call_stub_size 0: none.  r_call is also the type of the call sites
  ** (with addend call_addend). */
  const unsigned char *call_stub;
  uint32_t call_stub_size, call_stub_at, r_call;
  int64_t call_addend;
  int drop_none;            /* 1: JITLink refuses r_none (aarch64), so the
                               image's relocation tables leave out every
                               relocation the pre-pass turned into it */
  uint32_t r_initfini;      /* the only type of an init/fini entry (a
                               64-bit absolute address) */
  uint32_t r_fde[2][2];     /* an FDE's PC-begin, by [pc-relative][8 bytes] */
  const char *tls_hint;     /* how to rebuild an object with refused TLS */
  uint32_t r_tpoff64;       /* the dynamic relocation that stores a TLS
                               block's offset from the thread pointer
                               (oj_statictls.c) */
  /* Initial-exec relaxed to local-exec: the ie_to_le_len bytes of code
  ** before a TLS_IE field, rewritten into out; 0 if the form is unknown.
  ** NULL where the TLS_IE field is an OJ_F_ARCH+ one whose put_field
  ** rewrites the instruction itself (aarch64). */
  int (*ie_to_le)(const unsigned char *insn, unsigned char *out);
  uint32_t ie_to_le_len;
  int64_t ie_addend; /* the addend of every TLS_IE relocation compilers emit */
  /* Put v into an OJ_F_ARCH+ field at `at` (NULL: only check that it
  ** fits); 0 if it does not fit or the instruction at `at` is not of the
  ** field's form.  NULL when the machine has none. */
  int (*put_field)(unsigned char *at, unsigned field, int64_t v);
  /* Sections and symbols. */
  const char *const *reserved_sections; /* names JITLink gives its own
                                           sections; NULL-terminated */
  uint16_t shn_large_common;            /* 0: none */
  const char *shn_large_common_name;
  uint32_t sht_unwind;                  /* 0: none */
  /* Memory.  jit_max: the most JIT memory gives one object (src/oj_vmem.c
  ** places one larger than the shared window in a region of its own, where
  ** its relocations allow); window_span: the memory manager's window (what
  ** glue/oj_memmgr.cc's kSpanLimit is on x86-64); low_window: -fno-pic
  ** objects can be placed below 2 GiB (MAP_32BIT). */
  uint64_t jit_max;
  uint64_t window_span;
  int low_window;
  /* The runtime object's atexit: code, its symbol size, its relocations. */
  const unsigned char *rt_text;
  uint32_t rt_text_size, rt_atexit_size;
  const oj_arch_rtreloc *rt_relocs;
  uint32_t rt_nrelocs;
  /* Hints for link errors, first match wins; NULL needle ends. */
  const oj_arch_hint *link_hints;
} oj_arch;

/* 1 if a relocation of this kind is thread-local. */
static inline int oj_arch_is_tls(const oj_arch_reloc *d) {
  return (d->flags & OJ_RF_TLS) ||
         (d->rclass >= OJ_RC_TLS_GD && d->rclass <= OJ_RC_TLS_DESC);
}

/* The machine this library runs on (defined by its oj_arch_<machine>.c). */
const oj_arch *oj_arch_host(void);
/* The calling thread's thread pointer (defined by the host's file). */
void *oj_arch_thread_pointer(void);

/* oj_arch.c: the descriptor of relocation `type` (never NULL). */
const oj_arch_reloc *oj_arch_reloc_of(const oj_arch *a, uint32_t type);

/* oj_arch.c: the hint for the link error `msg` of a library (low: it is in
** the low window), or NULL. */
const char *oj_arch_link_hint(const oj_arch *a, const char *msg, int low);

/* Fills the identification, type, machine, version and header size of an
** ELF header the loader writes itself (the runtime object, the static-TLS
** module); the table offsets and counts are the caller's. */
void oj_arch_elf_header(const oj_arch *a, void *ehdr, uint16_t type);

#endif /* OJ_ARCH_H */
