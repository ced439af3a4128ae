"""The global functions registered by the native library under ``tvm_ffi_orcjit.``.

After import this module has one attribute per function, e.g.
``_ffi_api.SessionLoadModule`` is the global ``tvm_ffi_orcjit.SessionLoadModule``.
"""

from __future__ import annotations

from typing import Any, Callable

import tvm_ffi

from . import _lib  # noqa: F401  (loads and initializes the native library first)

# Declared for type checkers; the values come from init_ffi_api below.
ExecutionSession: Callable[..., Any]
GlobalDefaultSession: Callable[..., Any]
SessionLoadModule: Callable[..., Any]
SessionClearFreeSlabs: Callable[..., Any]
ExecutionSessionCreateDynamicLibrary: Callable[..., Any]
DynamicLibraryAdd: Callable[..., Any]
DynamicLibrarySetLinkOrder: Callable[..., Any]
DynamicLibraryGetFunction: Callable[..., Any]
DynamicLibraryGetName: Callable[..., Any]
DynamicLibraryGetModule: Callable[..., Any]
DynamicLibraryGetSession: Callable[..., Any]
DynamicLibraryLookup: Callable[..., Any]
ModuleGetLibrary: Callable[..., Any]
InspectObject: Callable[..., Any]

tvm_ffi.init_ffi_api("tvm_ffi_orcjit", __name__)
