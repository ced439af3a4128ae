/*
** oj_arch_x86_64.c: what the loader knows about x86-64 (oj_arch.h): every
** relocation type of the psABI with its class, width, name, rewrite and
** refusal text; the types of init/fini entries and FDE addresses; the
** section names JITLink 22 reserves; SHN_X86_64_LCOMMON and
** SHT_X86_64_UNWIND; the 2 GiB reach of PC32 and the MAP_32BIT low window;
** the runtime object's atexit code; the hints for JITLink's x86-64 range
** errors.  Data only, plus oj_arch_host() when built for x86-64.
*/
#include <elf.h>

#include "oj_arch.h"

#ifndef SHN_X86_64_LCOMMON
#define SHN_X86_64_LCOMMON 0xff02u /* large common symbols */
#endif

#define R(t, cls, w) [R_X86_64_##t] = {"R_X86_64_" #t, OJ_RC_##cls, w, 0, 0, 0, NULL}
#define RIN(t, cls, w) [R_X86_64_##t] = {"R_X86_64_" #t, OJ_RC_##cls, w, 0, OJ_RF_INPLACE, 0, NULL}
#define TLS(t, cls, w, fld, why) \
  [R_X86_64_##t] = {"R_X86_64_" #t, OJ_RC_##cls, w, fld, OJ_RF_TLS, 0, why}

/* Widths are what the pre-pass bounds-checks inside the patched section:
** 8 for the 64-bit types, 2 and 1 for the 16- and 8-bit ones, 4 for every
** other (TLSDESC_CALL and TLSDESC included, as they always were here). */
static const oj_arch_reloc oj_arch_x86_64_relocs[] = {
    R(NONE, NONE, 0),
    R(64, ABS, 8),
    RIN(PC32, PCREL, 4),
    R(GOT32, GOT, 4),
    RIN(PLT32, BRANCH, 4),
    R(COPY, DYNAMIC, 4),
    R(GLOB_DAT, DYNAMIC, 8),
    R(JUMP_SLOT, DYNAMIC, 8),
    R(RELATIVE, DYNAMIC, 8),
    R(GOTPCREL, GOT, 4),
    R(32, ABS32_LOW, 4),
    R(32S, ABS32_LOW, 4),
    R(16, ABS, 2),
    R(PC16, PCREL, 2),
    R(8, ABS, 1),
    R(PC8, PCREL, 1),
    TLS(DTPMOD64, DYNAMIC, 8, 0, "module-id (R_X86_64_DTPMOD64)"),
    TLS(DTPOFF64, TLS_DTPREL, 8, OJ_F_DATA64, NULL),
    TLS(TPOFF64, TLS_LE, 8, OJ_F_DATA64, "local-exec (R_X86_64_TPOFF64)"),
    TLS(TLSGD, TLS_GD, 4, 0, NULL),
    /* JITLink 22 does not implement local-dynamic TLS: general-dynamic
    ** against the block's marker (oj_elf_image.c). */
    [R_X86_64_TLSLD] = {"R_X86_64_TLSLD", OJ_RC_TLS_LD, 4, 0, OJ_RF_TLS, R_X86_64_TLSGD, NULL},
    TLS(DTPOFF32, TLS_DTPREL, 4, OJ_F_DATA32, NULL),
    /* Initial-exec: to the object's own thread-local, relaxed to
    ** local-exec (oj_arch_x86_64_ie_to_le) with a 32-bit field; to one it
    ** does not define, a GOT load (rewrite) of "__orcjit.tpoff.X". */
    [R_X86_64_GOTTPOFF] = {"R_X86_64_GOTTPOFF", OJ_RC_TLS_IE, 4, OJ_F_DATA32, OJ_RF_TLS,
                           R_X86_64_GOTPCREL, "initial-exec (R_X86_64_GOTTPOFF)"},
    TLS(TPOFF32, TLS_LE, 4, OJ_F_DATA32, "local-exec (R_X86_64_TPOFF32)"),
    R(PC64, PCREL, 8),
    R(GOTOFF64, GOTREL, 8),
    R(GOTPC32, GOTREL, 4),
    R(GOT64, GOT, 8),
    R(GOTPCREL64, GOT, 8),
    R(GOTPC64, GOTREL, 8),
    R(GOTPLT64, GOT, 8),
    R(PLTOFF64, GOTREL, 8),
    [R_X86_64_SIZE32] = {"R_X86_64_SIZE32", OJ_RC_SIZE, 4, 0, 0, 0,
                         "R_X86_64_SIZE32/64 of an undefined symbol is not supported"},
    [R_X86_64_SIZE64] = {"R_X86_64_SIZE64", OJ_RC_SIZE, 8, 0, 0, 0,
                         "R_X86_64_SIZE32/64 of an undefined symbol is not supported"},
    TLS(GOTPC32_TLSDESC, TLS_DESC, 4, 0, "TLS-descriptor (-mtls-dialect=gnu2)"),
    TLS(TLSDESC_CALL, TLS_DESC, 4, 0, "TLS-descriptor (-mtls-dialect=gnu2)"),
    TLS(TLSDESC, TLS_DESC, 4, 0, "TLS-descriptor (-mtls-dialect=gnu2)"),
    R(IRELATIVE, DYNAMIC, 8),
    R(RELATIVE64, DYNAMIC, 8),
    /* 39, 40: reserved (were PC32_BND, PLT32_BND): unknown.  JITLink 22
    ** relaxes these two into an absolute "addr32 call" when the target
    ** fits in 32 bits, which crashes (LLVM #190968, fixed in 23): plain
    ** GOT loads, one indirection more. */
    [R_X86_64_GOTPCRELX] = {"R_X86_64_GOTPCRELX", OJ_RC_GOT, 4, 0, 0, R_X86_64_GOTPCREL, NULL},
    [R_X86_64_REX_GOTPCRELX] = {"R_X86_64_REX_GOTPCRELX", OJ_RC_GOT, 4, 0, 0,
                                R_X86_64_GOTPCREL, NULL},
};

#undef R
#undef TLS
#undef RIN

/* The code before an R_X86_64_GOTTPOFF field (insn[0..2]: REX, opcode,
** ModRM) rewritten for an immediate offset, as a static linker relaxes
** initial-exec into local-exec (the instruction keeps its length):
**   movq x@gottpoff(%rip), %reg   REX 8b 00rrr101  ->  REX' c7 11000rrr  movq $imm32, %reg
**   addq x@gottpoff(%rip), %reg   REX 03 00rrr101  ->  REX' 81 11000rrr  addq $imm32, %reg
** (REX.R moves to REX.B).  0 for any other form. */
static int oj_arch_x86_64_ie_to_le(const unsigned char *insn, unsigned char *out) {
  unsigned char rex = insn[0], op = insn[1], modrm = insn[2];
  if ((rex & 0xfb) != 0x48 || (op != 0x8b && op != 0x03) || (modrm & 0xc7) != 0x05) return 0;
  out[0] = (unsigned char)(0x48 | ((rex & 4) ? 1 : 0));
  out[1] = op == 0x8b ? 0xc7 : 0x81;
  out[2] = (unsigned char)(0xc0 | ((modrm >> 3) & 7));
  return 1;
}

/* JITLink 22's own sections on x86-64: its GOT, stub and TLS tables, and
** the section of common symbols (see oj_elf_read.c for what adopting one
** of the object's did). */
static const char *const oj_arch_x86_64_reserved[] = {"$__GOT", "$__STUBS", "$__TLSINFO",
                                                      ".common", NULL};

/* atexit:  lea __dso_handle(%rip),%rdx ; xor %esi,%esi ; jmp __cxa_atexit
** (atexit(fn) = __cxa_atexit(fn, 0, &__dso_handle), SysV argument
** registers). */
/* A call stub: jmp rel32, then int3 padding. */
static const unsigned char oj_arch_x86_64_call_stub[8] = {0xe9, 0, 0, 0, 0, 0xcc, 0xcc, 0xcc};

static const unsigned char oj_arch_x86_64_rt_text[16] = {
    0x48, 0x8d, 0x15, 0, 0, 0, 0, /* lea 0(%rip),%rdx   reloc at 3 */
    0x31, 0xf6,                   /* xor %esi,%esi */
    0xe9, 0, 0, 0, 0,             /* jmp rel32          reloc at 10 */
    0xcc, 0xcc};

static const oj_arch_rtreloc oj_arch_x86_64_rt_relocs[] = {
    {3, R_X86_64_PC32, OJ_ARCH_RT_DSO_HANDLE, -4},
    {10, R_X86_64_PLT32, OJ_ARCH_RT_CXA_ATEXIT, -4},
};

/* JITLink's x86-64 edge names in its "out of range" errors. */
static const oj_arch_hint oj_arch_x86_64_hints[] = {
    {"out of range of Pointer32", 0,
     "the object has absolute 32-bit relocations (R_X86_64_32/32S, from -fno-pic) to an "
     "address above 2 GiB that no placement can reach: rebuild it with -fPIC or -fPIE"},
    {"out of range of Delta32", 1,
     "the library holds -fno-pic code, placed below 2 GiB, and this 32-bit PC-relative "
     "relocation (R_X86_64_PC32, to host data such as stdout) cannot reach above it: "
     "rebuild it with -fPIC or -fPIE"},
    {"out of range of Delta32", 0,
     "a 32-bit PC-relative relocation (R_X86_64_PC32) cannot reach data of the host (code "
     "built without -fPIC reads data such as stdout directly, and a host executable may "
     "hold its own copy of that data far from JIT memory): rebuild it with -fPIC"},
    {NULL, 0, NULL},
};

const oj_arch oj_arch_x86_64 = {
    .name = "x86-64",
    .e_machine = EM_X86_64,
    .relocs = oj_arch_x86_64_relocs,
    .nrelocs = sizeof oj_arch_x86_64_relocs / sizeof *oj_arch_x86_64_relocs,
    .unknown = {NULL, OJ_RC_UNSUPPORTED, 4, 0, 0, 0, NULL},
    .r_none = R_X86_64_NONE,
    .rodata_in_code = 1,
    .call_stub = oj_arch_x86_64_call_stub,
    .call_stub_size = sizeof oj_arch_x86_64_call_stub,
    .call_stub_at = 1,
    .r_call = R_X86_64_PLT32,
    .call_addend = -4,
    .r_initfini = R_X86_64_64,
    .r_fde = {{R_X86_64_32, R_X86_64_64}, {R_X86_64_PC32, R_X86_64_PC64}},
    .tls_hint = "rebuild with -fPIC (and without -mtls-dialect=gnu2)",
    .r_tpoff64 = R_X86_64_TPOFF64,
    .ie_to_le = oj_arch_x86_64_ie_to_le,
    .ie_to_le_len = 3,
    .ie_addend = -4,
    .put_field = NULL,
    .reserved_sections = oj_arch_x86_64_reserved,
    .shn_large_common = SHN_X86_64_LCOMMON,
    .shn_large_common_name = "SHN_X86_64_LCOMMON",
    .sht_unwind = SHT_X86_64_UNWIND,
    .jit_max = (uint64_t)1 << 36, /* 64 GiB */
    .window_span = ((uint64_t)2 << 30) - ((uint64_t)16 << 20),
    .low_window = 1,
    .rt_text = oj_arch_x86_64_rt_text,
    .rt_text_size = sizeof oj_arch_x86_64_rt_text,
    .rt_atexit_size = 14,
    .rt_relocs = oj_arch_x86_64_rt_relocs,
    .rt_nrelocs = sizeof oj_arch_x86_64_rt_relocs / sizeof *oj_arch_x86_64_rt_relocs,
    .link_hints = oj_arch_x86_64_hints,
};

#if defined(__x86_64__)
const oj_arch *oj_arch_host(void) { return &oj_arch_x86_64; }

/* %fs:0 holds the thread pointer itself (the psABI's TCB header). */
void *oj_arch_thread_pointer(void) {
  void *tp;
  __asm__("mov %%fs:0, %0" : "=r"(tp));
  return tp;
}
#endif
