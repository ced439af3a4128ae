/* small.c: a seed object with C shapes: COMMON and TLS data, legacy
** .ctors/.dtors, prioritised .init_array, internal visibility, weak
** undefined references, string literals, a jump table. */
#include <stdio.h>

int seed_common;                     /* COMMON with -fcommon */
__thread int seed_tls = 3;
static int seed_internal(int) __attribute__((visibility("internal"), noinline));
static int seed_internal(int x) { return x ^ 0x55; }
extern int seed_maybe(void) __attribute__((weak));

static void c1(void) { seed_common++; }
static void d1(void) { seed_common--; }
__attribute__((section(".ctors.00101"), used)) static void (*ctor_p)(void) = c1;
__attribute__((section(".dtors"), used)) static void (*dtor_p)(void) = d1;
__attribute__((section(".init_array.00300"), used)) static void (*ia_p)(void) = c1;
__attribute__((section(".fini_array"), used)) static void (*fa_p)(void) = d1;

int seed_switch(int x) {
  switch (x) {
    case 0: return 10; case 1: return 21; case 2: return 32; case 3: return 43;
    case 4: return 54; case 5: return 65; case 6: return 76; default: break;
  }
  if (seed_maybe) x += seed_maybe();
  printf("%d %s\n", x, "literal");
  return seed_internal(x) + seed_tls;
}
