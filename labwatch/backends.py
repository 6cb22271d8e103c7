"""Where an assistant keeps its data, one class per kind of store.

A backend knows, for its kind of store: the observer that writes runs there, the
``sacred.store`` reader that reads them back (history), where search-space definitions are
kept (a ``_search_spaces/`` folder, a ``search_space`` table or a ``search_space``
collection), and how to claim a queued run atomically so that only one worker runs it.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import random
import time
import uuid
from typing import Optional

from sacred.store import open_store
from sacred.store.base import StoreError
from sacred.store.location import backend_of, load, register_backend, scheme_of

__all__ = ("Backend", "FileBackend", "SqlBackend", "MongoBackend", "backend_for")


class Backend:
    store_location = None

    def __init__(self):
        self._store = None

    @property
    def store(self):
        if self._store is None:
            self._store = open_store(self.store_location, **self.store_kwargs())
        return self._store

    def store_kwargs(self) -> dict:
        return {}

    def make_observer(self):
        raise NotImplementedError

    def location(self) -> str:
        """The store's location as a string another process can open (launchers)."""
        raise NotImplementedError

    def matches(self, observer) -> bool:
        """Whether ``observer`` writes to this store."""
        return False

    def save_search_space(self, doc: dict) -> None:
        raise NotImplementedError

    def load_search_spaces(self) -> list:
        raise NotImplementedError


class FileBackend(Backend):
    def __init__(self, basedir):
        super().__init__()
        self.basedir = os.fspath(basedir)
        if self.basedir.startswith("file://"):
            self.basedir = self.basedir[len("file://") :]
        os.makedirs(self.basedir, exist_ok=True)
        self.store_location = self.basedir

    def __repr__(self):
        return f"FileBackend({self.basedir!r})"

    def location(self) -> str:
        return os.path.abspath(self.basedir)

    def make_observer(self):
        from sacred.observers.file_storage import (
            FileStorageObserver,  # lazy: keeps import labwatch light
        )

        return FileStorageObserver(self.basedir)

    def matches(self, observer) -> bool:
        basedir = getattr(observer, "basedir", None)
        if type(observer).__name__ != "FileStorageObserver" or basedir is None:
            return False
        return os.path.realpath(basedir) == os.path.realpath(self.basedir)

    def _space_dir(self) -> str:
        return os.path.join(self.basedir, "_search_spaces")

    def save_search_space(self, doc: dict) -> None:
        folder = self._space_dir()
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, f"{doc['_id']}.json")
        if os.path.exists(path):
            return
        tmp = f"{path}.{os.getpid()}.{uuid.uuid4().hex}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=2, sort_keys=True, default=str)
        os.replace(tmp, path)  # the same id always has the same content

    def load_search_spaces(self) -> list:
        folder = self._space_dir()
        if not os.path.isdir(folder):
            return []
        docs = []
        for name in sorted(os.listdir(folder)):
            if name.endswith(".json"):
                with open(os.path.join(folder, name), encoding="utf-8") as f:
                    docs.append(json.load(f))
        return docs


class SqlBackend(Backend):
    def __init__(self, url):
        super().__init__()
        self.url = url
        self.store_location = url
        self._engine = None
        self._table = None

    def __repr__(self):
        return f"SqlBackend({self.url!r})"

    def location(self) -> str:
        url = self.engine.url
        if url.get_backend_name() == "sqlite":
            if url.database in (None, "", ":memory:"):
                raise ValueError(
                    "An in-memory SQLite database cannot be shared with worker processes: "
                    "give a file (sqlite:///runs.db)"
                )
            url = url.set(database=os.path.abspath(url.database))
        return url.render_as_string(hide_password=False)

    @property
    def engine(self):
        if self._engine is None:
            import sqlalchemy as sa

            self._engine = sa.create_engine(self.url)
        return self._engine

    def make_observer(self):
        from sacred.observers.sql import SqlObserver  # lazy: keeps import labwatch light

        return SqlObserver(self.url)

    def matches(self, observer) -> bool:
        if type(observer).__name__ != "SqlObserver":
            return False
        try:
            return str(observer.engine.url) == str(self.engine.url)
        except AttributeError:
            return False

    @property
    def table(self):
        if self._table is None:
            import sqlalchemy as sa

            meta = sa.MetaData()
            self._table = sa.Table(
                "search_space",
                meta,
                sa.Column("id", sa.String(64), primary_key=True),
                sa.Column("name", sa.String(256)),
                sa.Column("definition", sa.Text),
                sa.Column("created", sa.DateTime),
            )
            # workers starting at once race to create the table: the loser retries and then
            # finds it (create_all checks first)
            for attempt in range(6):
                try:
                    meta.create_all(self.engine)
                    break
                except sa.exc.DBAPIError:
                    if attempt == 5:
                        raise
                    time.sleep(random.uniform(0.02, 0.1) * (attempt + 1))
        return self._table

    def save_search_space(self, doc: dict) -> None:
        import sqlalchemy as sa

        table = self.table
        with self.engine.begin() as conn:
            exists = conn.execute(sa.select(table.c.id).where(table.c.id == doc["_id"])).first()
            if exists:
                return
            try:
                conn.execute(
                    table.insert().values(
                        id=doc["_id"],
                        name=doc.get("name"),
                        definition=json.dumps(doc, sort_keys=True, default=str),
                        created=_dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None),
                    )
                )
            except sa.exc.IntegrityError:
                pass  # another process stored the same definition

    def load_search_spaces(self) -> list:
        import sqlalchemy as sa

        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(self.table.c.definition)).all()
        return [json.loads(r[0]) for r in rows]


class MongoBackend(Backend):
    def __init__(self, database, prefix="runs", url=None):
        super().__init__()
        self.url = url  # the mongodb:// URL it was opened from, if any
        self.database = database
        self.prefix = prefix
        self.store_location = database
        if type(database).__module__.startswith("mongomock"):
            import mongomock.gridfs  # the observer's GridFS needs mongomock's integration

            mongomock.gridfs.enable_gridfs_integration()

    def __repr__(self):
        return f"MongoBackend({self.database.name!r}, {self.prefix!r})"

    def location(self) -> str:
        if self.prefix != "runs":
            raise ValueError(
                f"Worker processes write to the collection 'runs', not {self.prefix!r}: use "
                "prefix='runs' for a search with a launcher"
            )
        if self.url is not None:
            return self.url
        if type(self.database).__module__.startswith("mongomock"):
            raise ValueError(
                "A mongomock database lives in this process only: worker processes cannot "
                "write to it (use launcher=None, or a real MongoDB, a folder or an SQL URL)"
            )
        host, port = self.database.client.address
        return f"mongodb://{host}:{port}/{self.database.name}"

    def store_kwargs(self) -> dict:
        # the reader takes a collection prefix: "<prefix>_runs", or "runs" without one
        if self.prefix.endswith("_runs"):
            return {"prefix": self.prefix[: -len("_runs")]}
        if self.prefix != "runs":
            raise ValueError(
                f"Runs in the collection {self.prefix!r} cannot be read back: use 'runs' or "
                "'<prefix>_runs'"
            )
        return {}

    @property
    def runs(self):
        return self.database[self.prefix]

    def make_observer(self):
        from sacred.observers.mongo import MongoObserver  # lazy: keeps import labwatch light

        kwargs = {}
        if self.prefix.endswith("_runs"):
            kwargs["collection_prefix"] = self.prefix[: -len("_runs")]
        return MongoObserver(client=self.database.client, db_name=self.database.name, **kwargs)

    def matches(self, observer) -> bool:
        runs = getattr(observer, "runs", None)
        if type(observer).__name__ != "MongoObserver" or runs is None:
            return False
        return runs.database.name == self.database.name and runs.name == self.prefix

    def save_search_space(self, doc: dict) -> None:
        self.database["search_space"].update_one(
            {"_id": doc["_id"]}, {"$setOnInsert": doc}, upsert=True
        )

    def load_search_spaces(self) -> list:
        return list(self.database["search_space"].find())


def _mongo_kind(obj) -> str:
    """ "Database", "MongoClient" or "" (pymongo or mongomock objects)."""
    if type(obj).__module__.split(".")[0] not in ("pymongo", "mongomock"):
        return ""
    return type(obj).__name__


def _mongo_from_url(url, prefix):
    import pymongo

    client = pymongo.MongoClient(url)
    return MongoBackend(client.get_default_database(default="sacred"), prefix, url=url)


# Labwatch's backends, by the schemes of sacred's one location grammar
for _scheme, _factory in {
    "file": "labwatch.backends:FileBackend",
    "sqlite": "labwatch.backends:SqlBackend",
    "postgresql": "labwatch.backends:SqlBackend",
    "postgres": "labwatch.backends:SqlBackend",
    "mysql": "labwatch.backends:SqlBackend",
    "mongodb": "labwatch.backends:_mongo_from_url",
    "mongodb+srv": "labwatch.backends:_mongo_from_url",
}.items():
    register_backend(_scheme, labwatch=_factory)


def backend_for(location, prefix: str = "runs") -> Backend:
    """The backend of a store location: a folder, an SQL URL, a MongoDB URL or database."""
    if isinstance(location, Backend):
        return location
    kind = _mongo_kind(location)
    if kind == "Database":
        return MongoBackend(location, prefix)
    if kind:
        raise ValueError("Give a MongoDB database (client[db_name]), not a client")
    text = os.fspath(location)
    try:
        factory = load(backend_of(text, "labwatch"), "labwatch")
    except StoreError:
        raise ValueError(
            f"Labwatch cannot use the store {text!r} ({scheme_of(text)}): give a folder, "
            "sqlite:///file.db, postgresql://..., mongodb://host/db or a MongoDB database"
        ) from None
    if factory is _mongo_from_url:
        return factory(text, prefix)
    return factory(text)


def mongo_database(url: Optional[str], database_name: str):
    """``database_name`` on the MongoDB server at ``url`` (default localhost)."""
    import pymongo

    return pymongo.MongoClient(url or "localhost")[database_name]
