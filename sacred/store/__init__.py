"""The read side: one ``RunStore`` interface over every backend, and one query language.

    from sacred.store import open_store
    store = open_store("runs/")                      # a FileStorageObserver folder
    store.find("lr < 0.1 and status == 'COMPLETED'", sort="-result", limit=10)

Each backend's reader lives beside the observer that writes its format and is registered
by URL scheme in ``sacred.store.location`` (as a dotted path, imported only when a store of
that kind is opened); ``scheme_of`` is the one reading of a location.
"""

from __future__ import annotations

from typing import Any

from sacred.store.base import OutsideStoreError, RunNotFoundError, RunStore, StoreError
from sacred.store.location import backend_of, load, register_backend, scheme_of
from sacred.store.query import QueryError
from sacred.store.query import parse as parse_query

__all__ = (
    "open_store",
    "register_store",
    "scheme_of",
    "RunStore",
    "StoreError",
    "RunNotFoundError",
    "OutsideStoreError",
    "QueryError",
    "parse_query",
)


def register_store(scheme: str, dotted_path: str) -> None:
    """Make ``open_store("<scheme>://...")`` use the reader at ``"module:Class"``."""
    register_backend(scheme, store=dotted_path)


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
    reader = load(backend_of(location, "store"), "store")
    return reader(location, **kwargs)
