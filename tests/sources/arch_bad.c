/* arch_bad.c: archive member nobody needs; it needs a symbol that does not
** exist, so linking it would fail.  A static linker leaves it out. */
int oj_arch_nowhere(void);
int oj_arch_bad(void) { return oj_arch_nowhere(); }
