"""thread_local in loaded C++ objects: one copy per Python thread."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest
from conftest import MACHINE_NAME


def test_thread_local_per_thread(objs, session):
    mod = session.load_module(objs["tls_counter"])
    assert mod.tls_next("a") == 100 * 1000 + 1
    assert mod.tls_next("b") == 101 * 1000 + 2

    results: dict[int, list[int]] = {}
    start = threading.Barrier(4)

    def work(i: int) -> None:
        start.wait()  # all four threads hold their copies at once
        results[i] = [mod.tls_next(f"t{i}") for _ in range(3)]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(4):
        assert results[i] == [100 * 1000 + 1, 101 * 1000 + 2, 102 * 1000 + 3]
    # The main thread's copy was left alone.
    assert mod.tls_next("c") == 102 * 1000 + 3


def test_thread_local_module_released_after_threads(objs, oj):
    s = oj.ExecutionSession()
    for _ in range(20):
        mod = s.load_module(objs["tls_counter"])
        t = threading.Thread(target=lambda: mod.tls_next("x"))
        t.start()
        t.join()
        assert mod.tls_next("y") == 100 * 1000 + 1
        del mod


# --------------------------------------------------------------------------
# The compilers' default (PIE) code: initial-exec and local-exec TLS


def pie(objs, tmp_path, stem: str, *flags: str):
    """stem compiled like `gcc -c x.c` on Debian: position-independent
    executable code (-fpie after the fixture's -fPIC wins)."""
    from conftest import SOURCES, compile_source

    src = next(p for p in SOURCES.glob(f"{stem}.*") if p.suffix in (".c", ".cc"))
    out = tmp_path / f"{stem}{''.join(flags)}.{objs.compiler}.o"
    return compile_source(src, out, objs.compiler, ["-fpie", *flags])


def test_pie_thread_locals_every_thread(objs, session, tmp_path):
    obj = pie(objs, tmp_path, "tls_pie")
    # A thread that exists before the load, waiting to use it.
    loaded, used = threading.Event(), threading.Event()
    early: list[int] = []
    fn_box: list = []

    def before() -> None:
        loaded.wait()
        early.append(fn_box[0](1))
        used.set()

    t0 = threading.Thread(target=before)
    t0.start()
    mod = session.load_module(obj)
    bump = mod.pie_bump
    assert bump(1) == 6 * 1000 + 1
    assert bump(10) == 16 * 1000 + 2
    fn_box.append(bump)
    loaded.set()
    used.wait()
    t0.join()
    assert early == [6 * 1000 + 1]  # the initial values, not this thread's

    results: dict[int, list[int]] = {}
    start = threading.Barrier(3)

    def work(i: int) -> None:
        start.wait()
        results[i] = [bump(i), bump(i)]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(3):
        assert results[i] == [(5 + i) * 1000 + 1, (5 + 2 * i) * 1000 + 2]
    assert bump(0) == 16 * 1000 + 3  # this thread's copy was left alone


def test_pie_thread_locals_fresh_after_reload(objs, oj, tmp_path):
    obj = pie(objs, tmp_path, "tls_pie")
    s = oj.ExecutionSession()
    for _ in range(5):
        mod = s.load_module(obj)
        assert mod.pie_bump(1) == 6 * 1000 + 1  # never the last load's values
        assert mod.pie_bump(1) == 7 * 1000 + 2
        t = threading.Thread(target=lambda: mod.pie_bump(3))
        t.start()
        t.join()
        del mod


def libstdcxx() -> str:
    with open("/proc/self/maps") as maps:
        for line in maps:
            if "libstdc++.so" in line:
                return line.split()[-1]
    pytest.skip("libstdc++ is not loaded")


ONCE_SCRIPT = """
import sys, threading
import tvm_ffi_orcjit as oj
mod = oj.ExecutionSession().load_module(sys.argv[1])
got = [mod.once_next("a"), mod.once_next("bc")]
out = {}
threads = [threading.Thread(target=lambda i=i: out.__setitem__(i, mod.once_next("x" * i))) for i in range(3)]
for t in threads: t.start()
for t in threads: t.join()
print(got + [out[i] for i in range(3)])
"""


def test_pie_call_once_and_thread_local(objs, session, tmp_path):
    obj = pie(objs, tmp_path, "tls_once")
    lib = libstdcxx()
    base = 1000000 + 100 * 1000
    want = str([base + 5, base + 1000 + 7, base + 4, base + 5, base + 6])
    # Here libstdc++ came with dlopen (Python does not link it): on x86-64
    # its thread-locals are in dynamic TLS, which initial-exec code cannot
    # reach.  (On aarch64 glibc gives a dlopen'ed library's TLS-descriptor
    # thread-locals static TLS while there is room: then the loader finds
    # the same offset in every thread, and the object loads.)
    try:
        mod = session.load_module(obj)
    except NotImplementedError as info:
        msg = str(info)
        assert "_ZSt15__once_callable" in msg and "initial-exec" in msg, msg
        assert "libstdc++" in msg and "LD_PRELOAD" in msg and "-fPIC" in msg, msg
    else:
        assert MACHINE_NAME == "aarch64", "initial-exec code reached dynamic TLS"
        got = [mod.once_next("a"), mod.once_next("bc")]
        out = {}
        threads = [threading.Thread(target=lambda i=i: out.__setitem__(i, mod.once_next("x" * i))) for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert str(got + [out[i] for i in range(3)]) == want
    # Loaded when the process starts, they are in static TLS: it works.
    env = dict(os.environ, LD_PRELOAD=lib, PYTHONPATH=os.pathsep.join(sys.path))
    res = subprocess.run([sys.executable, "-c", ONCE_SCRIPT, str(obj)], env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split("\n")[-2] == want


def test_pie_too_much_static_tls(objs, session, tmp_path):
    obj = pie(objs, tmp_path, "tls_pie", "-DPIE_BIG")
    with pytest.raises(NotImplementedError) as info:
        session.load_module(obj)
    msg = str(info.value)
    assert "static TLS" in msg and "need 1048" in msg, msg
    assert "GLIBC_TUNABLES=glibc.rtld.optional_static_tls" in msg, msg
    # Nothing was kept: the small one still loads.
    assert session.load_module(pie(objs, tmp_path, "tls_pie")).pie_bump(1) == 6001


@pytest.mark.parametrize(
    "model, flags",
    [("initial-exec", ["-ftls-model=initial-exec"]), ("local-exec", ["-fno-pic", "-ftls-model=local-exec"])],
)
def test_static_tls_models(objs, session, tmp_path, model, flags):
    from conftest import SOURCES, compile_source

    obj = compile_source(SOURCES / "tls_var.c", tmp_path / f"tls-{model}.o", objs.compiler, flags)
    mod = session.load_module(obj)
    assert mod.tls_bump(1) == 6
    out: list[int] = []
    t = threading.Thread(target=lambda: out.append(mod.tls_bump(2)))
    t.start()
    t.join()
    assert out == [7]
    assert mod.tls_bump(1) == 7
