/*
** oj_perfmap.c: the perf map file (oj_perfmap.h): formatting the lines of
** one object and appending them to /tmp/perf-<pid>.map.  perf has no
** unload record: entries stay after release.
**
** It does not decide which functions are listed (glue/oj_debug.cc: every
** named function with a size, local ones included, whose code was kept).
*/
#include "oj_perfmap.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tvm_ffi_orcjit/orcjit.h"

/* Serialises writes to the file, process-wide. */
static pthread_mutex_t oj_perfmap_lock = PTHREAD_MUTEX_INITIALIZER;

/* Opens the map file for appending; -1 and a message on failure. */
static int oj_perfmap_open(void) {
  char path[64];
  snprintf(path, sizeof path, "/tmp/perf-%ld.map", (long)getpid());
  int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0)
    orcjit_set_error(ORCJIT_EIO, "cannot open the perf map file %s: %s", path, strerror(errno));
  return fd;
}

int oj_perfmap_check(void) {
  int fd = oj_perfmap_open();
  if (fd < 0) return ORCJIT_EIO;
  close(fd);
  return ORCJIT_OK;
}

void oj_perfmap_add(oj_perfmap_lines *l, uint64_t start, uint64_t size, const char *name,
                    size_t name_len) {
  char head[64];
  int n = snprintf(head, sizeof head, "%" PRIx64 " %" PRIx64 " ", start, size);
  size_t need;
  if (l->oom || n < 0) return;
  need = (size_t)n + name_len + 1;
  if (need > l->cap - l->len) {
    size_t cap = l->cap ? l->cap : 256;
    char *grown;
    while (cap - l->len < need) cap *= 2;
    grown = realloc(l->text, cap);
    if (!grown) {
      l->oom = 1;
      return;
    }
    l->text = grown;
    l->cap = cap;
  }
  memcpy(l->text + l->len, head, (size_t)n);
  l->len += (size_t)n;
  for (size_t i = 0; i < name_len; i++) /* one line per function */
    l->text[l->len++] = (name[i] == '\n' || name[i] == '\r') ? '?' : name[i];
  l->text[l->len++] = '\n';
}

void oj_perfmap_flush(oj_perfmap_lines *l) {
  if (l->len > 0 && !l->oom) {
    pthread_mutex_lock(&oj_perfmap_lock);
    int fd = oj_perfmap_open();
    if (fd >= 0) {
      const char *p = l->text;
      size_t left = l->len;
      while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        p += n;
        left -= (size_t)n;
      }
      close(fd);
    }
    pthread_mutex_unlock(&oj_perfmap_lock);
  }
  oj_perfmap_drop(l);
}

void oj_perfmap_drop(oj_perfmap_lines *l) {
  free(l->text);
  memset(l, 0, sizeof *l);
}
