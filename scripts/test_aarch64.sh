#!/usr/bin/env bash
# test_aarch64.sh: `make test-aarch64`.  The whole build and every C and
# Python test on Linux aarch64, in the Debian 12 arm64 root of
# scripts/debroot.sh (made once, cached), its programs run by qemu-user:
# the library is built there against the root's LLVM 22 and libraries, the
# test objects are compiled there by clang-22 and gcc 12, and ctest and
# pytest run there.
#
# Compilers: the host's own builds of the root's clang-22 and gcc 12,
# running natively inside the root (scripts/a64_compilers.sh): compiling the
# tests' objects under emulation took about 15 minutes, natively about 1
# (measured 2026-12-07).  Everything that runs aarch64 code (the library,
# the test programs, Python, gdb) runs under qemu either way.
#
# The checkout is mounted at /orcjit/src and its build-aarch64/ at
# /orcjit/build, which keeps, between runs, the CMake build (cmake/) and
# the venv (venv/: apache-tvm-ffi, pytest and apache-tvm for aarch64 from
# PyPI, installed by the root's pip).  The Python tests use the library of the
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
mkdir -p "$B"
JOBS="${AARCH64_JOBS:-$(nproc)}"

binds="$ROOT:/orcjit/src $B:/orcjit/build"
# shellcheck source=a64_compilers.sh
. "$ROOT/scripts/a64_compilers.sh"
a64_compilers "$B/bin"

cat > "$B/run.sh" <<'EOF'
set -eu
cd /orcjit/src
export PATH=/usr/lib/llvm-22-wrap:/orcjit/build/venv/bin:$PATH
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
# Apache TVM (aarch64 wheel, about 95 MB), whose objects test_tvm.py loads;
# as in scripts/bootstrap.sh, a failed install is reported and those tests
# skip, saying so.
if [ "$MODE" = test ] && ! /orcjit/build/venv/bin/python -c "import tvm" 2>/dev/null; then
  /orcjit/build/venv/bin/pip install -q "apache-tvm==0.27.*" 2>/dev/null ||
    echo "test-aarch64: WARNING: apache-tvm could not be installed; tests/python/test_tvm.py will be skipped" >&2
  lap "apache-tvm"
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
