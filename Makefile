# The two commands of the README, and the targets behind them.
#   make demo   install what is missing, build, run the quick-start
#   make test   install what is missing, build, run every test
PY     ?= python3
BUILD  ?= build
CMAKE_FLAGS ?=

.PHONY: all bootstrap build install demo test test-c test-py bench clean

all: build

bootstrap:
	@bash scripts/bootstrap.sh

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

bench: bootstrap
	@PY=$(PY) bash bench/run.sh

clean:
	rm -rf $(BUILD) build-*
