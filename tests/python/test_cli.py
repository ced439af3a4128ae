"""Tests of the command-line tool, ``python -m tvm_ffi_orcjit``.

The tool runs as a subprocess with this test's package and native library
(PYTHONPATH, TVM_FFI_ORCJIT_LIBRARY), on objects compiled at test time
(conftest.py).  Expected names come from the test sources themselves, and
what ``inspect`` lists is checked against what the loader finds.
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

from conftest import FOREIGN_NAME, FOREIGN_TARGET, MACHINE_NAME, SOURCES, compile_source, find_tool

TAG = "tvm_ffi_orcjit: error: "


class Result:
    def __init__(self, proc: subprocess.CompletedProcess) -> None:
        self.rc = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def __repr__(self) -> str:
        return f"<rc={self.rc}\n--- stdout ---\n{self.out}--- stderr ---\n{self.err}>"

    @property
    def error(self) -> str:
        """The error line (the last line of stderr, which must start with TAG)."""
        lines = self.err.splitlines()
        assert lines, f"no error printed: {self!r}"
        assert lines[-1].startswith(TAG), self
        return lines[-1][len(TAG) :]


def _env() -> dict[str, str]:
    import tvm_ffi_orcjit

    env = dict(os.environ)
    pkg_parent = str(Path(tvm_ffi_orcjit.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [pkg_parent, env.get("PYTHONPATH", "")]))
    env["TVM_FFI_ORCJIT_LIBRARY"] = tvm_ffi_orcjit.LIBRARY_PATH
    return env


def run(*args: object, cwd: Path | None = None) -> Result:
    proc = subprocess.run(
        [sys.executable, "-m", "tvm_ffi_orcjit", *map(str, args)],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=cwd,
        timeout=300,
    )
    res = Result(proc)
    assert "Traceback" not in res.err, res
    return res


def ok(*args: object, cwd: Path | None = None) -> Result:
    res = run(*args, cwd=cwd)
    assert res.rc == 0 and res.err == "", res
    return res


def fails(rc: int, *args: object) -> Result:
    """Runs the tool expecting exit status rc and exactly one error line (plus usage for 2)."""
    res = run(*args)
    assert res.rc == rc, res
    lines = res.err.splitlines()
    if rc == 1:
        assert len(lines) == 1, res
    else:
        assert lines[0].startswith("usage: "), res
    _ = res.error
    return res


def exports_in_source(stem: str) -> set[str]:
    """The functions a test source exports, read from the source itself."""
    text = next(p for p in SOURCES.glob(f"{stem}.*") if p.suffix in (".c", ".cc")).read_text()
    names = set(re.findall(r"^FFI_FN\((\w+)\)", text, re.M))
    names |= set(re.findall(r"^TVM_FFI_DLL_EXPORT_TYPED_FUNC\((\w+),", text, re.M))
    assert names, stem
    return names


def inspect_json(*args: object) -> dict:
    return json.loads(ok("inspect", "--json", *args).out)


def section(text: str, title: str) -> list[str]:
    """The indented entries under '  <title> (N):' in inspect's text output."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith(f"  {title} (") or line == f"  {title}: none":
            out = []
            for entry in lines[i + 1 :]:
                if not entry.startswith("    "):
                    break
                out.append(entry.strip())
            return out
    raise AssertionError(f"no section {title!r} in:\n{text}")


@pytest.fixture(scope="module")
def clang_objs(tmp_path_factory: pytest.TempPathFactory):
    """Objects for the tests that do not depend on the compiler."""
    from conftest import Objects

    compiler = "clang" if find_tool(["clang-22", "clang"]) else "gcc"
    return Objects(compiler, tmp_path_factory.mktemp("cli-objs"))


# --------------------------------------------------------------------------
# help and version


def test_help() -> None:
    res = ok("--help")
    assert res.out.startswith("usage: python -m tvm_ffi_orcjit")
    for word in ("inspect", "call", "--version"):
        assert word in res.out
    assert ok("-h").out == res.out


@pytest.mark.parametrize("command", ["inspect", "call"])
def test_command_help(command: str) -> None:
    res = ok(command, "--help")
    assert res.out.startswith(f"usage: python -m tvm_ffi_orcjit {command}")
    words = ["--resolve", "--json", "__tvm_ffi_", "exit status"] if command == "inspect" else [
        "--str",
        " -- NAME",
        "int()",
        "float()",
        "exit status",
    ]
    for word in words:
        assert word in res.out, word


def test_version() -> None:
    import tvm_ffi_orcjit

    assert ok("--version").out == f"tvm_ffi_orcjit {tvm_ffi_orcjit.__version__}\n"


# --------------------------------------------------------------------------
# inspect


def test_inspect_lists_functions_symbols_and_undefined(objs) -> None:
    res = ok("inspect", objs["basic"])
    assert res.out.splitlines()[0] == f"{objs['basic']}:"
    assert section(res.out, "TVM-FFI functions") == sorted(exports_in_source("basic"))
    others = dict(line.split(None, 1) for line in section(res.out, "other defined symbols"))
    assert others["helper_mul"] == "function"
    assert others["__tvm_ffi__library_ctx"] == "data"  # TVM-FFI's own, not a function
    undefined = [line.split()[0] for line in section(res.out, "undefined symbols")]
    assert "TVMFFIErrorSetRaisedFromCStr" in undefined
    assert section(res.out, "init/fini sections") == []
    assert "  init/fini sections: none" in res.out.splitlines()


def test_inspect_cxx_exports(objs) -> None:
    data = inspect_json(objs["containers"])
    (obj,) = data["inputs"][0]["objects"]
    assert set(obj["ffi_functions"]) == exports_in_source("containers")
    assert obj["error"] is None


def test_inspect_agrees_with_loader(objs, session) -> None:
    """Every function inspect lists is one the loader returns, and no other."""
    for stem in ("basic", "containers", "lifetime"):
        (obj,) = inspect_json(objs[stem])["inputs"][0]["objects"]
        mod = session.load_module(objs[stem])
        for name in obj["ffi_functions"]:
            assert name in mod, (stem, name)
        for sym in obj["defined"]:
            if not sym["name"].startswith("__tvm_ffi_") or sym["name"].startswith("__tvm_ffi__"):
                assert sym["name"] not in {"__tvm_ffi_" + f for f in obj["ffi_functions"]}


def test_inspect_json_fields(objs) -> None:
    data = inspect_json(objs["basic"], objs["more"])
    assert [inp["file"] for inp in data["inputs"]] == [str(objs["basic"]), str(objs["more"])]
    basic, more = (inp["objects"][0] for inp in data["inputs"])
    helper = next(s for s in basic["defined"] if s["name"] == "helper_mul")
    assert helper == {"name": "helper_mul", "function": True, "weak": False, "hidden": False, "tls": False}
    # without --resolve, only what another input or the loader provides is known
    use = next(s for s in more["undefined"] if s["name"] == "helper_mul")
    assert use["resolution"] == "object" and use["object"] == str(objs["basic"])
    snprintf = [s for s in more["undefined"] if s["name"] == "TVMFFIErrorSetRaisedFromCStr"]
    assert snprintf and snprintf[0]["resolution"] is None


def test_inspect_resolve(objs) -> None:
    res = ok("inspect", "--resolve", objs["unresolved"], objs["more"])
    rows = dict(line.split(None, 1) for line in section(res.out, "undefined symbols"))
    assert rows["orcjit_test_undefined_symbol"] == "NOT FOUND"
    assert res.out.splitlines()[-1] == (
        "unresolved: 2 symbols found nowhere: helper_mul, orcjit_test_undefined_symbol"
    )
    data = inspect_json("--resolve", objs["more"], objs["basic"])
    more = data["inputs"][0]["objects"][0]
    where = {s["name"]: s for s in more["undefined"]}
    assert where["TVMFFIErrorSetRaisedFromCStr"]["resolution"] == "host"
    assert where["helper_mul"]["resolution"] == "object"
    assert where["helper_mul"]["object"] == str(objs["basic"])
    # alone, more.o's helper_mul resolves nowhere: loading it alone fails
    alone = inspect_json("--resolve", objs["more"])["inputs"][0]["objects"][0]
    assert {s["name"]: s["resolution"] for s in alone["undefined"]}["helper_mul"] == "missing"


def test_inspect_loader_provided_symbols(objs) -> None:
    """atexit/__dso_handle/__cxa_atexit come from the loader, not the host."""
    (obj,) = inspect_json("--resolve", objs["lifetime"])["inputs"][0]["objects"]
    where = {s["name"]: s["resolution"] for s in obj["undefined"]}
    assert where.get("__cxa_atexit") == "loader"
    assert where.get("__dso_handle") == "loader"
    assert "missing" not in where.values()


def test_inspect_thread_local_runtime_is_the_loaders(objs) -> None:
    """__tls_get_addr and __cxa_thread_atexit are bound to the loader's own
    shims, so inspect says "loader", never "host" (both exist in the host)."""
    # x86-64 code calls __tls_get_addr.  aarch64 code reaches thread-locals
    # through TLS descriptors, whose resolver the object does not name
    # (JITLink adds it, bound to the loader's: test_tls.py runs it).
    tls = [] if MACHINE_NAME == "aarch64" else ["__tls_get_addr"]
    (obj,) = inspect_json("--resolve", objs["tls_counter"])["inputs"][0]["objects"]
    where = {s["name"]: s["resolution"] for s in obj["undefined"]}
    for name in tls + ["__cxa_thread_atexit"]:
        assert where.get(name) == "loader", name
    import tvm_ffi

    raw = tvm_ffi.get_global_func("tvm_ffi_orcjit.InspectObject")(str(objs["tls_counter"]), "", True)
    flags = {s["name"]: (s["runtime"], s["host"]) for s in raw["objects"][0]["symbols"]}
    for name in tls + ["__cxa_thread_atexit"]:
        assert flags[name] == (True, False), name


def test_inspect_init_fini_sections(objs) -> None:
    (obj,) = inspect_json(objs["initfini"])["inputs"][0]["objects"]
    got = sorted((e["kind"], e["priority"], e["count"]) for e in obj["initfini"])
    assert got == sorted(
        [
            # run order: the suffix N of .init_array.N, 65535 - N for
            # .ctors.N (as ld sorts them), 65536 without a suffix
            (".init_array", 101, 1),
            (".init_array", 65536, 1),
            (".fini_array", 101, 1),
            (".fini_array", 65536, 1),
            (".ctors", 65535 - 150, 2),
            (".dtors", 65536, 1),
        ]
    )
    text = ok("inspect", objs["initfini"]).out
    rows = section(text, "init/fini sections")
    assert len(rows) == 6
    assert any(re.fullmatch(r"\.ctors\s+priority 65385\s+2 entries", r) for r in rows), rows
    # and the loader runs the 4 constructors (101, plain, 2 x legacy .ctors)
    assert ok("call", objs["initfini"], "ctor_count").out == "4\n"


def test_inspect_archive(objs, tmp_path: Path) -> None:
    ar = find_tool(["ar", "llvm-ar-22"])
    if ar is None:
        pytest.skip("no ar to build an archive")
    lib = tmp_path / "libtest.a"
    subprocess.run([ar, "rcs", str(lib), str(objs["basic"]), str(objs["more"])], check=True)
    data = inspect_json(lib)
    (inp,) = data["inputs"]
    assert inp["archive"] is True
    names = [o["name"] for o in inp["objects"]]
    assert names == [f"{lib}({objs['basic'].name})", f"{lib}({objs['more'].name})"]
    assert set(inp["objects"][1]["ffi_functions"]) == exports_in_source("more")
    helper = next(s for s in inp["objects"][1]["undefined"] if s["name"] == "helper_mul")
    assert helper["object"] == names[0]
    text = ok("inspect", lib).out
    assert text.splitlines()[0] == f"{lib}: archive, 2 object members"
    assert f"{names[1]}:" in text.splitlines()
    # call loads the archive: the member that defines sub_int is linked
    assert ok("call", lib, "sub_int", 50, 8).out == "42\n"


@pytest.mark.parametrize("mode", ["w:gz", "w"])
def test_inspect_and_call_tar(objs, tmp_path: Path, mode: str) -> None:
    """A tar of objects (gzip-compressed, as Apache TVM's export_library writes it,
    or plain; pax headers from Python's tarfile): its objects as one link."""
    import tarfile

    tar = tmp_path / "model.tar"
    notes = tmp_path / "notes.txt"
    notes.write_text("not an object\n")
    with tarfile.open(tar, mode, format=tarfile.PAX_FORMAT) as t:
        t.add(objs["more"], arcname="more.o")  # needs helper_mul, from basic.o after it
        t.add(notes, arcname="notes.txt")  # skipped
        t.add(objs["basic"], arcname="basic.o")
    data = inspect_json(tar)
    (inp,) = data["inputs"]
    assert inp["archive"] is True and inp["tar"] is True
    assert [o["name"] for o in inp["objects"]] == [f"{tar}(more.o)", f"{tar}(basic.o)"]
    assert set(inp["objects"][0]["ffi_functions"]) == exports_in_source("more")
    assert ok("inspect", tar).out.splitlines()[0] == f"{tar}: tar, 2 object members"
    assert ok("call", tar, "square_via_helper", 9).out == "81\n"
    cut = tmp_path / "cut.tar"
    cut.write_bytes(tar.read_bytes()[:1500])
    assert fails(1, "call", cut, "add_int", 1, 2).error.startswith(f"library 'cut': {cut}: ")
    assert fails(1, "inspect", cut).error.startswith(f"{cut}: ")


def test_inspect_archive_with_foreign_member(clang_objs, tmp_path: Path) -> None:
    clang, ar = find_tool(["clang-22", "clang"]), find_tool(["ar", "llvm-ar-22"])
    if clang is None or ar is None:
        pytest.skip("needs clang (for another machine's object) and ar")
    src = tmp_path / "arm.c"
    src.write_text("int arm_value(void) { return 7; }\n")
    arm = tmp_path / "arm.o"
    subprocess.run([clang, f"--target={FOREIGN_TARGET}", "-c", str(src), "-o", str(arm)], check=True)
    lib = tmp_path / "libmixed.a"
    subprocess.run([ar, "rcs", str(lib), str(clang_objs["basic"]), str(arm)], check=True)
    res = fails(1, "inspect", lib)
    assert res.error.startswith(f"{lib}(arm.o): object is for {FOREIGN_NAME}")
    assert f"{lib}(arm.o):\n  not loadable: " in res.out
    assert "add_int" in section(res.out, "TVM-FFI functions")  # the good member is still shown
    # the loader refuses the archive with the same message
    call = fails(1, "call", lib, "add_int", 1, 2)
    assert res.error in call.error


# --------------------------------------------------------------------------
# call


def test_call_prints_result(objs) -> None:
    basic = objs["basic"]
    assert ok("call", basic, "add_int", 40, 2).out == "42\n"
    assert ok("call", basic, "add_int", -5, -7).out == "-12\n"  # negative numbers are arguments
    assert ok("call", basic, "mul_float", 1.5, -4).out == "-6.0\n"
    assert ok("call", basic, "mul_float", "-1e3", 2).out == "-2000.0\n"  # a number, not an option
    assert ok("call", basic, "sum4", 1, 2, 3, 4).out == "1234\n"
    assert ok("call", basic, "logical_not", 0).out == "True\n"
    assert ok("call", basic, "noop").out == "None\n"


def test_call_argument_types(objs) -> None:
    cont = objs["containers"]
    assert ok("call", cont, "concat", "foo", "bar").out == "foobar\n"
    assert ok("call", cont, "str_len", "hello world").out == "11\n"
    assert ok("call", cont, "str_len", "").out == "0\n"
    # "12" parses as an int, which concat does not take; --str keeps strings
    res = fails(1, "call", cont, "concat", "12", "34")
    assert res.error.startswith("concat: TypeError: ")
    assert ok("call", "--str", cont, "concat", "12", "34").out == "1234\n"
    assert ok("call", cont, "concat", "--str", "1.5", "x").out == "1.5x\n"
    # after --, arguments may start with '-'
    assert ok("call", cont, "--", "concat", "-x", "--y").out == "-x--y\n"
    assert ok("call", cont, "range", 3).out == "(0, 1, 2)\n"


@pytest.mark.parametrize(
    "text,value",
    [("42", 42), ("-7", -7), ("1_000", 1000), ("2.5", 2.5), ("-1e3", -1000.0), ("abc", "abc"), ("", ""), ("1x", "1x")],
)
def test_argument_parsing_rules(text: str, value: object) -> None:
    from tvm_ffi_orcjit._cli import parse_value

    got = parse_value(text)
    assert got == value and type(got) is type(value)
    assert parse_value(text, force_str=True) == text


def test_call_several_objects(objs) -> None:
    # linked.o needs helper_mul from basic.o: both go into one library
    assert ok("call", objs["linked"], objs["basic"], "--", "call_helper", 6, 7).out == "43\n"
    assert ok("call", objs["more"], objs["basic"], "--", "square_via_helper", 9).out == "81\n"


# --------------------------------------------------------------------------
# errors: one line on stderr, exit status 1 (2 for usage)


def test_error_file_not_found(tmp_path: Path) -> None:
    missing = tmp_path / "missing.o"
    res = fails(1, "inspect", missing)
    assert res.error == f"cannot open '{missing}': No such file or directory"
    res = fails(1, "call", missing, "f")
    assert res.error == f"library 'missing': cannot open '{missing}': No such file or directory"


def test_error_directory(tmp_path: Path) -> None:
    assert fails(1, "inspect", tmp_path).error == f"cannot load '{tmp_path}': is a directory"
    assert fails(1, "call", tmp_path, "f").error.endswith(f"cannot load '{tmp_path}': is a directory")


def test_error_not_an_object(tmp_path: Path) -> None:
    text = tmp_path / "notes.o"
    text.write_text("hello\n")
    assert fails(1, "inspect", text).error == f"{text}: not an ELF file (bad magic)"
    assert fails(1, "call", text, "f").error == f"library 'notes': {text}: not an ELF file (bad magic)"
    empty = tmp_path / "empty.o"
    empty.write_bytes(b"")
    assert fails(1, "inspect", empty).error == f"{empty}: empty file"


def test_error_shared_library(clang_objs, tmp_path: Path) -> None:
    cc = find_tool(["clang-22", "clang", "gcc"])
    if cc is None:
        pytest.skip("no C compiler")
    so = tmp_path / "libbasic.so"
    subprocess.run([cc, "-shared", str(clang_objs["basic"]), "-o", str(so)], check=True)
    res = fails(1, "inspect", so)
    assert res.error == f"{so}: is a shared library (ET_DYN), not a relocatable object (.o)"


def test_error_function_not_found(clang_objs) -> None:
    res = fails(1, "call", clang_objs["basic"], "no_such_fn", 1)
    want = sorted(exports_in_source("basic"))
    assert res.error == (
        f"function 'no_such_fn' not found in {clang_objs['basic']}; its TVM-FFI functions: " + ", ".join(want)
    )
    # helper_mul is a plain C function, not a TVM-FFI one
    assert fails(1, "call", clang_objs["basic"], "helper_mul", 2, 3).error.startswith(
        "function 'helper_mul' not found"
    )


def test_error_load_fails(clang_objs) -> None:
    res = fails(1, "call", clang_objs["unresolved"], "use_undefined", 1)
    assert "unresolved symbol: orcjit_test_undefined_symbol" in res.error
    assert str(clang_objs["unresolved"]) in res.error
    res = fails(1, "call", clang_objs["basic"], clang_objs["conflict"], "--", "add_int", 1, 2)
    assert "duplicate symbol '__tvm_ffi_add_int'" in res.error


def test_error_raised_by_function(clang_objs) -> None:
    res = fails(1, "call", clang_objs["basic"], "raise_value_error")
    assert res.error == "raise_value_error: ValueError: bad value raised from C"
    res = fails(1, "call", clang_objs["basic"], "add_int", 1)
    assert res.error == "add_int: TypeError: add_int expects 2 arguments, got 1"
    res = fails(1, "call", clang_objs["containers"], "throw_value_error", "boom")
    assert res.error.startswith("throw_value_error: ValueError: C++ says: boom")


@pytest.mark.parametrize(
    "args,message",
    [
        ([], "missing command (inspect or call)"),
        (["frobnicate"], "argument command: invalid choice: 'frobnicate' (choose from 'inspect', 'call')"),
        (["inspect"], "no file to inspect"),
        (["inspect", "--bogus", "x.o"], "unrecognized arguments: --bogus"),
        (["call", "x.o"], "call needs an object file and a function name"),
        (["call"], "the following arguments are required: OPERAND"),
        (["call", "x.o", "--"], "no function name after '--'"),
        (["call", "x.o", "f", "-x"], "unrecognized option -x: arguments that start with '-' go after '--'"),
        (["--frob"], "unrecognized arguments: --frob"),
    ],
)
def test_usage_errors(args: list[str], message: str) -> None:
    res = fails(2, *args)
    assert res.error == message
    assert res.out == ""


def test_gcc_lto_object_is_explained(tmp_path: Path) -> None:
    if find_tool(["gcc"]) is None:
        pytest.skip("gcc is not installed")
    obj = compile_source(SOURCES / "basic.c", tmp_path / "lto.o", "gcc", ["-flto"])
    assert "gcc -flto" in ok("inspect", obj).out
    res = fails(1, "call", obj, "add_int", 1, 2)
    assert res.error.startswith(f"function 'add_int' not found: {obj} exports no TVM-FFI function")
    assert res.error.endswith("rebuild without -flto or with -ffat-lto-objects")
