"""Runs the examples of docs/guide.md, so that the guide stays true.

- every ```python block, in order, in one fresh interpreter (like the cells
  of a notebook), as test_readme.py does for the README;
- every ```c block that starts with a "/* <name>.c" comment is written to
  <name>.c, and every ```console block runs in bash: each "$ command" line
  is a command, the lines after it (until the next "$ ") are its expected
  output, stdout and stderr together, compared exactly.

All run in a scratch directory holding the README's objects (add.o, math.o,
caller.o, hello.o: see test_readme.py), with $ORCJIT set to a tree whose
include/ and build/ are this checkout's headers and the loaded native
library's directory, and `python`/`python3` meaning this interpreter.
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

from conftest import REPO
from test_readme import needs_tvm, python_blocks, readme_workdir, tvm_or_skip  # noqa: F401  (a fixture)

GUIDE = REPO / "docs" / "guide.md"


def _guide() -> str:
    if not GUIDE.is_file():
        pytest.fail(f"{GUIDE} does not exist")
    return GUIDE.read_text()


def _blocks(lang: str) -> list[tuple[int, str]]:
    text = _guide()
    out = []
    for m in re.finditer(rf"^```{lang}[ \t]*\n(.*?)^```[ \t]*$", text, re.M | re.S):
        out.append((text.count("\n", 0, m.start()) + 1, m.group(1)))
    return out


def _env(workdir: Path) -> dict[str, str]:
    import tvm_ffi_orcjit

    env = dict(os.environ)
    pkg_parent = str(Path(tvm_ffi_orcjit.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [pkg_parent, env.get("PYTHONPATH", "")]))
    env["TVM_FFI_ORCJIT_LIBRARY"] = tvm_ffi_orcjit.LIBRARY_PATH
    shims = workdir / "shims"
    shims.mkdir(exist_ok=True)
    for name in ("python", "python3"):
        # A script, not a symlink: a venv's python reached through a link
        # elsewhere does not find its pyvenv.cfg, and loses the venv.
        shim = shims / name
        if not shim.exists():
            shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
            shim.chmod(0o755)
    env["PATH"] = os.pathsep.join([str(shims), env.get("PATH", "")])
    tree = workdir / "orcjit"
    if not tree.exists():
        tree.mkdir()
        (tree / "include").symlink_to(REPO / "include")
        (tree / "build").symlink_to(Path(tvm_ffi_orcjit.LIBRARY_PATH).resolve().parent)
    env["ORCJIT"] = str(tree)
    return env


RUNNER = r"""
import json, sys, traceback
blocks = json.load(open(sys.argv[1]))
namespace = {"__name__": "__main__"}
for line, code in blocks:
    print(f"=== docs/guide.md block at line {line}", flush=True)
    try:
        exec(compile(code, f"docs/guide.md:{line}", "exec"), namespace)
    except BaseException:
        traceback.print_exc()
        print(f"FAILED: docs/guide.md block at line {line}", file=sys.stderr, flush=True)
        sys.exit(1)
print(f"all {len(blocks)} guide python blocks passed", flush=True)
"""


def test_guide_python_examples(readme_workdir: Path) -> None:  # noqa: F811
    blocks = [b for b in python_blocks(_guide()) if not needs_tvm(b[1])]
    assert len(blocks) >= 5, "the guide lost its Python examples"
    _run_guide_blocks(readme_workdir, blocks)


def test_guide_tvm_examples(readme_workdir: Path) -> None:  # noqa: F811
    """The blocks that import Apache TVM: they stand alone (see test_readme.py)."""
    blocks = [b for b in python_blocks(_guide()) if needs_tvm(b[1])]
    assert blocks, "the guide lost its Apache TVM example"
    tvm_or_skip()
    _run_guide_blocks(readme_workdir, blocks)


def _run_guide_blocks(readme_workdir: Path, blocks: list[tuple[int, str]]) -> None:  # noqa: F811
    (readme_workdir / "guide_blocks.json").write_text(json.dumps(blocks))
    (readme_workdir / "guide_runner.py").write_text(RUNNER)
    res = subprocess.run(
        [sys.executable, "guide_runner.py", "guide_blocks.json"],
        cwd=readme_workdir,
        env=_env(readme_workdir),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, f"--- stdout ---\n{res.stdout}--- stderr ---\n{res.stderr}"
    assert f"all {len(blocks)} guide python blocks passed" in res.stdout


def _parse_console(block: str) -> list[tuple[str, list[str]]]:
    steps: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            assert steps, f"output before the first command: {line!r}"
            steps[-1][1].append(line)
    return steps


MARK = "@@guide-step@@"


def test_guide_console_examples(readme_workdir: Path) -> None:  # noqa: F811
    sources = {}
    for line, code in _blocks("c"):
        m = re.match(r"/\* (\w+\.c):", code)
        if m:
            sources[m.group(1)] = code
    assert {"example.c", "list.c"} <= set(sources), sorted(sources)
    for name, code in sources.items():
        (readme_workdir / name).write_text(code)
    if shutil.which("cc") is None:
        pytest.skip("no C compiler (cc) for the C examples")
    env = _env(readme_workdir)
    blocks = _blocks("console")
    assert len(blocks) >= 5, "the guide lost its shell examples"
    for line, block in blocks:
        steps = _parse_console(block)
        script = "".join(f"echo '{MARK}'\n{cmd} 2>&1\n" for cmd, _ in steps)
        res = subprocess.run(
            ["bash", "-c", script], cwd=readme_workdir, env=env, capture_output=True, text=True, timeout=600
        )
        outputs = res.stdout.split(MARK + "\n")[1:]
        assert len(outputs) == len(steps), f"docs/guide.md:{line}: {res.stdout}\n{res.stderr}"
        for (cmd, want), got in zip(steps, outputs):
            got_lines = [g.rstrip() for g in got.splitlines()]
            assert got_lines == [w.rstrip() for w in want], (
                f"docs/guide.md:{line}: `{cmd}` printed:\n" + "\n".join(got_lines) + "\nexpected:\n" + "\n".join(want)
            )
