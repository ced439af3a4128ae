# The two commands of the README, and the targets behind them.
#   make demo   install what is missing, build, run the quick-start
#   make test   install what is missing, build, run every test
PY     ?= python3
BUILD  ?= build
CMAKE_FLAGS ?=

.PHONY: all bootstrap build install demo test test-c test-py test-upstream test-sanitize test-fault fuzz bench bench-profile clean wheel wheel-test test-aarch64 wheel-aarch64 fuzz-aarch64
FUZZ_SECONDS ?= 60

all: build

bootstrap:
	@PYTHON=$(PY) bash scripts/bootstrap.sh

build: bootstrap
	@cmake -S . -B $(BUILD) -G Ninja -DPython3_EXECUTABLE=$$(command -v $(PY)) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD)

# The Python package, built by scikit-build-core and installed into $(PY).
install: build
	@$(PY) -m pip install -q --no-build-isolation .

demo: install
	@$(PY) examples/quickstart.py

test-c: build
	@ctest --test-dir $(BUILD) --output-on-failure -j2

test-py: install
	@$(PY) -m pytest -q tests/python

test: test-c test-py

# The upstream package's own tests (apache/tvm-ffi, addons/tvm_ffi_orcjit/tests)
# against the installed package: UPSTREAM=<checkout of apache/tvm-ffi>
# (no download source has them; see scripts/upstream_tests.sh).
test-upstream: install
	@PY=$(PY) UPSTREAM=$(UPSTREAM) bash scripts/upstream_tests.sh

# The wheel, LLVM and libstdc++ linked in, into dist/, tagged manylinux_2_28
# once its symbol versions and auditwheel allow it (scikit-build-core,
# build-skb/; scripts/build_wheel.sh).
wheel: bootstrap
	@PY=$(PY) bash scripts/build_wheel.sh

# The wheel installed into a fresh venv (build-wheel-test/), checked with
# readelf/ldd, and the Python tests run against it outside the source tree;
# then the same in a Debian 11 root (glibc 2.31, GCC 10's libstdc++, Python
# 3.9) made once with debootstrap (scripts/debroot.sh).
wheel-test: wheel
	@PY=$(PY) bash scripts/test_wheel.sh

# Linux aarch64 under qemu-user: the library built, and every C and Python
# test run, in a Debian 12 arm64 root made once with debootstrap
# (scripts/debroot.sh, cached in /var/cache/tvm-ffi-orcjit); build and venv
# kept in build-aarch64/ (scripts/test_aarch64.sh).
test-aarch64:
	@bash scripts/test_aarch64.sh

# The fuzzers' aarch64 build, in the same root, bounded: FUZZ_SECONDS of
# fuzz_elf and FUZZ_LOAD_SECONDS (default 60) of fuzz_load, emulated.
fuzz-aarch64:
	@FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_LOAD_SECONDS=$(or $(FUZZ_LOAD_SECONDS),60) bash scripts/test_aarch64.sh fuzz

# The aarch64 wheel (dist/..._manylinux_2_28_aarch64.whl), built by
# scripts/build_wheel.sh in that root, then installed there into a fresh
# venv and tested by scripts/test_wheel.sh, with LLVM and without; build
# venv and test venv kept in build-aarch64-wheel/ (scripts/wheel_aarch64.sh).
wheel-aarch64:
	@bash scripts/wheel_aarch64.sh

bench: bootstrap
	@PY=$(PY) bash bench/run.sh

# Where load time goes: callgrind instruction counts (bench/results/profile.txt).
bench-profile: bootstrap
	@PY=$(PY) bash bench/profile.sh

# ASan+UBSan: C tests and Python tests (build-asan/); LeakSanitizer leak loop;
# TSan stress (build-tsan/).  Fails on any sanitizer report.
test-sanitize: bootstrap
	@PY=$(PY) bash tests/sanitize/run.sh all

# Allocation-failure injection (build-fault/, ASan+LSan): every case of
# FAULT_CASES with the Nth allocation of the C core failed, N = 1, 2, ...
# (FAULT_MAX_RUNS per case at most; tests/c/README).
FAULT_MAX_RUNS ?= 100
test-fault: bootstrap
	@PY=$(PY) FAULT_MAX_RUNS=$(FAULT_MAX_RUNS) bash tests/fault/run.sh

# The ELF pre-pass under libFuzzer for FUZZ_SECONDS; FUZZ_LOAD_SECONDS=N adds
# fuzz_load (the whole load path).  fuzz/regressions/ are replayed first.
fuzz: bootstrap
	@PY=$(PY) bash fuzz/run.sh $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD) build-* fuzz/build dist
