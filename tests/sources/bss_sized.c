/* bss_sized.c: a zero-fill array of OJ_BSS_MIB MiB (-DOJ_BSS_MIB=N; cases
** big_objects, clear_count).  With -DOJ_BSS_NEAR its code also reads
** oj_near_value, a hidden symbol of another object (near_value.c), with a
** 32-bit PC-relative relocation: the object must then lie within 2 GiB of
** that one. */
#ifndef OJ_BSS_MIB
#define OJ_BSS_MIB 1
#endif
#define OJ_BSS_SIZE ((long)OJ_BSS_MIB << 20)

char oj_bss[OJ_BSS_SIZE];

long oj_bss_size(void) { return OJ_BSS_SIZE; }

/* Writes v at offset at of the array and returns what was there. */
int oj_bss_swap(long at, int v) {
  int old = oj_bss[at];
  oj_bss[at] = (char)v;
  return old;
}

#ifdef OJ_BSS_NEAR
extern int oj_near_value __attribute__((visibility("hidden")));
int oj_bss_near(void) { return oj_near_value; }
#endif
