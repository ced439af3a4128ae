#!/usr/bin/env bash
# test_aarch64.sh: `make test-aarch64`.  The whole build and every C and
# Python test on Linux aarch64, in the Debian 12 arm64 root of
# scripts/debroot.sh (made once, cached), its programs run by qemu-user:
# the library is built there against the root's LLVM 22 and libraries, the
# test objects are compiled there by clang-22 and gcc 12, and ctest and
# pytest run there.
#
# Compilers.  Under emulation a compile takes 5 to 20 times longer, and the
# tests compile about 1,000 objects.  So, by default, the compilers inside
# the root are the host's own builds of the same versions, running
# natively: clang-22 (the host's, --target=aarch64-linux-gnu, with the
# root's headers and libraries) and gcc/g++ 12.2 (Debian's x86-64 -> aarch64
# cross compiler, gcc-12-aarch64-linux-gnu, installed here when missing;
# its glibc and libstdc++ headers are the same versions as the root's).  The
# host's x86-64 programs run inside the root because their loader and
# libraries are bind-mounted at their own paths (/lib64,
# /usr/lib/x86_64-linux-gnu), which an arm64 root does not use.
# AARCH64_EMULATED_COMPILERS=1 uses the root's own compilers under qemu
# instead (measured 2026-12-07: the test objects alone take about 15 minutes
# that way, against about 1 minute).  Everything that runs aarch64 code
# (the library, the test programs, Python, gdb) runs under qemu either way.
#
# The checkout is mounted at /orcjit/src and its build-aarch64/ at
# /orcjit/build, which keeps, between runs, the CMake build (cmake/) and
# the venv (venv/: apache-tvm-ffi and pytest for aarch64 from PyPI,
# installed by the root's pip).  The Python tests use the library of the
# CMake build (TVM_FFI_ORCJIT_LIBRARY) and the package from the source
# tree, so nothing is built twice.
#
#   scripts/test_aarch64.sh          build, ctest, pytest (make test-aarch64)
#   scripts/test_aarch64.sh fuzz     fuzz/run.sh there: the aarch64 build of
#                                    the pre-pass and of the whole load path
#                                    under UBSan (ASan cannot run under
#                                    qemu-user), for FUZZ_SECONDS and
#                                    FUZZ_LOAD_SECONDS (default 60 each) of
#                                    emulated time (make fuzz-aarch64)
#
# Environment: PYTEST_ARGS (extra pytest arguments), CTEST_ARGS,
# AARCH64_JOBS (build and ctest parallelism, default: the host's cores),
# AARCH64_EMULATED_COMPILERS, FUZZ_SECONDS, FUZZ_LOAD_SECONDS.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
B="$ROOT/build-aarch64"
KIND=bookworm-arm64
say() { printf 'test-aarch64: %s\n' "$*"; }
t0=$SECONDS
MODE=${1:-test}
case "$MODE" in test|fuzz) ;; *) echo "usage: $0 [test|fuzz]" >&2; exit 2 ;; esac

bash "$ROOT/scripts/debroot.sh" "$KIND" make
mkdir -p "$B/bin"
JOBS="${AARCH64_JOBS:-$(nproc)}"
SUDO=()
[ "$(id -u)" = 0 ] || SUDO=(sudo -n)

binds="$ROOT:/orcjit/src $B:/orcjit/build"
rm -f "$B"/bin/*
if [ "${AARCH64_EMULATED_COMPILERS:-0}" != 1 ]; then
  if ! command -v aarch64-linux-gnu-g++-12 >/dev/null 2>&1; then
    say "installing the host's gcc 12 for aarch64 (gcc-12-aarch64-linux-gnu, g++-12-aarch64-linux-gnu)"
    "${SUDO[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq \
      gcc-12-aarch64-linux-gnu g++-12-aarch64-linux-gnu >/dev/null
  fi
  [ -x /usr/lib/llvm-22/bin/clang ] || { say "FAIL: no clang-22 on the host (make bootstrap)"; exit 1; }
  # The x86-64 loader and libraries, the host's LLVM 22 (away from the
  # root's own), and gcc's cross driver, compilers, assembler and linker at
  # their own paths: the root's gcc-12, g++-12, as and ld are the triplet
  # names bound here.
  binds="$binds /lib64:/lib64 /usr/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu"
  binds="$binds /usr/lib/llvm-22:/opt/host-llvm-22"
  binds="$binds /usr/lib/gcc-cross:/usr/lib/gcc-cross /usr/aarch64-linux-gnu:/usr/aarch64-linux-gnu"
  for t in gcc-12 g++-12 cpp-12 as ld.bfd; do
    binds="$binds /usr/bin/aarch64-linux-gnu-$t:/usr/bin/aarch64-linux-gnu-$t"
  done
  for t in clang clang++; do
    # The root's resource directory: the same headers, and aarch64 runtimes
    # (sanitizers, libFuzzer) that the host's lacks.
    printf '#!/bin/sh\nexec /opt/host-llvm-22/bin/%s --target=aarch64-linux-gnu -resource-dir=/usr/lib/llvm-22/lib/clang/22 "$@"\n' "$t" \
      > "$B/bin/$t-22"
    chmod +x "$B/bin/$t-22"
  done
fi

cat > "$B/run.sh" <<'EOF'
set -eu
cd /orcjit/src
export PATH=/orcjit/build/bin:/orcjit/build/venv/bin:$PATH
# What emulation makes meaningless (resident memory, RLIMIT_AS) is skipped,
# saying so (tests/c/oj_test.h ojt_emulated, tests/python/conftest.py).
export ORCJIT_TEST_EMULATED=qemu-user
J=$1 MODE=$2
PYTEST_ARGS=$3 CTEST_ARGS=$4 FUZZ_SECONDS=$5 FUZZ_LOAD_SECONDS=$6
t=$(date +%s)
lap() { n=$(date +%s); echo "test-aarch64: $1 ($((n - t)) s)"; t=$n; }
echo "test-aarch64: compilers: $(command -v clang-22) ($(clang-22 --version | head -n 1)), gcc $(gcc -dumpfullversion)"
if [ ! -x /orcjit/build/venv/bin/python ] || ! /orcjit/build/venv/bin/python -c "import tvm_ffi, pytest" 2>/dev/null; then
  rm -rf /orcjit/build/venv
  python3 -m venv /orcjit/build/venv
  /orcjit/build/venv/bin/pip install -q apache-tvm-ffi pytest
  lap "venv: $(/orcjit/build/venv/bin/python -c 'import tvm_ffi, sys; print("apache-tvm-ffi", tvm_ffi.__version__, "python", sys.version.split()[0])')"
fi
PY=/orcjit/build/venv/bin/python
if [ "$MODE" = fuzz ]; then
  # UBSan, not ASan: ASan cannot map its heap in qemu-user's address space;
  # crashes, UBSan reports, timeouts and -rss_limit_mb still fail the run.
  FUZZ_SANITIZERS=undefined FUZZ_BUILD=/orcjit/build/fuzz FUZZ_CRASHES=/orcjit/build/fuzz/crashes \
    CC=clang-22 CXX=clang++-22 \
    PY=$PY FUZZ_LOAD_SECONDS=$FUZZ_LOAD_SECONDS bash fuzz/run.sh "$FUZZ_SECONDS"
  exit $?
fi
cmake -S /orcjit/src -B /orcjit/build/cmake -G Ninja -DPython3_EXECUTABLE=$PY >/dev/null
cmake --build /orcjit/build/cmake -j "$J"
lap "built ($(uname -m))"
rc=0
# shellcheck disable=SC2086
ctest --test-dir /orcjit/build/cmake --output-on-failure -j "$J" $CTEST_ARGS || rc=1
lap "ctest"
# shellcheck disable=SC2086
TVM_FFI_ORCJIT_LIBRARY=/orcjit/build/cmake/libtvm_ffi_orcjit.so PYTHONPATH=/orcjit/src/python \
  $PY -m pytest -q -p no:cacheprovider -rs tests/python $PYTEST_ARGS || rc=1
lap "pytest"
exit $rc
EOF

say "$MODE in $(bash "$ROOT/scripts/debroot.sh" "$KIND" root) (qemu-aarch64)"
rc=0
ORCJIT_DEBROOT_BIND="$binds" \
  bash "$ROOT/scripts/debroot.sh" "$KIND" run sh /orcjit/build/run.sh "$JOBS" "$MODE" \
  "${PYTEST_ARGS:-}" "${CTEST_ARGS:-}" "${FUZZ_SECONDS:-60}" "${FUZZ_LOAD_SECONDS:-60}" || rc=$?
say "$([ $rc = 0 ] && echo PASS || echo FAIL) in $((SECONDS - t0)) s"
exit $rc
