/* manysec.c: 66,000 functions, oj_many_00000 .. oj_many_65999, each
** returning 1 followed by its five digits (oj_many_00042 returns 100042).
** Built with -ffunction-sections (tests/c/CMakeLists.txt) it has more than
** 65,280 sections, so its ELF header uses extended section numbering
** (e_shnum 0, e_shstrndx SHN_XINDEX) and most symbols SHN_XINDEX.  The
** preprocessor writes the functions at build time. */
#define F1(n) int oj_many_##n(void) { return 1##n; }
#define F10(n) F1(n##0) F1(n##1) F1(n##2) F1(n##3) F1(n##4) F1(n##5) F1(n##6) F1(n##7) F1(n##8) F1(n##9)
#define F100(n) F10(n##0) F10(n##1) F10(n##2) F10(n##3) F10(n##4) F10(n##5) F10(n##6) F10(n##7) F10(n##8) F10(n##9)
#define F1000(n) F100(n##0) F100(n##1) F100(n##2) F100(n##3) F100(n##4) F100(n##5) F100(n##6) F100(n##7) F100(n##8) F100(n##9)
#define F10000(n) F1000(n##0) F1000(n##1) F1000(n##2) F1000(n##3) F1000(n##4) F1000(n##5) F1000(n##6) F1000(n##7) F1000(n##8) F1000(n##9)
F10000(0) F10000(1) F10000(2) F10000(3) F10000(4) F10000(5)
F1000(60) F1000(61) F1000(62) F1000(63) F1000(64) F1000(65)
