/* bigbss.c: a 192 MiB zero-fill array (case big_bss).  Loading it must not
** make the array resident, and a reload must see it zero again. */
#define OJ_BIG_SIZE (192L << 20)

char oj_big[OJ_BIG_SIZE];

long oj_big_size(void) { return OJ_BIG_SIZE; }
