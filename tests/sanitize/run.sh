#!/usr/bin/env bash
# tests/sanitize/run.sh [asan|tsan|all]: the sanitizer checks of SPEC.md 7.
#
# Both builds link the shared libLLVM: LLVM's headers poison and unpoison
# their allocators' memory only in code compiled with ASan, so linking the
# (uninstrumented) static LLVM libraries with instrumented glue mixes the
# two halves and ASan reports use-after-poison inside LLVM.
#   asan  configure build-asan/ (clang-22, -DORCJIT_SANITIZE=ON: address +
#         undefined), build, run the C tests (ctest) with leak detection,
#         then the LeakSanitizer load/release loop (loop.c, 2000 iterations
#         of create library / add object / call / release: no leak allowed),
#         and the Python tests against the ASan library (runtime preloaded)
#   tsan  configure build-tsan/ (-fsanitize=thread through CMAKE_*_FLAGS),
#         build, run stress.c (8 threads on one session + 2 on their own)
#         and cycles.c (link-order cycles: adds, lookups, link orders and
#         releases from 6 threads; TSan's deadlock detector is on)
#   all   both (default)
# Exits nonzero if any step fails or any sanitizer reports.  Prints the
# time of each step.
#
# Environment: LOOP_ITERS (2000), STRESS_ITERS (200), CYCLES_ITERS (100), JOBS (2),
# PY (python3).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
what=${1:-all}
PY=${PY:-python3}
JOBS=${JOBS:-2}
LOOP_ITERS=${LOOP_ITERS:-2000}
STRESS_ITERS=${STRESS_ITERS:-200}
CYCLES_ITERS=${CYCLES_ITERS:-100}
CC=clang-22
CXX=clang++-22
tinc=$($PY -m tvm_ffi.config --includedir) && dinc=$($PY -m tvm_ffi.config --dlpack-includedir) &&
  tlib=$($PY -m tvm_ffi.config --libdir) || { echo "sanitize: apache-tvm-ffi not found for $PY" >&2; exit 2; }
fail=0
t_all=$(date +%s)
declare -a summary

step() { printf '\n== sanitize: %s\n' "$*"; t_step=$(date +%s); }
done_step() { # name status
  local s=$(( $(date +%s) - t_step ))
  summary+=("$(printf '%-34s %-4s %4ss' "$1" "$2" "$s")")
  [ "$2" = ok ] || fail=1
}
# A log counts as failed if a sanitizer wrote a report into it.
reported() { grep -qE '(ERROR|WARNING): (AddressSanitizer|LeakSanitizer|ThreadSanitizer)|runtime error:|SUMMARY: (Address|Leak|Thread|UndefinedBehavior)Sanitizer' "$1"; }

# Test objects for loop.c, stress.c and cycles.c: loop_obj.c as
# loop_obj0..7.o, and weakrefs.o.
objects() { # dir
  mkdir -p "$1"
  for i in 0 1 2 3 4 5 6 7; do
    $CC -c -O2 -fPIC -DLOOP_ID=$i -I"$tinc" -I"$dinc" "$here/loop_obj.c" -o "$1/loop_obj$i.o" || return 1
  done
  $CC -c -O2 -fPIC "$root/tests/sources/weakrefs.c" -o "$1/weakrefs.o" || return 1
  $CXX -std=c++17 -c -O2 -fPIC -I"$tinc" -I"$dinc" "$root/tests/sources/cpp_add.cc" -o "$1/cpp_add.o"
}

if [ "$what" = asan ] || [ "$what" = all ]; then
  b=$root/build-asan
  step "configure + build $b (address, undefined)"
  # -fsanitize=function must be off wherever JIT code is called through a
  # pointer (see cc-no-function-sanitizer.sh); until ORCJIT_SANITIZE says so
  # itself, a compiler launcher appends the flag.
  launcher=()
  if ! grep -q 'fno-sanitize=function' "$root/CMakeLists.txt"; then
    launcher=(-DCMAKE_C_COMPILER_LAUNCHER="$here/cc-no-function-sanitizer.sh"
              -DCMAKE_CXX_COMPILER_LAUNCHER="$here/cc-no-function-sanitizer.sh")
  else
    launcher=(-DCMAKE_C_COMPILER_LAUNCHER= -DCMAKE_CXX_COMPILER_LAUNCHER=)
  fi
  if cmake -S "$root" -B "$b" -G Ninja -DCMAKE_C_COMPILER=$CC -DCMAKE_CXX_COMPILER=$CXX \
       -DCMAKE_BUILD_TYPE=RelWithDebInfo -DORCJIT_SANITIZE=ON "${launcher[@]}" \
       -DORCJIT_STATIC_LLVM=OFF \
       -DPython3_EXECUTABLE="$(command -v "$PY")" > "$b.configure.log" 2>&1 &&
     cmake --build "$b" -j"$JOBS" > "$b.build.log" 2>&1; then
    done_step "asan: build" ok
  else
    tail -n 30 "$b.configure.log" "$b.build.log" 2>/dev/null
    done_step "asan: build" FAIL
    printf '%s\n' "${summary[@]}"; exit 1
  fi

  # ASan options for everything below.  allow_user_segv_handler=0: the C
  # tests install a SIGSEGV handler that prints the current step; ASan's own
  # handler prints the stack, which is what we want here.
  asan="detect_leaks=1:allow_user_segv_handler=0:detect_stack_use_after_return=1:strict_string_checks=1"
  lsan_supp=$here/lsan.supp
  export LSAN_OPTIONS="suppressions=$lsan_supp:print_suppressions=0"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

  # reload.* and unresolved.* assert bounds on resident memory over hundreds
  # of loads; ASan's quarantine (256 MiB of freed blocks held back to catch
  # use-after-free) makes resident memory grow by design, so those two run
  # in a second pass with the quarantine off (freed memory is reused at once;
  # every other ASan check stays on).
  rss_tests='^(reload|unresolved)\.'
  step "ctest in $b (ASan+UBSan+LSan)"
  ASAN_OPTIONS=$asan ctest --test-dir "$b" -j"$JOBS" --output-on-failure --timeout 600 \
    -E "$rss_tests" > "$b.ctest.log" 2>&1
  rc=$?
  ASAN_OPTIONS=$asan:quarantine_size_mb=0 ctest --test-dir "$b" -j"$JOBS" --output-on-failure \
    --timeout 600 -R "$rss_tests" >> "$b.ctest.log" 2>&1
  rc2=$?
  grep -E 'tests passed|\*\*\*|Failed|SEGFAULT' "$b.ctest.log" | grep -v '^ *Start' | head -40
  if [ $rc -eq 0 ] && [ $rc2 -eq 0 ] && ! reported "$b.ctest.log"; then done_step "asan: ctest" ok
  else echo "sanitize: ctest failed (log: $b.ctest.log)"; done_step "asan: ctest" FAIL; fi

  # SPEC.md 7: the Python tests too, against the ASan+UBSan library.
  # CPython is not instrumented, so the ASan runtime is preloaded; leak
  # detection is off (CPython keeps memory until exit by design; the leak
  # loop below is the leak check).  The compilers the tests run inherit the
  # preload, which is harmless.
  step "pytest against the ASan+UBSan library (python + LD_PRELOAD)"
  # Left out here, run by make test: test_cuda.py (nvcc itself fails with
  # the ASan runtime preloaded), the guide's console examples (they link
  # C programs against the library without the ASan runtime), the resident
  # memory figure of dropped link-order cycles (ASan's quarantine keeps freed
  # memory) and PIE C++ reaching libstdc++'s data PC-relatively (the ASan
  # runtime holds the address space next to the shared libraries, so no JIT
  # memory lies within 2 GiB of them; test_tls.c accepts the refusal there).
  asan_rt=$($CC -print-file-name=libclang_rt.asan-x86_64.so)
  if [ -f "$asan_rt" ]; then
    # (From the root: --deselect matches the start of a node id, which is
    # relative to it; an absolute path matches nothing.)
    (cd "$root" && LD_PRELOAD=$asan_rt ASAN_OPTIONS="$asan:detect_leaks=0" \
      PYTHONPATH="$root/python" TVM_FFI_ORCJIT_LIBRARY="$b/libtvm_ffi_orcjit.so" \
      timeout 1200 "$PY" -m pytest -q -p no:cacheprovider tests/python \
        --ignore=tests/python/test_cuda.py \
        --deselect tests/python/test_guide.py::test_guide_console_examples \
        --deselect tests/python/test_lifecycle.py::test_dropped_cycles_give_memory_back \
        --deselect tests/python/test_tls.py::test_pie_call_once_and_thread_local) \
        > "$b.pytest.log" 2>&1
    rc=$?
    tail -n 3 "$b.pytest.log"
    if [ $rc -eq 0 ] && ! reported "$b.pytest.log"; then done_step "asan: pytest" ok
    else tail -n 60 "$b.pytest.log"; echo "sanitize: pytest failed (log: $b.pytest.log)"
      done_step "asan: pytest" FAIL; fi
  else
    echo "sanitize: $asan_rt not found (libclang-rt-22-dev)"; done_step "asan: pytest" FAIL
  fi

  step "LeakSanitizer loop: $LOOP_ITERS x (create, add, call, release)"
  o=$b/sanitize
  if objects "$o" &&
     $CC -g -O1 -std=c11 -fsanitize=address,undefined -fno-sanitize=function \
       -fno-omit-frame-pointer -Wall \
       -I"$root/include" -I"$tinc" -I"$dinc" "$here/loop.c" -o "$o/loop" \
       "$b/libtvm_ffi_orcjit.so" "$tlib/libtvm_ffi.so" -Wl,-rpath,"$b:$tlib"; then
    ASAN_OPTIONS=$asan "$o/loop" "$LOOP_ITERS" "$o/loop_obj0.o" "$o/cpp_add.o" > "$o/loop.log" 2>&1
    rc=$?
    tail -n 40 "$o/loop.log"
    if [ $rc -eq 0 ] && ! reported "$o/loop.log"; then done_step "asan: leak loop" ok
    else done_step "asan: leak loop" FAIL; fi
  else
    done_step "asan: leak loop (build)" FAIL
  fi
fi

if [ "$what" = tsan ] || [ "$what" = all ]; then
  b=$root/build-tsan
  step "configure + build $b (thread)"
  tflags="-fsanitize=thread -fno-omit-frame-pointer"
  if cmake -S "$root" -B "$b" -G Ninja -DCMAKE_C_COMPILER=$CC -DCMAKE_CXX_COMPILER=$CXX \
       -DCMAKE_BUILD_TYPE=RelWithDebInfo -DORCJIT_BUILD_TESTS=OFF -DORCJIT_STATIC_LLVM=OFF \
       -DCMAKE_C_FLAGS="$tflags" -DCMAKE_CXX_FLAGS="$tflags" \
       -DCMAKE_SHARED_LINKER_FLAGS=-fsanitize=thread -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread \
       -DPython3_EXECUTABLE="$(command -v "$PY")" > "$b.configure.log" 2>&1 &&
     cmake --build "$b" -j"$JOBS" > "$b.build.log" 2>&1; then
    done_step "tsan: build" ok
  else
    tail -n 30 "$b.configure.log" "$b.build.log" 2>/dev/null
    done_step "tsan: build" FAIL
  fi
  step "ThreadSanitizer stress: 10 threads x $STRESS_ITERS iterations"
  o=$b/sanitize
  if [ -f "$b/libtvm_ffi_orcjit.so" ] && objects "$o" &&
     $CC -g -O1 -std=c11 $tflags -Wall -I"$root/include" -I"$tinc" -I"$dinc" \
       "$here/stress.c" -o "$o/stress" "$b/libtvm_ffi_orcjit.so" "$tlib/libtvm_ffi.so" \
       -lpthread -Wl,-rpath,"$b:$tlib"; then
    # No suppressions and no ignore_noninstrumented_modules are needed today
    # (see README.md); second_deadlock_stack=1 gives both stacks of a
    # lock-order report.
    TSAN_OPTIONS="halt_on_error=0:second_deadlock_stack=1:history_size=4" \
      "$o/stress" "$STRESS_ITERS" "$o" > "$o/stress.log" 2>&1
    rc=$?
    grep -c 'WARNING: ThreadSanitizer' "$o/stress.log" | sed 's/^/tsan reports: /'
    tail -n 60 "$o/stress.log"
    if [ $rc -eq 0 ] && ! reported "$o/stress.log"; then done_step "tsan: stress" ok
    else done_step "tsan: stress" FAIL; fi
  else
    done_step "tsan: stress (build)" FAIL
  fi
  step "ThreadSanitizer link-order cycles: 6 threads x $CYCLES_ITERS iterations"
  if [ -f "$b/libtvm_ffi_orcjit.so" ] && [ -f "$o/weakrefs.o" ] &&
     $CC -g -O1 -std=c11 $tflags -Wall -I"$root/include" -I"$tinc" -I"$dinc" \
       "$here/cycles.c" -o "$o/cycles" "$b/libtvm_ffi_orcjit.so" "$tlib/libtvm_ffi.so" \
       -lpthread -Wl,-rpath,"$b:$tlib"; then
    TSAN_OPTIONS="halt_on_error=0:second_deadlock_stack=1:history_size=4" \
      "$o/cycles" "$CYCLES_ITERS" "$o" > "$o/cycles.log" 2>&1
    rc=$?
    grep -c 'WARNING: ThreadSanitizer' "$o/cycles.log" | sed 's/^/tsan reports: /'
    tail -n 60 "$o/cycles.log"
    if [ $rc -eq 0 ] && ! reported "$o/cycles.log"; then done_step "tsan: cycles" ok
    else done_step "tsan: cycles" FAIL; fi
  else
    done_step "tsan: cycles (build)" FAIL
  fi
fi

echo
echo "== sanitize: summary"
printf '%s\n' "${summary[@]}"
echo "total $(( $(date +%s) - t_all ))s: $([ $fail = 0 ] && echo PASS || echo FAIL)"
exit $fail
