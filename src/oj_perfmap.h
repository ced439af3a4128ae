/*
** oj_perfmap.h: the perf map file /tmp/perf-<pid>.map (oj_perfmap.c),
** which perf reads to name samples in JIT code: one "START SIZE name\n"
** line (hex) per function.
*/
#ifndef OJ_PERFMAP_H
#define OJ_PERFMAP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The lines of one object, gathered before they are written at once. */
typedef struct oj_perfmap_lines {
  char *text;
  size_t len, cap;
  int oom; /* a line did not fit in memory: the object's lines are dropped */
} oj_perfmap_lines;

/* Checks that the map file can be opened for appending (created if
** missing).  ORCJIT_OK, or ORCJIT_EIO with the message set. */
int oj_perfmap_check(void);

/* Appends "START SIZE name\n" to *l; a newline or carriage return in the
** name becomes '?', so that one function is one line. */
void oj_perfmap_add(oj_perfmap_lines *l, uint64_t start, uint64_t size, const char *name,
                    size_t name_len);

/* Appends the lines of *l to the map file with one write() under a
** process-wide mutex (the file opened O_APPEND for each object, so a
** removed file is created again and a forked child writes its own), then
** frees them.  A failure costs the names, not the link. */
void oj_perfmap_flush(oj_perfmap_lines *l);

/* Frees the lines of *l without writing them. */
void oj_perfmap_drop(oj_perfmap_lines *l);

#ifdef __cplusplus
}
#endif
#endif /* OJ_PERFMAP_H */
