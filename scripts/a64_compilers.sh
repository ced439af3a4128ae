# a64_compilers.sh: sourced by test_aarch64.sh and wheel_aarch64.sh.  Makes
# the compilers inside the arm64 root the host's own builds of the root's
# versions, running natively (under emulation a compile takes 5 to 20 times
# longer, and the tests compile about 1,000 objects):
#   clang-22, clang++-22  the host's clang-22 (bound at /usr/lib/llvm-22-host)
#                         with --target=aarch64-linux-gnu and the root's
#                         resource directory (the same headers, and the
#                         aarch64 runtimes: sanitizers, libFuzzer), as
#                         wrappers written to BINDIR and bound at
#                         /usr/lib/llvm-22-wrap, which the caller puts first
#                         on PATH (both under /usr/lib/llvm-*, so that
#                         test_wheel.sh's "LLVM hidden" run hides them too);
#   gcc, g++ (12.2)       Debian's x86-64 -> aarch64 cross compiler
#                         (gcc-12-aarch64-linux-gnu, installed here when
#                         missing), bound over the root's triplet-named
#                         drivers, with its assembler and linker; its glibc
#                         and libstdc++ headers are the root's versions.
# The host's x86-64 programs run inside the root because their loader and
# libraries are bound at their own paths (/lib64, /usr/lib/x86_64-linux-gnu),
# which an arm64 root does not use.  AARCH64_EMULATED_COMPILERS=1 leaves the
# root's own compilers, under emulation.
#
#   a64_compilers BINDIR   appends the bind mounts to $binds
a64_compilers() {
  local bindir=$1 t
  local sudo=()
  [ "$(id -u)" = 0 ] || sudo=(sudo -n)
  mkdir -p "$bindir"
  rm -f "$bindir"/clang-22 "$bindir"/clang++-22
  [ "${AARCH64_EMULATED_COMPILERS:-0}" = 1 ] && return 0
  if ! command -v aarch64-linux-gnu-g++-12 >/dev/null 2>&1; then
    echo "a64_compilers: installing the host's gcc 12 for aarch64 (gcc-12-aarch64-linux-gnu, g++-12-aarch64-linux-gnu)"
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq \
      gcc-12-aarch64-linux-gnu g++-12-aarch64-linux-gnu >/dev/null
  fi
  [ -x /usr/lib/llvm-22/bin/clang ] || { echo "a64_compilers: FAIL: no clang-22 on the host (make bootstrap)" >&2; return 1; }
  binds="$binds /lib64:/lib64 /usr/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu"
  binds="$binds /usr/lib/llvm-22:/usr/lib/llvm-22-host $bindir:/usr/lib/llvm-22-wrap"
  binds="$binds /usr/lib/gcc-cross:/usr/lib/gcc-cross /usr/aarch64-linux-gnu:/usr/aarch64-linux-gnu"
  for t in gcc-12 g++-12 cpp-12 as ld.bfd; do
    binds="$binds /usr/bin/aarch64-linux-gnu-$t:/usr/bin/aarch64-linux-gnu-$t"
  done
  for t in clang clang++; do
    printf '#!/bin/sh\nexec /usr/lib/llvm-22-host/bin/%s --target=aarch64-linux-gnu -resource-dir=/usr/lib/llvm-22/lib/clang/22 "$@"\n' \
      "$t" > "$bindir/$t-22"
    chmod +x "$bindir/$t-22"
  done
}
