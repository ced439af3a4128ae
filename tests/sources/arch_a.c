/* arch_a.c: archive member, needed by arch_user.c.  oj_arch_a(x) = x + 11 */
int oj_arch_a(int x) { return x + 11; }
