"""Runs that build on runs: the parent a run names in ``meta.parent``.

An evaluation script started with ``ex.run(parent=(store, run_id))`` (or ``sacred run
--parent STORE:RUN_ID eval.py``) records ``meta.parent = {"store": ..., "id": ...}``; inside
the run, ``_run.parent`` reads that run through ``sacred.store``, wherever it is stored.
"""

from __future__ import annotations

import os
from typing import Any

from sacred.utils import SacredError

__all__ = ("ParentRun", "parent_meta", "split_parent", "ParentError", "location_text")


class ParentError(SacredError, ValueError):
    """A parent run named in a way that cannot be read."""

    def __init__(self, message):
        super().__init__(message, print_traceback=False)


def location_text(store: Any) -> str:
    """A store location as the text recorded in ``meta.parent.store``."""
    from sacred.store.base import RunStore

    if isinstance(store, RunStore):
        return _store_text(store)
    if isinstance(store, (str, os.PathLike)):
        text = os.fspath(store)
        if "://" not in text:
            return os.path.abspath(text)  # a folder: the child may run elsewhere
        return _without_password(text)
    if any(c.__module__.split(".")[0] in ("pymongo", "mongomock") for c in type(store).__mro__):
        return _client_text(store)
    raise ParentError(
        f"A parent run is named by (store location, run id); {type(store).__name__} is no "
        "store location (give a path, a URL or a RunStore)"
    )


def _store_text(store) -> str:
    """The location a RunStore reads, as text (what another process would open)."""
    location = getattr(store, "location", None)
    if isinstance(location, str):
        return _without_password(location)
    engine = getattr(store, "engine", None)
    if engine is not None:  # SQL
        return engine.url.render_as_string(hide_password=True).replace(":***@", "@")
    for attribute, scheme in (("root", "tinydb://"), ("basedir", "")):
        path = getattr(store, attribute, None)
        if isinstance(path, str):
            return scheme + os.path.abspath(path)
    where = getattr(store, "_where", None)  # MongoDB: its URL, or a database of a client
    return _without_password(where) if isinstance(where, str) else type(store).__name__


def _client_text(location) -> str:
    """A pymongo/mongomock client or database as a ``mongodb://hosts/db`` URL (they answer
    any attribute name, so no getattr probing)."""
    if any(c.__name__ == "Database" for c in type(location).__mro__):
        database = location
    else:
        database = location["sacred"]  # the database open_store and open_observer use
    client = database.client
    try:
        nodes = sorted(client.topology_description.server_descriptions())
        hosts = ",".join(f"{h}:{p}" for h, p in nodes)
    except Exception:  # noqa: BLE001 (mongomock)
        try:
            host, port = client.address
            hosts = f"{host}:{port}"
        except Exception:  # noqa: BLE001
            hosts = "localhost"
    return f"mongodb://{hosts}/{database.name}"


def _without_password(url: str) -> str:
    """The URL without a password (a record is read by many; the reader brings its own
    credentials: ~/.pgpass, PGPASSWORD, a MongoDB URL of its own...)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username}@{host}"))


def parent_meta(parent) -> dict:
    """``meta.parent`` for ``parent`` = ``(store, run_id)``; the run must exist."""
    from sacred.store import open_store

    if not isinstance(parent, (tuple, list)) or len(parent) != 2:
        raise ParentError(f"parent must be (store location, run id), not {parent!r}")
    store, run_id = parent
    location = location_text(store)
    reader = open_store(store)  # what the caller gave: a RunStore stays as it is
    record = reader.get(run_id)  # RunNotFoundError: one line
    return {"store": location, "id": record["_id"]}


def split_parent(text: str):
    """``STORE:RUN_ID`` (the last ``:`` splits; URLs keep theirs) as ``(store, run_id)``."""
    store, sep, run_id = text.rpartition(":")
    if not sep or not store or not run_id or run_id.startswith("//"):
        raise ParentError(f"--parent needs STORE:RUN_ID (e.g. runs:3), not {text!r}")
    return store, int(run_id) if run_id.isdigit() else run_id


class ParentRun:
    """Read access to a parent run: its record, config, result, metrics and files."""

    def __init__(self, store: str, run_id):
        self.store_location = store
        self.id = run_id
        self._store = None
        self._record = None

    @property
    def store(self):
        if self._store is None:
            from sacred.store import open_store

            self._store = open_store(self.store_location)
        return self._store

    @property
    def record(self) -> dict:
        if self._record is None:
            self._record = self.store.get(self.id)
        return self._record

    @property
    def config(self) -> dict:
        return self.record.get("config") or {}

    @property
    def result(self):
        return self.record.get("result")

    @property
    def info(self) -> dict:
        return self.record.get("info") or {}

    @property
    def status(self):
        return self.record.get("status")

    def metrics(self, names=None) -> dict:
        return self.store.metrics(self.id, names)

    def artifacts(self) -> list:
        return self.store.artifacts(self.id)

    def open_artifact(self, name):
        """A binary file object with the artifact's content."""
        return self.store.open_artifact(self.id, name)

    def __repr__(self):
        return f"<ParentRun {self.id!r} in {self.store_location}>"
