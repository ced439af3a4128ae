/*
** oj_error.h: the per-thread last error (oj_error.c).
** Every failing path of the core calls oj_error_set() exactly once with a
** status and a message naming the library, the input and the symbol.
*/
#ifndef OJ_ERROR_H
#define OJ_ERROR_H

#include <stdarg.h>
#include <stddef.h>

/* Records status and the formatted message for this thread; returns status. */
int oj_error_set(int status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int oj_error_setv(int status, const char *fmt, va_list ap);
/* Prepends "prefix: " to the current message (status unchanged). */
void oj_error_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Clears the error of this thread. */
void oj_error_clear(void);
int oj_error_status(void);
const char *oj_error_message(void);

#endif /* OJ_ERROR_H */
