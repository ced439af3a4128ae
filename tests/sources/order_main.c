/* order_main.c: main() of the oracle executables of the initfini_order
** case: the system linker links it with order_a.o and/or order_b.o, and
** the test runs the result.  oj_order_rec() writes each number on its own
** line with write(2), so that lines written during exit are not lost in a
** stdio buffer.  main() writes 0, then calls order_a_main() if linked. */
#define _POSIX_C_SOURCE 200809L /* write */
#include <stdio.h>
#include <unistd.h>

void order_a_main(void) __attribute__((weak));

void oj_order_rec(int v) {
  char buf[32];
  int n = snprintf(buf, sizeof buf, "%d\n", v);
  if (n > 0 && write(1, buf, (size_t)n) != n) _exit(3);
}

int main(void) {
  oj_order_rec(0);
  if (order_a_main) order_a_main();
  return 0;
}
