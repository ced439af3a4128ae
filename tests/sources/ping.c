/* ping.c: one half of a pair of objects that call each other, for
** orcjit_library_add_many.  __tvm_ffi_ping(n) counts n down through
** oj_pong (pong.c), which calls back into oj_ping: ping(n) = n.  Its
** constructor records its turn in oj_pp_order (defined in pong.c). */
#include "ojt_ffi.h"

extern volatile int oj_pp_order[2];
extern volatile int oj_pp_turn;
int oj_pong(int n);

int oj_ping(int n) { return n <= 0 ? 0 : 1 + oj_pong(n - 1); }

__attribute__((constructor)) static void ping_ctor(void) { oj_pp_order[oj_pp_turn++] = 1; }

OJT_UNARY(ping, x, oj_ping((int)x))
