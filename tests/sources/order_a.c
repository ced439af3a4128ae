/* order_a.c: every placement of a constructor and a destructor, for the
** initfini_order case (tests/c/test_order.c).  Each one reports its own
** number to oj_order_rec(), a function of the host: the test executable,
** or order_main.c in the executables the system linker builds from the
** same object (the oracle).  Constructors report positive numbers,
** destructors and exit handlers negative ones:
**   101     constructor(101)                 .init_array.101 / .00101
**   301     a pointer in .ctors.65234        priority 65535 - 65234 = 301
**   400     a pointer in .init_array.00400   (gcc's spelling)
**   500     a pointer in .init_array.500     (clang's spelling)
**   1000    constructor(1000)
**   1501, 1502  two pointers in .ctors.64035 (priority 1500)
**   65001, 65002  constructor (no priority), in this order: .init_array
**   65011, 65012  two pointers in .ctors
**   -101 .. -65012  the matching destructors (.fini_array*, .dtors*)
**   -901, -902, -903  __cxa_atexit(ax, 1|2|3, &__dso_handle): from the
**                     101 constructor, the plain one and order_a_main
**   -801    atexit(h1): from the 1000 constructor and from order_a_main
**   1       order_a_main(), called once between load and release
** The arrays of two pointers are aligned(8): at 16 (the compilers' default
** for a 16-byte array) the linker would pad .init_array with a null entry. */
#include <stdlib.h>

extern void oj_order_rec(int v);
extern void *__dso_handle;
extern int __cxa_atexit(void (*fn)(void *), void *arg, void *dso);

#define OJ_PTR(sec) __attribute__((used, section(sec), aligned(8))) static void (*const

static void ax(void *p) { oj_order_rec(-900 - (int)(long)p); }
static void h1(void) { oj_order_rec(-801); }

__attribute__((constructor(101))) static void c101(void) {
  oj_order_rec(101);
  __cxa_atexit(ax, (void *)1, &__dso_handle);
}
__attribute__((constructor(1000))) static void c1000(void) {
  oj_order_rec(1000);
  atexit(h1);
}
__attribute__((constructor)) static void cp1(void) {
  oj_order_rec(65001);
  __cxa_atexit(ax, (void *)2, &__dso_handle);
}
__attribute__((constructor)) static void cp2(void) { oj_order_rec(65002); }

static void s301(void) { oj_order_rec(301); }
static void s400(void) { oj_order_rec(400); }
static void s500(void) { oj_order_rec(500); }
static void s1501(void) { oj_order_rec(1501); }
static void s1502(void) { oj_order_rec(1502); }
static void s65011(void) { oj_order_rec(65011); }
static void s65012(void) { oj_order_rec(65012); }
OJ_PTR(".ctors.65234") p301)(void) = s301;
OJ_PTR(".init_array.00400") p400)(void) = s400;
OJ_PTR(".init_array.500") p500)(void) = s500;
OJ_PTR(".ctors.64035") p1500[2])(void) = {s1501, s1502};
OJ_PTR(".ctors") pctors[2])(void) = {s65011, s65012};

__attribute__((destructor(101))) static void d101(void) { oj_order_rec(-101); }
__attribute__((destructor(1000))) static void d1000(void) { oj_order_rec(-1000); }
__attribute__((destructor)) static void dp1(void) { oj_order_rec(-65001); }
__attribute__((destructor)) static void dp2(void) { oj_order_rec(-65002); }

static void t301(void) { oj_order_rec(-301); }
static void t400(void) { oj_order_rec(-400); }
static void t1501(void) { oj_order_rec(-1501); }
static void t1502(void) { oj_order_rec(-1502); }
static void t65011(void) { oj_order_rec(-65011); }
static void t65012(void) { oj_order_rec(-65012); }
OJ_PTR(".dtors.65234") q301)(void) = t301;
OJ_PTR(".fini_array.00400") q400)(void) = t400;
OJ_PTR(".dtors.64035") q1500[2])(void) = {t1501, t1502};
OJ_PTR(".dtors") qdtors[2])(void) = {t65011, t65012};

void order_a_main(void) {
  oj_order_rec(1);
  atexit(h1);
  __cxa_atexit(ax, (void *)3, &__dso_handle);
}
