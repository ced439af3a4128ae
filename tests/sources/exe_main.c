/* exe_main.c: a trivial program, linked into executables and a shared
** library that must be refused as objects. */
int oj_exe_data = 3;
int oj_exe_fn(int x) { return x + oj_exe_data; }
int main(void) { return oj_exe_fn(-3); }
