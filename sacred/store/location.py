"""Where runs are kept: the one reading of a store location, and the registry of backends.

A location is a folder (``runs/``), a URL (``sqlite:///runs.db``, ``postgresql://...``,
``mongodb://host/db``, ``tinydb://path``, ``s3://bucket/prefix``, ``gs://bucket/prefix``) or a
pymongo/mongomock client or database. ``scheme_of`` says which backend it belongs to, and
every part of the project (``open_store``, the ``sacred`` tool, Sacredboard, Labwatch) asks it.

The registry maps a scheme to its backend: the observer that writes it, the store that reads
it (both as ``"module:Class"``, imported only when used), the extra that installs its
libraries, and whatever other packages attach (Labwatch registers its optimizer backends
with ``register_backend(scheme, labwatch=...)``; ``sacred`` never imports them).
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import json
import os
import re
from typing import Any, Optional

from sacred.store.base import StoreError

__all__ = (
    "Backend",
    "scheme_of",
    "backend_of",
    "register_backend",
    "known_schemes",
    "load",
    "open_observer",
    "unknown_scheme_message",
    "check_sql_url",
)


@dataclasses.dataclass
class Backend:
    scheme: str
    observer: Optional[str] = None  # "module:Class" of the observer that writes it
    store: Optional[str] = None  # "module:Class" of the RunStore that reads it
    extra: Optional[str] = None  # pip extra with its libraries: sacred[<extra>]
    labwatch: Optional[str] = None  # "module:Class" of Labwatch's backend (filled by labwatch)


def _backend(scheme, observer, store, extra):
    return Backend(scheme, observer, store, extra)


_SQL = (
    "sacred.observers.sql.observer:SqlObserver",
    "sacred.observers.sql.store:SqlStore",
    "sql",
)
_MONGO = (
    "sacred.observers.mongo.observer:MongoObserver",
    "sacred.observers.mongo.store:MongoStore",
    "mongo",
)

_BACKENDS = {
    "file": _backend(
        "file",
        "sacred.observers.file_storage.observer:FileStorageObserver",
        "sacred.observers.file_storage.store:FileStore",
        None,
    ),
    "sqlite": _backend("sqlite", *_SQL),
    "postgresql": _backend("postgresql", *_SQL),
    "postgres": _backend("postgres", *_SQL),
    "mysql": _backend("mysql", *_SQL),
    "mongodb": _backend("mongodb", *_MONGO),
    "mongodb+srv": _backend("mongodb+srv", *_MONGO),
    "tinydb": _backend(
        "tinydb",
        "sacred.observers.tinydb_hashfs.observer:TinyDbObserver",
        "sacred.observers.tinydb_hashfs.store:TinyDbStore",
        "tinydb",
    ),
    "s3": _backend(
        "s3",
        "sacred.observers.s3_observer.observer:S3Observer",
        "sacred.observers.s3_observer.store:S3Store",
        "s3",
    ),
    "gs": _backend(
        "gs",
        "sacred.observers.gcs_observer.observer:GoogleCloudStorageObserver",
        "sacred.observers.gcs_observer.store:GcsStore",
        "gcs",
    ),
}


def register_backend(scheme: str, **fields) -> Backend:
    """Add a scheme, or set fields (``observer``, ``store``, ``extra``, ``labwatch``) of one."""
    scheme = scheme.lower()
    backend = _BACKENDS.setdefault(scheme, Backend(scheme))
    for name, value in fields.items():
        if name not in ("observer", "store", "extra", "labwatch"):
            raise TypeError(f"register_backend() got an unexpected field {name!r}")
        setattr(backend, name, value)
    return backend


def known_schemes(field: str = "store") -> list:
    """The schemes whose backend has ``field`` (sorted)."""
    return sorted(s for s, b in _BACKENDS.items() if getattr(b, field))


def scheme_of(location: Any) -> str:
    """The scheme of a store location: ``"file"``, ``"sqlite"``, ``"mongodb"``, ...

    A URL gives its scheme (``postgresql+psycopg`` is ``postgresql``); a pymongo or
    mongomock object is ``mongodb``; a folder holding ``metadata.json`` is ``tinydb`` if
    it has ``hashfs/`` too or the file holds TinyDB's tables (see ``_not_tinydb``: an
    empty file, ``{}`` or an object with ``"runs"``); a folder whose ``metadata.json`` is
    something else is a one-line StoreError, unless it holds a FileStorageObserver's runs;
    any other path is ``file``.
    """
    if not isinstance(location, (str, os.PathLike)):
        # a client or database of pymongo or mongomock (or a subclass of one)
        if any(
            c.__module__.split(".")[0] in ("pymongo", "mongomock") for c in type(location).__mro__
        ):
            return "mongodb"
        raise StoreError(
            f"Cannot use a {type(location).__name__} as a store location: give a path, a URL "
            "(sqlite:///..., postgresql://..., mongodb://host/db, tinydb://path) or a "
            "pymongo/mongomock client."
        )
    text = os.fspath(location)
    if "://" in text:
        scheme = text.split("://", 1)[0].lower()
        if "+" in scheme and scheme != "mongodb+srv":  # e.g. postgresql+psycopg
            scheme = scheme.split("+", 1)[0]
        return scheme
    metadata = os.path.join(text, "metadata.json")
    if not os.path.isfile(metadata) or os.path.isdir(os.path.join(text, "hashfs")):
        return "tinydb" if os.path.isfile(metadata) else "file"
    why = _not_tinydb(metadata)
    if why is None:
        return "tinydb"
    if looks_like_file_storage(text):
        return "file"
    raise StoreError(
        f"{text!r} is neither a TinyDB folder nor a FileStorageObserver folder: "
        f"its metadata.json is {why}"
    )


#: how much of a metadata.json is read to tell a TinyDB folder (see _not_tinydb)
_PREFIX = 64 * 1024
_RUNS_FIRST = re.compile(rb'\A\s*\{\s*"runs"\s*:\s*\{')
_NO_TABLES = 'a JSON object without TinyDB\'s "runs" table'


def _not_tinydb(path) -> Optional[str]:
    """None if the file ``path`` holds TinyDB's layout, else what it is instead.

    TinyDB's layout: empty (TinyDB makes the file empty, and writes it with the first
    entry), ``{}``, or an object with the table ``"runs"`` (an object), which comes first in
    what the TinyDbObserver writes; then only the start of the file is read."""
    try:
        with open(path, "rb") as f:
            head = f.read(_PREFIX)
            if not head.strip() or _RUNS_FIRST.match(head):
                return None
            if not head.lstrip().startswith(b"{"):
                return (
                    "not a JSON object" if head.lstrip()[:1] in b'["0123456789-tfn' else "not JSON"
                )
            data = json.loads(head + f.read())
    except OSError as e:
        return f"not readable ({e.strerror})"
    except (ValueError, RecursionError):
        return "not JSON"
    if not isinstance(data, dict):
        return "not a JSON object"
    if data and not isinstance(data.get("runs"), dict):
        return _NO_TABLES
    return None


def looks_like_file_storage(folder) -> bool:
    """Whether ``folder`` holds what a FileStorageObserver writes: ``_sources/`` or a run
    folder (``1/run.json``)."""
    if os.path.isdir(os.path.join(folder, "_sources")):
        return True
    try:
        with os.scandir(folder) as entries:
            return any(
                e.name.isdigit() and os.path.isfile(os.path.join(e.path, "run.json"))
                for e in entries
            )
    except OSError:
        return False


def backend_of(location: Any, field: str = "store") -> Backend:
    """The registered backend of ``location`` that has ``field``, or a one-line error."""
    scheme = scheme_of(location)
    backend = _BACKENDS.get(scheme)
    if backend is None or not getattr(backend, field):
        raise StoreError(unknown_scheme_message(scheme, known_schemes(field)) + ".")
    if backend.observer == _SQL[0] and isinstance(location, (str, os.PathLike)):
        check_sql_url(location)
    return backend


def unknown_scheme_message(scheme: str, known, kind: str = "store") -> str:
    """``Unknown store scheme 'sqllite' (did you mean sqlite?); known schemes: ...``"""
    close = difflib.get_close_matches(scheme, list(known), n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"Unknown {kind} scheme {scheme!r}{hint}; known schemes: {', '.join(known)}"


def sql_schemes() -> list:
    """The schemes the SqlObserver writes (sorted)."""
    return sorted(s for s, b in _BACKENDS.items() if b.observer == _SQL[0])


def check_sql_url(url) -> None:
    """A one-line StoreError unless ``url`` is an SQLAlchemy URL whose dialect and driver
    are installed: the engine is made as the SqlObserver makes it, without connecting."""
    from sacred.observers.sql.engine import create_engine

    text = os.fspath(url)
    try:
        from sqlalchemy import exc
    except ImportError:  # the reader and the observer say which extra installs it
        return
    scheme = scheme_of(text) if "://" in text else ""
    try:
        create_engine(text).dispose()
    except exc.NoSuchModuleError:  # "postgres" too: SQLAlchemy 2 knows only "postgresql"
        from sqlalchemy.dialects import registry

        known = []
        for name in sql_schemes():
            try:
                registry.load(name)
            except exc.NoSuchModuleError:
                continue
            known.append(name)
        raise StoreError(
            unknown_scheme_message(scheme, known, "SQL") + " (or any SQLAlchemy URL)"
        ) from None
    except exc.ArgumentError:
        name = text.split(":", 1)[-1].lstrip("/") or text
        raise StoreError(
            f"{text!r} is not a database URL: for an SQLite file, use sqlite:///{name}"
        ) from None
    except ModuleNotFoundError as e:  # the database driver
        backend = _BACKENDS.get(scheme)
        extra = (
            backend.extra if backend is not None and scheme in ("sqlite", "postgresql") else None
        )
        hint = f': pip install "sacred[{extra}]"' if extra else "."
        raise StoreError(
            f"{scheme!r} stores need the package {e.name!r}, which is not installed{hint}"
        ) from None


def load(backend: Backend, field: str = "store"):
    """The class that ``backend.<field>`` names, with an install hint if a library is missing."""
    target = getattr(backend, field)
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name and module_name.startswith(e.name):
            raise StoreError(
                f"The {field} for {backend.scheme!r} stores ({module_name}) is not available."
            ) from None
        hint = f': pip install "sacred[{backend.extra}]"' if backend.extra else ""
        raise StoreError(
            f"{backend.scheme!r} stores need the package {e.name!r}, which is not installed{hint}"
        ) from None
    return getattr(module, class_name)


def open_observer(location: Any, **options):
    """The observer that writes runs into ``location`` (a store location, as ``open_store``
    takes): a folder or ``file://``, ``tinydb://path``, an SQLAlchemy URL, ``mongodb://host/db``
    (or a pymongo/mongomock client), ``s3://bucket/prefix`` or ``gs://bucket/prefix``."""
    scheme = scheme_of(location)
    cls = load(backend_of(location, "observer"), "observer")
    text = location if not isinstance(location, (str, os.PathLike)) else os.fspath(location)
    if scheme == "file":
        path = text[len("file://") :] if text.startswith("file://") else text
        return cls(path, **options)
    if scheme == "tinydb":
        path = text[len("tinydb://") :] if text.startswith("tinydb://") else text
        return cls(path, **options)
    if scheme in ("s3", "gs"):
        bucket, _, basedir = text.split("://", 1)[1].partition("/")
        if scheme == "s3" and "region" not in options:  # the S3Observer insists on one
            options["region"] = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        return cls(bucket, basedir.strip("/"), **options)
    if hasattr(cls, "for_journal") and scheme.startswith("mongodb"):
        return cls.for_journal(location, **options)
    return cls(location, **options)
