#!/usr/bin/env python3
"""Quick start of tvm_ffi_orcjit: compile a C and a C++ object, load, call.

Compiles examples/quickstart/add.c and hello.cc with clang-22 (or gcc) into a
temporary directory, then loads them both ways:

1. ``session.load_module(...)``: both objects in one library, as a tvm_ffi.Module;
2. ``create_library`` / ``add`` / ``get_function``: the first-generation API.

Run:  python3 examples/quickstart.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import tvm_ffi
import tvm_ffi.libinfo
import tvm_ffi_orcjit as oj

HERE = Path(__file__).resolve().parent / "quickstart"


def find(*names: str) -> str:
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    sys.exit(f"quickstart: none of {', '.join(names)} is installed")


def compile_object(src: Path, out_dir: Path) -> Path:
    """Compile one source file to a relocatable object (.o)."""
    if src.suffix == ".c":
        cmd = [find("clang-22", "clang", "gcc"), "-std=gnu11"]
    else:
        cmd = [find("clang++-22", "clang++", "g++"), "-std=c++17"]
    out = out_dir / (src.stem + ".o")
    cmd += ["-c", "-O2", "-fPIC", str(src), "-o", str(out)]
    includes = [tvm_ffi.libinfo.find_include_path(), tvm_ffi.libinfo.find_dlpack_include_path()]
    cmd += [f"-I{inc}" for inc in dict.fromkeys(includes)]  # TVM-FFI and DLPack headers
    print(f"$ {' '.join(Path(c).name if i == 0 else c for i, c in enumerate(cmd))}")
    subprocess.run(cmd, check=True)
    return out


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="orcjit-quickstart-") as tmp:
        tmp_dir = Path(tmp)
        add_o = compile_object(HERE / "add.c", tmp_dir)
        hello_o = compile_object(HERE / "hello.cc", tmp_dir)

        print("\n== 1. session.load_module: both objects in one module ==")
        session = oj.ExecutionSession()
        mod = session.load_module([add_o, hello_o], name="quickstart")
        print(f"module kind     : {mod.kind}")
        print(f"add(1, 2)       = {mod.add(1, 2)}")
        print(f"hello('world')  = {mod.hello('world')!r}")
        print(f"squares(5)      = {list(mod.squares(5))}")
        try:
            mod.squares(-1)
        except ValueError as err:
            print(f"squares(-1)     raised ValueError: {err}")

        print("\n== 2. create_library / add / get_function ==")
        lib = session.create_library("incremental")
        lib.add(add_o)                   # from a path
        lib.add(hello_o.read_bytes())    # from memory
        add = lib.get_function("add")
        hello = lib.get_function("hello")
        print(f"library name    : {lib.name}")
        print(f"add(40, 2)      = {add(40, 2)}")
        print(f"hello('orcjit') = {hello('orcjit')!r}")

        print("\n== 3. tvm_ffi.load_module on a .o file (default session) ==")
        mod2 = tvm_ffi.load_module(str(add_o))
        print(f"add(20, 22)     = {mod2.add(20, 22)}")

        assert mod.add(1, 2) == 3 and add(40, 2) == 42 and mod2.add(20, 22) == 42
        print("\nquickstart: OK")


if __name__ == "__main__":
    main()
