"""Out of memory while loading (SPEC.md: address-space limits): every
allocation failure is a ``MemoryError``, never a crash, and leaves nothing
behind.

A subprocess, for each limit, forks a child that creates a session, sets
``RLIMIT_AS`` (as ``ulimit -v`` does) to the process's current size plus an
amount, loads a 32 MiB object and a small one, lifts the limit and loads
them again into the same session.  The amounts cross every allocation of
the load that grows with the object (its bytes, the rewritten image,
LLVM's copy, the JIT memory): each load must work or raise MemoryError.
Not under AddressSanitizer (its allocator aborts under such a limit).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, SOURCES, compile_source, skip_if_emulated

BIG_MB = 32

CHILD = r"""
import os, resource, sys
import tvm_ffi_orcjit as oj

big, small, step, top = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])

def vm_size():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")

def load(session, path):
    try:
        return session.load_module(path), "ok"
    except MemoryError as e:
        return None, "MemoryError: " + str(e)

for extra in range(0, top + 1, step):
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        try:
            s = oj.ExecutionSession(slab_size=16 << 20)
            soft, hard = resource.getrlimit(resource.RLIMIT_AS)
            resource.setrlimit(resource.RLIMIT_AS, (vm_size() + (extra << 20), hard))
            mb, rb = load(s, big)
            if mb is not None:
                assert mb.big_get(2) == 3
            ms, rs = load(s, small)
            resource.setrlimit(resource.RLIMIT_AS, (hard, hard))
            if mb is None:
                mb = s.load_module(big)  # nothing of the failed load is left
            assert mb.big_get(0) == 1
            if ms is None:
                ms = s.load_module(small)
            assert ms.add_int(20, 22) == 42
            print(f"+{extra} MiB: big {rb.split(':')[0]}; small {rs.split(':')[0]}; {rb}", flush=True)
            os._exit(0)
        except BaseException as e:  # noqa: BLE001
            print(f"+{extra} MiB: FAILED {type(e).__name__}: {e}", flush=True)
            os._exit(1)
    _, st = os.waitpid(pid, 0)
    if os.WIFSIGNALED(st):
        print(f"+{extra} MiB: SIGNAL {os.WTERMSIG(st)}", flush=True)
    elif os.WEXITSTATUS(st) != 0:
        print(f"+{extra} MiB: EXIT {os.WEXITSTATUS(st)}", flush=True)
"""


def _asan() -> bool:
    import tvm_ffi_orcjit

    return "asan" in os.environ.get("LD_PRELOAD", "") or "asan" in str(tvm_ffi_orcjit.LIBRARY_PATH)


def test_address_limit_memory_error(tmp_path: Path) -> None:
    if _asan():
        pytest.skip("AddressSanitizer's allocator aborts under RLIMIT_AS")
    skip_if_emulated("RLIMIT_AS is not applied to emulated code")
    import tvm_ffi_orcjit

    big = compile_source(
        REPO / "tests" / "sources" / "bigdata.c", tmp_path / "bigdata.o", "gcc",
        [f"-I{REPO / 'tests' / 'sources'}", f"-DOJ_BIG_MB={BIG_MB}"],
    )
    small = compile_source(SOURCES / "basic.c", tmp_path / "basic.o", "gcc")
    assert big.stat().st_size > BIG_MB << 20
    env = dict(os.environ)
    pkg_parent = str(Path(tvm_ffi_orcjit.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [pkg_parent, env.get("PYTHONPATH", "")]))
    env["TVM_FFI_ORCJIT_LIBRARY"] = tvm_ffi_orcjit.LIBRARY_PATH
    # Up to 4 copies of the object and a slab of JIT memory (16 MiB here,
    # smaller than the object: a slab of its size is reserved), and more.
    top = 4 * BIG_MB + 16 + 64
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(big), str(small), "16", str(top)],
        capture_output=True, text=True, env=env, timeout=600,
    )
    out = proc.stdout
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = out.splitlines()
    assert len(lines) == top // 16 + 1, out + proc.stderr[-3000:]
    bad = [ln for ln in lines if "FAILED" in ln or "SIGNAL" in ln or "EXIT" in ln]
    assert not bad, out + proc.stderr[-3000:]
    # Both outcomes happen: the sweep crosses the limit at which it loads.
    assert any("big ok" in ln for ln in lines), out
    assert any("big MemoryError" in ln for ln in lines), out
