#!/usr/bin/env bash
# bench/run.sh: the benchmarks of SPEC 6 (`make bench`).
#
# Builds the core library (build-bench/, Release), the benchmark objects
# (bench/results/obj/: small.o, typed.o, large.o and the .so linked from each
# of them; typed2.o, containers.o with clang++ and containers_gcc.o with g++
# for the comparison with upstream), the C benchmark and prof_load (for bench/profile.sh); installs
# the upstream package apache-tvm-ffi-orcjit into bench/.venv-upstream
# (reported, not fatal, if it cannot be installed) and matplotlib into
# bench/.venv-plot; runs the C and the Python benchmarks; writes
# bench/results/latest.json, table.md (for the README) and libs.png, and
# prints the table.
#
# Environment: PY (python with apache-tvm-ffi, default python3),
# BENCH_QUICK=1 (small counts, for trying the runner out; the 10,000 cycles
# and 1,000 libraries stay), BENCH_NO_INSTALL=1 (no pip: use the venvs only
# if they already exist), BENCH_BUILD_ONLY=1 (build the library, the objects
# and the benchmark programs, then stop; bench/profile.sh uses it).
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH/.." && pwd)"
PY="${PY:-python3}"
BUILD="$ROOT/build-bench"
RES="$BENCH/results"
OBJ="$RES/obj"
RAW="$RES/raw"
mkdir -p "$OBJ" "$RAW"
rm -f "$RAW"/*.txt
export BENCH_TMP="$(mktemp -d /tmp/orcjit-bench.XXXXXX)"
trap 'rm -rf "$BENCH_TMP"' EXIT
START=$(date +%s)
log() { printf '[bench %3ss] %s\n' "$(( $(date +%s) - START ))" "$*" >&2; }

if [ "${BENCH_QUICK:-0}" = 1 ]; then
  N_SMALL=60 N_LARGE=5 N_CPP=30 N_SESS=20 N_THR=100 R_THR=3 REPEAT=2
  export BENCH_PY_LOADS=40 BENCH_PY_CALL_REPS=5 BENCH_PY_CALLS=20000 BENCH_PY_IMPORTS=3
else
  N_SMALL=400 N_LARGE=15 N_CPP=150 N_SESS=50 N_THR=300 R_THR=9 REPEAT=3
  export BENCH_PY_LOADS=200 BENCH_PY_CALL_REPS=21 BENCH_PY_CALLS=50000 BENCH_PY_IMPORTS=9
fi

# ---- the core library ---------------------------------------------------------
log "building the core library in $BUILD"
if [ ! -f "$BUILD/build.ninja" ]; then
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DORCJIT_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=Release \
    -DPython3_EXECUTABLE="$(command -v "$PY")" >/dev/null
fi
cmake --build "$BUILD" >/dev/null
LIBORC="$BUILD/libtvm_ffi_orcjit.so"

# ---- the objects and the C benchmark --------------------------------------------
INC="$("$PY" -m tvm_ffi.config --includedir)"
DLINC="$("$PY" -m tvm_ffi.config --dlpack-includedir)"
FFILIB="$("$PY" -m tvm_ffi.config --libdir)"
CC="${CC:-gcc}" CXX="${CXX:-g++}"
CFLAGS=(-O2 -fPIC -I"$INC" -I"$DLINC")
newer() { [ ! -f "$1" ] || [ -n "$(find "${@:2}" -newer "$1" 2>/dev/null)" ]; }

log "compiling the benchmark objects"
if newer "$OBJ/small.o" "$BENCH/src/small.c"; then
  "$CC" "${CFLAGS[@]}" -c "$BENCH/src/small.c" -o "$OBJ/small.o"
fi
if newer "$OBJ/typed.o" "$BENCH/src/typed.cc"; then
  "$CXX" -std=c++17 "${CFLAGS[@]}" -c "$BENCH/src/typed.cc" -o "$OBJ/typed.o"
fi
# The C++ kinds of issue #16, built as it measured them: clang++-22 -O2
# (g++ where there is no clang++), and the six-export one with g++ too.
CLANGXX="${CLANGXX:-$(command -v clang++-22 || command -v clang++ || echo "$CXX")}"
for k in typed2 containers; do
  if newer "$OBJ/$k.o" "$BENCH/src/$k.cc"; then
    "$CLANGXX" -std=c++17 "${CFLAGS[@]}" -c "$BENCH/src/$k.cc" -o "$OBJ/$k.o"
  fi
done
if newer "$OBJ/containers_gcc.o" "$BENCH/src/containers.cc"; then
  "$CXX" -std=c++17 "${CFLAGS[@]}" -c "$BENCH/src/containers.cc" -o "$OBJ/containers_gcc.o"
fi
if newer "$OBJ/large.o" "$BENCH/gen_large.py"; then
  "$PY" "$BENCH/gen_large.py" 3000 "$OBJ/large.c"
  "$CC" "${CFLAGS[@]}" -c "$OBJ/large.c" -o "$OBJ/large.o"
fi
# Each .so is linked from the very same object.
for o in small large; do
  "$CC" -shared "$OBJ/$o.o" -o "$OBJ/$o.so" -L"$FFILIB" -ltvm_ffi -Wl,-rpath,"$FFILIB"
done
"$CXX" -shared "$OBJ/typed.o" -o "$OBJ/typed.so" -L"$FFILIB" -ltvm_ffi -Wl,-rpath,"$FFILIB"
"$CC" -O2 -Wall -Wextra -I"$INC" -I"$DLINC" -I"$ROOT/include" "$BENCH/bench_load.c" \
  -o "$OBJ/bench_load" -L"$BUILD" -ltvm_ffi_orcjit -L"$FFILIB" -ltvm_ffi -ldl -lpthread \
  -Wl,-rpath,"$BUILD" -Wl,-rpath,"$FFILIB"
"$CC" -O2 -g -Wall -Wextra -I"$INC" -I"$DLINC" -I"$ROOT/include" "$BENCH/prof_load.c" \
  -o "$OBJ/prof_load" -L"$BUILD" -ltvm_ffi_orcjit -L"$FFILIB" -ltvm_ffi -ldl \
  -Wl,-rpath,"$BUILD" -Wl,-rpath,"$FFILIB"
if [ "${BENCH_BUILD_ONLY:-0}" = 1 ]; then log "built (BENCH_BUILD_ONLY=1)"; exit 0; fi

# ---- the upstream package and matplotlib, each in its own venv -----------------------
UPV="$BENCH/.venv-upstream"
export UPSTREAM_PY="" UPSTREAM_ERR=""
if [ -x "$UPV/bin/python" ] && "$UPV/bin/python" -c "import tvm_ffi_orcjit" 2>/dev/null; then
  UPSTREAM_PY="$UPV/bin/python"
elif [ "${BENCH_NO_INSTALL:-0}" = 1 ]; then
  UPSTREAM_ERR="no venv and BENCH_NO_INSTALL=1"
else
  log "installing apache-tvm-ffi-orcjit into $UPV"
  if ! out="$( { "$PY" -m venv "$UPV" &&
                 timeout 300 "$UPV/bin/pip" install -q apache-tvm-ffi-orcjit; } 2>&1)"; then
    UPSTREAM_ERR="$(printf '%s\n' "$out" | grep -v '^\s*$' | grep -iE 'error|no matching|not find' | tail -1)"
    UPSTREAM_ERR="${UPSTREAM_ERR:-$(printf '%s\n' "$out" | tail -1)}"
  elif ! err="$("$UPV/bin/python" -c "import tvm_ffi_orcjit" 2>&1)"; then
    UPSTREAM_ERR="installed but import fails: $(printf '%s\n' "$err" | tail -1)"
  else
    UPSTREAM_PY="$UPV/bin/python"
  fi
fi
if [ -n "$UPSTREAM_PY" ]; then log "upstream: $UPSTREAM_PY"; else log "upstream: not installable: $UPSTREAM_ERR"; fi

PLOTV="$BENCH/.venv-plot"
PLOT_PY="$PY"
if [ -x "$PLOTV/bin/python" ] && "$PLOTV/bin/python" -c "import matplotlib" 2>/dev/null; then
  PLOT_PY="$PLOTV/bin/python"
elif [ "${BENCH_NO_INSTALL:-0}" != 1 ]; then
  log "installing matplotlib into $PLOTV"
  if { "$PY" -m venv "$PLOTV" && timeout 300 "$PLOTV/bin/pip" install -q matplotlib; } >/dev/null 2>&1; then
    PLOT_PY="$PLOTV/bin/python"
  else
    log "matplotlib not installable: the plot is drawn without it"
  fi
fi

# ---- the benchmarks ---------------------------------------------------------------
B="$OBJ/bench_load"
cd "$OBJ"
log "C: session creation";            "$B" session "$N_SESS" > "$RAW/c_session.txt"
log "C: load small.o ($N_SMALL)";     "$B" load small small.o small.so add "$N_SMALL" > "$RAW/c_load_small.txt"
log "C: load typed.o ($N_CPP)";       "$B" load cpp typed.o typed.so add "$N_CPP" > "$RAW/c_load_cpp.txt"
log "C: load large.o ($N_LARGE)";     "$B" load large large.o large.so f0 "$N_LARGE" > "$RAW/c_load_large.txt"
for r in $(seq "$REPEAT"); do
  log "C: 10,000 load/release cycles (run $r/$REPEAT)"
  "$B" cycles small.o 500 10000 > "$RAW/c_cycles_$r.txt"
  log "C: 10,000 load/release cycles, a new name in each (run $r/$REPEAT)"
  "$B" cycles small.o 500 10000 renamed > "$RAW/c_cycles_renamed_$r.txt"
  log "C: 1,000 live libraries (run $r/$REPEAT)"
  "$B" libs small.o 1000 > "$RAW/c_libs_$r.txt"
done
log "C: 1 vs 2 threads ($R_THR runs)"; "$B" threads small.o "$N_THR" "$R_THR" > "$RAW/c_threads.txt"
log "Python: loads, upstream, calls, sessions, import"
ORCJIT_PYTHONPATH="$ROOT/python" TVM_FFI_ORCJIT_LIBRARY="$LIBORC" \
  "$PY" "$BENCH/bench_py.py" "$OBJ" > "$RAW/py.txt"

# ---- the report ---------------------------------------------------------------------
cd "$BENCH"
"$PY" "$BENCH/report.py" "$RES" "$RAW"/c_session.txt "$RAW"/c_load_*.txt "$RAW"/py.txt \
  "$RAW"/c_cycles_*.txt "$RAW"/c_libs_*.txt "$RAW"/c_threads.txt
"$PLOT_PY" "$BENCH/plot.py" "$RES" || "$PY" "$BENCH/plot.py" "$RES"
log "done: $RES/latest.json, $RES/table.md, $RES/libs.png"
