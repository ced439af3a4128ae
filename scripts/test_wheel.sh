#!/usr/bin/env bash
# test_wheel.sh: installs a built wheel into a fresh virtual environment and
# tests it there, away from the source tree (`make wheel-test`; `make
# wheel-aarch64` runs it in the arm64 root).
#
#   scripts/test_wheel.sh [WHEEL]      default: the newest dist/tvm_ffi_orcjit-*_<machine>.whl
#
# <machine> is uname -m (x86_64 or aarch64; scripts/wheel_machine.sh).
# Steps, each fatal:
#   1. a fresh venv in $WHEEL_TEST_DIR/venv (default build-wheel-test/,
#      git-ignored), with pip from PyPI:
#      apache-tvm-ffi (the version the wheel was built against, that is the
#      one of $PY, unless TVM_FFI_VERSION says otherwise), pytest, the wheel;
#   2. the installed native library: readelf -d lists no libLLVM, no
#      libstdc++ (linked in) and nothing beyond libtvm_ffi, glibc's libraries
#      and libgcc_s; ldd finds every library
#      (libtvm_ffi through the RUNPATH into the tvm_ffi package); the dynamic
#      symbols it defines are the C API, TVMFFIOrcJITInitialize and the two
#      names of the GDB JIT interface only;
#   3. `import tvm_ffi_orcjit` in the venv loads the library of the venv;
#   4. pytest on a copy of tests/python (with the files it reads: README.md,
#      docs/, examples/, include/, tests/sources/, fuzz/regressions/) in a
#      temporary directory outside the source tree, with
#      no PYTHONPATH and no TVM_FFI_ORCJIT_LIBRARY, so neither python/ nor a
#      build directory of the checkout can be picked up;
#   5. the same tests with LLVM hidden (a private mount namespace covers
#      /usr/lib/llvm-* and every libLLVM*.so*), as on a machine without LLVM;
#      skipped, saying so, where no mount namespace can be made;
#   6. on x86-64, on an older system: a Debian 11 root (glibc 2.31, GCC 10's
#      libstdc++, Python 3.9; scripts/debroot.sh, made once with debootstrap
#      and kept in /var/cache/tvm-ffi-orcjit/), where the root's pip installs
#      apache-tvm-ffi, pytest and the wheel into a fresh venv and the same
#      tests run with the root's gcc/g++ (only the clang variants skip:
#      no clang-22 there); skipped, saying so, without root or sudo, or with
#      WHEEL_TEST_OLDROOT=0.
# Environment: PY (the python that built the wheel, default python3),
# PYTEST_ARGS (extra pytest arguments), WHEEL_TEST_DIR, WHEEL_TEST_OLDROOT,
# WHEEL_TEST_KEEP_GOING=1 (a pytest run that fails does not stop the steps
# after it; the script still fails at the end: for a port in progress).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PY:-python3}"
WORK="${WHEEL_TEST_DIR:-$ROOT/build-wheel-test}"
# shellcheck source=scripts/wheel_machine.sh
. "$ROOT/scripts/wheel_machine.sh"
say() { printf 'test_wheel: %s\n' "$*"; }
fail() { printf 'test_wheel: FAIL: %s\n' "$*" >&2; exit 1; }
# pytest_failed WHAT: a pytest run failed; fatal unless WHEEL_TEST_KEEP_GOING=1.
pytest_failed=()
pytest_failed() {
  [ "${WHEEL_TEST_KEEP_GOING:-0}" = 1 ] || fail "$1"
  printf 'test_wheel: FAIL (going on): %s\n' "$1" >&2
  pytest_failed+=("$1")
}

WHEEL="${1:-}"
if [ -z "$WHEEL" ]; then
  WHEEL=$(ls -t "$ROOT"/dist/tvm_ffi_orcjit-*_"$WHEEL_MACHINE".whl 2>/dev/null | head -n 1 || true)
fi
[ -n "$WHEEL" ] && [ -f "$WHEEL" ] || fail "no wheel (run make wheel, or pass its path)"
WHEEL="$(cd "$(dirname "$WHEEL")" && pwd)/$(basename "$WHEEL")"
say "wheel $(basename "$WHEEL") ($(du -k "$WHEEL" | cut -f1) KiB)"

# ---- 1. a fresh venv ----------------------------------------------------------
rm -rf "$WORK"
mkdir -p "$WORK"

# The Debian 11 root of step 6, made (the first time: debootstrap, a few
# minutes, mostly waiting on the network and the disk) while steps 1 to 5 run.
old_enabled=1
if [ "$WHEEL_MACHINE" != x86_64 ]; then
  old_enabled=0 old_why="the Debian 11 root is x86-64 only"
elif [ "${WHEEL_TEST_OLDROOT:-1}" = 0 ]; then
  old_enabled=0 old_why="WHEEL_TEST_OLDROOT=0"
elif [ "$(id -u)" != 0 ] && ! sudo -n true 2>/dev/null; then
  old_enabled=0 old_why="debootstrap and chroot need root or sudo"
fi
if [ "$old_enabled" = 1 ]; then
  bash "$ROOT/scripts/debroot.sh" bullseye-amd64 make > "$WORK/oldroot-make.log" 2>&1 &
  old_pid=$!
fi

"$PY" -m venv "$WORK/venv"
VPY="$WORK/venv/bin/python"
TVM_FFI_VERSION="${TVM_FFI_VERSION:-$("$PY" -c 'import tvm_ffi; print(tvm_ffi.__version__)')}"
say "installing apache-tvm-ffi==$TVM_FFI_VERSION, pytest and the wheel into $WORK/venv"
# (the log only on failure: the host's pip configuration, copied into the
# arm64 root of `make wheel-aarch64`, may name local directories that the
# root lacks, and pip warns about each)
"$VPY" -m pip install -q --disable-pip-version-check \
  "apache-tvm-ffi==$TVM_FFI_VERSION" pytest "$WHEEL" > "$WORK/pip.log" 2>&1 ||
  { cat "$WORK/pip.log" >&2; fail "pip could not install the wheel into a fresh venv"; }

# ---- 2. the installed native library ---------------------------------------------
SITE="$("$VPY" -c 'import sysconfig; print(sysconfig.get_paths()["platlib"])')"
LIB="$SITE/tvm_ffi_orcjit/lib/libtvm_ffi_orcjit.so"
[ -f "$LIB" ] || fail "the wheel installed no $LIB"
say "native library $(du -k "$LIB" | cut -f1) KiB"
needed=$(readelf -d "$LIB" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
say "NEEDED: $(echo $needed)"
for lib in $needed; do
  case "$lib" in
    libLLVM*) fail "$LIB needs $lib: LLVM is not linked in" ;;
    libstdc++.so.6) fail "$LIB needs libstdc++.so.6: libstdc++ should be linked in" ;;
    *) wheel_needed_ok "$lib" || fail "$LIB needs $lib, which is not libtvm_ffi, glibc or libgcc_s" ;;
  esac
done
ldd_out=$(env -u LD_LIBRARY_PATH ldd "$LIB")
if grep -q "not found" <<<"$ldd_out"; then
  echo "$ldd_out" >&2
  fail "ldd: a library of $LIB is not found"
fi
ffi=$(sed -n 's/^[[:space:]]*libtvm_ffi\.so => \(.*\) (0x.*/\1/p' <<<"$ldd_out")
[ -n "$ffi" ] && [ "$(realpath "$ffi")" = "$(realpath "$SITE/tvm_ffi/lib/libtvm_ffi.so")" ] ||
  fail "ldd: libtvm_ffi.so does not come from the venv's tvm_ffi package: ${ffi:-none}"
if grep -qi "llvm" <<<"$ldd_out"; then fail "ldd lists an LLVM library: $ldd_out"; fi
extra=$(wheel_extra_exports "$LIB")
[ -z "$extra" ] || fail "exported beyond the C API: $(echo $extra | cut -c1-300)"
say "readelf/ldd/nm: no LLVM library, only the C API exported"

# ---- 3 and 4. import and the Python tests, outside the source tree -----------------
TMP="$(mktemp -d /tmp/orcjit-wheel-test.XXXXXX)"
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/tests"
cp -r "$ROOT/tests/python" "$TMP/tests/python"
# What the tests read besides themselves: C/C++ sources shared with the C
# tests, the fuzzers' regression inputs, the README and guide (their examples
# are run), the public header (the guide's C programs include it).
cp -r "$ROOT/tests/sources" "$TMP/tests/sources"
mkdir -p "$TMP/fuzz"
cp -r "$ROOT/fuzz/regressions" "$TMP/fuzz/regressions"
cp -r "$ROOT/examples" "$TMP/examples"
cp -r "$ROOT/docs" "$TMP/docs"
cp -r "$ROOT/include" "$TMP/include"
cp "$ROOT/README.md" "$TMP/README.md"
find "$TMP" -name __pycache__ -prune -exec rm -rf {} +
cd "$TMP"
clean_env=(env -u PYTHONPATH -u TVM_FFI_ORCJIT_LIBRARY -u PYTHONHOME -u LD_LIBRARY_PATH)
# The library the package loads, and no libLLVM mapped once a session exists.
probe='import tvm_ffi_orcjit as oj
s = oj.ExecutionSession()
maps = open("/proc/self/maps").read()
assert "libLLVM" not in maps, "libLLVM is mapped into the process"
print(oj.LIBRARY_PATH)'
loaded=$("${clean_env[@]}" "$VPY" -c "$probe") ||
  fail "import tvm_ffi_orcjit failed in the venv, or it mapped libLLVM"
[ "$(realpath "$loaded")" = "$(realpath "$LIB")" ] ||
  fail "import tvm_ffi_orcjit loaded $loaded, not the wheel's $LIB"
say "import tvm_ffi_orcjit loads $loaded; no libLLVM mapped"
say "pytest on a copy of tests/python in $TMP"
log="$WORK/pytest.log"
set +e
"${clean_env[@]}" "$VPY" -m pytest -p no:cacheprovider -rs ${PYTEST_ARGS:-} tests/python 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
[ "$rc" = 0 ] || pytest_failed "pytest exited $rc against the installed wheel (log: $log)"
grep -q "tvm_ffi_orcjit native library: $SITE/" "$log" ||
  fail "pytest did not report the wheel's native library (see $log)"
# other_skips LOG: the skips of LOG (pytest -rs) that the runs below may not
# have: all but those of the clang variants, of the CUDA tests (no GPU or no
# nvcc), of Apache TVM's client tests (the wheel's venvs do not install
# apache-tvm, about 100 MB; make test runs them), and those of the run above
# (the tests for another machine, say).
skips() { grep '^SKIPPED' "$1" | sed 's/^SKIPPED \[[0-9]*\] //' | sort -u; }
other_skips() {
  skips "$1" | comm -23 - <(skips "$log") | grep -v -i 'clang' |
    grep -v -E 'no CUDA device|nvcc not found|apache-tvm is not installed' || true
}

# ---- 5. again, on a machine without LLVM ------------------------------------------
# In a private mount namespace every LLVM directory is covered by an empty
# one and every libLLVM*.so* by /dev/null: any attempt to load LLVM fails.
# clang-22 goes with it, so its test variants skip; the gcc ones run.
mkdir -p "$TMP/empty"
cat > "$TMP/no_llvm.sh" <<'INNER'
# no_llvm.sh EMPTY_DIR VENV_PYTHON [PYTEST_ARGS...] (arguments: sudo drops the environment)
set -eu
EMPTY=$1 VPY=$2
shift 2
# bind FROM TO: mount(8), or mount(2) through ctypes where there is no
# mount(8) (the minimal Debian roots of scripts/debroot.sh have none).
bind() {
  if command -v mount >/dev/null 2>&1; then mount --bind "$1" "$2"; return; fi
  "$VPY" -c 'import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.mount(sys.argv[1].encode(), sys.argv[2].encode(), None, 4096, None):  # MS_BIND
    sys.exit("mount --bind %s %s: %s" % (sys.argv[1], sys.argv[2], os.strerror(ctypes.get_errno())))' "$1" "$2"
}
for d in /usr/lib/llvm-* /usr/local/lib/llvm-*; do
  [ -d "$d" ] && bind "$EMPTY" "$d"
done
for f in $(ls /usr/lib/*/libLLVM* /usr/lib/libLLVM* /usr/local/lib/libLLVM* 2>/dev/null |
           xargs -r -n1 readlink -f | sort -u); do
  bind /dev/null "$f"
done
if "$VPY" -c 'import ctypes; ctypes.CDLL("libLLVM.so.22.1")' 2>/dev/null; then
  echo "test_wheel: FAIL: libLLVM.so.22.1 still loads inside the namespace" >&2; exit 1
fi
echo "test_wheel: LLVM hidden (libLLVM cannot be loaded, clang-22 is gone)"
"$VPY" -m pytest -p no:cacheprovider -rs "$@" tests/python
INNER
ns=()
if [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then ns=(unshare -m)
elif [ "$(id -u)" = 0 ] && ! grep -q ' shared:' /proc/self/mountinfo &&
     unshare -m --propagation unchanged true 2>/dev/null; then
  # In a chroot (the arm64 root of `make wheel-aarch64`) / is no mount
  # point, so unshare cannot make it private; no mount here is shared, so
  # nothing mounted in the new namespace can reach another.
  ns=(unshare -m --propagation unchanged)
elif sudo -n unshare -m true 2>/dev/null; then ns=(sudo -n unshare -m)
elif unshare -rm true 2>/dev/null; then ns=(unshare -rm)
fi
if [ ${#ns[@]} -eq 0 ]; then
  say "SKIP the run without LLVM: no mount namespace can be made here (unshare -m needs root, sudo or user namespaces)"
else
  say "pytest again with LLVM hidden (${ns[*]})"
  log2="$WORK/pytest-no-llvm.log"
  set +e
  # shellcheck disable=SC2086  # PYTEST_ARGS: words on purpose
  "${clean_env[@]}" "${ns[@]}" sh "$TMP/no_llvm.sh" "$TMP/empty" "$VPY" ${PYTEST_ARGS:-} > "$log2" 2>&1
  rc=$?
  set -e
  grep -E "^test_wheel:|tvm_ffi_orcjit native library:|passed|failed" "$log2" | tail -n 4
  if [ "$rc" != 0 ]; then
    tail -n 60 "$log2" >&2
    pytest_failed "pytest exited $rc with LLVM hidden (log: $log2)"
  fi
  other=$(other_skips "$log2")
  [ -z "$other" ] || fail "with LLVM hidden, tests skipped for another reason: $other"
fi

# ---- 6. on an older system: Debian 11 ---------------------------------------------
# A fresh venv inside the Debian 11 root (glibc 2.31, GCC 10's libstdc++,
# Python 3.9; scripts/debroot.sh, made once and cached), apache-tvm-ffi and
# pytest from PyPI with the root's own pip, the wheel, and the same tests,
# with the root's gcc and g++ (no clang-22 there: its variants skip).
if [ "$old_enabled" = 0 ]; then
  say "SKIP the Debian 11 run: $old_why"
else
  t_old=$SECONDS
  wait "$old_pid" || { cat "$WORK/oldroot-make.log" >&2; fail "could not make the Debian 11 root"; }
  cat "$WORK/oldroot-make.log"
  OLD="$WORK/oldroot"
  mkdir -p "$OLD"
  cp "$WHEEL" "$OLD/"
  cat > "$OLD/run.sh" <<'INNER'
# run.sh TVM_FFI_VERSION WHEEL [PYTEST_ARGS...], inside the root, in /orcjit/src
set -eu
V=$1 W=$2
shift 2
echo "test_wheel: in the root: $(. /etc/os-release; echo "$PRETTY_NAME"), glibc $(ldd --version | sed -n '1s/.* //p'), $(python3 --version), $(gcc --version | head -n 1)"
python3 -m venv /orcjit/work/venv
VPY=/orcjit/work/venv/bin/python
# (the log only on failure: the host's pip configuration may name local
# directories that the root lacks, and pip warns about each)
"$VPY" -m pip install -q --disable-pip-version-check "apache-tvm-ffi==$V" pytest "/orcjit/work/$W" \
  > /orcjit/work/pip.log 2>&1 || { cat /orcjit/work/pip.log; exit 1; }
"$VPY" -c 'import tvm_ffi_orcjit as oj; oj.ExecutionSession(); print("test_wheel: in the root: import tvm_ffi_orcjit loads", oj.LIBRARY_PATH)'
exec "$VPY" -m pytest -p no:cacheprovider -rs "$@" tests/python
INNER
  say "pytest in the Debian 11 root $(bash "$ROOT/scripts/debroot.sh" bullseye-amd64 root)"
  log3="$WORK/pytest-debian11.log"
  set +e
  # shellcheck disable=SC2086  # PYTEST_ARGS: words on purpose
  ORCJIT_DEBROOT_BIND="$TMP:/orcjit/src $OLD:/orcjit/work" \
    bash "$ROOT/scripts/debroot.sh" bullseye-amd64 run sh -c 'cd /orcjit/src && sh /orcjit/work/run.sh "$@"' run \
    "$TVM_FFI_VERSION" "$(basename "$WHEEL")" ${PYTEST_ARGS:-} > "$log3" 2>&1
  rc=$?
  set -e
  grep -E "^test_wheel:|tvm_ffi_orcjit native library:|passed|failed" "$log3" | tail -n 5
  if [ "$rc" != 0 ]; then
    tail -n 60 "$log3" >&2
    pytest_failed "pytest exited $rc in the Debian 11 root (log: $log3)"
  fi
  grep -q "tvm_ffi_orcjit native library: /orcjit/work/venv/" "$log3" ||
    fail "in the Debian 11 root, pytest did not report the wheel's native library (see $log3)"
  other=$(other_skips "$log3")
  [ -z "$other" ] || fail "in the Debian 11 root, tests skipped for another reason: $other"
  say "Debian 11 root: $((SECONDS - t_old)) s"
  on_old=" and in the Debian 11 root"
fi
[ ${#pytest_failed[@]} = 0 ] || fail "$(printf '%s; ' "${pytest_failed[@]}")"
say "ok: $(basename "$WHEEL") passes the Python tests installed in a fresh venv${on_old:-}"
