"""The TVM-FFI surface as the upstream package defines it: empty module
lists, argument types, and the checks on an embedded import tree
(``__tvm_ffi__library_bin``), each broken rule named in the error."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
import tvm_ffi

from conftest import compile_source


def test_load_module_of_no_objects_is_an_empty_module(session):
    mod = session.load_module([])
    assert isinstance(mod, tvm_ffi.Module)
    assert mod.kind == "orcjit"
    assert "add_int" not in mod
    with pytest.raises(AttributeError, match="Module has no function 'add_int'"):
        mod.get_function("add_int")
    # the native global as well, as a C++ host calls it
    empty = tvm_ffi.get_global_func("tvm_ffi_orcjit.SessionLoadModule")(session, [], "")
    assert empty.kind == "orcjit"


@pytest.mark.parametrize("bad", [12345, 1.5, None, object()])
def test_load_module_wrong_element_type_names_what_is_expected(session, bad):
    with pytest.raises(TypeError, match=r"a path \(str or os.PathLike\) or object-file bytes, got"):
        session.load_module([bad])
    with pytest.raises(TypeError, match="object-file bytes"):
        session.create_library().add(bad)


def test_native_load_module_wrong_element_type(session):
    load = tvm_ffi.get_global_func("tvm_ffi_orcjit.SessionLoadModule")
    for items in ([1], [b"", 2]):
        with pytest.raises(TypeError, match=r"a path \(str\) or object-file bytes, got int"):
            load(session, items, "")


# --------------------------------------------------------------------------
# __tvm_ffi__library_bin


def u64(x: int) -> bytes:
    return struct.pack("<Q", x)


def blob_of(body: bytes) -> bytes:
    return u64(len(body)) + body


def tree(indptr: list[int], children: list[int], modules: list[tuple[str, bytes | None]]) -> bytes:
    body = u64(len(indptr)) + b"".join(map(u64, indptr))
    body += u64(len(children)) + b"".join(map(u64, children))
    for kind, payload in modules:
        body += u64(len(kind)) + kind.encode()
        if payload is not None:
            body += u64(len(payload)) + payload
    return blob_of(body)


def object_with_bin(tmp_path: Path, blob: bytes, compiler: str) -> Path:
    src = tmp_path / "bin.c"
    src.write_text(
        '#include "ffi_c.h"\n'
        f"EXPORT const unsigned char __tvm_ffi__library_bin[{len(blob)}] = "
        f"{{{','.join(map(str, blob))}}};\n"
        "FFI_FN(alive) { ret_int(rv, 5); return 0; }\n"
    )
    return compile_source(src, tmp_path / "bin.o", compiler)


MALFORMED = {
    "indptr-one-entry": (tree([0], [], []), "must have at least 2 entries"),
    "indptr-empty": (tree([], [], []), "must have at least 2 entries"),
    "indptr-not-from-0": (tree([1, 1], [], [("_lib", None)]), "must start at 0"),
    "indptr-decreasing": (
        tree([0, 2, 1], [0, 0], [("_lib", None), ("_lib", None)]),
        "must be non-decreasing",
    ),
    "indptr-past-children": (tree([0, 5], [], [("_lib", None)]), "exceeds child index count"),
    "child-out-of-range": (tree([0, 1], [9], [("_lib", None)]), "child index out of range: 9"),
    "count-no-bytes": (blob_of(u64(4)), "vector size 4 exceeds remaining blob"),
    "count-huge": (blob_of(u64(2**60)), "exceeds remaining blob"),
    "no-children-vector": (blob_of(u64(2) + u64(0) + u64(1)), "unexpected end of blob"),
    "module-missing": (tree([0, 0, 0], [], [("_lib", None)]), "kind of module 1: unexpected end"),
    "kind-too-long": (
        blob_of(u64(2) + u64(0) + u64(0) + u64(0) + u64(100) + b"_lib"),
        "string length 100 exceeds remaining blob",
    ),
    "bytes-too-long": (
        blob_of(u64(2) + u64(0) + u64(0) + u64(0) + u64(1) + b"x" + u64(50) + b"abc"),
        "bytes of module 0: string length 50 exceeds remaining blob",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_library_bin_names_the_broken_rule(objs, session, tmp_path, case):
    blob, rule = MALFORMED[case]
    obj = object_with_bin(tmp_path, blob, objs.compiler)
    with pytest.raises(ValueError, match="corrupt __tvm_ffi__library_bin") as info:
        session.load_module(obj, name="bad")
    assert rule in str(info.value)
    assert "library 'bad'" in str(info.value)
    # nothing stays behind: the name is free, the session works
    assert session.load_module(objs["basic"], name="bad").add_int(2, 3) == 5


def test_library_bin_checked_before_any_loader_runs(objs, session, tmp_path):
    calls = []
    tvm_ffi.register_global_func(
        "ffi.Module.load_from_bytes.orcjit_test_count",
        lambda data: calls.append(data) or session.load_module(objs["basic"]),
        override=True,
    )
    blob = tree([0, 1, 1], [7], [("_lib", None), ("orcjit_test_count", b"payload")])
    with pytest.raises(ValueError, match="child index out of range"):
        session.load_module(object_with_bin(tmp_path, blob, objs.compiler))
    assert calls == []
    good = tree([0, 1, 1], [1], [("_lib", None), ("orcjit_test_count", b"payload")])
    mod = session.load_module(object_with_bin(tmp_path, good, objs.compiler))
    assert calls == [b"payload"]
    assert mod.alive() == 5
    assert mod.get_function("add_int", query_imports=True)(2, 3) == 5


def test_library_bin_kind_without_loader(objs, session, tmp_path):
    blob = tree([0, 1, 1], [1], [("_lib", None), ("orcjit_no_such_kind", b"x")])
    with pytest.raises(RuntimeError) as info:
        session.load_module(object_with_bin(tmp_path, blob, objs.compiler))
    msg = str(info.value)
    assert "module of kind 'orcjit_no_such_kind'" in msg
    assert "ffi.Module.load_from_bytes.orcjit_no_such_kind is not registered" in msg
