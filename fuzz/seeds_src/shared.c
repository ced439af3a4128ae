/* shared.c: built as a shared library and as an executable (wrong kinds). */
int seed_shared(int x) { return x + 1; }
int main(void) { return seed_shared(-1); }
