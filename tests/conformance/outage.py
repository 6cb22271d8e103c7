"""Switching a backend off and on again, each the way it goes away in life.

* SQL: every statement of the observer's engine fails with a connection error;
* MongoDB (mongomock): every call on the observer's client fails with ``AutoReconnect``;
* S3 and GCS: every call of the observer's bucket adapter fails with a ``ConnectionError``;
* a folder (FileStorageObserver, TinyDB): the store's folder is moved away and a file takes
  its place, as when a network drive is gone.

The observer's retry waits are made short (they are attributes the user may set too), so
that a run that ends while its backend is away gives up within a second.
"""

import pymongo

from tests.sacred.store import conftest as stores

_DOWN_CLIENTS = set()  # ids of the mongomock clients that are "down"
_MONGO_METHODS = (
    "insert_one",
    "insert_many",
    "update_one",
    "update_many",
    "replace_one",
    "find",
    "find_one",
    "find_one_and_update",
    "delete_one",
    "delete_many",
    "count_documents",
    "aggregate",
    "create_index",
)


class Unreachable:
    """A bucket adapter that stops reaching its service while ``outage.down`` is set."""

    def __init__(self, bucket, outage):
        self._real = bucket
        self._outage = outage

    def __getattr__(self, name):
        attr = getattr(self._real, name)
        if callable(attr) and self._outage.is_down:

            def fail(*args, **kwargs):
                raise ConnectionError("connection refused (the service is down)")

            return fail
        return attr


class Outage:
    """``down()`` and ``up()`` for the backend that ``observer`` (of ``backend``) writes to."""

    def __init__(self, backend, observer, monkeypatch):
        self.backend = backend
        self.is_down = False
        self._moved = None
        inner = getattr(observer, "_covered_observer", observer)
        if hasattr(observer, "join_timeout"):  # a queue gives up on the backend soon
            observer.join_timeout = 1.0
        base = backend.base
        if base in ("sqlite", "postgresql"):
            self._cut_sql(inner)
        elif base == "mongomock":
            self._cut_mongo(monkeypatch)
            inner.retry_delay = inner.retry_interval = 0.0
        elif base in ("s3", "gcs"):
            inner.RETRY_INTERVAL = 0.0
            inner.FINAL_RETRY_SECONDS = 0.2
            inner._bucket = Unreachable(inner._bucket, self)

    def _cut_sql(self, observer):
        import sqlalchemy as sa

        observer.retry_timeout, observer.retry_interval = 0.3, 0.05

        def refuse(*args, **kwargs):
            if self.is_down:
                raise sa.exc.OperationalError(
                    "(the database is down)",
                    None,
                    ConnectionRefusedError("connection refused (the database is down)"),
                )

        sa.event.listen(observer.engine, "before_cursor_execute", refuse)

    def _cut_mongo(self, monkeypatch):
        import mongomock

        collection_cls = mongomock.collection.Collection
        client = stores._mongomock_client(self.backend.path)
        for name in _MONGO_METHODS:
            original = getattr(collection_cls, name)

            def method(coll, *args, _original=original, **kwargs):
                if id(coll.database.client) in _DOWN_CLIENTS:
                    raise pymongo.errors.AutoReconnect("connection refused (server is down)")
                return _original(coll, *args, **kwargs)

            monkeypatch.setattr(collection_cls, name, method)
        self._client = client

    def _folder(self):
        return self.backend.path / ("runs" if self.backend.base == "file" else "tinydb")

    def down(self):
        self.is_down = True
        if self.backend.base == "mongomock":
            _DOWN_CLIENTS.add(id(self._client))
        elif self.backend.base in ("file", "tinydb"):
            folder = self._folder()
            if folder.exists():
                self._moved = folder.with_name(folder.name + ".away")
                folder.rename(self._moved)
            folder.write_text("the drive is gone")

    def up(self):
        self.is_down = False
        if self.backend.base == "mongomock":
            _DOWN_CLIENTS.discard(id(self._client))
        elif self.backend.base in ("file", "tinydb"):
            folder = self._folder()
            folder.unlink()
            if self._moved is not None:
                self._moved.rename(folder)
