/* ctor_need.c: the function ctor_unres.c needs. */
#include <stdint.h>

__attribute__((visibility("default"))) int64_t ctor_need(int64_t x) { return 2 * x; }
