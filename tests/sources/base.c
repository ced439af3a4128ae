/* base.c, built twice: base1.o (OJ_BASE=1) and base2.o (OJ_BASE=2).
** A "base library" for the link order tests.
**   oj_base_value(x) = 10x + B, oj_base_data = 100B,
**   hidden oj_base_hidden() = 5 (must not be visible to other libraries). */
#include "ojt_ffi.h"

int oj_base_data = OJ_BASE * 100;

int oj_base_value(int x) { return x * 10 + OJ_BASE; }

__attribute__((visibility("hidden"))) int oj_base_hidden(void) { return 5; }

/* Uses the hidden function so it is not dropped at -O2. */
OJT_UNARY(base_id, x, x + oj_base_hidden() + OJ_BASE * 0)
