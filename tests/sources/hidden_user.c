/* hidden_user.c: references oj_base_hidden, which base.c defines with
** hidden visibility: it must not resolve from another library. */
#include "ojt_ffi.h"

int oj_base_hidden(void);

OJT_UNARY(hidden_user, x, x + oj_base_hidden())
