#!/usr/bin/env bash
# bootstrap.sh: installs what tvm-ffi-orcjit needs to build and test, and
# nothing that is already there.  Idempotent: a second run does no work.
#   Debian: llvm-22-dev clang-22 libclang-rt-22-dev lld-22 (+ gcc, g++, make)
#   PyPI:   apache-tvm-ffi scikit-build-core pytest cmake ninja; apache-tvm
#           (about 100 MB: the client whose objects tests/python/test_tvm.py
#           loads; only if `import tvm` fails)
set -euo pipefail

PY=${PYTHON:-python3}
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

need_apt=()
for pkg in llvm-22-dev clang-22 libclang-rt-22-dev lld-22 gcc g++ make; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed"; then
    need_apt+=("$pkg")
  fi
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "bootstrap: installing Debian packages: ${need_apt[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

need_pip=()
"$PY" -c "import tvm_ffi" 2>/dev/null || need_pip+=("apache-tvm-ffi")
"$PY" -c "import scikit_build_core" 2>/dev/null || need_pip+=("scikit-build-core")
"$PY" -c "import pytest" 2>/dev/null || need_pip+=("pytest")
command -v cmake >/dev/null 2>&1 || need_pip+=("cmake")
command -v ninja >/dev/null 2>&1 || need_pip+=("ninja")
if [ ${#need_pip[@]} -gt 0 ]; then
  echo "bootstrap: installing Python packages: ${need_pip[*]}"
  "$PY" -m pip install -q "${need_pip[@]}"
fi
# Apache TVM, the client of tests/python/test_tvm.py.  Installed after
# apache-tvm-ffi, whose version it accepts (>= 0.1.14), so pip keeps the one
# the native library is built against.  A Python with no apache-tvm wheel is
# reported, not fatal: those tests then skip, saying why.
if ! "$PY" -c "import tvm" 2>/dev/null; then
  echo "bootstrap: installing Python package apache-tvm (about 100 MB)"
  "$PY" -m pip install -q "apache-tvm==0.27.*" ||
    echo "bootstrap: WARNING: apache-tvm could not be installed into $PY; tests/python/test_tvm.py will be skipped" >&2
fi
echo "bootstrap: ok"
