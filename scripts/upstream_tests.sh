#!/usr/bin/env bash
# upstream_tests.sh: runs the upstream package's own test suite (apache/tvm-ffi,
# addons/tvm_ffi_orcjit/tests) against the tvm_ffi_orcjit installed in $PY
# (`make test-upstream`, which installs it first).
#
#   scripts/upstream_tests.sh [SOURCE]
#
# SOURCE (or $UPSTREAM) is where the upstream tests are: a checkout of
# apache/tvm-ffi (a git work tree or bare repository, read at the pinned commit
# below), or a directory that holds test_basic.py (a copy of that folder).
# The tests are not shipped anywhere this script can download them from:
# PyPI has only wheels of apache-tvm-ffi-orcjit, without tests, and no sdist.
# So get a checkout once by hand and pass its path.
#
# The suite runs unchanged, in a copy outside the source tree.  It compiles
# its objects with tvm_ffi.cpp.build into $WORK/objects (clang from
# LLVM_PREFIX, default /usr/lib/llvm-22, and gcc).  The one test that needs a
# CUDA device (test_load_and_execute_cuda_function) is deselected where
# nvidia-smi finds no GPU; the CUDA object is then built for sm_80 only so that
# the build of the others does not stop at nvcc.
# Environment: PY (default python3), UPSTREAM, UPSTREAM_COMMIT, LLVM_PREFIX,
# PYTEST_ARGS (extra pytest arguments), WORK (default build-upstream-tests/).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PY:-python3}"
# The upstream commit whose tests this package was last checked against.
UPSTREAM_COMMIT="${UPSTREAM_COMMIT:-620fece9f8d81dded637cec9fc52e388f7bd0ae1}"
SOURCE="${1:-${UPSTREAM:-}}"
WORK="${WORK:-$ROOT/build-upstream-tests}"
TESTS_PATH=addons/tvm_ffi_orcjit/tests

if [ -z "$SOURCE" ]; then
  cat >&2 <<MSG
upstream_tests.sh: no upstream test suite given.
  The tests of apache-tvm-ffi-orcjit are in the apache/tvm-ffi repository
  ($TESTS_PATH, checked at commit $UPSTREAM_COMMIT); PyPI ships
  no sdist with them.  Clone that repository, then:
    make test-upstream PY=$PY UPSTREAM=/path/to/tvm-ffi
MSG
  exit 2
fi

rm -rf "$WORK/tests" && mkdir -p "$WORK/tests" "$WORK/tmp"
if [ -f "$SOURCE/test_basic.py" ]; then
  cp -r "$SOURCE/." "$WORK/tests/"
  echo "upstream tests: copied from $SOURCE"
elif git -C "$SOURCE" rev-parse --git-dir >/dev/null 2>&1 || git --git-dir="$SOURCE" rev-parse >/dev/null 2>&1; then
  gitdir="$(git -C "$SOURCE" rev-parse --absolute-git-dir 2>/dev/null || echo "$SOURCE")"
  if ! git --git-dir="$gitdir" cat-file -e "$UPSTREAM_COMMIT^{commit}" 2>/dev/null; then
    echo "upstream_tests.sh: $SOURCE lacks commit $UPSTREAM_COMMIT (fetch it, or set UPSTREAM_COMMIT)" >&2
    exit 2
  fi
  git --git-dir="$gitdir" archive "$UPSTREAM_COMMIT" "$TESTS_PATH" | tar -x -C "$WORK/tests" --strip-components=3
  echo "upstream tests: $SOURCE at $UPSTREAM_COMMIT"
else
  echo "upstream_tests.sh: $SOURCE is neither a git checkout of apache/tvm-ffi nor a folder with test_basic.py" >&2
  exit 2
fi

export LLVM_PREFIX="${LLVM_PREFIX:-/usr/lib/llvm-22}"
export TMPDIR="$WORK/tmp"   # utils.py builds its objects under the temporary directory
deselect=()
if ! nvidia-smi -L >/dev/null 2>&1; then
  export TVM_FFI_CUDA_ARCH_LIST="${TVM_FFI_CUDA_ARCH_LIST:-8.0}"
  deselect=(--deselect test_basic.py::test_load_and_execute_cuda_function)
  echo "upstream tests: no CUDA device; test_load_and_execute_cuda_function deselected"
fi
cd "$WORK/tests"
# Their own root: not this checkout's pytest settings (pyproject.toml).
printf '[pytest]\n' > pytest.ini
# Run from the copy with the installed package; never this checkout's python/.
"$PY" -c 'import tvm_ffi_orcjit, sys; print("tvm_ffi_orcjit:", tvm_ffi_orcjit.__file__)'
exec "$PY" -m pytest -q -p no:cacheprovider "${deselect[@]}" ${PYTEST_ARGS:-} .
