/* near_value.c: a hidden variable read PC-relatively by bss_sized.c built
** with -DOJ_BSS_NEAR. */
__attribute__((visibility("hidden"))) int oj_near_value = 7;
