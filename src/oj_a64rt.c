/*
** oj_a64rt.c: what AArch64 objects call that no library of the process
** exports, provided by the loader (bound through oj_rtnames.c):
**
**   __tlsdesc_resolver  the resolver of TLS descriptors.  Compilers reach
**       thread-locals through descriptors by default on AArch64:
**         adrp x0, :tlsdesc:v ; ldr x1, [x0, ...] ; add x0, x0, ... ;
**         blr x1 ; mrs x8, tpidr_el0 ; add x0, x0, x8
**       JITLink 22 makes each descriptor {__tlsdesc_resolver, entry}, the
**       entry being the 16-byte {0, address of v} that oj_tls_get_addr
**       resolves per thread (as __tls_get_addr on x86-64).  The resolver
**       gets the descriptor in x0 and returns v's offset from the thread
**       pointer, and must preserve every other register: it saves the
**       caller-saved general registers, the flags and q0-q31 around the C
**       call.  (Not the upper bits of SVE registers: code that keeps SVE
**       values live across a thread-local access would lose them, as with
**       glibc's own resolver before 2.40.)
**
**   __aarch64_<op><size>_<order>  the outline-atomics helpers (gcc and
**       clang default to -moutline-atomics: std::atomic and
**       std::shared_ptr call them).  They live only in libgcc.a, hidden;
**       this file references them, so they are linked into this library,
**       and lists them by name.
**
** On other machines this file is empty.
*/
#include <string.h>

#include "oj_internal.h"

#if defined(__aarch64__)

/* The frame: x29/x30, then x1-x18 (144 bytes), the flags (16), q0-q31
** (512).  Every store is 16-byte aligned. */
__asm__(
    ".text\n"
    ".p2align 4\n"
    ".globl oj_a64rt_tlsdesc_resolver\n"
    ".hidden oj_a64rt_tlsdesc_resolver\n"
    ".type oj_a64rt_tlsdesc_resolver, %function\n"
    "oj_a64rt_tlsdesc_resolver:\n"
    "  hint #34\n" /* bti c: harmless where BTI is off */
    "  stp x29, x30, [sp, #-16]!\n"
    "  mov x29, sp\n"
    "  sub sp, sp, #672\n"
    "  stp x1, x2, [sp, #0]\n"
    "  stp x3, x4, [sp, #16]\n"
    "  stp x5, x6, [sp, #32]\n"
    "  stp x7, x8, [sp, #48]\n"
    "  stp x9, x10, [sp, #64]\n"
    "  stp x11, x12, [sp, #80]\n"
    "  stp x13, x14, [sp, #96]\n"
    "  stp x15, x16, [sp, #112]\n"
    "  stp x17, x18, [sp, #128]\n"
    "  mrs x1, nzcv\n"
    "  str x1, [sp, #144]\n"
    "  stp q0, q1, [sp, #160]\n"
    "  stp q2, q3, [sp, #192]\n"
    "  stp q4, q5, [sp, #224]\n"
    "  stp q6, q7, [sp, #256]\n"
    "  stp q8, q9, [sp, #288]\n"
    "  stp q10, q11, [sp, #320]\n"
    "  stp q12, q13, [sp, #352]\n"
    "  stp q14, q15, [sp, #384]\n"
    "  stp q16, q17, [sp, #416]\n"
    "  stp q18, q19, [sp, #448]\n"
    "  stp q20, q21, [sp, #480]\n"
    "  stp q22, q23, [sp, #512]\n"
    "  stp q24, q25, [sp, #544]\n"
    "  stp q26, q27, [sp, #576]\n"
    "  stp q28, q29, [sp, #608]\n"
    "  stp q30, q31, [sp, #640]\n"
    "  ldr x0, [x0, #8]\n" /* the entry {0, address of v} */
    "  bl oj_tls_get_addr\n"
    "  mrs x1, tpidr_el0\n"
    "  sub x0, x0, x1\n"
    "  ldp q0, q1, [sp, #160]\n"
    "  ldp q2, q3, [sp, #192]\n"
    "  ldp q4, q5, [sp, #224]\n"
    "  ldp q6, q7, [sp, #256]\n"
    "  ldp q8, q9, [sp, #288]\n"
    "  ldp q10, q11, [sp, #320]\n"
    "  ldp q12, q13, [sp, #352]\n"
    "  ldp q14, q15, [sp, #384]\n"
    "  ldp q16, q17, [sp, #416]\n"
    "  ldp q18, q19, [sp, #448]\n"
    "  ldp q20, q21, [sp, #480]\n"
    "  ldp q22, q23, [sp, #512]\n"
    "  ldp q24, q25, [sp, #544]\n"
    "  ldp q26, q27, [sp, #576]\n"
    "  ldp q28, q29, [sp, #608]\n"
    "  ldp q30, q31, [sp, #640]\n"
    "  ldr x1, [sp, #144]\n"
    "  msr nzcv, x1\n"
    "  ldp x1, x2, [sp, #0]\n"
    "  ldp x3, x4, [sp, #16]\n"
    "  ldp x5, x6, [sp, #32]\n"
    "  ldp x7, x8, [sp, #48]\n"
    "  ldp x9, x10, [sp, #64]\n"
    "  ldp x11, x12, [sp, #80]\n"
    "  ldp x13, x14, [sp, #96]\n"
    "  ldp x15, x16, [sp, #112]\n"
    "  ldp x17, x18, [sp, #128]\n"
    "  add sp, sp, #672\n"
    "  ldp x29, x30, [sp], #16\n"
    "  ret\n"
    ".size oj_a64rt_tlsdesc_resolver, .-oj_a64rt_tlsdesc_resolver\n");

extern void oj_a64rt_tlsdesc_resolver(void);

/* libgcc's lse.S: <op><size>_<order> for op in cas, swp, ldadd, ldclr,
** ldeor, ldset, size 1, 2, 4, 8 (cas also 16), four memory orders. */
#define OJ_A64_ORDERS(X, op) X(op##_relax) X(op##_acq) X(op##_rel) X(op##_acq_rel)
#define OJ_A64_SIZES(X, op) \
  OJ_A64_ORDERS(X, op##1) OJ_A64_ORDERS(X, op##2) OJ_A64_ORDERS(X, op##4) OJ_A64_ORDERS(X, op##8)
#define OJ_A64_HELPERS(X)                                                               \
  OJ_A64_SIZES(X, cas) OJ_A64_ORDERS(X, cas16) OJ_A64_SIZES(X, swp) OJ_A64_SIZES(X, ldadd) \
      OJ_A64_SIZES(X, ldclr) OJ_A64_SIZES(X, ldeor) OJ_A64_SIZES(X, ldset)

#define OJ_A64_DECL(n) extern void __aarch64_##n(void);
OJ_A64_HELPERS(OJ_A64_DECL)
#undef OJ_A64_DECL

static const struct {
  const char *name; /* after "__aarch64_" */
  void (*fn)(void);
} oj_a64rt_atomics[] = {
#define OJ_A64_ENTRY(n) {#n, &__aarch64_##n},
    OJ_A64_HELPERS(OJ_A64_ENTRY)
#undef OJ_A64_ENTRY
};

uint64_t oj_a64rt_find(const char *name) {
  if (strcmp(name, "__tlsdesc_resolver") == 0)
    return (uint64_t)(uintptr_t)&oj_a64rt_tlsdesc_resolver;
  if (strncmp(name, "__aarch64_", 10) != 0) return 0;
  for (size_t i = 0; i < sizeof oj_a64rt_atomics / sizeof *oj_a64rt_atomics; i++)
    if (strcmp(name + 10, oj_a64rt_atomics[i].name) == 0)
      return (uint64_t)(uintptr_t)oj_a64rt_atomics[i].fn;
  return 0;
}

#else

uint64_t oj_a64rt_find(const char *name) {
  (void)name;
  return 0;
}

#endif
