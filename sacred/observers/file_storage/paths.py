"""The rule that a path taken from a stored run never leaves the store, on a file system.

A run's record names its files (artifacts, copies of sources and resources), and anyone who
can write to the store can craft that record. Every such path is resolved, symbolic links
included, and used only if it lies inside the folder of the store that may hold it; else
``OutsideStoreError`` (of ``sacred.store.base``, re-exported here). The FileStore and the
TinyDbStore apply it.
"""

import os

from sacred.store.base import OutsideStoreError, RunNotFoundError

__all__ = ("OutsideStoreError", "resolve_inside", "join_stored")


def resolve_inside(path, root, what, where=None) -> str:
    """``path`` with every symbolic link resolved, if that lies inside ``root`` (resolved
    too); else OutsideStoreError, a one-line message naming ``what`` and ``where``."""
    try:
        real = os.path.realpath(path)
        base = os.path.realpath(root)
        inside = real != base and os.path.commonpath([real, base]) == base
    except (ValueError, TypeError):  # a NUL byte, different drives, not a path
        inside = False
    if not inside:
        raise OutsideStoreError(f"Refused: {what} lies outside {where or root}")
    return real


def join_stored(base, name) -> str:
    """``base/name`` (``name`` itself if it is absolute): the place a run's entry names."""
    if not isinstance(name, str) or not name:
        raise RunNotFoundError(f"{name!r} names no file")
    return os.path.join(base, name)
