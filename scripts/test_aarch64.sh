#!/usr/bin/env bash
# test_aarch64.sh: `make test-aarch64`.  The whole build and every C and
# Python test on Linux aarch64, under qemu-user emulation, in the Debian 12
# arm64 root of scripts/debroot.sh (made once, cached): the library is built
# there against the root's LLVM 22, the test objects are compiled there by
# its clang-22 and gcc 12, and ctest and pytest run there.
#
# The checkout is mounted at /orcjit/src and its build-aarch64/
# at /orcjit/build, which keeps, between runs, the
# CMake build (cmake/) and the venv (venv/: apache-tvm-ffi and pytest for
# aarch64 from PyPI, installed by the root's pip).  The Python tests use
# the library of the CMake build (TVM_FFI_ORCJIT_LIBRARY) and the package
# from the source tree, so nothing is built twice.
#
# Environment: PYTEST_ARGS (extra pytest arguments), CTEST_ARGS,
# AARCH64_JOBS (build and ctest parallelism, default: the host's cores).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
B="$ROOT/build-aarch64"
KIND=bookworm-arm64
say() { printf 'test-aarch64: %s\n' "$*"; }
t0=$SECONDS

bash "$ROOT/scripts/debroot.sh" "$KIND" make
mkdir -p "$B"
JOBS="${AARCH64_JOBS:-$(nproc)}"

cat > "$B/run.sh" <<'EOF'
set -eu
cd /orcjit/src
# What emulation makes meaningless (resident memory, RLIMIT_AS) is skipped,
# saying so (tests/c/oj_test.h ojt_emulated, tests/python/conftest.py).
export ORCJIT_TEST_EMULATED=qemu-user
J=$1; shift
PYTEST_ARGS=$1; CTEST_ARGS=$2
t=$(date +%s)
lap() { n=$(date +%s); echo "test-aarch64: $1 ($((n - t)) s)"; t=$n; }
if [ ! -x /orcjit/build/venv/bin/python ] || ! /orcjit/build/venv/bin/python -c "import tvm_ffi, pytest" 2>/dev/null; then
  rm -rf /orcjit/build/venv
  python3 -m venv /orcjit/build/venv
  /orcjit/build/venv/bin/pip install -q apache-tvm-ffi pytest
  lap "venv: $(/orcjit/build/venv/bin/python -c 'import tvm_ffi, sys; print("apache-tvm-ffi", tvm_ffi.__version__, "python", sys.version.split()[0])')"
fi
PY=/orcjit/build/venv/bin/python
cmake -S /orcjit/src -B /orcjit/build/cmake -G Ninja -DPython3_EXECUTABLE=$PY >/dev/null
cmake --build /orcjit/build/cmake -j "$J"
lap "built ($(uname -m))"
rc=0
# shellcheck disable=SC2086
ctest --test-dir /orcjit/build/cmake --output-on-failure -j "$J" $CTEST_ARGS || rc=1
lap "ctest"
# shellcheck disable=SC2086
TVM_FFI_ORCJIT_LIBRARY=/orcjit/build/cmake/libtvm_ffi_orcjit.so PYTHONPATH=/orcjit/src/python \
  $PY -m pytest -q -p no:cacheprovider tests/python $PYTEST_ARGS || rc=1
lap "pytest"
exit $rc
EOF

say "building and testing in $(bash "$ROOT/scripts/debroot.sh" "$KIND" root) (qemu-aarch64)"
rc=0
ORCJIT_DEBROOT_BIND="$ROOT:/orcjit/src $B:/orcjit/build" \
  bash "$ROOT/scripts/debroot.sh" "$KIND" run sh /orcjit/build/run.sh "$JOBS" \
  "${PYTEST_ARGS:-}" "${CTEST_ARGS:-}" || rc=$?
say "$([ $rc = 0 ] && echo PASS || echo FAIL) in $((SECONDS - t0)) s"
exit $rc
