"""The TinyDB backend: runs in a TinyDB file, files in a HashFS folder.

``observer`` writes ``path/metadata.json`` and ``path/hashfs/`` (``TinyDbObserver``),
``reader`` is the original's ``TinyDbReader``, ``store`` reads, queries and changes the
folder like every other backend (``TinyDbStore``), ``bases`` holds the TinyDB serializers
and ``options`` the ``-t`` command-line option. Names are loaded on first use, so importing
this package (as the ``-t`` option's module does for every Experiment) imports neither
tinydb nor hashfs.
"""

import importlib

__all__ = ("TinyDbObserver", "TinyDbReader", "tiny_db_option")

_MODULE_OF = {
    "TinyDbObserver": "observer",
    "TinyDbReader": "reader",
    "tiny_db_option": "options",
}


def __getattr__(name):
    submodule = _MODULE_OF.get(name)
    if submodule is None:
        try:  # a submodule, e.g. ``sacred.observers.tinydb_hashfs.bases``
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
