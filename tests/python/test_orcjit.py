"""End-to-end tests of the Python API of tvm_ffi_orcjit.

Objects are compiled at test time (see conftest.py) with clang-22 and gcc.
"""

from __future__ import annotations

import ctypes
import gc
import os
import struct
import threading
from pathlib import Path

import pytest
import tvm_ffi

from conftest import SOURCES, compile_source

# --------------------------------------------------------------------------
# loading and calling


def test_load_and_call(objs, session):
    mod = session.load_module(str(objs["basic"]))
    assert isinstance(mod, tvm_ffi.Module)
    assert mod.kind == "orcjit"
    assert mod.add_int(1, 2) == 3
    assert mod.get_function("add_int")(40, 2) == 42
    assert mod["add_int"](-5, 5) == 0
    assert "add_int" in mod
    assert "no_such_function" not in mod


def test_scalar_types_and_arities(objs, session):
    mod = session.load_module(objs["basic"])  # os.PathLike
    assert mod.add_int(2**40, 1) == 2**40 + 1
    assert mod.add_int(-7, 3) == -4
    assert mod.mul_float(1.5, 4.0) == pytest.approx(6.0)
    assert isinstance(mod.mul_float(2.0, 0.25), float)
    assert mod.logical_not(True) is False
    assert mod.logical_not(False) is True
    assert mod.num_calls() == 0
    assert mod.noop() is None
    assert mod.noop() is None
    assert mod.num_calls() == 2
    assert mod.answer() == 42
    assert mod.sum4(1, 2, 3, 4) == 1234


def test_wrong_argument_count_is_an_error(objs, session):
    mod = session.load_module(objs["basic"])
    with pytest.raises(TypeError, match="add_int expects 2 arguments, got 1"):
        mod.add_int(1)
    assert mod.add_int(1, 1) == 2


def test_strings_and_containers(objs, session):
    mod = session.load_module(objs["containers"])
    assert mod.concat("foo", "bar") == "foobar"
    long = "x" * 1000
    assert mod.concat(long, "!") == long + "!"
    assert mod.str_len("hello") == 5
    assert mod.array_sum([1, 2, 3, 4]) == 10
    assert mod.array_sum(tvm_ffi.Array([5, 6])) == 11
    assert list(mod.range(5)) == [0, 1, 2, 3, 4]
    assert [str(x) for x in mod.reverse(["a", "b", "c"])] == ["c", "b", "a"]
    assert mod.map_get({"a": 1, "b": 2}, "b") == 2
    m = mod.make_map("k", 7)
    assert dict(m.items()) == {"k": 7, "kk": 14}
    t = mod.swap((3, "three"))
    assert tuple(t) == ("three", 3)
    with pytest.raises(KeyError, match="no key zz"):
        mod.map_get({"a": 1}, "zz")
    del mod  # m and t, made by the library's code, keep it loaded
    gc.collect()
    assert m["kk"] == 14 and t[0] == "three"


def test_function_metadata(objs, session, tmp_path):
    obj = compile_source(
        SOURCES / "containers.cc",
        tmp_path / "containers_meta.o",
        objs.compiler,
        ["-DTVM_FFI_DLL_EXPORT_INCLUDE_METADATA=1"],
    )
    mod = session.load_module(obj)
    meta = mod.get_function_metadata("concat")
    assert meta is not None and "ffi.String" in meta["type_schema"]
    assert mod.get_function_metadata("no_such_function") is None
    assert mod.concat("a", "b") == "ab"


def test_cpp_exceptions_inside_jit_code(objs, session):
    mod = session.load_module(objs["containers"])
    assert mod.catch_inside(21) == 42


# --------------------------------------------------------------------------
# libraries: incremental adds, namespaces, link order


def test_incremental_objects_into_one_library(objs, session):
    lib = session.create_library("incremental")
    assert lib.name == "incremental"
    lib.add(str(objs["basic"]))
    add = lib.get_function("add_int")
    assert add(5, 3) == 8
    lib.add(objs.read("more"))  # second object, as bytes; uses helper_mul from the first
    assert lib.get_function("sub_int")(10, 3) == 7
    assert lib.get_function("square_via_helper")(9) == 81
    assert add(10, 20) == 30  # functions of the first object still work
    assert lib["sub_int"](1, 1) == 0
    assert "sub_int" in lib


def test_two_libraries_same_symbol(objs, session):
    lib1 = session.create_library("lib1")
    lib1.add(objs["basic"])
    lib2 = session.create_library("lib2")
    lib2.add(objs["conflict"])
    assert lib1.get_function("add_int")(10, 20) == 30
    assert lib2.get_function("add_int")(10, 20) == 1030
    m1 = session.load_module(objs["basic"])
    m2 = session.load_module(objs["conflict"])
    assert m1.add_int(1, 1) == 2
    assert m2.add_int(1, 1) == 1002


def test_link_order(objs, session):
    base = session.create_library("base")
    base.add(objs["basic"])
    caller = session.create_library("caller")
    caller.set_link_order(base)
    caller.add(objs["linked"])
    assert caller.get_function("call_helper")(6, 7) == 43
    # the caller keeps its link order alive
    del base
    gc.collect()
    assert caller.get_function("call_helper")(2, 3) == 7


def test_link_order_several_libraries(objs, session):
    first = session.create_library()
    first.add(objs["conflict"])  # no helper_mul
    second = session.create_library()
    second.add(objs["basic"])  # helper_mul
    caller = session.create_library()
    caller.set_link_order([first, second])
    caller.add(objs["linked"])
    assert caller.get_function("call_helper")(3, 3) == 10


def test_unresolved_without_link_order(objs, session):
    caller = session.create_library("lonely")
    caller.add(objs["linked"])  # linked at the first lookup
    with pytest.raises(RuntimeError, match="helper_mul") as info:
        caller.get_function("call_helper")
    assert "lonely" in str(info.value) and str(objs["linked"]) in str(info.value)
    # the library stays usable, and the object waits for what it needs
    caller.add(objs["basic"])
    assert caller.get_function("add_int")(1, 2) == 3
    assert caller.get_function("call_helper")(2, 3) == 7


def test_duplicate_symbol_in_one_library(objs, session):
    lib = session.create_library("dups")
    lib.add(objs["basic"])
    add = lib.get_function("add_int")
    with pytest.raises(RuntimeError, match="__tvm_ffi_add_int") as info:
        lib.add(objs["conflict"])
    assert "dups" in str(info.value)
    # the library keeps what it had
    assert add(1, 2) == 3
    assert lib.get_function("add_int")(1, 2) == 3
    assert lib.get_function("answer")() == 42


def test_missing_symbol(objs, session):
    with pytest.raises(RuntimeError, match="orcjit_test_undefined_symbol") as info:
        session.load_module(objs["unresolved"])
    assert "unresolved" in str(info.value)  # names the object
    mod = session.load_module(objs["basic"])
    assert mod.add_int(2, 2) == 4


def test_function_not_found(objs, session):
    mod = session.load_module(objs["basic"], name="has_no_frob")
    with pytest.raises(AttributeError, match="frobnicate"):
        mod.get_function("frobnicate")
    with pytest.raises(AttributeError, match="frobnicate"):
        mod.frobnicate  # noqa: B018
    lib = session.create_library("named_lib")
    lib.add(objs["basic"])
    with pytest.raises(AttributeError, match="Module has no function 'frobnicate'") as info:
        lib.get_function("frobnicate")
    assert "named_lib" in str(info.value)


# --------------------------------------------------------------------------
# calls across the boundary and errors


def test_call_back_into_python(objs, session):
    seen = []

    def callback(x):
        seen.append(x)
        return x * 3

    tvm_ffi.register_global_func("testing.orcjit_py_callback", callback, override=True)
    mod = session.load_module(objs["basic"])
    assert mod.call_py(14) == 42
    assert seen == [14]


def test_python_exception_through_jit_code(objs, session):
    def callback(x):
        raise ValueError(f"python rejects {x}")

    tvm_ffi.register_global_func("testing.orcjit_py_callback", callback, override=True)
    mod = session.load_module(objs["basic"])
    with pytest.raises(ValueError, match="python rejects 5"):
        mod.call_py(5)


def test_error_from_c(objs, session):
    mod = session.load_module(objs["basic"])
    with pytest.raises(ValueError, match="bad value raised from C"):
        mod.raise_value_error()
    assert mod.add_int(1, 2) == 3  # the module carries on


def test_error_from_cpp(objs, session):
    mod = session.load_module(objs["containers"])
    with pytest.raises(ValueError, match="C\\+\\+ says: boom"):
        mod.throw_value_error("boom")
    with pytest.raises(RuntimeError, match="std::runtime_error: bang"):
        mod.throw_std("bang")
    assert mod.concat("still", "alive") == "stillalive"


def test_invalid_path(session, tmp_path):
    missing = tmp_path / "does_not_exist.o"
    with pytest.raises(OSError) as info:
        session.load_module(str(missing))
    assert str(missing) in str(info.value)
    lib = session.create_library()
    with pytest.raises(OSError) as info:
        lib.add(missing)
    assert str(missing) in str(info.value)


def test_directory_path(session, tmp_path):
    with pytest.raises(Exception) as info:
        session.load_module(str(tmp_path))
    assert str(tmp_path) in str(info.value)


def test_invalid_content(objs, session, tmp_path):
    text = tmp_path / "notes.o"
    text.write_text("this is not an object file\n")
    with pytest.raises(ValueError) as info:
        session.load_module(str(text))
    assert str(text) in str(info.value)
    with pytest.raises(ValueError) as info:
        session.load_module(b"garbage bytes, not ELF")
    assert "<memory>" in str(info.value)
    empty = tmp_path / "empty.o"
    empty.write_bytes(b"")
    with pytest.raises(ValueError) as info:
        session.load_module(empty)
    assert str(empty) in str(info.value)
    truncated = objs.read("basic")[:200]
    with pytest.raises(ValueError):
        session.load_module(truncated)
    # the session carries on
    assert session.load_module(objs["basic"]).add_int(3, 4) == 7


def test_bad_input_type(session):
    with pytest.raises(TypeError):
        session.load_module(12345)  # type: ignore[arg-type]


# --------------------------------------------------------------------------
# sessions and lifetime


def test_multiple_sessions(objs, oj):
    s1 = oj.ExecutionSession()
    s2 = oj.create_session()
    assert isinstance(s2, oj.ExecutionSession)
    assert not s1.same_as(s2)
    m1 = s1.load_module(objs["basic"], name="same_name")
    m2 = s2.load_module(objs["conflict"], name="same_name")  # names are per session
    assert m1.add_int(1, 2) == 3
    assert m2.add_int(1, 2) == 1003
    del s1
    gc.collect()
    assert m1.add_int(2, 2) == 4  # the module keeps its session
    del m1
    gc.collect()
    assert m2.add_int(2, 2) == 1004


def test_session_options(objs, oj):
    s = oj.ExecutionSession(None, 64 << 20)
    assert s.load_module(objs["basic"]).answer() == 42
    s = oj.ExecutionSession(orc_rt_path=None)
    assert s.load_module(objs["basic"]).answer() == 42
    s = oj.ExecutionSession("auto", -1)  # upstream spelling; -1: default memory
    assert s.load_module(objs["basic"], cxx="c++").answer() == 42
    with pytest.raises(TypeError):
        oj.ExecutionSession(3.5)  # type: ignore[arg-type]


def test_library_names(objs, session):
    a = session.create_library()
    b = session.create_library()
    assert a.name and b.name and a.name != b.name
    named = session.create_library("unique_name")
    assert named.name == "unique_name"
    with pytest.raises(ValueError, match="unique_name"):
        session.create_library("unique_name")
    del named
    gc.collect()
    again = session.create_library("unique_name")  # free again once released
    assert again.name == "unique_name"
    assert again.session.same_as(session)
    assert again.module.kind == "orcjit"


def test_drop_and_reload_1000_times(objs, session):
    data = objs.read("basic")
    for i in range(1000):
        mod = session.load_module(data)
        assert mod.add_int(i, 1) == i + 1
        del mod
    freed = session.clear_free_slabs()
    assert isinstance(freed, int) and freed >= 0


def test_function_outlives_module(objs, session):
    mod = session.load_module(objs["basic"])
    add = mod.get_function("add_int")
    lib = session.create_library()
    lib.add(objs["basic"])
    sub = lib.get_function("add_int")
    del mod, lib
    gc.collect()
    assert add(20, 22) == 42
    assert sub(1, 1) == 2


@pytest.fixture
def unload_events():
    """Records each unload of a ``lifetime`` library (its static destructor runs)."""
    events: list[str] = []
    tvm_ffi.register_global_func(
        "testing.orcjit_unloaded", lambda: events.append("unloaded"), override=True
    )
    return events


def test_module_unloads_when_dropped(objs, session, unload_events):
    mod = session.load_module(objs["lifetime"])
    assert mod.make_adder(1)(1) == 2
    assert unload_events == []
    del mod
    gc.collect()
    assert unload_events == ["unloaded"]


def test_objects_from_jit_code_keep_their_library(objs, oj, unload_events):
    # Objects made by JIT code have their deleters in it: each keeps the
    # library loaded until it is gone, then the library unloads.
    session = oj.ExecutionSession()
    mod = session.load_module(objs["lifetime"])
    text = mod.make_string(100)
    strings = mod.make_strings(3)
    first = strings[0]
    adder = mod.make_adder(10)
    try:
        mod.fail("kept error")
    except ValueError as exc:
        error = exc
    del mod, session
    gc.collect()
    assert unload_events == []
    # reuse the memory of nothing: other libraries come and go meanwhile
    for _ in range(20):
        other = oj.ExecutionSession().load_module(objs["basic"])
        assert other.answer() == 42
        del other
    assert text == "y" * 100
    assert [len(x) for x in strings] == [20, 21, 22]
    assert adder(5) == 15
    assert "lifetime: kept error" in str(error)
    del text, strings, adder, error
    gc.collect()
    assert unload_events == []  # `first` still holds an element made by the library
    assert first == "z" * 20
    del first
    gc.collect()
    assert unload_events == ["unloaded"]


def test_keep_module_alive(objs, session, oj):
    from tvm_ffi_orcjit import session as session_mod

    before = len(session_mod._KEEP_ALIVE)
    mod = session.load_module(objs["basic"], keep_module_alive=True)
    assert len(session_mod._KEEP_ALIVE) == before + 1
    assert session_mod._KEEP_ALIVE[-1].same_as(mod)
    assert mod.answer() == 42


def test_threads_load_and_call(objs, oj):
    data = objs.read("basic")
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            s = oj.ExecutionSession()
            for i in range(50):
                mod = s.load_module(data)
                assert mod.add_int(i, k) == i + k
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


# --------------------------------------------------------------------------
# inputs and entry points


def test_bytes_input(objs, session):
    mod = session.load_module(objs.read("basic"))
    assert mod.add_int(2, 3) == 5
    mod = session.load_module(bytearray(objs.read("basic")))
    assert mod.add_int(2, 4) == 6


def test_list_input(objs, session):
    mod = session.load_module([str(objs["basic"]), objs.read("more")], name="pair")
    assert mod.add_int(1, 1) == 2
    assert mod.square_via_helper(12) == 144
    mod = session.load_module((objs["linked"], objs["basic"]))  # order does not matter
    assert mod.call_helper(4, 5) == 21


def test_list_input_mutual(objs, session):
    """Objects that call each other link when loaded together (one link,
    like a static linker's command line), not one at a time."""
    lib = session.create_library("one_at_a_time")
    lib.add(objs["mutual_even"])  # waits for a lookup: alone, it cannot link
    with pytest.raises(RuntimeError, match="mutual_is_odd"):
        lib.get_function("is_even")
    mod = session.load_module([objs["mutual_even"], objs.read("mutual_odd")], name="mutual")
    assert mod.is_even(10) == 1
    assert mod.is_odd(7) == 1
    assert mod.is_even(7) == 0
    # a failed list load leaves nothing: the name is free, the pair loads again
    with pytest.raises(RuntimeError, match="orcjit_test_undefined_symbol"):
        session.load_module([objs["mutual_even"], objs["mutual_odd"], objs["unresolved"]],
                            name="mutual3")
    mod = session.load_module([objs["mutual_odd"], objs["mutual_even"]], name="mutual3")
    assert mod.is_odd(9) == 1


def test_tvm_ffi_load_module(objs, oj):
    mod = tvm_ffi.load_module(str(objs["basic"]))
    assert mod.kind == "orcjit"
    assert mod.add_int(7, 8) == 15
    mod = tvm_ffi.load_module(objs["containers"], keep_module_alive=False)
    assert mod.concat("a", "b") == "ab"


def test_load_from_bytes_global(objs, oj):
    loader = tvm_ffi.get_global_func("ffi.Module.load_from_bytes.o")
    mod = loader(objs.read("basic"))
    assert mod.kind == "orcjit"
    assert mod.sum4(4, 3, 2, 1) == 4321


def test_global_functions(objs, oj):
    g = tvm_ffi.get_global_func
    s = g("tvm_ffi_orcjit.ExecutionSession")(None, 0)
    assert isinstance(s, oj.ExecutionSession)
    mod = g("tvm_ffi_orcjit.SessionLoadModule")(s, [str(objs["basic"])], "via_globals")
    assert mod.add_int(1, 2) == 3
    # upstream 0.1.3 passes two C++ runtime paths as well
    mod = g("tvm_ffi_orcjit.SessionLoadModule")(s, [objs.read("basic")], "", None, None)
    assert mod.answer() == 42
    assert g("tvm_ffi_orcjit.SessionClearFreeSlabs")(s) >= 0
    d = g("tvm_ffi_orcjit.GlobalDefaultSession")()
    assert d.same_as(oj.default_session())


def test_default_session(objs, oj):
    d1 = oj.default_session()
    d2 = oj.default_session()
    assert isinstance(d1, oj.ExecutionSession)
    assert d1.same_as(d2)
    assert d1.load_module(objs["basic"]).answer() == 42


def test_upstream_first_generation_api(objs, oj):
    session = oj.create_session()
    lib = session.create_library()
    lib.add(str(objs["basic"]))
    assert lib.get_function("add_int")(10, 20) == 30
    assert isinstance(lib, oj.DynamicLibrary)
    with pytest.raises(TypeError):
        oj.DynamicLibrary()


# --------------------------------------------------------------------------
# TVM-FFI context symbols


def test_library_ctx_is_set(objs, session):
    mod = session.load_module(objs["basic"])
    assert mod.has_ctx() is True
    lib = session.create_library()
    lib.add(objs["basic"])
    assert lib.get_function("has_ctx")() is True


def test_lookup_from_imports_through_ctx(objs, session):
    tvm_ffi.register_global_func("testing.orcjit_triple", lambda x: 3 * x, override=True)
    mod = session.load_module(objs["containers"])
    assert mod.ctx_call("testing.orcjit_triple", 14) == 42


def test_registered_context_symbol_is_bound(objs, session):
    libtvm_ffi = ctypes.CDLL(tvm_ffi.libinfo.find_libtvm_ffi(), mode=ctypes.RTLD_GLOBAL)
    register = libtvm_ffi.TVMFFIEnvModRegisterContextSymbol
    register.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    register.restype = ctypes.c_int
    assert register(b"__orcjit_test_ctx_symbol", 0x5EED) == 0
    mod = session.load_module(objs["basic"])
    assert mod.ctx_symbol() == 0x5EED


def _library_bin(modules: list[tuple[str, bytes | None]], children: list[list[int]]) -> bytes:
    """Serialize an import tree the way tvm_ffi's library module reads it."""

    def u64(x: int) -> bytes:
        return struct.pack("<Q", x)

    def vec(xs: list[int]) -> bytes:
        return u64(len(xs)) + b"".join(u64(x) for x in xs)

    def string(b: bytes) -> bytes:
        return u64(len(b)) + b

    indptr = [0]
    flat: list[int] = []
    for c in children:
        flat.extend(c)
        indptr.append(len(flat))
    body = vec(indptr) + vec(flat)
    for kind, payload in modules:
        body += string(kind.encode())
        if payload is not None:
            body += string(payload)
    return u64(len(body)) + body


def test_library_bin_import_tree(objs, session, tmp_path):
    inner = objs.read("conflict")  # an object embedded in another object
    blob = _library_bin([("_lib", None), ("o", inner)], [[1], []])
    src = tmp_path / "with_bin.c"
    body = ",".join(str(b) for b in blob)
    src.write_text(
        '#include "ffi_c.h"\n'
        f"EXPORT const unsigned char __tvm_ffi__library_bin[{len(blob)}] = {{{body}}};\n"
        "EXPORT void* __tvm_ffi__library_ctx = NULL;\n"
        "FFI_FN(outer) { ret_int(rv, __tvm_ffi__library_ctx != NULL); return 0; }\n"
    )
    obj = compile_source(src, tmp_path / "with_bin.o", objs.compiler)
    mod = session.load_module(obj)
    assert mod.outer() == 1
    assert len(mod.imports) == 1
    assert mod.imports[0].kind == "orcjit"
    assert "add_int" not in mod
    assert mod.get_function("add_int", query_imports=True)(1, 2) == 1003


# --------------------------------------------------------------------------
# the example sources shipped with the package


def test_examples_quickstart_sources(session, tmp_path):
    examples = Path(__file__).resolve().parents[2] / "examples" / "quickstart"
    add = compile_source(examples / "add.c", tmp_path / "add.o")
    hello = compile_source(examples / "hello.cc", tmp_path / "hello.o")
    mod = session.load_module([add, hello])
    assert mod.add(2, 3) == 5
    assert "orcjit" in mod.hello("orcjit")


def test_sources_dir_exists():
    assert (SOURCES / "basic.c").is_file()
    assert os.access(SOURCES / "ffi_c.h", os.R_OK)
