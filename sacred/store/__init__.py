"""The read side: one ``RunStore`` interface over every backend, and one query language.

    from sacred.store import open_store
    store = open_store("runs/")                      # a FileStorageObserver folder
    store.find("lr < 0.1 and status == 'COMPLETED'", sort="-result", limit=10)

Each backend's reader lives beside the observer that writes its format and is registered
here by URL scheme (as a dotted path, imported only when a store of that kind is opened).
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from sacred.store.base import RunNotFoundError, RunStore, StoreError
from sacred.store.query import QueryError
from sacred.store.query import parse as parse_query

__all__ = (
    "open_store",
    "register_store",
    "RunStore",
    "StoreError",
    "RunNotFoundError",
    "QueryError",
    "parse_query",
)

#: scheme -> "module:Class" of the reader; a reader is constructed as ``Class(location, **kw)``
_READERS = {
    "file": "sacred.observers.file_storage_reader:FileStore",
    "sqlite": "sacred.observers.sql_reader:SqlStore",
    "postgresql": "sacred.observers.sql_reader:SqlStore",
    "postgres": "sacred.observers.sql_reader:SqlStore",
    "mysql": "sacred.observers.sql_reader:SqlStore",
    "mongodb": "sacred.observers.mongo_reader:MongoStore",
    "mongodb+srv": "sacred.observers.mongo_reader:MongoStore",
    "tinydb": "sacred.observers.tinydb_reader:TinyDbStore",
}


def register_store(scheme: str, dotted_path: str) -> None:
    """Make ``open_store("<scheme>://...")`` use the reader at ``"module:Class"``."""
    _READERS[scheme.lower()] = dotted_path


def _scheme_of(location) -> str:
    if not isinstance(location, (str, os.PathLike)):
        module = type(location).__module__.split(".")[0]
        if module in ("pymongo", "mongomock"):
            return "mongodb"
        raise StoreError(
            f"Cannot open a store from a {type(location).__name__}: give a path, a URL "
            "(sqlite:///..., postgresql://..., mongodb://host/db, tinydb://path) or a "
            "pymongo/mongomock client."
        )
    text = os.fspath(location)
    if "://" in text:
        scheme = text.split("://", 1)[0].lower()
        if "+" in scheme and scheme != "mongodb+srv":  # e.g. postgresql+psycopg
            scheme = scheme.split("+", 1)[0]
        return scheme
    if os.path.isfile(os.path.join(text, "metadata.json")) and os.path.isdir(
        os.path.join(text, "hashfs")
    ):
        return "tinydb"
    return "file"


def _load_reader(scheme: str):
    target = _READERS.get(scheme)
    if target is None:
        known = ", ".join(sorted(_READERS))
        raise StoreError(f"Unknown store scheme {scheme!r}; known schemes: {known}.")
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name and module_name.startswith(e.name):
            raise StoreError(
                f"The reader for {scheme!r} stores ({module_name}) is not available yet."
            ) from None
        raise StoreError(
            f"The reader for {scheme!r} stores needs the package {e.name!r}, which is not "
            f"installed."
        ) from None
    return getattr(module, class_name)


def open_store(location: Any, **kwargs) -> RunStore:
    """A ``RunStore`` for a path, a URL or a database client object.

    * a FileStorageObserver folder: a path or ``file://path``;
    * ``sqlite:///runs.db``, ``postgresql://user@host/db`` (the SqlObserver's tables);
    * ``mongodb://host[:port]/db`` with ``prefix=`` for the collection prefix, or a
      pymongo/mongomock client (with ``db_name=``);
    * a TinyDB folder: ``tinydb://path``, or a path holding ``metadata.json`` and ``hashfs/``.
    """
    if isinstance(location, RunStore):
        return location
    scheme = _scheme_of(location)
    reader = _load_reader(scheme)
    return reader(location, **kwargs)
