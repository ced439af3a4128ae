#!/usr/bin/env bash
# bench/profile.sh: where load time goes (`make bench-profile`).
#
# Builds what `make bench` builds (BENCH_BUILD_ONLY=1 bench/run.sh), then
# runs bench/prof_load under callgrind: instruction counts do not depend on
# what else the machine is doing, unlike wall-clock time.  Profiles:
#   small      200 load/release cycles of small.o
#   small_live the same with 999 live libraries in the session
#   cpp        20 cycles of typed.o (C++, TVM-FFI typed exports)
#   cpp2       20 cycles of typed2.o (C++, two typed exports, clang++)
#   cpp6       10 cycles of containers.o (six typed exports, ffi::Array/Map)
#   large      2 cycles of large.o (3,000 functions)
#   dlopen     200 dlopen + dlsym of small.so written to a fresh file
# and writes bench/results/profile.txt: instructions per load, and the
# share of each part of the process (LLVM, malloc/free, the rest of libc,
# libstdc++, this project, the dynamic loader), plus the top functions.
# The callgrind files stay in bench/results/callgrind/ for
# callgrind_annotate or kcachegrind.  About a minute.
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH/.." && pwd)"
PY="${PY:-python3}"
RES="$BENCH/results"
OBJ="$RES/obj"
OUT="$RES/callgrind"
command -v valgrind >/dev/null || { echo "bench/profile.sh: valgrind is not installed" >&2; exit 1; }
BENCH_BUILD_ONLY=1 PY="$PY" bash "$BENCH/run.sh"
mkdir -p "$OUT"
export BENCH_TMP="$(mktemp -d /tmp/orcjit-profile.XXXXXX)"
trap 'rm -rf "$BENCH_TMP"' EXIT
# Valgrind 3.19 gives up on the DWARF of LLVM's static libraries: profile a
# copy of the library without debug information (symbols stay).  Under
# valgrind JIT memory has private pages (src/oj_vmem.c): mprotect calls
# are system calls, a handful of instructions here.
LIBDIR="$OUT/lib"
mkdir -p "$LIBDIR"
objcopy --strip-debug "$ROOT/build-bench/libtvm_ffi_orcjit.so" "$LIBDIR/libtvm_ffi_orcjit.so"
cd "$OBJ"
run() { # name n args...
  local name=$1 n=$2
  shift 2
  echo "[profile] $name" >&2
  LD_LIBRARY_PATH="$LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$OUT/$name.out" \
    ./prof_load "$@" >"$OUT/$name.stdout" 2>"$OUT/$name.log"
  echo "$name $n $OUT/$name.out" >>"$OUT/runs.txt"
}
rm -f "$OUT/runs.txt"
run small 200 small.o 200
run small_live 200 small.o 200 999
run cpp 20 typed.o 20
run cpp2 20 typed2.o 20
run cpp6 10 containers.o 10
run large 2 large.o 2 0 f0
run dlopen 200 --dlopen small.so 200
"$PY" "$BENCH/profile_report.py" "$OUT/runs.txt" | tee "$RES/profile.txt"
