/*
** oj_limit.c: room under the process's address-space limit (RLIMIT_AS,
** `ulimit -v`) before work that runs inside LLVM.  LLVM ends the process
** ("LLVM ERROR: out of memory", abort) when one of its own allocations
** fails; the core cannot recover from that, so it refuses the work up
** front (ORCJIT_ENOMEM) when the limit leaves less room than the work may
** take.  Without a limit (the usual case) this is one getrlimit call.
** Owns nothing else: what the work needs is the caller's estimate.
*/
#include <fcntl.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "oj_internal.h"

/* The process's mapped size in bytes (what RLIMIT_AS counts), or 0.
** Read with plain system calls: nothing is allocated. */
static size_t oj_limit_mapped(void) {
  int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[128];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  unsigned long long pages = strtoull(buf, NULL, 10);
  long page = sysconf(_SC_PAGESIZE);
  return (size_t)pages * (size_t)(page > 0 ? page : 4096);
}

int oj_limit_room(size_t need, size_t *left) {
  struct rlimit r;
  if (left) *left = SIZE_MAX;
  if (getrlimit(RLIMIT_AS, &r) != 0 || r.rlim_cur == RLIM_INFINITY) return 1;
  size_t mapped = oj_limit_mapped();
  if (!mapped) return 1; /* no /proc: LLVM decides */
  size_t room = (size_t)r.rlim_cur > mapped ? (size_t)r.rlim_cur - mapped : 0;
  if (left) *left = room;
  return room >= need;
}
