"""JIT memory at scale and under limits: large objects in any session after
earlier loads, clear_free_slabs's count, an address-space limit, and the peak
memory of loading a large object from a path."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from conftest import SOURCES, compile_source

MIB = 1 << 20


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """bss_big.c built with several sizes (MiB -> object path), big_rodata.c
    with 64 MiB."""
    out = tmp_path_factory.mktemp("big")
    objs = {}
    for mib in (1, 200, 1024, 3072):
        objs[mib] = compile_source(SOURCES / "bss_big.c", out / f"bss{mib}.o", "clang", [f"-DBSS_MIB={mib}"])
    objs["rodata"] = compile_source(SOURCES / "big_rodata.c", out / "rodata64.o", "clang", ["-DRODATA_MIB=64"])
    return objs


def check_bss(mod, mib):
    size = mod.bss_size()
    assert size == mib * MIB
    for at in (0, size // 2, size - 1):
        assert mod.swap(at, 7) == 0
        assert mod.swap(at, 1) == 7


def run_python(code: str, preexec=None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        preexec_fn=preexec,
    )


def test_gigabyte_bss_after_a_released_object_in_any_session(oj, big):
    """A released 200 MiB object leaves its address space to every session:
    1 GiB loads after it in the same session and in a second one, and a
    3 GiB .bss (more than the 2 GiB window) loads and works."""
    s1 = oj.ExecutionSession()
    mod = s1.load_module(str(big[200]))
    check_bss(mod, 200)
    del mod
    s1.clear_free_slabs()
    mod = s1.load_module(str(big[1024]))
    check_bss(mod, 1024)
    s2 = oj.ExecutionSession()
    mod2 = s2.load_module(str(big[1024]))
    check_bss(mod2, 1024)
    mod3 = s2.load_module(str(big[3072]))
    check_bss(mod3, 3072)
    assert mod.bss_size() == 1024 * MIB  # all three live at once
    del mod, mod2, mod3


def test_clear_free_slabs_counts_regions(oj, big):
    """clear_free_slabs() returns the number of memory regions given back:
    the region of a dropped library on a large allocation counts."""
    s = oj.ExecutionSession()
    mod = s.load_module(str(big[200]))
    check_bss(mod, 200)
    s.clear_free_slabs()
    del mod
    n = s.clear_free_slabs()
    assert 1 <= n <= 16  # regions, not bytes
    assert s.clear_free_slabs() == 0


def test_small_object_loads_under_an_address_space_limit(big):
    """With 128 MiB of address space left (less than one 256 MiB slab), a
    session with default options loads and runs a small object."""
    res = run_python(
        f"""
        import resource
        import tvm_ffi_orcjit as oj
        vsize = int(open("/proc/self/statm").read().split()[0]) * resource.getpagesize()
        limit = vsize + (128 << 20)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        mod = oj.ExecutionSession().load_module({str(big[1])!r})
        assert mod.bss_size() == 1 << 20
        print("ok")
        """
    )
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr


def test_peak_memory_of_loading_a_large_object_from_a_path(big):
    """Loading a 64 MiB object from a path raises peak resident memory by
    less than 2.5 times its size (one copy of the file, and the JIT memory
    it is linked into; it was four copies)."""
    path = str(big["rodata"])
    size = os.path.getsize(path)
    res = run_python(
        f"""
        import resource
        import tvm_ffi_orcjit as oj
        s = oj.ExecutionSession()
        s.load_module({str(big[1])!r})  # the JIT and its first slab, warmed up
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        mod = s.load_module({path!r})
        assert mod.at(0) == 1 and mod.at(2) == 3 and mod.at((64 << 20) - 1) == 0
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(before, after)
        """
    )
    assert res.returncode == 0, res.stderr
    before, after = (int(x) * 1024 for x in res.stdout.split())
    grown = after - before
    print(f"file {size / MIB:.1f} MiB: peak grew by {grown / MIB:.1f} MiB ({grown / size:.2f}x)")
    assert grown < 2.5 * size
