/* fork_ctor.c: a constructor that calls fork(), so the child starts in the
** middle of the add that runs it.  oj_fork_ctor_pid: what fork() returned
** (0 in the child, the child's pid in the parent). */
#include <sys/types.h>
#include <unistd.h>

int oj_fork_ctor_pid = -1;

__attribute__((constructor)) static void fork_ctor(void) { oj_fork_ctor_pid = (int)fork(); }
