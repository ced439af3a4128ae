"""Debugger and profiler support from Python.

``ExecutionSession(debugger=True, perf_map=True)``, the environment variables
``TVM_FFI_ORCJIT_DEBUG`` / ``TVM_FFI_ORCJIT_PERF_MAP``, and the third (flags)
argument of the global ``tvm_ffi_orcjit.ExecutionSession``.  The test object
is ``tests/sources/dbg.c`` (shared with the C tests), built with ``-g``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import tvm_ffi

from conftest import COMPILERS, REPO, compile_source, find_tool, ptrace_works

C_SOURCES = REPO / "tests" / "sources"


@pytest.fixture(scope="module", params=sorted(COMPILERS))
def dbg_obj(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    compiler = request.param
    if find_tool(COMPILERS[compiler][0]) is None:
        pytest.skip(f"{compiler} is not installed")
    out = tmp_path_factory.mktemp(f"dbg-{compiler}") / "dbg.o"
    return compile_source(C_SOURCES / "dbg.c", out, compiler, ["-g", f"-I{C_SOURCES}"])


def _perf_map_path() -> Path:
    return Path(f"/tmp/perf-{os.getpid()}.map")


@pytest.fixture(scope="module", autouse=True)
def _remove_perf_map():
    """Leave no map file of this process behind unless one was there before."""
    existed = _perf_map_path().exists()
    yield
    if not existed:
        _perf_map_path().unlink(missing_ok=True)


def _perf_map() -> list[tuple[int, int, str]]:
    lines = []
    for line in _perf_map_path().read_text().splitlines():
        m = re.fullmatch(r"([0-9a-f]+) ([0-9a-f]+) (\S+)", line)
        assert m, f"malformed perf map line {line!r}"
        lines.append((int(m.group(1), 16), int(m.group(2), 16), m.group(3)))
    return lines


def _executable_ranges() -> list[tuple[int, int]]:
    out = []
    for line in Path("/proc/self/maps").read_text().splitlines():
        addrs, perms = line.split()[:2]
        if "x" in perms:
            lo, hi = (int(x, 16) for x in addrs.split("-"))
            out.append((lo, hi))
    return out


def test_session_options(oj, dbg_obj):
    s = oj.ExecutionSession(debugger=True)
    assert s.load_module(dbg_obj).dbg_run(4) == 32
    s = oj.create_session(None, 0, debugger=True, perf_map=True)
    assert s.load_module(dbg_obj).dbg_run(1) == 2 * (3 * 2 + 1)
    # the global keeps upstream's (orc_rt, slab_size) and takes flags third
    make = tvm_ffi.get_global_func("tvm_ffi_orcjit.ExecutionSession")
    assert make(None, 0).__class__ is oj.ExecutionSession
    assert make(None, 0, 1).load_module(dbg_obj).dbg_run(4) == 32
    with pytest.raises(ValueError, match="unknown flags 8"):
        make(None, 0, 8)
    with pytest.raises(TypeError, match="takes 2 or 3 arguments"):
        make(None)


def test_perf_map(oj, dbg_obj):
    mod = oj.ExecutionSession(perf_map=True).load_module(dbg_obj)
    mod2 = oj.ExecutionSession(perf_map=True).load_module(dbg_obj)
    assert mod.dbg_run(4) == 32 and mod2.dbg_run(4) == 32
    entries = _perf_map()
    exe = _executable_ranges()
    for name in ("oj_dbg_target", "oj_dbg_outer", "oj_dbg_helper", "__tvm_ffi_dbg_run"):
        hits = [(start, size) for start, size, n in entries if n == name]
        assert len(hits) >= 2, f"{name} missing from {_perf_map_path()}"
        for start, size in hits[-2:]:  # the two loads above, live: in executable memory
            assert 0 < size < 4096
            assert any(lo <= start and start + size <= hi for lo, hi in exe), hex(start)
    assert not any(n == "oj_dbg_data" for _, _, n in entries)  # data, not a function


def test_perf_map_from_environment(oj, dbg_obj, monkeypatch):
    path = _perf_map_path()
    before = path.stat().st_size if path.exists() else 0
    if not os.environ.get("TVM_FFI_ORCJIT_PERF_MAP"):
        oj.ExecutionSession().load_module(dbg_obj)
        assert (path.stat().st_size if path.exists() else 0) == before
    monkeypatch.setenv("TVM_FFI_ORCJIT_PERF_MAP", "1")
    oj.ExecutionSession().load_module(dbg_obj)
    assert path.stat().st_size > before
    assert _perf_map()[-1][2] in {"oj_dbg_target", "oj_dbg_outer", "oj_dbg_helper", "__tvm_ffi_dbg_run"}


GDB_SCRIPT = textwrap.dedent(
    """
    import gc, os, sys
    import tvm_ffi_orcjit as oj

    # first through the keyword, then through the environment variable
    s = oj.ExecutionSession(debugger=True)
    m = s.load_module(sys.argv[1])
    assert m.dbg_run(4) == 32
    del m, s
    gc.collect()
    os.environ["TVM_FFI_ORCJIT_DEBUG"] = "1"
    s = oj.ExecutionSession()
    m = s.load_module(sys.argv[1])
    assert m.dbg_run(4) == 32
    del m
    gc.collect()
    assert s.load_module(sys.argv[1]).dbg_run(1) == 14  # breakpoint disabled below
    print("script: done")
    """
)


@pytest.mark.skipif(shutil.which("gdb") is None, reason="gdb is not installed")
@pytest.mark.skipif(not ptrace_works(), reason="ptrace is not implemented here (qemu-user emulation)")
def test_gdb_backtrace(tmp_path):
    # One compiler is enough here: the C tests run gdb on both.
    compiler = next((c for c in sorted(COMPILERS) if find_tool(COMPILERS[c][0])), None)
    if compiler is None:
        pytest.skip("no C compiler (clang-22 or gcc) is installed")
    dbg_obj = compile_source(C_SOURCES / "dbg.c", tmp_path / "dbg.o", compiler, ["-g", f"-I{C_SOURCES}"])
    script = tmp_path / "driver.py"
    script.write_text(GDB_SCRIPT)
    env = dict(os.environ)
    env.pop("TVM_FFI_ORCJIT_DEBUG", None)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in [str(REPO / "python"), env.get("PYTHONPATH", "")] if p
    )
    cmd = [
        "gdb", "-nx", "-q", "-batch",
        "-iex", "set debuginfod enabled off",
        "-ex", "set startup-with-shell off",
        "-ex", "set breakpoint pending on",
        "-ex", "break oj_dbg_target",
        "-ex", "run", "-ex", "bt 4",
        "-ex", "continue", "-ex", "bt 4",
        "-ex", "disable 1", "-ex", "continue",
        "--args", sys.executable, str(script), str(dbg_obj),
    ]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    out = res.stdout + res.stderr
    lines = out.splitlines()

    def count(prefix: str, name: str) -> int:
        return sum(1 for ln in lines if ln.startswith(prefix) and name in ln)

    # "Thread 1 "...hit Breakpoint 1, ..." with thread debugging on,
    # "Breakpoint 1, ..." without (gdb prints either, depending on the host).
    hits = sum(1 for ln in lines if re.search(r"(^|hit )Breakpoint 1, oj_dbg_target", ln))
    assert hits == 2, out
    assert count("#0 ", "oj_dbg_target") == 2, out
    assert count("#1 ", "oj_dbg_outer") == 2, out
    assert count("#2 ", "__tvm_ffi_dbg_run") == 2, out
    assert "dbg.c:" in out, out  # source lines from the DWARF of the object
    assert "script: done" in out, out
    assert "exited normally" in out, out
    assert res.returncode == 0, out
