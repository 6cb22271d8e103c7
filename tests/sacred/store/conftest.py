"""Stores filled by REAL runs of a fixed set of experiments, for tests over every backend.

``filled_store`` is parametrised by backend kind. A kind is a pair of functions in
``STORE_KINDS``: ``make_observer(tmp_path)`` returns the observer that writes the runs and
``open_store(tmp_path)`` the RunStore that reads them. Backends add themselves to
``STORE_KINDS`` (and to ``params``) when their reader exists.

The runs (each has a unique ``config.tag``; created in this order):

====  ========  =====  =========  =============================  ======================
tag   ex        lr     status     config                         metrics (loss, acc)
====  ========  =====  =========  =============================  ======================
a     mnist     0.1    COMPLETED  optimizer adam/beta 0.9, 3 ep  loss 1/(i+1), 3 points
b     mnist     0.01   COMPLETED  opt sgd (momentum 0.9), 5 ep   loss 2/(i+1), 5 points
c     mnist     0.001  COMPLETED  optimizer adam/beta 0.99, 4 ep loss 4/(i+1), 4 points
d     mnist     0.5    FAILED     defaults; raises after 2 ep    loss 8/(i+1), 2 points
e     cifar     0.05   COMPLETED  no optimizer; result "ok"      none
====  ========  =====  =========  =============================  ======================
"""

import importlib.util
import os

import pytest

from sacred import Experiment

TAGS = ["a", "b", "c", "d", "e"]
BASE = {"a": 1.0, "b": 2.0, "c": 4.0, "d": 8.0}


def _mnist():
    ex = Experiment("mnist")

    @ex.config
    def cfg():
        tag = "x"  # noqa: F841
        lr = 0.1  # noqa: F841
        opt = "adam"
        if opt == "adam":
            optimizer = {"name": opt, "beta": 0.9}  # noqa: F841
        else:
            optimizer = {"name": opt, "momentum": 0.9}  # noqa: F841
        layers = [64, 32]  # noqa: F841
        epochs = 3  # noqa: F841
        base = 1.0  # noqa: F841
        fail_after = None  # noqa: F841

    @ex.main
    def train(_run, epochs, base, fail_after, tag):
        loss = None
        for i in range(epochs):
            loss = base / (i + 1)
            _run.log_scalar("loss", loss, i)
            _run.log_scalar("acc", 0.5 + 0.1 * i, i)
            if fail_after is not None and i + 1 == fail_after:
                raise ValueError(f"run {tag} diverged")
        _run.info["best"] = loss
        print(f"trained {tag}")
        return loss

    return ex


def _cifar():
    ex = Experiment("cifar")

    @ex.config
    def cfg():
        tag = "e"  # noqa: F841
        lr = 0.05  # noqa: F841

    @ex.main
    def main(_run, tmp_dir_for_artifact=None):
        _run.info["note"] = "no metrics"
        return "ok"

    return ex


def run_experiments(make_observer, tmp_path):
    """Run the fixed experiments with a fresh observer each; returns nothing."""
    art = tmp_path / "model.txt"
    art.write_text("weights of a\n")
    res = tmp_path / "data.csv"
    res.write_text("x,y\n1,2\n")
    runs = [
        ("a", {"lr": 0.1, "base": 1.0}),
        (
            "b",
            {"lr": 0.01, "base": 2.0, "epochs": 5, "opt": "sgd"},
        ),
        ("c", {"lr": 0.001, "base": 4.0, "epochs": 4, "optimizer.beta": 0.99, "layers": [128]}),
        ("d", {"lr": 0.5, "base": 8.0, "fail_after": 2}),
    ]
    for tag, updates in runs:
        ex = _mnist()
        ex.observers.append(make_observer(tmp_path))
        if tag == "a":

            @ex.pre_run_hook
            def files(_run):
                _run.add_artifact(str(art), "model.txt")
                _run.open_resource(str(res))

        updates = dict(updates, tag=tag)
        if tag == "d":
            with pytest.raises(ValueError):
                ex.run(config_updates=updates, options={"--capture": "sys"})
        else:
            ex.run(config_updates=updates, options={"--capture": "sys"})
    ex = _cifar()
    ex.observers.append(make_observer(tmp_path))
    ex.run(options={"--capture": "sys"})


def _file_observer(tmp_path):
    from sacred.observers import FileStorageObserver

    return FileStorageObserver(str(tmp_path / "runs"))


def _file_store(tmp_path):
    from sacred.store import open_store

    return open_store(str(tmp_path / "runs"))


STORE_KINDS = {"file": (_file_observer, _file_store)}

# mongomock: the observers and the store share one in-memory client per filled store
_MONGOMOCK_CLIENTS = {}


def _mongomock_client(tmp_path):
    import mongomock
    import mongomock.gridfs

    mongomock.gridfs.enable_gridfs_integration()
    return _MONGOMOCK_CLIENTS.setdefault(str(tmp_path), mongomock.MongoClient())


def _mongomock_observer(tmp_path):
    from sacred.observers import MongoObserver

    return MongoObserver(client=_mongomock_client(tmp_path), db_name="sacred_store")


def _mongomock_store(tmp_path):
    from sacred.store import open_store

    return open_store(_mongomock_client(tmp_path), db_name="sacred_store")


def _tinydb_observer(tmp_path):
    from sacred.observers import TinyDbObserver

    return TinyDbObserver(str(tmp_path / "tinydb"))


def _tinydb_store(tmp_path):
    from sacred.store import open_store

    return open_store(str(tmp_path / "tinydb"))


if importlib.util.find_spec("mongomock") is not None:
    STORE_KINDS["mongomock"] = (_mongomock_observer, _mongomock_store)
if all(importlib.util.find_spec(m) for m in ("tinydb", "tinydb_serialization", "hashfs")):
    STORE_KINDS["tinydb"] = (_tinydb_observer, _tinydb_store)

# SQL: one SQLite file, or one fresh PostgreSQL database, per filled store
_PG_DATABASES = {}


def _sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'runs.db'}"


def _postgres_url(tmp_path):
    if str(tmp_path) not in _PG_DATABASES:
        import uuid

        import psycopg
        import sqlalchemy as sa

        from tests.services import service_url

        server = service_url("SACRED_TEST_POSTGRES_URL")
        name = f"sacred_store_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(server, autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{name}"')
        url = sa.engine.make_url(server).set(database=name)
        _PG_DATABASES[str(tmp_path)] = url.render_as_string(hide_password=False)
    return _PG_DATABASES[str(tmp_path)]


def _sql_kind(make_url):
    def observer(tmp_path):
        from sacred.observers import SqlObserver

        return SqlObserver(make_url(tmp_path))

    def store(tmp_path):
        from sacred.store import open_store

        return open_store(make_url(tmp_path))

    return observer, store


if importlib.util.find_spec("sqlalchemy") is not None:
    STORE_KINDS["sqlite"] = _sql_kind(_sqlite_url)
    if importlib.util.find_spec("psycopg") is not None:
        STORE_KINDS["postgresql"] = _sql_kind(_postgres_url)


# S3 (moto) and Google Cloud Storage (the emulator): one fresh bucket per filled store, runs
# below the prefix "runs"; the test services are given explicitly (endpoint, client), so the
# environment of the test process is not changed
_BUCKETS = {}


def _bucket_name(kind, tmp_path):
    import uuid

    return _BUCKETS.setdefault((kind, str(tmp_path)), f"sacred-store-{uuid.uuid4().hex[:16]}")


_TEST_AWS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def _s3_client():
    import boto3

    from tests.services import service_url

    return boto3.client(
        "s3",
        endpoint_url=service_url("SACRED_TEST_S3_URL"),
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _s3_observer(tmp_path):
    from unittest import mock

    from sacred.observers import S3Observer
    from tests.services import service_url

    url = service_url("SACRED_TEST_S3_URL")
    with mock.patch.dict(os.environ, _TEST_AWS):  # the client takes its credentials now
        return S3Observer(
            _bucket_name("s3", tmp_path), "runs", region="us-east-1", endpoint_url=url
        )


def _s3_store(tmp_path):
    from sacred.store import open_store

    return open_store(f"s3://{_bucket_name('s3', tmp_path)}/runs", client=_s3_client())


def _gcs_client():
    from unittest import mock

    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    from tests.services import service_url

    emulator = {"STORAGE_EMULATOR_HOST": service_url("SACRED_TEST_GCS_URL")}
    with mock.patch.dict(os.environ, emulator):  # the client takes its endpoint now
        return storage.Client(project="sacred-test", credentials=AnonymousCredentials())


def _gcs_observer(tmp_path):
    from sacred.observers import GoogleCloudStorageObserver

    return GoogleCloudStorageObserver(_bucket_name("gcs", tmp_path), "runs", client=_gcs_client())


def _gcs_store(tmp_path):
    from sacred.store import open_store

    return open_store(f"gs://{_bucket_name('gcs', tmp_path)}/runs", client=_gcs_client())


def object_bucket(kind, tmp_path):
    """The ``Bucket`` (see sacred.observers.object_store.bucket) of an s3 or gcs kind."""
    if kind == "s3":
        from sacred.observers.s3_observer.bucket import S3Bucket

        return S3Bucket(_s3_client(), _bucket_name("s3", tmp_path), "us-east-1")
    from sacred.observers.gcs_observer.bucket import GcsBucket

    return GcsBucket(_gcs_client(), _bucket_name("gcs", tmp_path))


if importlib.util.find_spec("boto3") is not None:
    STORE_KINDS["s3"] = (_s3_observer, _s3_store)
if importlib.util.find_spec("google") is not None and (
    importlib.util.find_spec("google.cloud") is not None
    and importlib.util.find_spec("google.cloud.storage") is not None
):
    STORE_KINDS["gcs"] = (_gcs_observer, _gcs_store)


@pytest.fixture(scope="module", params=sorted(STORE_KINDS))
def filled_store(request, tmp_path_factory):
    """A store (of each kind) holding the runs a..e; do not modify it (module scoped)."""
    make_observer, open_ = STORE_KINDS[request.param]
    tmp_path = tmp_path_factory.mktemp(f"store_{request.param}")
    cwd = os.getcwd()
    os.chdir(tmp_path)  # the runs' resources are recorded relative to here
    try:
        run_experiments(make_observer, tmp_path)
    finally:
        os.chdir(cwd)
    store = open_(tmp_path)
    yield store
    store.close()


@pytest.fixture
def fresh_file_store(tmp_path):
    """A FileStore holding the runs a..e that a test may modify; returns (store, basedir)."""
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        run_experiments(_file_observer, tmp_path)
    finally:
        os.chdir(cwd)
    return _file_store(tmp_path), str(tmp_path / "runs")


def tags(records):
    return [r["config"]["tag"] for r in records]
