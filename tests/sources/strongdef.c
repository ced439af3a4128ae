/* strongdef.c: the strong definitions of oj_wval (returns 2) and oj_wdata
** (20), which beat weakdef.o's and useval_weak.o's in any order. */
int oj_wdata = 20;

__attribute__((noinline)) int oj_wval(void) { return 2; }
