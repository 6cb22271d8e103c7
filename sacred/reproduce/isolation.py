"""Importing a script's own modules afresh, in a process that may hold others of those names.

A rerun imports the script (``load_experiment``) in the calling process. That process may
already hold modules of the same names from elsewhere: the working copy a notebook imported,
or the run that is being rerun. Python would hand those out again, and the rerun would run
other code than the recorded one. ``fresh_imports`` takes the script's own module names out
of ``sys.modules`` while the rerun runs (so that they are imported from the script's folder,
as in a new process) and puts everything back afterwards: ``sys.path``, the modules it took
out, and no module loaded from the rerun's folder stays behind.

Names of the standard library and of Sacred itself are never taken out (the rerun needs
them); a source named like one of them is imported as in the calling process.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from typing import Iterable, Optional

__all__ = ("fresh_imports", "own_module_names")

_KEEP = frozenset({"sacred", "labwatch", "sacredboard", "__main__"})


def own_module_names(script_dir: str, paths: Iterable[str]) -> set:
    """Top-level module names that files ``paths`` provide when ``script_dir`` is on sys.path."""
    from sacred.dependencies import MODULE_BLACKLIST

    names = set()
    for path in paths:
        rel = os.path.relpath(os.path.abspath(path), script_dir)
        first = rel.split(os.sep)[0]
        if first in ("..", ".") or rel.startswith(".."):
            continue
        name = first[: -len(".py")] if first.endswith(".py") and first == rel else first
        if name.isidentifier() and name not in _KEEP and name not in MODULE_BLACKLIST:
            names.add(name)
    return names


def _inside(path: Optional[str], folder: str) -> bool:
    if not path:
        return False
    path = os.path.abspath(path)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _module_file(module) -> Optional[str]:
    try:
        return getattr(module, "__file__", None)
    except Exception:  # a module object with a broken __getattr__
        return None


def _owned(key: str, names: set) -> bool:
    return key.partition(".")[0] in names


@contextlib.contextmanager
def fresh_imports(script_dir: str, paths: Iterable[str], folder: Optional[str] = None):
    """Within the block, the modules of ``paths`` are imported afresh from ``script_dir``.

    ``folder`` (the rerun's temporary folder) is forgotten afterwards: modules loaded from
    it and ``sys.path`` entries inside it are removed.
    """
    script_dir = os.path.abspath(script_dir)
    names = own_module_names(script_dir, paths)
    saved_path = list(sys.path)
    saved = {key: sys.modules.pop(key) for key in list(sys.modules) if _owned(key, names)}
    importlib.invalidate_caches()  # the files were just written
    try:
        yield names
    finally:
        for key, module in list(sys.modules.items()):
            if _owned(key, names) or (folder and _inside(_module_file(module), folder)):
                del sys.modules[key]
        sys.modules.update(saved)
        sys.path[:] = saved_path
        if folder:
            for key in [k for k in sys.path_importer_cache if _inside(k, folder)]:
                del sys.path_importer_cache[key]
