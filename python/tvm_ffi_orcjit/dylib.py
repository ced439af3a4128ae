"""A library: one symbol namespace of a session, filled object by object."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Optional, Union

import tvm_ffi
from tvm_ffi import Object, register_object

from . import _ffi_api
from ._inputs import ObjectInput, normalize_one

if TYPE_CHECKING:
    from .session import ExecutionSession


@register_object("tvm_ffi_orcjit.DynamicLibrary")
class DynamicLibrary(Object):
    """A named symbol namespace inside a session (first-generation API).

    Created by :meth:`ExecutionSession.create_library`.  Objects are added
    with :meth:`add`; an undefined symbol is resolved from the library
    itself, then the libraries given to :meth:`set_link_order`, then the
    host process.

    Examples
    --------
    >>> lib = session.create_library("base")
    >>> lib.add("math.o")
    >>> lib.get_function("add")(1, 2)
    3
    """

    def __init__(self, *args: object, **kwargs: object) -> None:
        raise TypeError("DynamicLibrary is created with ExecutionSession.create_library()")

    def add(self, obj: ObjectInput) -> Optional[tvm_ffi.Module]:
        """Add one object file, static archive or tar of objects to this library.

        As in upstream 0.1 (and ORC), an object or archive is linked at the
        first lookup (:meth:`get_function`, :meth:`lookup`, ``in``) that
        follows: objects may be added in any order, and
        :meth:`set_link_order` may be called in between.  An object whose
        symbols cannot be resolved then makes a lookup of its symbols fail
        with the list of what is missing, and waits until a later add or
        link order provides it.  A malformed file or a second strong
        definition of a symbol is refused here.

        A tar (as Apache TVM's ``export_library("x.tar")`` writes it,
        gzip-compressed or not) is a whole export: all its object members
        are linked now, as one link, all or nothing.

        Parameters
        ----------
        obj
            A path (``str`` or ``os.PathLike``) or the file's content (``bytes``).

        Returns
        -------
        None, or, for a tar that embeds a TVM-FFI import tree
        (``__tvm_ffi__library_bin``) whose root is another module, that root:
        for a TVM Relax model, its VM executable (``relax.VirtualMachine(root,
        tvm.cpu())``).
        """
        return _ffi_api.DynamicLibraryAdd(self, normalize_one(obj))

    def set_link_order(self, *libs: Union[DynamicLibrary, Iterable[DynamicLibrary]]) -> None:
        """Set the libraries searched, in order, after this one for undefined symbols.

        Parameters
        ----------
        libs
            One or more libraries (or lists of them).  Replaces an earlier
            link order for symbols not yet resolved.
        """
        flat: list[DynamicLibrary] = []
        for item in libs:
            if isinstance(item, DynamicLibrary):
                flat.append(item)
            else:
                for sub in item:
                    if not isinstance(sub, DynamicLibrary):
                        raise TypeError(
                            f"set_link_order takes DynamicLibrary objects, got {type(sub).__name__}"
                        )
                    flat.append(sub)
        _ffi_api.DynamicLibrarySetLinkOrder(self, flat)

    def get_function(self, name: str) -> tvm_ffi.Function:
        """Return the function exported as ``__tvm_ffi_<name>``.

        The function keeps this library alive.  A missing function raises
        :class:`AttributeError` naming the function and the library.
        """
        return _ffi_api.DynamicLibraryGetFunction(self, name)

    def lookup(self, symbol: str) -> int:
        """Return the address of ``symbol`` defined in this library (:class:`KeyError` if not)."""
        return int(_ffi_api.DynamicLibraryLookup(self, symbol))

    @property
    def name(self) -> str:
        """The library's name."""
        return str(_ffi_api.DynamicLibraryGetName(self))

    @property
    def module(self) -> tvm_ffi.Module:
        """This library as a ``tvm_ffi.Module`` (kind ``"orcjit"``)."""
        return _ffi_api.DynamicLibraryGetModule(self)

    @property
    def session(self) -> ExecutionSession:
        """The session the library belongs to."""
        return _ffi_api.DynamicLibraryGetSession(self)

    def __getitem__(self, name: str) -> tvm_ffi.Function:
        return self.get_function(name)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and bool(self.module.implements_function(name))

    def __repr__(self) -> str:
        return f"<tvm_ffi_orcjit.DynamicLibrary {self.name!r}>"


__all__ = ["DynamicLibrary"]
