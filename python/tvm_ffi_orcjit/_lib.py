"""Finds and loads the native library ``libtvm_ffi_orcjit.so``.

Search order:

1. ``$TVM_FFI_ORCJIT_LIBRARY`` (an explicit path to the ``.so``),
2. ``<package>/lib/`` (an installed wheel),
3. the build directories of a source checkout (``build/``, ``build-py-dev/``,
   ``build-*/``), for development without installing.

The library is loaded with ``RTLD_GLOBAL`` after :mod:`tvm_ffi` (it links
against ``libtvm_ffi``), and ``TVMFFIOrcJITInitialize`` is called to register
its object types and global functions (loading alone already registers them;
the explicit call makes it certain and reports failures).
"""

from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path

import tvm_ffi
import tvm_ffi.error
from tvm_ffi import core

_LIB_NAME = "libtvm_ffi_orcjit.dylib" if sys.platform == "darwin" else "libtvm_ffi_orcjit.so"


def _candidates() -> list[Path]:
    here = Path(__file__).resolve().parent
    out: list[Path] = []
    env = os.environ.get("TVM_FFI_ORCJIT_LIBRARY")
    if env:
        out.append(Path(env))
    out.append(here / "lib" / _LIB_NAME)
    repo = here.parent.parent  # python/tvm_ffi_orcjit -> repository root
    if (repo / "CMakeLists.txt").exists():
        out.append(repo / "build" / _LIB_NAME)
        out.append(repo / "build-py-dev" / _LIB_NAME)
        others = sorted(
            (p for p in repo.glob(f"build-*/{_LIB_NAME}") if p not in out),
            key=lambda p: p.stat().st_mtime,
            reverse=True,
        )
        out.extend(others)
    return out


def _load() -> tuple[ctypes.CDLL, str]:
    tried = _candidates()
    for path in tried:
        if path.is_file():
            lib = ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL)
            init = lib.TVMFFIOrcJITInitialize
            init.argtypes = []
            init.restype = ctypes.c_int
            if init() != 0:
                raise RuntimeError(
                    f"TVMFFIOrcJITInitialize failed in {path}: the object types or global "
                    "functions of tvm_ffi_orcjit could not be registered"
                )
            return lib, str(path)
    listing = "\n  ".join(str(p) for p in tried)
    raise ImportError(
        f"tvm_ffi_orcjit: cannot find {_LIB_NAME}; looked in:\n  {listing}\n"
        "Install the package (pip install .) or set TVM_FFI_ORCJIT_LIBRARY."
    )


# Error kinds raised by the native library beyond those tvm_ffi registers.
for _cls in (OSError, FileNotFoundError, IsADirectoryError, PermissionError, NotImplementedError):
    if _cls.__name__ not in core.ERROR_NAME_TO_TYPE:
        tvm_ffi.error.register_error(_cls.__name__, _cls)
# "IOError" (TVM_FFI_THROW(IOError)) is OSError in Python 3; map the name only.
core.ERROR_NAME_TO_TYPE.setdefault("IOError", OSError)

LIB, LIBRARY_PATH = _load()
