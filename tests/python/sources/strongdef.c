/* strongdef.c: the strong definition of val() (2). */
__attribute__((noinline)) int val(void) { return 2; }
