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


# --------------------------------------------------------------------------
# DynamicLibrary.add links at the first lookup (as upstream 0.1 and ORC)


def test_object_before_the_object_it_needs(objs, session):
    lib = session.create_library("later")
    lib.add(objs["linked"])  # needs helper_mul
    lib.add(objs.read("basic"))  # defines it
    assert lib.get_function("call_helper")(2, 3) == 7


def test_link_order_set_after_the_add(objs, session):
    base = session.create_library("base")
    base.add(objs["basic"])
    caller = session.create_library("caller")
    caller.add(objs["linked"])
    caller.set_link_order(base)
    assert caller.get_function("call_helper")(4, 5) == 21
    assert "add_int" not in caller


def test_object_before_the_archive(objs, session):
    lib = session.create_library("ld_order")
    lib.add(objs["linked"])
    lib.add(ar_archive([("basic.o", objs.read("basic")), ("more.o", objs.read("more"))]))
    assert lib.get_function("call_helper")(3, 3) == 10


def test_unresolved_until_its_symbols_arrive(objs, session):
    base = session.create_library("base")
    base.add(objs["basic"])
    lib = session.create_library("waits")
    lib.add(objs["linked"])
    lib.add(objs["useval_weak"])  # links on its own
    for _ in range(2):
        with pytest.raises(RuntimeError) as info:
            lib.get_function("call_helper")
        msg = str(info.value)
        for w in ("waits", "helper_mul", str(objs["linked"]), "unresolved symbol"):
            assert w in msg, f"{w!r} not in {msg!r}"
    assert lib.get_function("getval")() == 3
    lib.set_link_order(base)
    assert lib.get_function("call_helper")(2, 5) == 11


def test_add_still_refuses_duplicates_and_bad_files(objs, session):
    lib = session.create_library("strict")
    lib.add(objs["basic"])
    with pytest.raises(RuntimeError, match="duplicate") as info:
        lib.add(objs["conflict"])  # add_int, strong in both, neither linked yet
    assert str(objs["basic"]) in str(info.value) and str(objs["conflict"]) in str(info.value)
    with pytest.raises(ValueError, match="not an ELF"):
        lib.add(b"not an object at all")
    assert lib.get_function("add_int")(1, 2) == 3


def test_weak_then_strong_added_before_any_lookup(objs, session):
    lib = session.create_library()
    lib.add(objs["weakdef"])
    lib.add(objs["useval"])
    lib.add(objs["strongdef"])  # the weak one is still waiting: the strong one wins
    assert lib.get_function("getval")() == 2
    assert lib.get_function("weakdef_own")() == 2


def test_load_module_still_links_at_once(objs, session):
    with pytest.raises(RuntimeError, match="helper_mul"):
        session.load_module(objs["linked"])
    with pytest.raises(RuntimeError, match="helper_mul"):
        session.load_module([objs["linked"], objs["useval"], objs["strongdef"]])
