"""Runs every ```python code block of README.md.

Each block runs as its own script (a fresh interpreter) in a scratch
directory that holds these files, so README examples can use them:

    add.c       add.o      exports add(a, b) -> a + b            (C)
    a.o, kernel.o          copies of add.o
    math.c      math.o     exports add(a, b) and mul(a, b), and the plain
                           C functions math_add(a, b) and math_mul(a, b)
    caller.c    caller.o   exports call_math(a, b) -> math_add(a, b) * 2 + math_mul(a, b)
                           (math_add/math_mul come from math.o: link order)
    hello.cc    hello.o    exports hello(name) -> "hello, <name>"  (C++, tvm::ffi::String)

A block that needs another file compiles it itself.  The blocks run in
order, in one fresh interpreter, and share their names like the cells of a
notebook (a block may use what an earlier block defined); the first failing
block is reported with its line in README.md.

Blocks that import Apache TVM (``import tvm``, ``from tvm ...``) stand alone
and run in their own test, which is skipped only where ``tvm`` is not
installed in this Python (``make test`` installs it).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, compile_source

README = REPO / "README.md"

ADD_C = r"""
#include <stdint.h>
#include <tvm/ffi/c_api.h>

/* add(a, b): a hand-written TVM-FFI safe-call function. */
__attribute__((visibility("default")))
int __tvm_ffi_add(void* self, const TVMFFIAny* args, int32_t num_args, TVMFFIAny* result) {
  if (num_args != 2) {
    TVMFFIErrorSetRaisedFromCStr("TypeError", "add expects 2 arguments");
    return -1;
  }
  result->type_index = kTVMFFIInt;
  result->zero_padding = 0;
  result->v_int64 = args[0].v_int64 + args[1].v_int64;
  return 0;
}
"""

MATH_C = r"""
#include <stdint.h>
#include <tvm/ffi/c_api.h>

int64_t math_add(int64_t a, int64_t b) { return a + b; }
int64_t math_mul(int64_t a, int64_t b) { return a * b; }

static int ret(TVMFFIAny* result, int64_t v) {
  result->type_index = kTVMFFIInt;
  result->zero_padding = 0;
  result->v_int64 = v;
  return 0;
}
int __tvm_ffi_add(void* self, const TVMFFIAny* args, int32_t n, TVMFFIAny* result) {
  return ret(result, math_add(args[0].v_int64, args[1].v_int64));
}
int __tvm_ffi_mul(void* self, const TVMFFIAny* args, int32_t n, TVMFFIAny* result) {
  return ret(result, math_mul(args[0].v_int64, args[1].v_int64));
}
"""

CALLER_C = r"""
#include <stdint.h>
#include <tvm/ffi/c_api.h>

int64_t math_add(int64_t a, int64_t b);
int64_t math_mul(int64_t a, int64_t b);

int __tvm_ffi_call_math(void* self, const TVMFFIAny* args, int32_t n, TVMFFIAny* result) {
  int64_t a = args[0].v_int64, b = args[1].v_int64;
  result->type_index = kTVMFFIInt;
  result->zero_padding = 0;
  result->v_int64 = math_add(a, b) * 2 + math_mul(a, b);
  return 0;
}
"""

HELLO_CC = r"""
#include <tvm/ffi/function.h>
#include <tvm/ffi/string.h>

#include <string>

static tvm::ffi::String Hello(tvm::ffi::String name) {
  return "hello, " + std::string(name);
}
TVM_FFI_DLL_EXPORT_TYPED_FUNC(hello, Hello);
"""


def needs_tvm(code: str) -> bool:
    """Whether a block imports Apache TVM (not tvm_ffi)."""
    return re.search(r"^\s*(import tvm\b(?!_)|from tvm\b(?!_))", code, re.M) is not None


def tvm_or_skip() -> None:
    """Skips the calling test where apache-tvm is not installed in this Python."""
    import importlib.util

    if importlib.util.find_spec("tvm") is None:
        pytest.skip(
            f"apache-tvm is not installed in this Python ({sys.executable}); "
            "`make test` installs it (scripts/bootstrap.sh)"
        )


def python_blocks(text: str) -> list[tuple[int, str]]:
    """The ```python blocks of a markdown text, with the line each starts on."""
    blocks = []
    for m in re.finditer(r"^```(?:python|py|python3)[ \t]*\n(.*?)^```[ \t]*$", text, re.M | re.S):
        line = text.count("\n", 0, m.start()) + 1
        blocks.append((line, m.group(1)))
    return blocks


@pytest.fixture(scope="module")
def readme_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("readme")
    for name, text in (("add.c", ADD_C), ("math.c", MATH_C), ("caller.c", CALLER_C), ("hello.cc", HELLO_CC)):
        src = work / name
        src.write_text(text)
        compile_source(src, work / (src.stem + ".o"), "clang")
    for copy in ("a.o", "kernel.o"):
        shutil.copy(work / "add.o", work / copy)
    return work


def _blocks_or_fail() -> list[tuple[int, str]]:
    if not README.is_file():
        pytest.fail(f"{README} does not exist: the README examples cannot be tested")
    blocks = python_blocks(README.read_text())
    if not blocks:
        pytest.fail(f"{README} has no ```python code blocks: there is no example to test")
    return blocks


def test_readme_has_python_examples() -> None:
    assert len(_blocks_or_fail()) >= 1


RUNNER = r"""
import json, sys, traceback
blocks = json.load(open(sys.argv[1]))
namespace = {"__name__": "__main__"}
for line, code in blocks:
    print(f"=== README.md block at line {line}", flush=True)
    try:
        exec(compile(code, f"README.md:{line}", "exec"), namespace)
    except BaseException:
        traceback.print_exc()
        print(f"FAILED: README.md block at line {line}", file=sys.stderr, flush=True)
        sys.exit(1)
print(f"all {len(blocks)} README python blocks passed", flush=True)
"""


def test_readme_python_examples(readme_workdir: Path) -> None:
    _run_readme_blocks(readme_workdir, [b for b in _blocks_or_fail() if not needs_tvm(b[1])])


def test_readme_tvm_examples(readme_workdir: Path) -> None:
    blocks = [b for b in _blocks_or_fail() if needs_tvm(b[1])]
    assert blocks, "the README lost its Apache TVM example"
    tvm_or_skip()
    _run_readme_blocks(readme_workdir, blocks)


def _run_readme_blocks(readme_workdir: Path, blocks: list[tuple[int, str]]) -> None:
    env = dict(os.environ)
    # make the package importable the same way this test process imports it
    import tvm_ffi_orcjit

    pkg_parent = str(Path(tvm_ffi_orcjit.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [pkg_parent, env.get("PYTHONPATH", "")]))
    (readme_workdir / "readme_blocks.json").write_text(json.dumps(blocks))
    (readme_workdir / "readme_runner.py").write_text(RUNNER)
    res = subprocess.run(
        [sys.executable, "readme_runner.py", "readme_blocks.json"],
        cwd=readme_workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, (
        f"README.md python examples failed (exit {res.returncode}):\n"
        f"--- stdout ---\n{res.stdout}--- stderr ---\n{res.stderr}"
    )
    assert f"all {len(blocks)} README python blocks passed" in res.stdout
