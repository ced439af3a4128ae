#!/usr/bin/env bash
# bootstrap.sh: installs what tvm-ffi-orcjit needs to build and test, and
# nothing that is already there.  Idempotent: a second run does no work.
#   Debian: llvm-22-dev clang-22 libclang-rt-22-dev lld-22 (+ gcc, g++, make)
#   PyPI:   apache-tvm-ffi scikit-build-core pytest cmake ninja
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
echo "bootstrap: ok"
