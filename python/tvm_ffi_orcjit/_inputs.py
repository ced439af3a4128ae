"""Normalisation of the object inputs accepted by the Python API."""

from __future__ import annotations

import os
from typing import Sequence, Union

#: One object: a path (``str`` or ``os.PathLike``) or the object's content (``bytes``).
ObjectInput = Union[str, "os.PathLike[str]", "os.PathLike[bytes]", bytes, bytearray, memoryview]
#: One object or a sequence of them.
ObjectsInput = Union[ObjectInput, Sequence[ObjectInput]]


def normalize_one(obj: object) -> str | bytes:
    """Return ``obj`` as what the native API takes: ``str`` (a path) or ``bytes`` (content)."""
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return bytes(obj)
    if isinstance(obj, str):
        return obj
    if isinstance(obj, os.PathLike):
        path = os.fspath(obj)
        return os.fsdecode(path) if isinstance(path, bytes) else path
    raise TypeError(
        "an object file must be a path (str or os.PathLike) or object-file bytes, "
        f"got {type(obj).__name__}"
    )


def normalize_many(objects: object) -> list[str | bytes]:
    """Return ``objects`` (one input or a sequence of inputs) as a list of ``str``/``bytes``.

    An empty sequence gives an empty list (``load_module([])``: an empty module).
    """
    if isinstance(objects, (str, bytes, bytearray, memoryview, os.PathLike)):
        return [normalize_one(objects)]
    if isinstance(objects, (list, tuple)) or (
        isinstance(objects, Sequence) and not isinstance(objects, (str, bytes))
    ):
        return [normalize_one(x) for x in objects]
    return [normalize_one(objects)]
