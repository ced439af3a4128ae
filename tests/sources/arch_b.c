/* arch_b.c: archive member, needed by arch_user.c; needs oj_arch_a from
** another member.  oj_arch_b(x) = oj_arch_a(x) + 22 */
int oj_arch_a(int x);
int oj_arch_b(int x) { return oj_arch_a(x) + 22; }
