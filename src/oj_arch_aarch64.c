/*
** oj_arch_aarch64.c: what the loader knows about AArch64 (oj_arch.h): the
** relocation types of the ELF for the Arm 64-bit Architecture psABI that
** relocatable objects carry, with class, width, name, rewrite and refusal
** text; the instruction fields of thread-local offsets (add, load/store and
** move-wide immediates) and the relaxation of initial-exec code to
** local-exec; the section names JITLink 22 reserves; the runtime object's
** atexit code; the hints for JITLink's aarch64 range errors.  Data and
** instruction encodings only, plus oj_arch_host() and the thread pointer
** when built for aarch64 (the TLS-descriptor resolver is oj_a64rt.c).
**
** Thread-locals on AArch64: compilers use TLS descriptors (-mtls-dialect=
** desc, the default) for -fPIC code, JITLink 22 links them, and the
** descriptor's resolver is ours (oj_a64rt.c).  Position-dependent and
** PIE code uses initial-exec and local-exec: the offsets from the thread
** pointer (positive: TLS variant I) go into the instruction fields below.
*/
#include <elf.h>
#include <string.h>

#include "oj_arch.h"

#define R(t, cls, w) [R_AARCH64_##t] = {"R_AARCH64_" #t, OJ_RC_##cls, w, 0, 0, 0, NULL}
#define RW(t, cls, w, to) \
  [R_AARCH64_##t] = {"R_AARCH64_" #t, OJ_RC_##cls, w, 0, 0, R_AARCH64_##to, NULL}
#define TLS(t, cls, fld, why) \
  [R_AARCH64_##t] = {"R_AARCH64_" #t, OJ_RC_##cls, 4, fld, OJ_RF_TLS, 0, why}
/* Named: the relocation needs a named symbol (JITLink keys the entries of
** its TLS-descriptor table by name) and no addend. */
#define DESC(t) \
  [R_AARCH64_##t] = {"R_AARCH64_" #t, OJ_RC_TLS_GD, 4, 0, OJ_RF_TLS | OJ_RF_NAMED, 0, NULL}
#define NOPE(t, cls, why) [R_AARCH64_##t] = {"R_AARCH64_" #t, OJ_RC_##cls, 4, 0, OJ_RF_TLS, 0, why}
/* The scaled load/store low-12 forms of a thread-local offset, checked and
** not (the same field: a misaligned or too large offset fails put_field). */
#define LD_LDST(n)                                                             \
  TLS(TLSLD_LDST##n##_DTPREL_LO12, TLS_DTPREL, OJ_A64_LDST##n##_LO12, NULL), \
      TLS(TLSLD_LDST##n##_DTPREL_LO12_NC, TLS_DTPREL, OJ_A64_LDST##n##_LO12, NULL)
#define LE_LDST(n)                                                  \
  TLS(TLSLE_LDST##n##_TPREL_LO12, TLS_LE, OJ_A64_LDST##n##_LO12,    \
      "local-exec (R_AARCH64_TLSLE_LDST" #n "_TPREL_LO12)"),        \
      TLS(TLSLE_LDST##n##_TPREL_LO12_NC, TLS_LE, OJ_A64_LDST##n##_LO12, \
          "local-exec (R_AARCH64_TLSLE_LDST" #n "_TPREL_LO12_NC)")

/* The instruction fields a thread-local offset goes into (OJ_F_ARCH+). */
enum {
  OJ_A64_ADD_HI12 = OJ_F_ARCH, /* add xd, xn, #(v >> 12), lsl #12; v < 2^24 */
  OJ_A64_ADD_LO12,             /* add xd, xn, #(v & 0xfff) */
  OJ_A64_ADD_LO12_CHK,         /* the same, v < 2^12 */
  OJ_A64_LDST8_LO12,           /* ldr/str [xn, #(v & 0xfff)], scaled by the access size */
  OJ_A64_LDST16_LO12,
  OJ_A64_LDST32_LO12,
  OJ_A64_LDST64_LO12,
  OJ_A64_LDST128_LO12,
  OJ_A64_MOVW_G0,    /* movz/movk xd, #(v & 0xffff); v < 2^16 */
  OJ_A64_MOVW_G0_NC, /* the same, no check */
  OJ_A64_MOVW_G1,    /* movz/movk xd, #(v >> 16 & 0xffff), lsl #16; v < 2^32 */
  OJ_A64_MOVW_G1_NC,
  OJ_A64_MOVW_G2,    /* movz xd, #(v >> 32 & 0xffff), lsl #32; v < 2^48 */
  OJ_A64_IE_ADRP,    /* initial-exec relaxed: adrp xd, ... -> movz xd, #(v >> 16), lsl #16 */
  OJ_A64_IE_LDR      /* ldr xd, [xn, ...] -> movk xd, #(v & 0xffff) */
};

/* Widths: every relocated field of a .o is one 4-byte instruction or a 2-,
** 4- or 8-byte datum. */
static const oj_arch_reloc oj_arch_aarch64_relocs[] = {
    R(NONE, NONE, 0),
    [256] = {"R_AARCH64_NONE", OJ_RC_NONE, 0, 0, 0, 0, NULL}, /* the psABI's other NONE */
    R(ABS64, ABS, 8),
    /* JITLink checks that the value fits; a pointer to JIT memory above 4
    ** GiB does not, and the link error says so (hints below). */
    R(ABS32, ABS, 4),
    R(ABS16, UNSUPPORTED, 2),
    R(PREL64, PCREL, 8),
    R(PREL32, PCREL, 4),
    R(PREL16, UNSUPPORTED, 2),
    R(MOVW_UABS_G0, UNSUPPORTED, 4),
    R(MOVW_UABS_G0_NC, ABS, 4),
    R(MOVW_UABS_G1, UNSUPPORTED, 4),
    R(MOVW_UABS_G1_NC, ABS, 4),
    R(MOVW_UABS_G2, UNSUPPORTED, 4),
    R(MOVW_UABS_G2_NC, ABS, 4),
    R(MOVW_UABS_G3, ABS, 4),
    R(MOVW_SABS_G0, UNSUPPORTED, 4),
    R(MOVW_SABS_G1, UNSUPPORTED, 4),
    R(MOVW_SABS_G2, UNSUPPORTED, 4),
    R(LD_PREL_LO19, PCREL, 4),
    R(ADR_PREL_LO21, PCREL, 4),
    R(ADR_PREL_PG_HI21, PCREL, 4),
    /* JITLink 22 has only the checked form: the same field, range checked. */
    RW(ADR_PREL_PG_HI21_NC, PCREL, 4, ADR_PREL_PG_HI21),
    R(ADD_ABS_LO12_NC, PCREL, 4),
    R(LDST8_ABS_LO12_NC, PCREL, 4),
    R(LDST16_ABS_LO12_NC, PCREL, 4),
    R(LDST32_ABS_LO12_NC, PCREL, 4),
    R(LDST64_ABS_LO12_NC, PCREL, 4),
    R(LDST128_ABS_LO12_NC, PCREL, 4),
    R(TSTBR14, PCREL, 4),
    R(CONDBR19, PCREL, 4),
    R(JUMP26, BRANCH, 4),
    R(CALL26, BRANCH, 4),
    R(MOVW_PREL_G0, UNSUPPORTED, 4),
    R(MOVW_PREL_G0_NC, UNSUPPORTED, 4),
    R(MOVW_PREL_G1, UNSUPPORTED, 4),
    R(MOVW_PREL_G1_NC, UNSUPPORTED, 4),
    R(MOVW_PREL_G2, UNSUPPORTED, 4),
    R(MOVW_PREL_G2_NC, UNSUPPORTED, 4),
    R(MOVW_PREL_G3, UNSUPPORTED, 4),
    R(MOVW_GOTOFF_G0, GOTREL, 4),
    R(MOVW_GOTOFF_G0_NC, GOTREL, 4),
    R(MOVW_GOTOFF_G1, GOTREL, 4),
    R(MOVW_GOTOFF_G1_NC, GOTREL, 4),
    R(MOVW_GOTOFF_G2, GOTREL, 4),
    R(MOVW_GOTOFF_G2_NC, GOTREL, 4),
    R(MOVW_GOTOFF_G3, GOTREL, 4),
    R(GOTREL64, GOTREL, 8),
    R(GOTREL32, GOTREL, 4),
    R(GOT_LD_PREL19, GOT, 4),
    R(LD64_GOTOFF_LO15, GOTREL, 4),
    R(ADR_GOT_PAGE, GOT, 4),
    R(LD64_GOT_LO12_NC, GOT, 4),
    R(LD64_GOTPAGE_LO15, GOT, 4),
    /* Traditional general- and local-dynamic (-mtls-dialect=trad): JITLink
    ** 22 has none of them. */
    NOPE(TLSGD_ADR_PREL21, TLS_DESC, "general-dynamic (-mtls-dialect=trad)"),
    NOPE(TLSGD_ADR_PAGE21, TLS_DESC, "general-dynamic (-mtls-dialect=trad)"),
    NOPE(TLSGD_ADD_LO12_NC, TLS_DESC, "general-dynamic (-mtls-dialect=trad)"),
    NOPE(TLSGD_MOVW_G1, TLS_DESC, "general-dynamic (-mtls-dialect=trad)"),
    NOPE(TLSGD_MOVW_G0_NC, TLS_DESC, "general-dynamic (-mtls-dialect=trad)"),
    NOPE(TLSLD_ADR_PREL21, TLS_DESC, "local-dynamic (-mtls-dialect=trad)"),
    NOPE(TLSLD_ADR_PAGE21, TLS_DESC, "local-dynamic (-mtls-dialect=trad)"),
    NOPE(TLSLD_ADD_LO12_NC, TLS_DESC, "local-dynamic (-mtls-dialect=trad)"),
    NOPE(TLSLD_MOVW_G1, TLS_DESC, "local-dynamic (-mtls-dialect=trad)"),
    NOPE(TLSLD_MOVW_G0_NC, TLS_DESC, "local-dynamic (-mtls-dialect=trad)"),
    NOPE(TLSLD_LD_PREL19, TLS_DESC, "local-dynamic (-mtls-dialect=trad)"),
    /* Offsets in the object's block (local-dynamic code adds them to the
    ** block's address): constants the pre-pass puts into the instruction. */
    TLS(TLSLD_MOVW_DTPREL_G2, TLS_DTPREL, OJ_A64_MOVW_G2, NULL),
    TLS(TLSLD_MOVW_DTPREL_G1, TLS_DTPREL, OJ_A64_MOVW_G1, NULL),
    TLS(TLSLD_MOVW_DTPREL_G1_NC, TLS_DTPREL, OJ_A64_MOVW_G1_NC, NULL),
    TLS(TLSLD_MOVW_DTPREL_G0, TLS_DTPREL, OJ_A64_MOVW_G0, NULL),
    TLS(TLSLD_MOVW_DTPREL_G0_NC, TLS_DTPREL, OJ_A64_MOVW_G0_NC, NULL),
    TLS(TLSLD_ADD_DTPREL_HI12, TLS_DTPREL, OJ_A64_ADD_HI12, NULL),
    TLS(TLSLD_ADD_DTPREL_LO12, TLS_DTPREL, OJ_A64_ADD_LO12_CHK, NULL),
    TLS(TLSLD_ADD_DTPREL_LO12_NC, TLS_DTPREL, OJ_A64_ADD_LO12, NULL),
    LD_LDST(8), LD_LDST(16), LD_LDST(32), LD_LDST(64), LD_LDST(128),
    /* Initial-exec: to the object's own thread-local, relaxed to local-exec
    ** (adrp/ldr become movz/movk of the offset); to one it does not define,
    ** a GOT load (rewrite) of "__orcjit.tpoff.X". */
    NOPE(TLSIE_MOVW_GOTTPREL_G1, TLS_DESC, "initial-exec (R_AARCH64_TLSIE_MOVW_GOTTPREL_G1)"),
    NOPE(TLSIE_MOVW_GOTTPREL_G0_NC, TLS_DESC,
         "initial-exec (R_AARCH64_TLSIE_MOVW_GOTTPREL_G0_NC)"),
    [R_AARCH64_TLSIE_ADR_GOTTPREL_PAGE21] = {"R_AARCH64_TLSIE_ADR_GOTTPREL_PAGE21", OJ_RC_TLS_IE,
                                             4, OJ_A64_IE_ADRP, OJ_RF_TLS, R_AARCH64_ADR_GOT_PAGE,
                                             "initial-exec (R_AARCH64_TLSIE_ADR_GOTTPREL_PAGE21)"},
    [R_AARCH64_TLSIE_LD64_GOTTPREL_LO12_NC] = {"R_AARCH64_TLSIE_LD64_GOTTPREL_LO12_NC",
                                               OJ_RC_TLS_IE, 4, OJ_A64_IE_LDR, OJ_RF_TLS,
                                               R_AARCH64_LD64_GOT_LO12_NC,
                                               "initial-exec (R_AARCH64_TLSIE_LD64_GOTTPREL_LO12_NC)"},
    NOPE(TLSIE_LD_GOTTPREL_PREL19, TLS_DESC, "initial-exec (R_AARCH64_TLSIE_LD_GOTTPREL_PREL19)"),
    /* Local-exec: the object's own thread-locals, the static block's offset
    ** in the instruction (oj_elf_tls_static_apply). */
    TLS(TLSLE_MOVW_TPREL_G2, TLS_LE, OJ_A64_MOVW_G2, "local-exec (R_AARCH64_TLSLE_MOVW_TPREL_G2)"),
    TLS(TLSLE_MOVW_TPREL_G1, TLS_LE, OJ_A64_MOVW_G1, "local-exec (R_AARCH64_TLSLE_MOVW_TPREL_G1)"),
    TLS(TLSLE_MOVW_TPREL_G1_NC, TLS_LE, OJ_A64_MOVW_G1_NC,
        "local-exec (R_AARCH64_TLSLE_MOVW_TPREL_G1_NC)"),
    TLS(TLSLE_MOVW_TPREL_G0, TLS_LE, OJ_A64_MOVW_G0, "local-exec (R_AARCH64_TLSLE_MOVW_TPREL_G0)"),
    TLS(TLSLE_MOVW_TPREL_G0_NC, TLS_LE, OJ_A64_MOVW_G0_NC,
        "local-exec (R_AARCH64_TLSLE_MOVW_TPREL_G0_NC)"),
    TLS(TLSLE_ADD_TPREL_HI12, TLS_LE, OJ_A64_ADD_HI12, "local-exec (R_AARCH64_TLSLE_ADD_TPREL_HI12)"),
    TLS(TLSLE_ADD_TPREL_LO12, TLS_LE, OJ_A64_ADD_LO12_CHK,
        "local-exec (R_AARCH64_TLSLE_ADD_TPREL_LO12)"),
    TLS(TLSLE_ADD_TPREL_LO12_NC, TLS_LE, OJ_A64_ADD_LO12,
        "local-exec (R_AARCH64_TLSLE_ADD_TPREL_LO12_NC)"),
    LE_LDST(8), LE_LDST(16), LE_LDST(32), LE_LDST(64), LE_LDST(128),
    /* TLS descriptors, the default: JITLink 22 links the page, low-12 and
    ** call forms; the descriptor calls oj_a64rt.c's resolver. */
    NOPE(TLSDESC_LD_PREL19, TLS_DESC, "TLS-descriptor (R_AARCH64_TLSDESC_LD_PREL19, -mcmodel=tiny)"),
    NOPE(TLSDESC_ADR_PREL21, TLS_DESC, "TLS-descriptor (R_AARCH64_TLSDESC_ADR_PREL21, -mcmodel=tiny)"),
    DESC(TLSDESC_ADR_PAGE21),
    DESC(TLSDESC_LD64_LO12),
    DESC(TLSDESC_ADD_LO12),
    NOPE(TLSDESC_OFF_G1, TLS_DESC, "TLS-descriptor (R_AARCH64_TLSDESC_OFF_G1, -mcmodel=large)"),
    NOPE(TLSDESC_OFF_G0_NC, TLS_DESC, "TLS-descriptor (R_AARCH64_TLSDESC_OFF_G0_NC, -mcmodel=large)"),
    NOPE(TLSDESC_LDR, TLS_DESC, "TLS-descriptor (R_AARCH64_TLSDESC_LDR, -mcmodel=large)"),
    NOPE(TLSDESC_ADD, TLS_DESC, "TLS-descriptor (R_AARCH64_TLSDESC_ADD, -mcmodel=large)"),
    DESC(TLSDESC_CALL),
    R(COPY, DYNAMIC, 8),
    R(GLOB_DAT, DYNAMIC, 8),
    R(JUMP_SLOT, DYNAMIC, 8),
    R(RELATIVE, DYNAMIC, 8),
    TLS(TLS_DTPMOD, DYNAMIC, 0, "module-id (R_AARCH64_TLS_DTPMOD)"),
    /* In .debug_info (the location of a thread-local): a constant. */
    [R_AARCH64_TLS_DTPREL] = {"R_AARCH64_TLS_DTPREL", OJ_RC_TLS_DTPREL, 8, OJ_F_DATA64, OJ_RF_TLS,
                              0, NULL},
    TLS(TLS_TPREL, DYNAMIC, 0, "initial-exec (R_AARCH64_TLS_TPREL)"),
    TLS(TLSDESC, DYNAMIC, 0, "TLS-descriptor (R_AARCH64_TLSDESC)"),
    R(IRELATIVE, DYNAMIC, 8),
};

#undef R
#undef RW
#undef TLS
#undef DESC
#undef NOPE
#undef LD_LDST
#undef LE_LDST

static uint32_t oj_a64_get(const unsigned char *at) {
  uint32_t w;
  memcpy(&w, at, 4);
  return w;
}

/* Puts v into the instruction at `at` (NULL: only checks that v fits);
** 0 if v does not fit or the instruction is not of the field's form. */
static int oj_arch_aarch64_put_field(unsigned char *at, unsigned field, int64_t v) {
  uint64_t u = (uint64_t)v;
  uint32_t insn = at ? oj_a64_get(at) : 0, imm;
  unsigned shift;
  if (v < 0) return 0; /* offsets from the thread pointer and in a block */
  switch (field) {
  case OJ_A64_ADD_HI12:
    if (u >> 24) return 0;
    if (at && (insn & 0xff800000u) != 0x91000000u) return 0; /* add x, x, #imm{, lsl 12} */
    insn = (insn & ~(0xfffu << 10)) | (1u << 22) | (uint32_t)((u >> 12) & 0xfff) << 10;
    break;
  case OJ_A64_ADD_LO12_CHK:
    if (u >> 12) return 0;
    /* fall through */
  case OJ_A64_ADD_LO12:
    if (at && (insn & 0xff800000u) != 0x91000000u) return 0;
    insn = (insn & ~(0xfffu << 10) & ~(1u << 22)) | (uint32_t)(u & 0xfff) << 10;
    break;
  case OJ_A64_LDST8_LO12:
  case OJ_A64_LDST16_LO12:
  case OJ_A64_LDST32_LO12:
  case OJ_A64_LDST64_LO12:
  case OJ_A64_LDST128_LO12:
    shift = field - OJ_A64_LDST8_LO12;
    if (u & ((1u << shift) - 1)) return 0; /* the access's alignment */
    if (at && (insn & 0x3b000000u) != 0x39000000u) return 0; /* ldr/str (unsigned imm) */
    imm = (uint32_t)(u & 0xfff) >> shift;
    insn = (insn & ~(0xfffu << 10)) | imm << 10;
    break;
  case OJ_A64_MOVW_G0:
  case OJ_A64_MOVW_G0_NC:
  case OJ_A64_MOVW_G1:
  case OJ_A64_MOVW_G1_NC:
  case OJ_A64_MOVW_G2:
    shift = field == OJ_A64_MOVW_G2 ? 32 : field >= OJ_A64_MOVW_G1 ? 16 : 0;
    if ((field == OJ_A64_MOVW_G0 || field == OJ_A64_MOVW_G1 || field == OJ_A64_MOVW_G2) &&
        (u >> (shift + 16)))
      return 0;
    /* movz or movk, 64-bit (movn is for negative values, which these are not) */
    if (at && (insn & 0xff800000u) != 0xd2800000u && (insn & 0xff800000u) != 0xf2800000u)
      return 0;
    insn = (insn & ~(0xffffu << 5) & ~(3u << 21)) | (uint32_t)((u >> shift) & 0xffff) << 5 |
           (shift / 16) << 21;
    break;
  case OJ_A64_IE_ADRP: /* adrp xd -> movz xd, #(v >> 16), lsl #16 */
    if (u >> 32) return 0;
    if (at && (insn & 0x9f000000u) != 0x90000000u) return 0;
    insn = 0xd2a00000u | (uint32_t)(u >> 16) << 5 | (insn & 31);
    break;
  case OJ_A64_IE_LDR: /* ldr xd, [xn, #lo12] -> movk xd, #(v & 0xffff) */
    if (u >> 32) return 0;
    if (at && (insn & 0xffc00000u) != 0xf9400000u) return 0;
    insn = 0xf2800000u | (uint32_t)(u & 0xffff) << 5 | (insn & 31);
    break;
  default:
    return 0;
  }
  if (at) memcpy(at, &insn, 4);
  return 1;
}

/* JITLink 22's own sections on aarch64: its GOT, stub, TLS-info and
** TLS-descriptor tables, and the section of common symbols. */
static const char *const oj_arch_aarch64_reserved[] = {"$__GOT", "$__STUBS", "$__TLSINFO",
                                                       "$__TLSDESC", ".common", NULL};

/* atexit:  adrp x2, __dso_handle ; add x2, x2, :lo12:__dso_handle ;
**          mov x1, #0 ; b __cxa_atexit
** (atexit(fn) = __cxa_atexit(fn, 0, &__dso_handle), AAPCS64 arguments). */
static const unsigned char oj_arch_aarch64_rt_text[16] = {
    0x02, 0x00, 0x00, 0x90, /* adrp x2, 0           reloc at 0 */
    0x42, 0x00, 0x00, 0x91, /* add x2, x2, #0       reloc at 4 */
    0x01, 0x00, 0x80, 0xd2, /* movz x1, #0 */
    0x00, 0x00, 0x00, 0x14, /* b 0                  reloc at 12 */
};

static const oj_arch_rtreloc oj_arch_aarch64_rt_relocs[] = {
    {0, R_AARCH64_ADR_PREL_PG_HI21, OJ_ARCH_RT_DSO_HANDLE, 0},
    {4, R_AARCH64_ADD_ABS_LO12_NC, OJ_ARCH_RT_DSO_HANDLE, 0},
    {12, R_AARCH64_JUMP26, OJ_ARCH_RT_CXA_ATEXIT, 0},
};

/* JITLink's aarch64 edge names in its "out of range" errors. */
static const oj_arch_hint oj_arch_aarch64_hints[] = {
    {"out of range of Page21", 0,
     "an ADRP page reference (R_AARCH64_ADR_PREL_PG_HI21, from code built without -fPIC, to "
     "data of the host such as stdout) cannot reach 4 GiB away: rebuild it with -fPIC"},
    {"out of range of Pointer32", 0,
     "the object has absolute 32-bit relocations (R_AARCH64_ABS32) to an address above "
     "4 GiB: rebuild it with -fPIC"},
    {"out of range of Branch26PCRel", 0,
     "a branch (R_AARCH64_CALL26/JUMP26) cannot reach its target 128 MiB away"},
    {NULL, 0, NULL},
};

const oj_arch oj_arch_aarch64 = {
    .name = "aarch64",
    .e_machine = EM_AARCH64,
    .relocs = oj_arch_aarch64_relocs,
    .nrelocs = sizeof oj_arch_aarch64_relocs / sizeof *oj_arch_aarch64_relocs,
    .unknown = {NULL, OJ_RC_UNSUPPORTED, 4, 0, 0, 0, NULL},
    .r_none = R_AARCH64_NONE,
    .drop_none = 1, /* JITLink 22: "Unsupported aarch64 relocation:0" */
    .r_initfini = R_AARCH64_ABS64,
    .r_fde = {{R_AARCH64_ABS32, R_AARCH64_ABS64}, {R_AARCH64_PREL32, R_AARCH64_PREL64}},
    .tls_hint = "rebuild with -fPIC (and the default -mtls-dialect=desc)",
    .r_tpoff64 = R_AARCH64_TLS_TPREL,
    .ie_to_le = NULL, /* the IE fields rewrite their instructions (put_field) */
    .ie_to_le_len = 0,
    .ie_addend = 0,
    .put_field = oj_arch_aarch64_put_field,
    .reserved_sections = oj_arch_aarch64_reserved,
    .shn_large_common = 0,
    .shn_large_common_name = NULL,
    .sht_unwind = 0,
    /* ADRP reaches +-4 GiB: libraries share a window of 2 GiB as on
    ** x86-64; one larger object gets a region of its own only when none of
    ** its edges reaches out (glue/oj_memmgr.cc), and JITLink checks the
    ** reach of its own. */
    .jit_max = (uint64_t)1 << 36, /* 64 GiB, as on x86-64 */
    .window_span = ((uint64_t)2 << 30) - ((uint64_t)16 << 20),
    .low_window = 0,
    .rt_text = oj_arch_aarch64_rt_text,
    .rt_text_size = sizeof oj_arch_aarch64_rt_text,
    .rt_atexit_size = 16,
    .rt_relocs = oj_arch_aarch64_rt_relocs,
    .rt_nrelocs = sizeof oj_arch_aarch64_rt_relocs / sizeof *oj_arch_aarch64_rt_relocs,
    .link_hints = oj_arch_aarch64_hints,
};

#if defined(__aarch64__)
const oj_arch *oj_arch_host(void) { return &oj_arch_aarch64; }

/* TPIDR_EL0 holds the thread pointer (TLS variant I: the TCB, then the
** static blocks above it). */
void *oj_arch_thread_pointer(void) {
  void *tp;
  __asm__("mrs %0, tpidr_el0" : "=r"(tp));
  return tp;
}
#endif
