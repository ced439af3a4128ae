#!/usr/bin/env bash
# tests/fault/run.sh: allocation-failure injection over the C tests (SQLite's
# malloc-failure loops).  See tests/c/README, "Fault injection".
#
# Builds build-fault/ (clang-22, ASan+UBSan, shared libLLVM as in
# tests/sanitize/run.sh, -DORCJIT_FAULT_INJECT=ON: every allocation of the
# C core goes through tests/fault/oj_fault.c, and ORCJIT_FAULT_AT=N fails
# the Nth; test objects of gcc -O2 only).  For each case of FAULT_CASES it
# first counts the allocations of a clean run (K), then runs the case with
# N = 1, 1+S, 1+2S, ... <= K (S = 1, or K/FAULT_MAX_RUNS rounded up when a
# case has more allocations than that), and a last run with N = K + 1 that
# must inject nothing.  Every run must exit 0: the case either passes (the
# failure was absorbed) or ends at the first ORCJIT_ENOMEM with a message
# ("INJECTED"; tests/c/oj_test.c), or (tls-abort) it is a thread's first
# use of a JIT thread-local whose block cannot be allocated, which ends the
# process with a message, as glibc's __tls_get_addr does (no caller to
# report to); a crash, a hang (FAULT_TIMEOUT), another
# status or a sanitizer report (leaks included) fails the run, and its log
# is kept in build-fault/fault-logs/.
#
# Environment: PY (python3), JOBS (2), FAULT_CASES, FAULT_MAX_RUNS (100),
# FAULT_TIMEOUT (60 s per run).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
PY=${PY:-python3}
JOBS=${JOBS:-2}
FAULT_CASES=${FAULT_CASES:-"load_call multi_object link_order duplicate unresolved archive ctors lifetime tls inspect bad_input"}
FAULT_MAX_RUNS=${FAULT_MAX_RUNS:-100}
FAULT_TIMEOUT=${FAULT_TIMEOUT:-60}
b=$root/build-fault
t0=$(date +%s)

echo "== fault: configure + build $b"
if ! { cmake -S "$root" -B "$b" -G Ninja -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 \
         -DCMAKE_BUILD_TYPE=RelWithDebInfo -DORCJIT_SANITIZE=ON -DORCJIT_FAULT_INJECT=ON \
         -DORCJIT_STATIC_LLVM=OFF "-DOJT_ONLY=gcc;O2" \
         -DPython3_EXECUTABLE="$(command -v "$PY")" > "$b.configure.log" 2>&1 &&
       cmake --build "$b" -j"$JOBS" > "$b.build.log" 2>&1; }; then
  tail -n 30 "$b.configure.log" "$b.build.log" 2>/dev/null
  echo "fault: build FAILED"
  exit 1
fi
echo "build: $(( $(date +%s) - t0 ))s"

exe=$b/tests/c/orcjit_c_tests
objdir=$b/tests/c/objects/gcc/O2
misc=$b/tests/c/objects/misc
logs=$b/fault-logs
rm -rf "$logs" && mkdir -p "$logs"
export ASAN_OPTIONS="detect_leaks=1:allow_user_segv_handler=0:detect_stack_use_after_return=1"
export LSAN_OPTIONS="suppressions=$root/tests/sanitize/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

reported() { grep -qE '(ERROR|WARNING): (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: (Address|Leak|UndefinedBehavior)Sanitizer' "$1"; }

# run_one <case> <N> <log>: 0 if the run was clean.
run_one() {
  ORCJIT_FAULT_AT=$2 timeout -k 5 "$FAULT_TIMEOUT" "$exe" "$1" "$objdir" "$misc" > "$3" 2>&1
  local rc=$?
  [ $rc -eq 0 ] && ! reported "$3"
}

# one_case <case>: prints "<case> runs=R allocations=K injected=I absorbed=A failed=F".
one_case() {
  local c=$1 tmp=$logs/$1.run.log k n step runs=0 inj=0 abs=0 failed=0 tlsabort=0
  if ! run_one "$c" 0 "$tmp"; then
    cp "$tmp" "$logs/$c.clean.log"
    echo "$c: FAILED without injection (log: $logs/$c.clean.log)"
    echo "$c runs=1 allocations=? injected=0 absorbed=0 failed=1"
    return
  fi
  k=$(grep -oE 'orcjit-fault: at=0 allocations=[0-9]+' "$tmp" | grep -oE '[0-9]+$')
  step=$(( (k + FAULT_MAX_RUNS - 1) / FAULT_MAX_RUNS ))
  [ "$step" -lt 1 ] && step=1
  for ((n = 1; n <= k + 1; n += step)); do
    [ $n -gt $k ] && n=$((k + 1))
    runs=$((runs + 1))
    if ! run_one "$c" "$n" "$tmp"; then
      # By design, as glibc's: __tls_get_addr cannot report a failure to the
      # code that called it, so it ends the process with this message.
      if grep -q 'thread-local storage: out of memory' "$tmp" && ! reported "$tmp"; then
        tlsabort=$((tlsabort + 1))
        continue
      fi
      failed=$((failed + 1))
      cp "$tmp" "$logs/$c.at$n.log"
      echo "$c: FAILED at N=$n (log: $logs/$c.at$n.log):"
      grep -vE '^(case|orcjit-fault)' "$tmp" | head -n 12 | sed 's/^/    /'
      continue
    fi
    if grep -q 'injected=1' "$tmp"; then
      if grep -q '^INJECTED' "$tmp"; then inj=$((inj + 1)); else abs=$((abs + 1)); fi
    elif [ $n -le $k ]; then
      failed=$((failed + 1))
      cp "$tmp" "$logs/$c.at$n.log"
      echo "$c: N=$n <= $k allocations injected nothing (nondeterministic run?)"
    fi
    [ $n -gt $k ] && break
  done
  rm -f "$tmp"
  echo "$c runs=$runs allocations=$k injected=$inj absorbed=$abs tls-abort=$tlsabort failed=$failed"
}
export -f one_case run_one reported
export exe objdir misc logs FAULT_MAX_RUNS FAULT_TIMEOUT

echo "== fault: cases: $FAULT_CASES (at most $FAULT_MAX_RUNS runs per case, $JOBS at a time)"
printf '%s\n' $FAULT_CASES | xargs -P "$JOBS" -I{} bash -c 'one_case "$@"' _ {} > "$logs/summary.txt"
cat "$logs/summary.txt"
total=$(grep -oE ' runs=[0-9]+' "$logs/summary.txt" | grep -oE '[0-9]+' | paste -sd+ | bc)
bad=$(grep -oE ' failed=[0-9]+' "$logs/summary.txt" | grep -oE '[0-9]+' | paste -sd+ | bc)
echo "fault: ${total:-0} runs (injection points), ${bad:-0} failed, $(( $(date +%s) - t0 ))s in all"
[ "${bad:-1}" = 0 ]
