"""The execution session: where object files are linked and run."""

from __future__ import annotations

import os
import threading
from typing import Any

import tvm_ffi
from tvm_ffi import Object, register_object

from . import _ffi_api
from ._inputs import ObjectInput, ObjectsInput, normalize_many
from .dylib import DynamicLibrary

# ORCJIT_SESSION_DEBUGGER and ORCJIT_SESSION_PERF_MAP of orcjit.h.
_SESSION_DEBUGGER = 0x1
_SESSION_PERF_MAP = 0x2

#: Modules loaded with ``keep_module_alive=True``; they live until process exit.
_KEEP_ALIVE: list[tvm_ffi.Module] = []


@register_object("tvm_ffi_orcjit.ExecutionSession")
class ExecutionSession(Object):
    """One JIT instance: its memory and its libraries.

    Sessions are independent of each other; a session stays alive as long as
    anything created in it does.

    Parameters
    ----------
    orc_rt
        LLVM's ORC runtime: ``"auto"``, ``None``, a path or bytes.  Accepted
        for compatibility with the upstream package and not needed: init and
        fini sections, ``atexit`` and ``__dso_handle`` are handled natively.
    slab_size
        JIT address space to reserve at a time, in bytes (reserved space
        costs no memory until used; halved when an address-space limit
        refuses it); 0 (or a negative value) selects the default, 256 MiB.
    orc_rt_path
        Keyword alias of ``orc_rt`` (the upstream 0.1 name).
    debugger
        Register every loaded object with the GDB JIT interface, so that gdb
        can set breakpoints in it and name its frames (and show source lines
        when it was built with ``-g``).  Also turned on for every session by
        the environment variable ``TVM_FFI_ORCJIT_DEBUG=1``.
    perf_map
        Append the address, size and name of every loaded function to
        ``/tmp/perf-<pid>.map``, where ``perf report`` finds names for JIT
        code.  Also turned on by ``TVM_FFI_ORCJIT_PERF_MAP=1``.

    Examples
    --------
    >>> session = ExecutionSession()
    >>> mod = session.load_module("add.o")
    >>> mod.add(1, 2)
    3
    """

    def __init__(
        self,
        orc_rt: str | bytes | bytearray | os.PathLike[str] | None = "auto",
        slab_size: int = 0,
        *,
        orc_rt_path: str | bytes | os.PathLike[str] | None = None,
        debugger: bool = False,
        perf_map: bool = False,
    ) -> None:
        if orc_rt_path is not None:
            orc_rt = orc_rt_path
        rt: str | bytes | None
        if orc_rt is None or (isinstance(orc_rt, str) and orc_rt in ("", "auto")):
            rt = None
        elif isinstance(orc_rt, (bytes, bytearray)):
            rt = bytes(orc_rt)
        elif isinstance(orc_rt, (str, os.PathLike)):
            rt = os.fsdecode(os.fspath(orc_rt))
        else:
            raise TypeError(
                "orc_rt must be 'auto', None, a path (str or os.PathLike) or bytes, "
                f"got {type(orc_rt).__name__}"
            )
        flags = (_SESSION_DEBUGGER if debugger else 0) | (_SESSION_PERF_MAP if perf_map else 0)
        if flags:
            self.__init_handle_by_constructor__(_ffi_api.ExecutionSession, rt, int(slab_size), flags)
        else:  # the upstream two-argument form
            self.__init_handle_by_constructor__(_ffi_api.ExecutionSession, rt, int(slab_size))

    def load_module(
        self,
        objects: ObjectsInput,
        name: str = "",
        keep_module_alive: bool = False,
        cxx: str | None = None,
    ) -> tvm_ffi.Module:
        """Link one or more objects into a new library and return it as a module.

        Parameters
        ----------
        objects
            A path (``str`` or ``os.PathLike``), the content of an object file
            (``bytes``), or a list of those.  All go into one library, so they
            may refer to each other's symbols.  A static archive (``.a``) serves
            the members the objects need; a tar of objects (as Apache TVM's
            ``export_library("x.tar")`` writes it, gzip-compressed or not)
            stands for its object members.
        name
            The library's name, used in error messages; empty for a unique one.
            A name in use by a live library of this session is refused.
        keep_module_alive
            Keep the module until the process exits, even when no reference
            to it is left.
        cxx
            Accepted for compatibility with the upstream package (which links
            the C++ runtime of that compiler); not needed: C++ objects resolve
            libstdc++ from the process.

        Objects that the module's code returns (strings, arrays, functions)
        keep the module's code loaded while they live, so they may outlive
        ``mod``; so may errors it raises.

        A module whose code registers something with TVM-FFI (global
        functions, e.g. from a ``TVM_FFI_STATIC_INIT_BLOCK``; fields or
        methods of object types) is never unloaded: TVM-FFI cannot forget
        what was registered, and it points into the module's code.  Its
        destructors do not run and its memory stays until the process exits.

        Returns
        -------
        tvm_ffi.Module
            A module of kind ``"orcjit"``: ``mod.f(...)``, ``mod["f"]``,
            ``mod.get_function("f")``, ``"f" in mod``; or, when the objects
            embed a TVM-FFI import tree whose root is another module, that
            root (for a TVM Relax model, its VM executable).
        """
        mod = _ffi_api.SessionLoadModule(self, normalize_many(objects), str(name))
        if keep_module_alive:
            _KEEP_ALIVE.append(mod)
        return mod

    def create_library(self, name: str = "") -> DynamicLibrary:
        """Create an empty library to which objects are added one by one.

        Parameters
        ----------
        name
            The library's name; empty for a generated unique name.

        Returns
        -------
        DynamicLibrary
            The new library.
        """
        return _ffi_api.ExecutionSessionCreateDynamicLibrary(self, str(name))

    def clear_free_slabs(self) -> int:
        """Give JIT memory no longer in use back to the operating system.

        Free pages are dropped and every wholly free slab (reserved address
        space) of the process's JIT memory is unmapped.

        Returns
        -------
        int
            The number of memory regions given back: the slabs unmapped by
            this call, plus the regions of large allocations unmapped when
            libraries of this session were released since the last call.
        """
        return int(_ffi_api.SessionClearFreeSlabs(self))


_DEFAULT_SESSION: ExecutionSession | None = None
_DEFAULT_SESSION_LOCK = threading.Lock()


def default_session() -> ExecutionSession:
    """Return the process-wide session, creating it on first use.

    It is the session behind ``tvm_ffi.load_module("x.o")``.
    """
    global _DEFAULT_SESSION
    if _DEFAULT_SESSION is None:
        with _DEFAULT_SESSION_LOCK:  # the FFI call releases the GIL
            if _DEFAULT_SESSION is None:
                _DEFAULT_SESSION = _ffi_api.GlobalDefaultSession()
    return _DEFAULT_SESSION


def create_session(
    orc_rt: str | bytes | os.PathLike[str] | None = "auto", slab_size: int = 0, **kwargs: Any
) -> ExecutionSession:
    """Create a new, independent session (the upstream 0.1 spelling of ``ExecutionSession()``)."""
    return ExecutionSession(orc_rt, slab_size, **kwargs)


__all__ = ["ExecutionSession", "ObjectInput", "create_session", "default_session"]
