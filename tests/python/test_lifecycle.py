"""Library lifetimes, link orders and fork (issue #18).

- archive members of a linked-to library serve the libraries linking it;
- link-order cycles are freed once nothing outside refers to them
  (destructors run, names free, memory back), through Python as through
  the C API (tests/c/test_lifecycle.c, link_cycles): a module lives exactly
  as long as its library (glue/oj_ffi_module.cc, ReleaseDeleter), so it holds no
  other module;
- fork() while another thread loads: the child's load into the same
  session works.
"""

from __future__ import annotations

import gc
import os
import shutil
import signal
import subprocess
import threading

import pytest
from conftest import skip_if_emulated


def _archive(objs, stem: str, out) -> str:
    ar = shutil.which("ar") or shutil.which("llvm-ar-22")
    if ar is None:
        pytest.skip("no ar")
    path = out / f"lib{stem}.{objs.compiler}.a"
    subprocess.run([ar, "rcs", str(path), str(objs[stem])], check=True)
    return str(path)


def test_archive_member_serves_linking_library(objs, session, tmp_path):
    base = session.create_library("arch_base")
    base.add(_archive(objs, "basic", tmp_path))  # helper_mul only in a member
    caller = session.create_library("arch_caller")
    caller.set_link_order(base)
    caller.add(objs["linked"])  # needs helper_mul
    assert caller.get_function("call_helper")(6, 7) == 43
    # the member went into base, as base's own lookup would have put it
    assert base.get_function("add_int")(2, 3) == 5




def _counted_pair(session, objs, counter, names):
    """Libraries each holding ctor_unres.c (a constructor and a destructor
    counted in `counter`), linked in a ring in the order of `names`."""
    libs = [session.create_library(n) for n in names]
    for i, lib in enumerate(libs):
        others = [libs[(i + 1) % len(libs)]] if len(libs) > 1 else [lib]
        lib.set_link_order([counter, *others])
        lib.add(objs["ctor_need"])
        lib.add(objs["ctor_unres"])
    for lib in libs:  # DynamicLibrary.add links at the first lookup
        lib.get_function("ctor_value")
    return libs


@pytest.mark.parametrize("size", [1, 2, 3])
def test_link_order_cycle_is_freed(objs, session, size):
    counter = session.create_library("counter")
    counter.add(objs["ctor_counter"])
    runs = counter.get_function("ctor_runs")
    dtor_runs = counter.get_function("dtor_runs")
    names = [f"ring{i}" for i in range(size)]

    def make_and_drop() -> None:
        libs = _counted_pair(session, objs, counter, names)
        assert runs() == size
        f = libs[0].get_function("ctor_value")
        del libs
        gc.collect()
        assert dtor_runs() == 0  # a Function of the ring holds it
        assert f(3) == 7
        del f

    make_and_drop()
    gc.collect()
    assert dtor_runs() == size
    for n in names:  # the names are free again
        session.create_library(n)


def test_link_order_cycle_with_outside_holder(objs, session):
    counter = session.create_library("counter")
    counter.add(objs["ctor_counter"])
    dtor_runs = counter.get_function("dtor_runs")

    def make() -> object:
        a, b = _counted_pair(session, objs, counter, ["ca", "cb"])
        holder = session.create_library("holder")
        holder.set_link_order(a)
        return holder

    holder = make()
    gc.collect()
    assert dtor_runs() == 0
    del holder
    gc.collect()
    assert dtor_runs() == 2


def _rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_dropped_cycles_give_memory_back(objs, session):
    path = str(objs["basic"])

    def pairs(n: int) -> None:
        for _ in range(n):
            a = session.create_library()
            b = session.create_library()
            a.set_link_order(b)
            b.set_link_order(a)
            a.add(path)
            b.add(path)
            del a, b

    pairs(200)  # warm-up
    gc.collect()
    rss0 = _rss_kib()
    pairs(2000)
    gc.collect()
    grown = _rss_kib() - rss0
    assert grown < 16 * 1024, f"2,000 dropped pairs kept {grown} KiB"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork")
def test_fork_while_another_thread_loads(objs, session, tmp_path):
    skip_if_emulated("fork() of a threaded process can hang inside qemu-user (seen in the C fork cases)")
    path = str(objs["basic"])
    stop = threading.Event()
    errors: list[BaseException] = []

    def loader() -> None:
        try:
            while not stop.is_set():
                session.load_module(path)
        except BaseException as exc:  # reported below
            errors.append(exc)

    t = threading.Thread(target=loader)
    t.start()
    bad = []
    try:
        for i in range(40):
            pid = os.fork()
            if pid == 0:
                code = 1
                try:
                    signal.alarm(10)  # a hang ends the child with SIGALRM
                    m = session.load_module(path)
                    code = 0 if m.add_int(2, 3) == 5 else 3
                except BaseException as exc:  # noqa: BLE001 - reported by the parent
                    (tmp_path / f"child{i}.txt").write_text(repr(exc))
                finally:
                    os._exit(code)
            _, status = os.waitpid(pid, 0)
            if status != 0:
                why = tmp_path / f"child{i}.txt"
                bad.append((i, status, why.read_text() if why.exists() else ""))
    finally:
        stop.set()
        t.join()
    assert not errors
    assert not bad, f"children that failed or hung (fork number, wait status): {bad}"
