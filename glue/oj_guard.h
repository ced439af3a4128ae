/*
** oj_guard.h: calls into JIT code that keep C++ exceptions out of the C core
** (glue/oj_guard.cc).
*/
#ifndef OJ_GUARD_H
#define OJ_GUARD_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* fn(), or fn(arg): 0, or -1 if it threw, with the exception's what() (or
** a description) in why. */
int oj_guard_call(void (*fn)(void), char *why, size_t cap);
int oj_guard_call_arg(void (*fn)(void *), void *arg, char *why, size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* OJ_GUARD_H */
