"""The FileStorageObserver backend: every run in its own numbered folder of JSON files.

``observer`` writes the folder (``FileStorageObserver``), ``store`` reads, queries and
changes it (``FileStore``, with ``metrics``, ``files`` and ``writes``), ``options`` holds the
``-F`` command-line option and ``paths`` the rule that a path from a stored run never leaves
the store. Names are loaded on first use, so importing this package (as the ``-F`` option's
module does for every Experiment) costs nothing else.
"""

import importlib

__all__ = ("FileStorageObserver", "file_storage_option", "DEFAULT_FILE_STORAGE_PRIORITY")

_MODULE_OF = {
    "FileStorageObserver": "observer",
    "DEFAULT_FILE_STORAGE_PRIORITY": "observer",
    "file_storage_option": "options",
}


def __getattr__(name):
    submodule = _MODULE_OF.get(name)
    if submodule is None:
        try:  # a submodule, e.g. ``sacred.observers.file_storage.store``
            value = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    else:
        value = getattr(importlib.import_module(f"{__name__}.{submodule}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
