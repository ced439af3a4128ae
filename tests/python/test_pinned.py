"""A library whose code registers global functions with TVM-FFI stays loaded
after its last release: TVM-FFI cannot forget what it registered, and that
points into the library's code (reliability probe 7)."""

from __future__ import annotations

import gc

import tvm_ffi

from conftest import SOURCES, compile_source


def test_library_that_registers_a_global_stays_loaded(objs, session, tmp_path):
    name = f"orcjit_test.triple_{objs.compiler}"
    reg = compile_source(
        SOURCES / "registers.cc", tmp_path / "registers.o", objs.compiler, [f'-DREG_NAME="{name}"']
    )
    unloaded: list[int] = []
    tvm_ffi.register_global_func(
        "testing.orcjit_reg_unloaded", lambda: unloaded.append(1), override=True
    )
    mod = session.load_module(reg, name="reg")
    assert mod.answer() == 42
    assert tvm_ffi.get_global_func(name)(5) == "15 tripled by a JIT library"
    del mod
    gc.collect()
    assert unloaded == []  # its destructors did not run: it is still loaded
    # Memory of released libraries is reused by later loads; the name is free.
    for i in range(8):
        for stem in ("basic", "lifetime", "containers", "conflict"):
            m = session.load_module(objs[stem], name="reg" if stem == "basic" else "")
            del m
    other = session.load_module(objs["basic"])
    assert other.add_int(2, 3) == 5
    assert tvm_ffi.get_global_func(name)(7) == "21 tripled by a JIT library"
    # a second load of the object is refused by TVM-FFI (name taken), cleanly
    try:
        session.load_module(reg)
    except Exception as exc:  # noqa: BLE001
        assert "already registered" in str(exc) or name in str(exc)
    assert tvm_ffi.get_global_func(name)(1) == "3 tripled by a JIT library"
    assert unloaded == []


def test_ordinary_library_is_unloaded(objs, session):
    unloaded: list[int] = []
    tvm_ffi.register_global_func("testing.orcjit_unloaded", lambda: unloaded.append(1), override=True)
    mod = session.load_module(objs["lifetime"])
    del mod
    gc.collect()
    assert unloaded == [1]
