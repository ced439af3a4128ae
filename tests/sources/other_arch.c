/* other_arch.c: no includes, so it builds for any target.  Compiled for
** other architectures and object formats (aarch64, i686, riscv64, ppc64
** big-endian, COFF, Mach-O, LLVM bitcode): each must be refused.  The same
** source built for x86-64 ELF is the control that must load. */
int oj_other_arch_data = 5;

int __tvm_ffi_other(void *self, const void *args, int num_args, void *result) {
  (void)self, (void)args, (void)num_args, (void)result;
  return oj_other_arch_data - 5;
}
