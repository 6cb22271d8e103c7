"""The backends of the conformance suite: every observer with the store that reads it.

A kind names an observer and its store. The plain kinds are those of ``STORE_KINDS`` in
tests/sacred/store/conftest.py (``make_observer(path)``, ``open_store(path)``); the queued
kinds put the same backend behind a ``QueueObserver``:

===================  ==================================================================
kind                 observer (store)
===================  ==================================================================
file                 FileStorageObserver (FileStore)
sqlite, postgresql   SqlObserver (SqlStore); PostgreSQL from SACRED_TEST_POSTGRES_URL
tinydb               TinyDbObserver (TinyDbStore)
mongomock            MongoObserver on a mongomock client (MongoStore on the same client)
mongomock-queued     QueuedMongoObserver on that client
sqlite-queued        QueueObserver around a SqlObserver (the generic queue)
s3, gcs              S3Observer (moto server), GoogleCloudStorageObserver (fake-gcs-server)
===================  ==================================================================

Every kind is always a test id. A kind whose library is not installed, or whose service is
not running, is skipped when the suite runs by hand and fails under
SACRED_REQUIRE_SERVICES=1 (as scripts/test.sh and CI run it).

A ``Backend`` is one fresh store of a kind, keyed by a folder: ``observer()`` makes a new
observer writing into it, ``store()`` opens it for reading, ``spec()`` describes it for a
child process (``tests/conformance/child.py``), which rebuilds it with ``from_spec``.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import time

import pytest

from tests.sacred.store import conftest as stores

ROOT = pathlib.Path(__file__).resolve().parents[2]

#: kind -> the STORE_KINDS kind it writes to
BASE = {
    "file": "file",
    "sqlite": "sqlite",
    "sqlite-queued": "sqlite",
    "postgresql": "postgresql",
    "tinydb": "tinydb",
    "mongomock": "mongomock",
    "mongomock-queued": "mongomock",
    "s3": "s3",
    "gcs": "gcs",
}
KINDS = sorted(BASE)
QUEUE_INTERVAL = 0.2  # seconds between deliveries of the queued kinds

#: why scenarios with several processes cannot pass on the mongomock kinds
MONGOMOCK_IN_MEMORY = (
    "mongomock keeps its database in the memory of one process: another process (a second "
    "writer, or the run that was killed) cannot reach it; no MongoDB server is among the "
    "test services"
)


def kinds(**xfails):
    """Every kind as a parameter; ``xfails`` maps a kind (``-`` as ``_``) to the reason
    why it differs, written down as a strict xfail (or to an xfail mark of its own)."""
    unknown = {k.replace("_", "-") for k in xfails} - set(KINDS)
    assert not unknown, unknown
    params = []
    for kind in KINDS:
        reason = xfails.get(kind.replace("-", "_"))
        if isinstance(reason, str):
            reason = pytest.mark.xfail(strict=True, reason=reason)
        params.append(pytest.param(kind, marks=[reason] if reason else [], id=kind))
    return params


def too_slow_for_ci(reason):
    """A strict xfail that runs only with SACRED_CONFORMANCE_ALL=1: the backend needs more of
    CI's time than the whole suite may take (about 4 minutes), so it is written down instead
    of run; with the variable set it runs, and a fixed backend shows as XPASS (a failure)."""
    return pytest.mark.xfail(
        strict=True, reason=reason, run=os.environ.get("SACRED_CONFORMANCE_ALL") == "1"
    )


def ids(run_ids):
    """Run ids as sorted strings: the FileStorageObserver gives its runs the name of their
    folder ("1", as the original does) and the stores read numbers (1)."""
    return sorted(map(str, run_ids))


def _available(kind):
    if BASE[kind] in stores.STORE_KINDS:
        return
    message = f"the libraries of the {kind} backend are not installed"
    if os.environ.get("SACRED_REQUIRE_SERVICES") == "1":
        pytest.fail(message)
    pytest.skip(message)


class Backend:
    """One fresh store of ``kind``, at (or keyed by) the folder ``path``."""

    #: the backends made and not removed yet (see conftest.py)
    made = []
    #: kept until the session ends (a store that several tests read)
    keep = False

    def __init__(self, kind, path):
        _available(kind)
        Backend.made.append(self)
        self.kind = kind
        self.base = BASE[kind]
        self.path = pathlib.Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self._make_observer, self._open_store = stores.STORE_KINDS[self.base]
        self.location()  # the database or bucket exists from now on

    def __repr__(self):
        return f"Backend({self.kind!r}, {str(self.path)!r})"

    def location(self):
        """Where the runs are: a folder, a URL, or (mongomock) the client's key."""
        if self.base == "file":
            return str(self.path / "runs")
        if self.base == "tinydb":
            return f"tinydb://{self.path / 'tinydb'}"
        if self.base == "sqlite":
            return stores._sqlite_url(self.path)
        if self.base == "postgresql":
            return stores._postgres_url(self.path)
        if self.base in ("s3", "gcs"):
            bucket = stores._bucket_name(self.base, self.path)
            return f"{'s3' if self.base == 's3' else 'gs'}://{bucket}/runs"
        return f"mongomock:{self.path}"

    def observer(self):
        """A new observer writing into this store."""
        if self.kind == "mongomock-queued":
            from sacred.observers import QueuedMongoObserver

            return QueuedMongoObserver(
                interval=QUEUE_INTERVAL,
                retry_interval=QUEUE_INTERVAL,
                client=stores._mongomock_client(self.path),
                db_name="sacred_store",
            )
        if self.kind == "sqlite-queued":
            from sacred.observers import QueueObserver

            return QueueObserver(
                self._make_observer(self.path),
                interval=QUEUE_INTERVAL,
                retry_interval=QUEUE_INTERVAL,
            )
        return self._make_observer(self.path)

    def store(self):
        """The RunStore reading this store (close it after use)."""
        if self.base == "tinydb" and not (self.path / "tinydb" / "metadata.json").exists():
            from sacred.store import open_store

            return open_store(self.location())  # empty still: a folder would be a FileStore
        return self._open_store(self.path)

    def create(self):
        """Make the empty store, as a user would before writing into it with ``sacred
        export`` (which itself creates only a folder or a SQLite file)."""
        if self.base == "file":
            (self.path / "runs").mkdir(exist_ok=True)
        elif self.base == "sqlite":
            (self.path / "runs.db").touch()
        elif self.base == "tinydb":
            from sacred.observers import TinyDbObserver

            TinyDbObserver(str(self.path / "tinydb"))  # makes metadata.json and hashfs/
        elif self.base in ("s3", "gcs"):
            bucket = stores.object_bucket(self.base, self.path)
            if not bucket.bucket_exists():
                bucket.create_bucket()
        return self

    def remove(self):
        """Free what the store holds outside the test's folder (a database, a bucket,
        mongomock's memory): the services serve the rest of the test session."""
        path = str(self.path)
        if self.base == "mongomock":
            stores._MONGOMOCK_CLIENTS.pop(path, None)
        elif self.base == "postgresql" and path in stores._PG_DATABASES:
            import psycopg
            import sqlalchemy as sa

            from tests.services import service_url

            name = sa.engine.make_url(stores._PG_DATABASES.pop(path)).database
            with psycopg.connect(service_url("SACRED_TEST_POSTGRES_URL"), autocommit=True) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        elif self.base in ("s3", "gcs") and (self.base, path) in stores._BUCKETS:
            bucket = stores.object_bucket(self.base, self.path)
            if bucket.bucket_exists():
                bucket.delete([key for key, _ in bucket.list("")])
                if self.base == "s3":
                    bucket.client.delete_bucket(Bucket=bucket.name)
                else:
                    bucket.bucket.delete()
            del stores._BUCKETS[(self.base, path)]

    def spec(self) -> dict:
        """What a child process needs to write into the same store."""
        return {"kind": self.kind, "path": str(self.path), "location": self.location()}

    @classmethod
    def from_spec(cls, spec):
        """The same store in another process (the names of databases and buckets kept)."""
        path, base = spec["path"], BASE[spec["kind"]]
        if base == "postgresql":
            stores._PG_DATABASES[path] = spec["location"]
        if base in ("s3", "gcs"):
            bucket = spec["location"].split("://", 1)[1].split("/", 1)[0]
            stores._BUCKETS[(base, path)] = bucket
        return cls(spec["kind"], path)


def start_child(backend, mode, *args, **popen):
    """Start tests/conformance/child.py writing into ``backend``; returns the Popen."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen(
        [sys.executable, "-m", "tests.conformance.child", json.dumps(backend.spec()), mode]
        + [str(a) for a in args],
        cwd=str(backend.path),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def wait_for(path, children=(), timeout=60):
    """Wait until the file ``path`` exists; fail early if a child process has ended."""
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        for child in children:
            if child.poll() is not None:
                out, err = child.communicate()
                raise AssertionError(f"the child ended ({child.returncode}): {err[-3000:]}")
        assert time.monotonic() < deadline, f"no {path} after {timeout} s"
        time.sleep(0.02)
