/* ctor_need.c: provides oj_ctor_need, the symbol ctor_unres.o needs. */
int oj_ctor_need(int x) { return 2 * x; }
