"""Bad input (SPEC.md section 4): a clear error, never a crash, nothing lost.

Every bad input raises the matching exception, whose message names the
input (its path, or ``<memory>`` for bytes) and the cause; afterwards the
library it went into, another library of the same session and the session
itself still work (``Env.still_works``).  Also: inputs users meet that are
not supported (initial-exec and local-exec TLS, compact relocations, other
architectures, archives with no usable member, huge and unreadable files),
every input in ``fuzz/regressions/`` (refused, not a crash), and that a
failed load leaves no symbol and runs no constructor.
"""

from __future__ import annotations

import ctypes
import gc
import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from conftest import FOREIGN_NAME, FOREIGN_TARGET, MACHINE_NAME, REPO, SOURCES, compile_source

REGRESSIONS = REPO / "fuzz" / "regressions"


class Env:
    """A library ``victim`` holding basic.o (bad inputs go into it) and a
    module ``bystander`` of the same session."""

    def __init__(self, objs, session) -> None:
        self.objs = objs
        self.session = session
        self.lib = session.create_library("victim")
        self.lib.add(objs["basic"])
        self.add = self.lib.get_function("add_int")
        self.bystander = session.load_module(objs["basic"], name="bystander")
        self._more_added = False

    def still_works(self) -> None:
        assert self.add(1, 2) == 3
        assert self.lib.get_function("add_int")(2, 2) == 4
        assert self.bystander.add_int(20, 22) == 42
        if not self._more_added:  # the library still links new objects
            self.lib.add(self.objs["more"])
            self._more_added = True
        assert self.lib.get_function("square_via_helper")(7) == 49
        assert self.session.load_module(self.objs["basic"]).add_int(3, 4) == 7


@pytest.fixture
def env(objs, session) -> Env:
    return Env(objs, session)


def refused(env: Env, obj, exc: type[BaseException], *words: str) -> str:
    """Adds obj to the victim library, which must raise exc whose message
    contains the library's name and every word; then loads it as a module
    of its own (the same error).  Returns the message."""
    with pytest.raises(exc) as info:
        env.lib.add(obj)
    msg = str(info.value)
    assert "victim" in msg, msg
    for w in words:
        assert w in msg, f"{w!r} not in {msg!r}"
    with pytest.raises(exc) as info:
        env.session.load_module(obj, name="refused")
    for w in words:
        assert w in str(info.value), f"{w!r} not in {str(info.value)!r}"
    env.still_works()
    return msg


def build(objs, tmp_path: Path, stem: str, out: str, flags: list[str], compiler: str | None = None) -> Path:
    src = SOURCES / f"{stem}.c"
    return compile_source(src, tmp_path / out, compiler or objs.compiler, flags)


# --------------------------------------------------------------------------
# SPEC.md section 4


def test_path_does_not_exist(env, tmp_path):
    missing = tmp_path / "no_such_dir" / "missing.o"
    refused(env, str(missing), FileNotFoundError, str(missing), "No such file")
    refused(env, missing, FileNotFoundError, str(missing))  # os.PathLike


def test_directory(env, tmp_path):
    refused(env, str(tmp_path), IsADirectoryError, str(tmp_path), "is a directory")


def test_empty_file(env, tmp_path):
    empty = tmp_path / "empty.o"
    empty.write_bytes(b"")
    refused(env, str(empty), ValueError, str(empty), "empty file")
    refused(env, b"", ValueError, "<memory>", "empty file")


def test_text_file(env, tmp_path):
    text = tmp_path / "notes.o"
    text.write_text("int add(int a, int b) { return a + b; }\n")
    refused(env, str(text), ValueError, str(text), "not an ELF file")
    refused(env, text.read_bytes(), ValueError, "<memory>", "not an ELF file")


@pytest.mark.parametrize("cut", [1, 4, 20, 63, 200, -100, -1])
def test_truncated_elf(env, tmp_path, cut):
    data = env.objs.read("basic")
    data = data[:cut] if cut > 0 else data[: len(data) + cut]
    path = tmp_path / f"truncated{cut}.o"
    path.write_bytes(data)
    # Cut inside the header or the section table: the pre-pass says so.
    msg = refused(env, str(path), ValueError, str(path))
    assert "ELF" in msg or "truncated" in msg or "corrupt" in msg, msg
    refused(env, data, ValueError, "<memory>")


def elf_patch(data: bytes, offset: int, value: bytes) -> bytes:
    return data[:offset] + value + data[offset + len(value) :]


@pytest.mark.parametrize(
    "what, offset, value, cause",
    [
        ("magic", 1, b"X", "bad magic"),
        ("e_shoff", 0x28, (0x7FFFFFFF0000).to_bytes(8, "little"), "corrupt"),
        ("e_shnum", 0x3C, (0xFFF0).to_bytes(2, "little"), "corrupt"),
        ("e_shentsize", 0x3A, (12).to_bytes(2, "little"), "corrupt"),
        ("e_shstrndx", 0x3E, (0xFFF0).to_bytes(2, "little"), "corrupt"),
        ("e_type", 0x10, (99).to_bytes(2, "little"), "ELF type"),
    ],
)
def test_corrupted_elf(env, tmp_path, what, offset, value, cause):
    data = elf_patch(env.objs.read("basic"), offset, value)
    path = tmp_path / f"corrupt-{what}.o"
    path.write_bytes(data)
    refused(env, str(path), ValueError, str(path), cause)
    refused(env, data, ValueError, "<memory>", cause)


def test_other_architecture(env, tmp_path):
    # Cross-compiled with clang whatever the compiler of env's objects.
    obj = build(env.objs, tmp_path, "no_include", "foreign.o", [f"--target={FOREIGN_TARGET}"], "clang")
    refused(env, str(obj), NotImplementedError, str(obj), FOREIGN_NAME, f"only {MACHINE_NAME}")
    refused(env, obj.read_bytes(), NotImplementedError, "<memory>", FOREIGN_NAME)
    for target, word in [("i686-linux-gnu", "32-bit"), ("powerpc64-linux-gnu", "big-endian")]:
        other = build(env.objs, tmp_path, "no_include", f"{target}.o", [f"--target={target}"], "clang")
        refused(env, str(other), NotImplementedError, str(other), word)


def test_shared_library_and_executable(env, tmp_path):
    cc = shutil.which("clang-22" if env.objs.compiler == "clang" else "gcc")
    if cc is None:
        pytest.skip(f"no {env.objs.compiler} to link with")
    so = tmp_path / "libplain.so"
    exe = tmp_path / "plain_exe"
    src = SOURCES / "no_include.c"
    subprocess.run([cc, "-shared", "-fPIC", str(src), "-o", str(so)], check=True)
    main = tmp_path / "main.c"
    main.write_text("int main(void) { return 0; }\n")
    subprocess.run([cc, str(main), "-o", str(exe)], check=True)
    refused(env, str(so), ValueError, str(so), "shared library (ET_DYN)")
    refused(env, str(exe), ValueError, str(exe), "ET_")  # ET_DYN (PIE) or ET_EXEC
    refused(env, so.read_bytes(), ValueError, "<memory>", "shared library")


def test_duplicate_strong_symbol(env):
    conflict = env.objs["conflict"]
    with pytest.raises(RuntimeError) as info:
        env.lib.add(conflict)
    msg = str(info.value)
    for w in ("victim", "__tvm_ffi_add_int", str(env.objs["basic"]), str(conflict), "duplicate"):
        assert w in msg, f"{w!r} not in {msg!r}"
    # the library keeps its own definition, from basic.o
    assert env.lib.get_function("add_int")(1, 2) == 3
    env.still_works()


def test_unresolved_symbol(env):
    unresolved = env.objs["unresolved"]
    words = (str(unresolved), "orcjit_test_undefined_symbol", "unresolved symbol")
    with pytest.raises(RuntimeError) as info:  # load_module links before it returns
        env.session.load_module(unresolved, name="refused")
    for w in words:
        assert w in str(info.value), f"{w!r} not in {str(info.value)!r}"
    # DynamicLibrary.add links at the lookup that needs the object: that fails
    env.lib.add(unresolved)
    for _ in range(2):
        with pytest.raises(RuntimeError) as info:
            env.lib.get_function("use_undefined")
        for w in ("victim",) + words:
            assert w in str(info.value), f"{w!r} not in {str(info.value)!r}"
    assert "use_undefined" not in env.lib.module
    env.still_works()


def test_function_not_exported(env):
    with pytest.raises(AttributeError) as info:
        env.lib.get_function("frobnicate")
    assert "frobnicate" in str(info.value) and "victim" in str(info.value)
    with pytest.raises(AttributeError) as info:
        env.bystander.frobnicate  # noqa: B018
    assert "frobnicate" in str(info.value)
    with pytest.raises(KeyError) as info:
        env.lib.lookup("frobnicate")
    assert "frobnicate" in str(info.value) and "victim" in str(info.value)
    env.still_works()


def test_library_after_its_session_was_dropped(objs, oj):
    session = oj.ExecutionSession()
    lib = session.create_library("orphan")
    lib.add(objs["basic"])
    del session
    gc.collect()
    # The library keeps its session: adding, looking up and calling work.
    lib.add(objs["more"])
    assert lib.get_function("square_via_helper")(6) == 36
    assert lib.session.load_module(objs["basic"]).add_int(1, 1) == 2
    with pytest.raises(ValueError) as info:
        lib.add(b"not an object")
    assert "orphan" in str(info.value) and "<memory>" in str(info.value)
    assert lib.get_function("add_int")(5, 5) == 10


def test_two_threads_adding_into_one_library(objs, session):
    """Two threads add into one library at once: each add either succeeds
    or is refused (RuntimeError naming the library, "another add"); the
    library is never corrupted and has everything that succeeded."""
    data = [objs.read("basic"), objs.read("more")]
    busy = 0
    for rnd in range(20):
        lib = session.create_library(f"race{rnd}")
        barrier = threading.Barrier(2)
        errors: list[BaseException | None] = [None, None]

        def add(i: int) -> None:
            barrier.wait()
            try:
                lib.add(data[i])
            except BaseException as exc:  # noqa: BLE001 - inspected below
                errors[i] = exc

        threads = [threading.Thread(target=add, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for i, exc in enumerate(errors):
            if exc is None:
                continue
            # a refused add: EBUSY, or (more.o first) its helper not yet there
            msg = str(exc)
            assert isinstance(exc, RuntimeError), repr(exc)
            assert f"race{rnd}" in msg, msg
            assert "another add" in msg or "helper_mul" in msg, msg
            busy += "another add" in msg
            lib.add(data[i])  # alone, it goes in
        assert lib.get_function("add_int")(1, 2) == 3
        assert lib.get_function("square_via_helper")(3) == 9
    print(f"{busy} adds refused as concurrent")


# --------------------------------------------------------------------------
# inputs users meet that are not supported


def test_thread_local_storage(env, tmp_path):
    # x86-64: TLS descriptors (-mtls-dialect=gnu2); aarch64, where descriptors
    # are the default and load: gcc's traditional dialect, which JITLink does
    # not link.  Initial-exec and local-exec code loads (test_tls.py).
    if MACHINE_NAME == "aarch64":
        if shutil.which("gcc") is None:
            pytest.skip("gcc is not installed (clang has no -mtls-dialect=trad for aarch64)")
        obj = build(env.objs, tmp_path, "tls_var", "tls-trad.o", ["-mtls-dialect=trad"], "gcc")
        refused(env, str(obj), NotImplementedError, str(obj), "tls_counter", "general-dynamic")
    else:
        obj = build(env.objs, tmp_path, "tls_var", "tls-gnu2.o", ["-mtls-dialect=gnu2"])
        refused(env, str(obj), NotImplementedError, str(obj), "tls_counter", "TLS-descriptor")
    refused(env, obj.read_bytes(), NotImplementedError, "<memory>", "TLS")
    with pytest.raises(KeyError):
        env.lib.lookup("tls_counter")


def test_compact_relocations(env, tmp_path):
    # Compact relocations (--crel) are made by clang's assembler only.
    obj = build(env.objs, tmp_path, "basic", "crel.o", ["-Wa,--crel,--allow-experimental-crel"], "clang")
    refused(env, str(obj), NotImplementedError, str(obj), "SHT_CREL", "--crel")


@pytest.mark.skipif(MACHINE_NAME != "x86-64", reason="SHN_X86_64_LCOMMON is x86-64's only")
def test_large_common_symbol(env, tmp_path):
    # Only gcc puts large common symbols in SHN_X86_64_LCOMMON.
    src = tmp_path / "lcommon.c"
    src.write_text("int big_common[100000];\nint big_get(int i) { return big_common[i]; }\n")
    obj = compile_source(src, tmp_path / "lcommon.o", "gcc", ["-mcmodel=medium", "-fcommon"])
    refused(env, str(obj), NotImplementedError, str(obj), "big_common", "SHN_X86_64_LCOMMON")


def ar(tmp_path: Path, name: str, members: list[Path]) -> Path:
    tool = shutil.which("llvm-ar-22") or shutil.which("ar")
    if tool is None:
        pytest.skip("no ar")
    out = tmp_path / name
    subprocess.run([tool, "rcs", str(out), *map(str, members)], check=True)
    return out


def test_archive_with_no_usable_member(env, tmp_path):
    # only text files
    notes = tmp_path / "notes.txt"
    notes.write_text("not an object\n")
    text_ar = ar(tmp_path, "libtext.a", [notes, SOURCES / "basic.c"])
    refused(env, str(text_ar), ValueError, str(text_ar), "no usable member", "2 members")
    # nothing at all
    empty = tmp_path / "libempty.a"
    empty.write_bytes(b"!<arch>\n")
    refused(env, str(empty), ValueError, str(empty), "no usable member", "empty archive")
    refused(env, b"!<arch>\n", ValueError, "<memory>", "empty archive")
    # a corrupt member header
    bad = tmp_path / "libbad.a"
    bad.write_bytes(b"!<arch>\ngarbage member header\n")
    refused(env, str(bad), ValueError, str(bad), "corrupt archive")
    # only objects for another machine: the member is named, archive(member)
    a64 = build(env.objs, tmp_path, "no_include", "a64.o", [f"--target={FOREIGN_TARGET}"], "clang")
    a64_ar = ar(tmp_path, "liba64.a", [a64])
    refused(env, str(a64_ar), NotImplementedError, f"{a64_ar}(a64.o)", FOREIGN_NAME)
    # an archive that is fine still works afterwards
    good = ar(tmp_path, "libgood.a", [env.objs["linked"]])
    lib = env.session.create_library("archive_user")
    lib.add(env.objs["basic"])
    lib.add(good)
    assert lib.get_function("call_helper")(3, 4) == 13


def test_huge_file(env, tmp_path):
    """A 5 GiB (sparse) file that starts like an object is refused from its
    size, without being read (ORCJIT_MAX_INPUT_SIZE, 2 GiB)."""
    import time

    huge = tmp_path / "huge.o"
    with open(huge, "wb") as f:
        f.write(env.objs.read("basic")[:64])
        try:
            f.truncate(5 << 30)
        except OSError as exc:
            pytest.skip(f"cannot make a 5 GiB sparse file here: {exc}")
    t0 = time.monotonic()
    refused(env, str(huge), ValueError, str(huge), "too large", "5368709120 bytes")
    assert time.monotonic() - t0 < 30  # refused twice + still_works, never read


def _set_fsuid(uid: int) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.setfsuid(uid)
    return libc.setfsuid(-1)  # the current value


def test_no_read_permission(env, tmp_path):
    """A file without read permission: PermissionError naming the path.
    As root, mode 000 does not stop a read: the load then runs on a thread
    whose file-system user is ``nobody`` (setfsuid changes only that thread)."""
    path = tmp_path / "noread.o"
    path.write_bytes(env.objs.read("basic"))
    path.chmod(0)
    tmp_path.chmod(0o711)
    result: dict[str, object] = {}

    def attempt() -> None:
        if os.geteuid() == 0:
            if _set_fsuid(65534) != 65534:
                result["skip"] = "running as root and setfsuid(65534) had no effect"
                return
        try:
            try:
                open(path, "rb").close()
                result["skip"] = "running as root and the file is still readable as nobody"
                return
            except PermissionError:
                pass
            for obj in (str(path), path):
                try:
                    env.lib.add(obj)
                    result["error"] = None
                except BaseException as exc:  # noqa: BLE001 - inspected below
                    result["error"] = exc
                if not isinstance(result["error"], PermissionError):
                    return
        finally:
            if os.geteuid() == 0:
                _set_fsuid(0)

    try:
        t = threading.Thread(target=attempt)
        t.start()
        t.join()
    finally:
        path.chmod(0o644)
        tmp_path.chmod(0o700)
    if "skip" in result:
        pytest.skip(str(result["skip"]))
    exc = result["error"]
    assert isinstance(exc, PermissionError), repr(exc)
    msg = str(exc)
    assert str(path) in msg and "Permission denied" in msg and "victim" in msg, msg
    env.still_works()
    # readable again, the same file loads
    assert env.session.load_module(path).add_int(1, 1) == 2


def test_fifo_and_devices(env, tmp_path):
    """Not regular files: refused at once (a FIFO without a writer must not
    block the load)."""
    fifo = tmp_path / "pipe.o"
    os.mkfifo(fifo)
    refused(env, str(fifo), OSError, str(fifo), "not a regular file")
    refused(env, "/dev/zero", OSError, "/dev/zero", "not a regular file")


def test_wrong_argument_types(env):
    for bad in (12345, 1.5, None, object()):
        with pytest.raises(TypeError):
            env.session.load_module(bad)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            env.lib.add(bad)  # type: ignore[arg-type]
    env.still_works()


# --------------------------------------------------------------------------
# what the fuzzers found


def regression_inputs() -> list[Path]:
    return sorted(p for p in REGRESSIONS.iterdir() if p.is_file() and not p.name.startswith("."))


def test_fuzz_regressions(env):
    """Every input in fuzz/regressions/ is refused with a clear error naming
    it, or (an input that found a bug in a harness, not in the loader)
    loads; never a crash.  Nothing of it is called."""
    inputs = regression_inputs()
    assert len(inputs) >= 4, f"regression inputs missing from {REGRESSIONS}"
    for path in inputs:
        for obj, name in ((path.read_bytes(), "<memory>"), (str(path), str(path))):
            try:
                mod = env.session.load_module(obj)
            except (ValueError, NotImplementedError, RuntimeError) as exc:
                assert name in str(exc), str(exc)
            else:
                assert "add" not in mod
        env.still_works()


# --------------------------------------------------------------------------
# a failed load changes nothing


def test_failed_load_runs_no_constructor(objs, session):
    counter = session.create_library("counter")
    counter.add(objs["ctor_counter"])
    runs = counter.get_function("ctor_runs")
    dtor_runs = counter.get_function("dtor_runs")

    # In a function of its own, so that no frame or traceback of the
    # expected errors keeps the library alive once it returns.
    def load_fail_then_succeed() -> None:
        lib = session.create_library("with_ctor")
        lib.set_link_order(counter)
        lib.add(objs["ctor_unres"])  # linked at the first lookup, which fails
        for _ in range(3):
            with pytest.raises(RuntimeError) as info:
                lib.get_function("ctor_value")
            msg = str(info.value)
            assert "ctor_need" in msg and str(objs["ctor_unres"]) in msg and "with_ctor" in msg, msg
            with pytest.raises(RuntimeError):  # a library of its own: no counter either
                session.load_module(objs["ctor_unres"])
        assert runs() == 0
        assert "ctor_value" not in lib.module
        with pytest.raises(RuntimeError, match="ctor_need"):
            lib.lookup("__tvm_ffi_ctor_value")
        # a second copy, while the first waits, is refused by add itself
        with pytest.raises(RuntimeError, match="duplicate"):
            lib.add(objs.read("ctor_unres"))
        # with what it needs, the waiting object links at the next lookup and
        # its constructor runs once, before the function is returned
        lib.add(objs["ctor_need"])
        assert runs() == 0
        fn = lib.get_function("ctor_value")
        assert runs() == 1
        assert fn(5) == 11
        # a second copy is a duplicate: refused, the constructor does not run again
        with pytest.raises(RuntimeError, match="duplicate"):
            lib.add(objs.read("ctor_unres"))
        assert runs() == 1
        assert lib.get_function("ctor_value")(6) == 13
        assert dtor_runs() == 0

    load_fail_then_succeed()
    gc.collect()
    assert dtor_runs() == 1  # the destructor ran once, when the library went
    assert runs() == 1

    # a list load where one object cannot be resolved: nothing of it stays
    def half() -> None:
        with pytest.raises(RuntimeError, match="orcjit_test_undefined_symbol"):
            session.load_module([objs["basic"], objs["unresolved"]], name="half")

    half()
    gc.collect()
    assert session.load_module(objs["basic"], name="half").add_int(1, 2) == 3  # the name is free
