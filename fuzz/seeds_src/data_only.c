/* data_only.c: no code, no relocations; stripped of its symbol table by
** make_seeds.sh so that the pre-pass must add .symtab/.strtab itself. */
const char seed_blob[] = "data only object";
