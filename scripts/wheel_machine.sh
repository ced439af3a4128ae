# wheel_machine.sh: sourced by build_wheel.sh and test_wheel.sh: the wheel of
# the machine they run on (uname -m: x86_64, or aarch64 inside the arm64 root
# of `make wheel-aarch64`), its platform tag and what its library may need
# and export.  Defines WHEEL_MACHINE, WHEEL_PLAT, WHEEL_LDSO, wheel_needed_ok
# and wheel_extra_exports; sets nothing else.
WHEEL_MACHINE=$(uname -m)
case "$WHEEL_MACHINE" in
  x86_64) WHEEL_LDSO=ld-linux-x86-64.so.2 ;;
  aarch64) WHEEL_LDSO=ld-linux-aarch64.so.1 ;;
  *) printf 'wheel: FAIL: no wheel for %s (x86_64 and aarch64 only)\n' "$WHEEL_MACHINE" >&2; exit 1 ;;
esac
WHEEL_PLAT=manylinux_2_28_$WHEEL_MACHINE

# wheel_needed_ok LIB: LIB (a NEEDED entry) is libtvm_ffi, glibc or libgcc_s.
wheel_needed_ok() {
  case "$1" in
    libtvm_ffi.so|libc.so.6|libm.so.6|libdl.so.2|libpthread.so.0|libgcc_s.so.1|"$WHEEL_LDSO") return 0 ;;
  esac
  return 1
}

# wheel_extra_exports LIB: the dynamic symbols LIB defines beyond the C API,
# TVMFFIOrcJITInitialize and the GDB JIT interface (none, when all is well).
wheel_extra_exports() {
  nm -D --defined-only "$1" | awk '$2 ~ /^[A-Z]$/ {print $3}' |
    grep -v -E '^(orcjit_[a-z_]+|TVMFFIOrcJITInitialize|__jit_debug_descriptor|__jit_debug_register_code)$' || true
}
