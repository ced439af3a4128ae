/* pong.c: the other half of ping.c: oj_pong(n) calls back into oj_ping.
** __tvm_ffi_pp_order() = 10 * (first constructor) + second, each 1 for
** ping.c and 2 for pong.c: 12 when ping.o's constructor ran first. */
#include "ojt_ffi.h"

/* volatile: clang -O2 would otherwise run this file's constructor at
** compile time (folded into the initial values), whatever the load order. */
volatile int oj_pp_order[2];
volatile int oj_pp_turn;
int oj_ping(int n);

int oj_pong(int n) { return n <= 0 ? 0 : 1 + oj_ping(n - 1); }

__attribute__((constructor)) static void pong_ctor(void) { oj_pp_order[oj_pp_turn++] = 2; }

OJT_UNARY(pp_order, x, 10 * oj_pp_order[0] + oj_pp_order[1] + 0 * x)
