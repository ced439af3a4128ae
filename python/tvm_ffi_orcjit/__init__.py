"""tvm_ffi_orcjit: load relocatable object files (``.o``) as TVM-FFI modules.

Objects compiled with ``clang -c`` or ``gcc -c`` are linked into the running
process by LLVM's ORC JIT; their functions exported with the TVM-FFI
safe-call ABI (``__tvm_ffi_<name>``, as made by ``TVM_FFI_DLL_EXPORT_TYPED_FUNC``)
are returned as :class:`tvm_ffi.Function`.

Example::

    import tvm_ffi_orcjit as oj

    session = oj.default_session()
    mod = session.load_module("add.o")        # a plain tvm_ffi.Module
    assert mod.add(1, 2) == 3

    lib = session.create_library("kernels")   # first-generation API
    lib.add("add.o")
    assert lib.get_function("add")(1, 2) == 3

Importing this package also registers the loader ``ffi.Module.load_from_file.o``,
so ``tvm_ffi.load_module("add.o")`` works.  On the command line,
``python -m tvm_ffi_orcjit inspect|call`` (see ``--help``) lists what objects
export and need, and calls their functions.
"""

from __future__ import annotations

import sys

import tvm_ffi

try:
    from . import _lib
except ImportError as _exc:
    # ``python -m tvm_ffi_orcjit`` imports this package before the tool runs
    # (sys.argv[0] is "-m" meanwhile): report a missing native library the
    # way the tool reports errors, as one line, not as a traceback.
    if sys.argv[:1] == ["-m"]:
        _msg = " ".join(str(_exc).split()).replace("tvm_ffi_orcjit: ", "", 1)
        sys.stderr.write(f"tvm_ffi_orcjit: error: {_msg}\n")
        raise SystemExit(1) from None
    raise
from .dylib import DynamicLibrary
from .session import ExecutionSession, create_session, default_session

__version__ = "0.2.0"


def _module_contains(self: tvm_ffi.Module, name: object) -> bool:
    """``"f" in mod``: whether the module itself defines function ``f``."""
    return isinstance(name, str) and bool(self.implements_function(name))


# tvm_ffi.Module has no __contains__, so ``"f" in mod`` would fall back to
# iterating with integer indices; give it the obvious meaning.
if "__contains__" not in vars(tvm_ffi.Module):
    tvm_ffi.Module.__contains__ = _module_contains  # type: ignore[attr-defined]

#: Path of the native library that was loaded.
LIBRARY_PATH: str = _lib.LIBRARY_PATH

__all__ = [
    "LIBRARY_PATH",
    "DynamicLibrary",
    "ExecutionSession",
    "__version__",
    "create_session",
    "default_session",
]
