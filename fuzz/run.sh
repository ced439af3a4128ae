#!/usr/bin/env bash
# run.sh [SECONDS]: builds the fuzz targets into fuzz/build/, makes the seed
# corpus, replays fuzz/regressions/*, then fuzzes the ELF pre-pass
# (fuzz_elf) for SECONDS (default 60).  Prints the number of executions.
# Exits nonzero on any crash, leak, sanitizer report, timeout or OOM; the
# input that caused it is saved under fuzz/crashes/.
#
# Environment:
#   FUZZ_LOAD_SECONDS=N  also fuzz the whole load path (fuzz_load) for N
#                        seconds (default 0: only replay the regressions
#                        and the seeds through it when > 0; see README.md)
#   FUZZ_RESEED=1        rebuild the seed corpus even if it exists
#   CC / CXX             default clang-22 / clang++-22
#   PY                   python with apache-tvm-ffi (default python3)
#   FUZZ_SANITIZERS      default address,undefined
#   FUZZ_BUILD, FUZZ_CRASHES  where the build and the crash inputs go
#                        (default fuzz/build, fuzz/crashes; make fuzz-aarch64
#                        uses its own)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
secs=${1:-60}
load_secs=${FUZZ_LOAD_SECONDS:-0}
CC=${CC:-clang-22}
CXX=${CXX:-clang++-22}
PY=${PY:-python3}
b=${FUZZ_BUILD:-$here/build}
crashes=${FUZZ_CRASHES:-$here/crashes}
mkdir -p "$b/corpus_elf" "$b/corpus_load" "$crashes"
report=$b/crash_report.txt   # what .ci/run prints last when a fuzzer failed
rm -f "$report"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# FUZZ_SANITIZERS: address,undefined (default); make fuzz-aarch64 uses
# undefined alone: ASan's allocator cannot map its heap in qemu-user's guest
# address space ("heap size ... exceeds max user virtual address").
SAN="-fsanitize=${FUZZ_SANITIZERS:-address,undefined} -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
fail=0
t0=$(date +%s)

step() { printf '\n== fuzz: %s\n' "$*"; }

# report TARGET LOG ARTIFACT_PREFIX: appends to $report the first stack of
# LOG (frames only, without addresses) and the newest input the fuzzer wrote
# under ARTIFACT_PREFIX as one line of gzip+base64, so a failure on a
# machine we cannot reach can be replayed here:
#   echo 'B64' | base64 -d | gunzip > input; fuzz/build/TARGET input
report() {
  local input
  {
    echo "== $1 failed; first stack in $2:"
    grep -E '^fuzz_(elf|load): |contract violated' "$2" | head -n 5
    sed -n '/ERROR:\|runtime error:\|deadly signal\|contract violated/,$p' "$2" |
      grep -E '^ *#[0-9]+ ' | head -n 24 | sed -E 's/^ *(#[0-9]+) 0x[0-9a-f]+ in /\1 /'
    input=$(ls -t "$3"* 2>/dev/null | head -n 1)
    if [ -n "$input" ]; then
      echo "input $(basename "$input"), $(wc -c < "$input") bytes, gzip|base64:"
      gzip -9c "$input" | base64 -w0; echo
    fi
  } >> "$report"
}

# ---- build fuzz_elf: the pre-pass alone (its files and src/oj_error.c), ---
# ---- and the tar and gzip readers (src/oj_tar.c, src/oj_gzip.c) -----------
step "build fuzz_elf"
$CC -g -O1 -std=c11 -D_GNU_SOURCE $SAN -fsanitize=fuzzer \
  -I"$root/src" -I"$root/include" \
  "$root"/src/oj_elf*.c "$root/src/oj_ehframe.c" "$root"/src/oj_arch*.c \
  "$root/src/oj_error.c" "$root/src/oj_tar.c" "$root/src/oj_gzip.c" \
  "$here/fuzz_elf.c" -lpthread \
  -o "$b/fuzz_elf" || { echo "fuzz: build of fuzz_elf failed" >&2; exit 2; }

# ---- seeds ------------------------------------------------------------------
if [ ! -f "$b/seeds.stamp" ] || [ "${FUZZ_RESEED:-0}" = 1 ]; then
  step "seed corpus"
  rm -rf "$b/seeds"
  PY=$PY bash "$here/make_seeds.sh" "$b/seeds" && touch "$b/seeds.stamp"
fi

# ---- replay regressions -----------------------------------------------------
regs=()
for f in "$here"/regressions/*; do [ -f "$f" ] && regs+=("$f"); done
if [ ${#regs[@]} -gt 0 ]; then
  step "replay ${#regs[@]} regression input(s) through fuzz_elf"
  if ! "$b/fuzz_elf" -runs=1 "${regs[@]}" > "$b/replay_elf.log" 2>&1; then
    tail -n 60 "$b/replay_elf.log"
    echo "fuzz: FAIL: a regression input crashes fuzz_elf (log: $b/replay_elf.log)" >&2
    fail=1
  fi
fi

# ---- fuzz the pre-pass ------------------------------------------------------
step "fuzz_elf for ${secs}s"
t_run=$(date +%s)
"$b/fuzz_elf" -max_len=65536 -max_total_time="$secs" -timeout=10 \
  -rss_limit_mb=2048 -dict="$here/elf.dict" -artifact_prefix="$crashes/" \
  -print_final_stats=1 "$b/corpus_elf" "$b/seeds" > "$b/fuzz_elf.log" 2>&1
rc=$?
ran=$(( $(date +%s) - t_run ))
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$b/fuzz_elf.log" | tail -1)
ftime=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$b/fuzz_elf.log" | tail -1)
cov=$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE)' "$b/fuzz_elf.log" | tail -1 | grep -o 'cov: [0-9]*')
echo "fuzz_elf: ${execs:-?} executions in ${ran}s of ${secs}s (${ftime:-?}/s, ${cov:-cov: ?}, corpus $(ls "$b/corpus_elf" | wc -l) files, $(ls "$crashes" | wc -l) crash inputs)"
if [ $rc -ne 0 ] || grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|SUMMARY: ' "$b/fuzz_elf.log"; then
  grep -nE 'ERROR:|runtime error:|SUMMARY:|Test unit written|contract violated' "$b/fuzz_elf.log" | head -20
  echo "fuzz: FAIL: fuzz_elf exited $rc (log: $b/fuzz_elf.log; inputs in $crashes/)" >&2
  report fuzz_elf "$b/fuzz_elf.log" "$crashes/"
  fail=1
fi

# ---- the whole load path (opt-in; see README.md) -----------------------------
if [ "$load_secs" -gt 0 ] 2>/dev/null; then
  step "build fuzz_load (core + glue instrumented, links LLVM 22 and libtvm_ffi)"
  tinc=$($PY -m tvm_ffi.config --includedir) && dinc=$($PY -m tvm_ffi.config --dlpack-includedir) &&
    tlib=$($PY -m tvm_ffi.config --libdir) || { echo "fuzz: tvm_ffi not found" >&2; exit 2; }
  llvm=/usr/lib/llvm-22
  mkdir -p "$b/load_objs"
  objs=()
  flags=(-g -O1 -D_GNU_SOURCE $SAN -fsanitize=fuzzer-no-link -I"$root/include" -I"$root/src"
         -I"$root/glue" -I"$llvm/include" -I"$tinc" -I"$dinc")
  for f in "$root"/src/*.c; do
    o=$b/load_objs/$(basename "$f").o; objs+=("$o")
    $CC -std=c11 "${flags[@]}" -c "$f" -o "$o" || exit 2
  done
  for f in "$root"/glue/*.cc; do
    o=$b/load_objs/$(basename "$f").o; objs+=("$o")
    $CXX -std=c++17 -fno-rtti "${flags[@]}" -include "$root/glue/oj_llvmasan.h" -c "$f" -o "$o" || exit 2
  done
  $CC -std=c11 "${flags[@]}" -c "$here/fuzz_load.c" -o "$b/load_objs/fuzz_load.o" || exit 2
  $CXX $SAN -fsanitize=fuzzer "$b/load_objs/fuzz_load.o" "${objs[@]}" \
    -L"$llvm/lib" -lLLVM-22 "$tlib/libtvm_ffi.so" -Wl,-rpath,"$tlib:$llvm/lib" \
    -ldl -lpthread -o "$b/fuzz_load" || exit 2
  if [ ${#regs[@]} -gt 0 ]; then
    step "replay regressions through fuzz_load"
    "$b/fuzz_load" -runs=1 "${regs[@]}" > "$b/replay_load.log" 2>&1 ||
      { tail -n 60 "$b/replay_load.log"; echo "fuzz: FAIL: regression crashes fuzz_load" >&2; fail=1; }
  fi
  step "fuzz_load for ${load_secs}s"
  t_run=$(date +%s)
  "$b/fuzz_load" -max_len=65536 -max_total_time="$load_secs" -timeout=20 \
    -rss_limit_mb=4096 -dict="$here/elf.dict" -artifact_prefix="$crashes/load-" \
    -print_final_stats=1 "$b/corpus_load" "$b/seeds" > "$b/fuzz_load.log" 2>&1
  rc=$?
  ran=$(( $(date +%s) - t_run ))
  lexecs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$b/fuzz_load.log" | tail -1)
  lcov=$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE)' "$b/fuzz_load.log" | tail -1 | grep -o 'cov: [0-9]*')
  echo "fuzz_load: ${lexecs:-?} executions in ${ran}s of ${load_secs}s (${lcov:-cov: ?}, corpus $(ls "$b/corpus_load" | wc -l) files)"
  if [ $rc -ne 0 ] || grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|SUMMARY: ' "$b/fuzz_load.log"; then
    grep -nE 'ERROR:|runtime error:|SUMMARY:|Test unit written|^fuzz_load: ' "$b/fuzz_load.log" | head -20
    echo "fuzz: FAIL: fuzz_load exited $rc (log: $b/fuzz_load.log)" >&2
    report fuzz_load "$b/fuzz_load.log" "$crashes/load-"
    fail=1
  fi
fi

echo "fuzz: total $(( $(date +%s) - t0 ))s, $([ $fail = 0 ] && echo PASS || echo FAIL)"
exit $fail
