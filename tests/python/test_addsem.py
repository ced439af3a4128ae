"""What adding objects means: weak and strong definitions of one symbol."""

from __future__ import annotations

import itertools
import subprocess
import sys
import textwrap

import pytest

from conftest import REPO


@pytest.mark.parametrize("order", list(itertools.permutations(["weakdef", "strongdef", "useval"])))
def test_weak_and_strong_in_one_load(objs, session, order):
    """The strong definition wins in any order, for every object (as ld)."""
    mod = session.load_module([objs[n] for n in order])
    assert mod.getval() == 2
    assert mod.weakdef_own() == 2
    del mod  # released here: this crashed when the weak definition came first


@pytest.mark.parametrize(
    "order, want",
    [
        (["useval_weak", "strongdef"], 2),
        (["strongdef", "useval_weak"], 2),
        (["useval_weak", "weakdef"], 3),  # weak against weak: the first one wins
        (["weakdef", "useval_weak"], 1),
        (["weakdef", "useval"], 1),
    ],
)
def test_weak_in_the_user_object(objs, session, order, want):
    mod = session.load_module([objs[n] for n in order])
    assert mod.getval() == want


def test_weak_already_linked_then_strong(objs, session):
    lib = session.create_library("weak_first")
    lib.add(objs["weakdef"])
    lib.add(objs["useval"])
    assert lib.get_function("getval")() == 1  # linked now: its code calls the weak val
    with pytest.raises(RuntimeError) as info:
        lib.add(objs["strongdef"])
    msg = str(info.value)
    for w in ("weak_first", "'val'", str(objs["weakdef"]), str(objs["strongdef"]), "same call"):
        assert w in msg, f"{w!r} not in {msg!r}"
    assert lib.get_function("getval")() == 1


def test_strong_then_weak_separately(objs, session):
    lib = session.create_library()
    lib.add(objs["strongdef"])
    assert lib.lookup("val") != 0
    lib.add(objs["weakdef"])
    lib.add(objs["useval_weak"])
    assert lib.get_function("getval")() == 2
    assert lib.get_function("weakdef_own")() == 2


@pytest.mark.parametrize("how", ["release", "exit", "keep_alive"])
def test_weak_first_release_and_exit(objs, how):
    """Releasing the library, or leaving it to process exit, is clean."""
    paths = [str(objs[n]) for n in ("weakdef", "strongdef", "useval")]
    script = textwrap.dedent(
        f"""
        import gc, sys
        import tvm_ffi_orcjit as oj
        s = oj.ExecutionSession()
        m = s.load_module({paths!r}, keep_module_alive={how == "keep_alive"})
        assert m.getval() == 2
        if {how == "release"!r}:
            del m, s
            gc.collect()
        print("done", flush=True)
        """
    )
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         cwd=REPO / "tests" / "python", timeout=120)
    assert res.returncode == 0 and "done" in res.stdout, (res.returncode, res.stdout, res.stderr)
