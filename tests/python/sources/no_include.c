/* no_include.c: no header at all, so it builds for any target
** (test_bad_input.py compiles it for AArch64). */
int plain_value = 5;

int plain_get(void) { return plain_value; }
