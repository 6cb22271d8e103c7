"""Transitional: ``OutsideStoreError`` and ``resolve_inside`` moved to
``sacred.observers.file_storage.paths`` (and ``FileStore`` to
``sacred.observers.file_storage.store``). Only sacredboard/api.py and sacred/cli.py still
import them from here; delete this module once they import from ``paths``.
"""

from sacred.observers.file_storage.paths import OutsideStoreError, resolve_inside

__all__ = ("OutsideStoreError", "resolve_inside")
