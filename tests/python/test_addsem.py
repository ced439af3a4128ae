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


# --------------------------------------------------------------------------
# a failed add changes nothing


def ar_archive(members: list[tuple[str, bytes]]) -> bytes:
    """A System V ar archive of the members (name, content)."""
    out = bytearray(b"!<arch>\n")
    for name, data in members:
        hdr = f"{name + '/':<16}{0:<12}{0:<6}{0:<6}{'644':<8}{len(data):<10}`\n"
        out += hdr.encode() + data
        if len(data) % 2:
            out += b"\n"
    return bytes(out)


def test_failed_archive_add_changes_nothing(objs, session, tmp_path):
    good = objs.read("basic")  # defines add_int, helper_mul
    bad = ar_archive([("good.o", good), ("cut.o", good[: len(good) // 3])])
    path = tmp_path / "bad.a"
    path.write_bytes(bad)
    lib = session.create_library("atomic")
    for what in (str(path), bad):
        with pytest.raises(ValueError, match="cut.o"):
            lib.add(what)
        with pytest.raises(KeyError):
            lib.lookup("helper_mul")
        with pytest.raises(AttributeError):
            lib.get_function("add_int")
    with pytest.raises(ValueError, match="cut.o"):
        session.load_module([bad, objs["useval_weak"]], name="atomic_list")
    # the library still works, and the good archive alone goes in
    lib.add(objs["useval_weak"])
    assert lib.get_function("getval")() == 3
    lib.add(ar_archive([("good.o", good)]))
    assert lib.get_function("add_int")(2, 3) == 5
    assert session.load_module([good], name="atomic_list").add_int(1, 1) == 2
