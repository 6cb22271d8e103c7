"""One journal and one ``sacred sync`` for every backend (issue 13, item 11).

Each backend: unreachable from the start (the run still runs, the journal holds it whole,
``sacred sync`` creates it), unreachable from the middle of the run on (the store ends up
with every event once), synced twice (nothing doubles), and a planted ``py/reduce`` payload
stays inert data.
"""

import json
import logging
import os
import subprocess
import sys

import mongomock
import mongomock.gridfs
import pymongo
import pytest

from sacred import Experiment
from sacred.observers import journal
from sacred.observers.mongo import (
    MongoObserver,
    QueuedMongoObserver,
    read_metrics,
    read_run,
    replay_failure_file,
)
from sacred.observers.queue import QueueObserver
from sacred.store.cli import main as sacred_main

mongomock.gridfs.enable_gridfs_integration()

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
N_POINTS = 300


def sacred_cli(*args, cwd=None):
    """``sacred ...`` in a subprocess: (exit code, stdout, stderr)."""
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.run(
        [sys.executable, "-m", "sacred.store.cli", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
    )
    return proc.returncode, proc.stdout, proc.stderr


def sacred_cli_here(capsys, *args):
    """``sacred ...`` in this process (for mongomock, which lives in this process)."""
    capsys.readouterr()
    code = sacred_main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def journals_in(folder):
    return sorted(str(p) for p in folder.glob("*.jsonl"))


def lines_of(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


# ---------------------------------------------------------------- the experiment
def make_experiment(tmp_path, observer, down, up=None, mid_run=False, change_artifact=True):
    """An experiment that prints, logs N_POINTS points, adds an artifact and a resource,
    and returns a result. ``down()`` cuts the backend (at once, or after the first part of
    the run with ``mid_run``); ``up()``, if given, brings it back before the end."""
    ex = Experiment("journaled", base_dir=str(tmp_path))
    ex.observers.append(observer)
    artifact = tmp_path / "model.bin"
    resource = tmp_path / "data.csv"
    resource.write_text("a,b\n1,2\n")

    @ex.config
    def config():
        lr = 0.1  # noqa: F841
        layers = [3, 4]  # noqa: F841

    @ex.main
    def main(_run, lr):
        print("first part")
        for i in range(N_POINTS // 2):
            _run.log_scalar("loss", lr * i, i)
        _run.info["phase"] = "first"
        _run._emit_heartbeat()
        if mid_run:
            down()
        print("second part")
        for i in range(N_POINTS // 2, N_POINTS):
            _run.log_scalar("loss", lr * i, i)
            _run.log_scalar("acc", i / N_POINTS, i)
        _run.info["phase"] = "second"
        artifact.write_bytes(b"\x00weights v1")
        _run.add_artifact(str(artifact))
        if change_artifact:
            artifact.write_bytes(b"changed after add_artifact")
        _run.open_resource(str(resource))
        _run._emit_heartbeat()
        if up is not None:
            up()
        return {"score": 0.75}

    if not mid_run:
        down()
    return ex


def check_whole(record, metrics, output, artifact_bytes, resources, mid_run=False):
    """The run as the experiment made it, every point once."""
    assert record["status"] == "COMPLETED"
    assert record["result"] == {"score": 0.75}
    assert record["config"]["lr"] == 0.1 and record["config"]["layers"] == [3, 4]
    assert output.count("first part\n") == 1 and output.count("second part\n") == 1
    assert metrics["loss"]["steps"] == list(range(N_POINTS))
    assert metrics["loss"]["values"] == [0.1 * i for i in range(N_POINTS)]
    assert metrics["acc"]["steps"] == list(range(N_POINTS // 2, N_POINTS))
    assert artifact_bytes == [b"\x00weights v1"]
    assert len(resources) == 1


# ================================================================ MongoDB (mongomock)
_METHODS = (
    "insert_one",
    "insert_many",
    "update_one",
    "update_many",
    "replace_one",
    "find",
    "find_one",
    "delete_one",
    "delete_many",
    "count_documents",
    "aggregate",
)


class FailingClient(mongomock.MongoClient):
    """A mongomock client whose server can be switched off (every call then fails).

    ``reach_then_fail``: names of collection methods whose next call reaches the database
    and then fails (an answer lost on the way back)."""

    down = False
    reach_then_fail = ()


@pytest.fixture
def client(monkeypatch):
    collection_cls = mongomock.collection.Collection

    def wrap(name):
        original = getattr(collection_cls, name)

        def method(self, *args, **kwargs):
            c = self.database.client
            if isinstance(c, FailingClient):
                if c.down:
                    raise pymongo.errors.AutoReconnect("connection refused (server is down)")
                if name in c.reach_then_fail and self.name.endswith("metrics"):
                    original(self, *args, **kwargs)
                    c.down = True
                    raise pymongo.errors.AutoReconnect("connection lost after the write")
            return original(self, *args, **kwargs)

        return method

    for name in _METHODS:
        monkeypatch.setattr(collection_cls, name, wrap(name))
    shared = FailingClient()
    # ``sacred sync`` opens mongodb:// URLs with pymongo.MongoClient: give it this database

    class Opened:  # a type, as pymongo.MongoClient is
        def __new__(cls, *args, **kwargs):
            return shared

    monkeypatch.setattr(pymongo, "MongoClient", Opened)
    return shared


def mongo_observer(client, tmp_path, cls=MongoObserver, **kwargs):
    obs = cls(client=client, db_name="jdb", failure_dir=str(tmp_path / "failures"), **kwargs)
    obs.retry_delay = 0.0
    obs.retry_interval = 0.0
    return obs


def mongo_state(client, run_id):
    db = client.jdb
    doc = read_run(db.runs, run_id)
    fs = MongoObserver(client=client, db_name="jdb").fs
    artifacts = [fs.get(a["file_id"]).read() for a in doc["artifacts"]]
    return doc, read_metrics(db.metrics, run_id), artifacts


def check_mongo(client, run_id):
    doc, metrics, artifacts = mongo_state(client, run_id)
    check_whole(doc, metrics, doc["captured_out"], artifacts, doc["resources"])
    assert doc["info"]["phase"] == "second"
    assert {m["name"] for m in doc["info"]["metrics"]} == {"loss", "acc"}
    assert client.jdb.metrics.count_documents({"run_id": run_id}) == 2
    assert doc["experiment"]["sources"]  # stored from the journal's copy
    return doc


def test_mongo_down_from_the_start_syncs_the_whole_run(client, tmp_path, capsys, caplog):
    obs = mongo_observer(client, tmp_path)
    ex = make_experiment(tmp_path, obs, down=lambda: setattr(client, "down", True))
    with caplog.at_level(logging.WARNING):
        run = ex.run(options={"--capture": "sys"})
    assert run.status == "COMPLETED" and run._failed_observers == []
    (path,) = journals_in(tmp_path / "failures")
    assert f"sacred sync {path}" in caplog.text
    lines = lines_of(path)
    assert lines[0]["event"] == "started_event" and "delivered" not in lines[0]
    assert lines[0]["run"] is None and lines[0]["store"] == "mongodb://localhost:27017/jdb"
    assert len({line["journal"] for line in lines}) == 1
    assert [line["seq"] for line in lines] == sorted({line["seq"] for line in lines})

    client.down = False
    assert client.jdb.runs.count_documents({}) == 0
    code, out, err = sacred_cli_here(capsys, "sync", path)
    assert (code, err) == (0, "")
    assert out == f"run 1: {len(lines)} events applied, 0 already there ({path})\n"
    check_mongo(client, 1)

    code, out, err = sacred_cli_here(capsys, "sync", path)  # again: nothing doubles
    assert out == f"run 1: 0 events applied, {len(lines)} already there ({path})\n"
    check_mongo(client, 1)
    assert client.jdb.runs.count_documents({}) == 1
    assert client.jdb.journal.find_one()["run_id"] == 1  # the progress, beside runs


def test_mongo_down_mid_run_then_synced_twice(client, tmp_path, capsys):
    obs = mongo_observer(client, tmp_path)
    ex = make_experiment(tmp_path, obs, down=lambda: setattr(client, "down", True), mid_run=True)
    run = ex.run(options={"--capture": "sys"})
    assert run.status == "COMPLETED" and run._id == 1
    (path,) = journals_in(tmp_path / "failures")
    assert lines_of(path)[0]["delivered"] is True and lines_of(path)[0]["run"] == 1
    client.down = False
    assert client.jdb.runs.find_one()["status"] == "RUNNING"
    for _ in range(2):
        result = journal.sync(path, client)  # a client (or database) as the store
        assert result.run == 1
        check_mongo(client, 1)
    assert result.applied == 0


def test_mongo_write_that_arrived_without_an_answer_is_not_doubled(client, tmp_path):
    """The last metric write before the outage reached MongoDB, but the observer got an
    error: the journal's counts tell the sync which points are there."""
    obs = mongo_observer(client, tmp_path)
    ex = make_experiment(
        tmp_path,
        obs,
        down=lambda: setattr(client, "reach_then_fail", ("update_one", "insert_one")),
        mid_run=True,
    )
    run = ex.run(options={"--capture": "sys"})
    assert run.status == "COMPLETED"
    (path,) = journals_in(tmp_path / "failures")
    client.down, client.reach_then_fail = False, ()
    journal.sync(path, client)
    journal.sync(path, client)
    check_mongo(client, run._id)


def test_mongo_sync_into_another_database_and_after_a_stopped_sync(client, tmp_path, capsys):
    obs = mongo_observer(client, tmp_path)
    ex = make_experiment(tmp_path, obs, down=lambda: setattr(client, "down", True), mid_run=True)
    ex.run(options={"--capture": "sys"})
    (path,) = journals_in(tmp_path / "failures")
    client.down = False
    other = FailingClient()

    # the other database goes away in the middle of the sync
    calls = {"n": 0}
    real_update = mongomock.collection.Collection.update_one

    def flaky(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 8 and self.database.client is other:
            raise pymongo.errors.AutoReconnect("gone during the sync")
        return real_update(self, *args, **kwargs)

    mongomock.collection.Collection.update_one = flaky
    try:
        with pytest.raises(journal.JournalError) as e:
            journal.sync(path, other.jdb)
        assert "\n" not in str(e.value) and "AutoReconnect" in str(e.value)
        result = journal.sync(path, other.jdb)  # finishes the job
    finally:
        mongomock.collection.Collection.update_one = real_update
    assert result.applied > 0 and result.skipped > 0
    doc, metrics, artifacts = mongo_state(other, result.run)
    # the other database only gets what the journal holds: the points after the outage
    assert metrics["loss"]["steps"] == list(range(N_POINTS // 2, N_POINTS))
    assert doc["status"] == "COMPLETED" and artifacts == [b"\x00weights v1"]


def test_a_store_of_another_kind_is_refused(client, tmp_path, capsys):
    obs = mongo_observer(client, tmp_path)
    ex = make_experiment(tmp_path, obs, down=lambda: setattr(client, "down", True))
    ex.run(options={"--capture": "sys"})
    (path,) = journals_in(tmp_path / "failures")
    client.down = False
    code, out, err = sacred_cli_here(capsys, "sync", path, f"sqlite:///{tmp_path}/x.db")
    assert code == 1 and out == "" and err.count("\n") == 1
    assert "written for mongodb://localhost:27017/jdb; the store must be of that kind" in err
    assert not (tmp_path / "x.db").exists()


def test_replay_failure_file_is_the_same_sync(client, tmp_path):
    obs = mongo_observer(client, tmp_path)
    ex = make_experiment(tmp_path, obs, down=lambda: setattr(client, "down", True))
    ex.run(options={"--capture": "sys"})
    (path,) = journals_in(tmp_path / "failures")
    client.down = False
    target = MongoObserver(client=client, db_name="jdb")
    assert replay_failure_file(path, target) == len(lines_of(path))
    assert replay_failure_file(path, target) == 0
    check_mongo(client, 1)


# ================================================================ QueueObserver
def queued_mongo(client, tmp_path):
    obs = QueuedMongoObserver(
        client=client,
        db_name="jdb",
        interval=0.01,
        retry_interval=0.01,
        join_timeout=0.5,
        failure_dir=str(tmp_path / "failures"),
    )
    return obs


def test_queue_down_from_the_start_syncs_the_whole_run(client, tmp_path, capsys):
    obs = queued_mongo(client, tmp_path)
    ex = make_experiment(tmp_path, obs, down=lambda: setattr(client, "down", True))
    run = ex.run(options={"--capture": "sys"})
    assert run.status == "COMPLETED" and run._failed_observers == []
    (path,) = journals_in(tmp_path / "failures")
    assert obs.failure_file == path
    lines = lines_of(path)
    assert lines[0]["event"] == "started_event" and "delivered" not in lines[0]
    client.down = False
    code, out, err = sacred_cli_here(capsys, "sync", path)
    assert code == 0 and out.startswith(f"run 1: {len(lines)} events applied, 0 already")
    check_mongo(client, 1)
    code, out, err = sacred_cli_here(capsys, "sync", str(tmp_path / "failures"))  # a folder
    assert out.startswith(f"run 1: 0 events applied, {len(lines)} already there")
    check_mongo(client, 1)


def test_queue_down_mid_run_with_a_write_that_arrived_is_synced_once(client, tmp_path):
    obs = queued_mongo(client, tmp_path)
    ex = make_experiment(
        tmp_path,
        obs,
        down=lambda: setattr(client, "reach_then_fail", ("update_one", "insert_one")),
        mid_run=True,
        change_artifact=False,  # the queue may read it when it is delivered
    )
    run = ex.run(options={"--capture": "sys"})
    assert run.status == "COMPLETED"
    (path,) = journals_in(tmp_path / "failures")
    lines = lines_of(path)
    assert lines[0]["delivered"] is True
    assert any(line.get("uncertain") for line in lines)
    client.down, client.reach_then_fail = False, ()
    journal.sync(path)
    journal.sync(path)
    check_mongo(client, run._id)


class Recorder:
    """Any observer: no event identity, so a sync delivers every event."""

    priority = 0

    def __init__(self):
        self.events = []

    def started_event(self, **kwargs):
        self.events.append("started_event")
        return 5

    def __getattr__(self, name):
        if name.endswith("_event") or name == "log_metrics":
            return lambda *a, **kw: self.events.append(name)
        raise AttributeError(name)


def test_queue_journal_of_any_observer_goes_through_its_events(tmp_path):
    rec = Recorder()
    rec.started_event = lambda **kwargs: (_ for _ in ()).throw(ConnectionError("down"))
    obs = QueueObserver(
        rec, interval=0.01, retry_interval=0.01, join_timeout=0.3, failure_dir=str(tmp_path)
    )
    ex = Experiment("any", base_dir=str(tmp_path))
    ex.observers.append(obs)
    ex.main(lambda _run: _run.log_scalar("m", 1) or 3)
    run = ex.run()
    assert run.status == "COMPLETED" and run.result == 3
    (path,) = journals_in(tmp_path)
    assert lines_of(path)[0]["store"] is None
    code, out, err = sacred_cli("sync", path)  # no store recorded, none given
    assert code == 1 and err.count("\n") == 1 and "names no store" in err
    target = Recorder()
    result = journal.sync(path, target)
    assert target.events[0] == "started_event" and target.events[-1] == "completed_event"
    assert "log_metrics" in target.events and result.run == 5


# ================================================================ the file itself
def test_a_planted_py_reduce_payload_stays_data(client, tmp_path, capsys):
    obs = mongo_observer(client, tmp_path)
    ex = make_experiment(tmp_path, obs, down=lambda: setattr(client, "down", True))
    ex.run(options={"--capture": "sys"})
    (path,) = journals_in(tmp_path / "failures")
    marker = tmp_path / "pwned"
    payload = {"py/reduce": [{"py/function": "os.system"}, {"py/tuple": [f"touch {marker}"]}]}
    lines = lines_of(path)
    lines[0]["kwargs"]["config"]["evil"] = payload
    lines[-1]["kwargs"]["result"] = payload
    with open(path, "w") as f:
        f.writelines(json.dumps(line) + "\n" for line in lines)
    client.down = False
    with pytest.warns(Warning):
        result = journal.sync(path, client)
    assert not marker.exists()
    from sacred.store import open_store

    record = open_store(client.jdb).get(result.run)  # read back: still inert
    assert record["config"]["lr"] == 0.1 and not isinstance(record["config"]["evil"], int)
    assert record["status"] == "COMPLETED"
    assert not marker.exists()


def test_unreadable_journals_are_one_line_errors(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"journal": "x", "seq": 0, "event": "rm_rf", "kwargs": {}}\n')
    code, out, err = sacred_cli("sync", bad)
    assert code == 1 and out == "" and err.count("\n") == 1
    assert "unknown event 'rm_rf'" in err
    bad.write_text("not json\n")
    code, out, err = sacred_cli("sync", bad, "sqlite:///x.db", cwd=tmp_path)
    assert code == 1 and "line 1: not JSON" in err
    outside = tmp_path / "outside.jsonl"
    outside.write_text(
        json.dumps(
            {
                "journal": "x",
                "seq": 0,
                "event": "artifact_event",
                "kwargs": {"name": "a", "filename": "a"},
                "files": {"filename": "../../etc/passwd"},
            }
        )
        + "\n"
    )
    with pytest.raises(journal.JournalError, match="outside the journal's folder"):
        journal.read_journal(outside)
    code, out, err = sacred_cli("sync", tmp_path / "missing.jsonl")
    assert code == 1 and "cannot read the journal" in err


# ================================================================ S3 and Google Cloud Storage
@pytest.fixture(params=["s3", "gs"])
def object_kind(request, monkeypatch, tmp_path):
    """The kind, with the environment pointing its library to the test service (inherited
    by the ``sacred sync`` subprocess)."""
    from tests.services import service_url

    if request.param == "s3":
        pytest.importorskip("boto3")
        url = service_url("SACRED_TEST_S3_URL")
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
        monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", url)
        for var in ("AWS_ENDPOINT_URL", "AWS_REGION", "AWS_PROFILE"):
            monkeypatch.delenv(var, raising=False)
    else:
        pytest.importorskip("google.cloud.storage")
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", service_url("SACRED_TEST_GCS_URL"))
        monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    return request.param


class Unreachable:
    """A bucket adapter that stops reaching its service while ``down`` is set."""

    def __init__(self, bucket):
        self._real = bucket
        self.down = False

    def __getattr__(self, name):
        attr = getattr(self._real, name)
        if callable(attr) and self.down:

            def fail(*args, **kwargs):
                raise ConnectionError("connection refused (the service is down)")

            return fail
        return attr


def object_observer(kind, tmp_path):
    import uuid

    bucket = f"sacred-journal-{uuid.uuid4().hex[:12]}"
    if kind == "s3":
        from sacred.observers import S3Observer

        obs = S3Observer(bucket, "exp", failure_dir=str(tmp_path / "failures"))
    else:
        from sacred.observers import GoogleCloudStorageObserver

        obs = GoogleCloudStorageObserver(bucket, "exp", failure_dir=str(tmp_path / "failures"))
    obs.RETRY_INTERVAL = 0.0
    obs.FINAL_RETRY_SECONDS = 0.2
    obs._bucket = Unreachable(obs._bucket)
    return obs, f"{kind}://{bucket}/exp"


def check_object_store(location, run_id):
    from sacred.store import open_store

    store = open_store(location)
    record = store.get(run_id)
    metrics = store.metrics(run_id)
    artifacts = []
    for name in store.artifacts(run_id):
        with store.open_artifact(run_id, name) as f:
            artifacts.append(f.read())
    check_whole(record, metrics, record["captured_out"], artifacts, store.resources(run_id))
    assert record["info"]["phase"] == "second"
    assert store.find_ids() == [run_id]
    assert store.sources(run_id)


@pytest.mark.parametrize("mid_run", [False, True], ids=["down_from_start", "down_mid_run"])
def test_object_store_journal_is_synced_whole_and_once(object_kind, tmp_path, mid_run):
    obs, location = object_observer(object_kind, tmp_path)
    ex = make_experiment(
        tmp_path, obs, down=lambda: setattr(obs._bucket, "down", True), mid_run=mid_run
    )
    run = ex.run(options={"--capture": "sys"})
    assert run.status == "COMPLETED" and run._failed_observers == []
    (path,) = journals_in(tmp_path / "failures")
    lines = lines_of(path)
    assert lines[0]["store"] == location and lines[0]["run"] == (1 if mid_run else None)
    obs._bucket.down = False

    code, out, err = sacred_cli("sync", path)
    assert (code, err) == (0, "")
    assert out == f"run 1: {len(lines)} events applied, 0 already there ({path})\n"
    check_object_store(location, 1)
    code, out, err = sacred_cli("sync", path)  # again: nothing doubles, nothing is written
    assert out == f"run 1: 0 events applied, {len(lines)} already there ({path})\n"
    check_object_store(location, 1)


def test_a_store_back_before_the_end_gets_the_run_and_no_journal_is_left(
    client, object_kind, tmp_path
):
    """Unreachable at the start, back before the end: the observers insert (claim) the run
    late and write everything; no journal remains."""
    mongo = mongo_observer(client, tmp_path / "mongo")
    objects, location = object_observer(object_kind, tmp_path / "objects")

    def down():
        client.down = True
        objects._bucket.down = True

    def up():
        client.down = False
        objects._bucket.down = False

    ex = make_experiment(tmp_path, mongo, down=down, up=up)
    ex.observers.append(objects)
    run = ex.run(options={"--capture": "sys"})
    assert run.status == "COMPLETED" and run._failed_observers == []
    assert journals_in(tmp_path / "mongo" / "failures") == []
    assert journals_in(tmp_path / "objects" / "failures") == []
    check_mongo(client, 1)
    check_object_store(location, 1)


# ================================================================ SQL (SQLite, PostgreSQL)
@pytest.fixture(params=["sqlite", "postgresql"])
def sql_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'runs.db'}"
        return
    import uuid

    psycopg = pytest.importorskip("psycopg")
    sa = pytest.importorskip("sqlalchemy")
    from tests.services import service_url

    server = service_url("SACRED_TEST_POSTGRES_URL")
    name = f"sacred_journal_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    yield sa.engine.make_url(server).set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(server, autocommit=True) as con:
        con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Outage:
    """Every statement of an engine fails, as with a server that went away, while ``down``."""

    def __init__(self, engine):
        import sqlalchemy as sa

        self.down = False

        @sa.event.listens_for(engine, "before_cursor_execute")
        def refuse(conn, cursor, statement, parameters, context, executemany):
            if self.down:
                raise sa.exc.OperationalError(statement, parameters, ConnectionError("down"))


def sql_observer(url, tmp_path):
    from sacred.observers import SqlObserver

    obs = SqlObserver(
        url, failure_dir=str(tmp_path / "failures"), retry_timeout=0.2, retry_interval=0.05
    )
    obs.outage = Outage(obs.engine)
    return obs


def sql_state(url, run_id):
    from sacred.store import open_store

    store = open_store(url)
    record = store.get(run_id)
    artifacts = []
    for name in store.artifacts(run_id):
        with store.open_artifact(run_id, name) as f:
            artifacts.append(f.read())
    return store, record, store.metrics(run_id), artifacts


def check_sql(url, run_id):
    store, record, metrics, artifacts = sql_state(url, run_id)
    check_whole(record, metrics, record["captured_out"], artifacts, store.resources(run_id))
    assert record["info"]["phase"] == "second"
    assert [str(i) for i in store.find_ids()] == [str(run_id)]


@pytest.mark.parametrize("mid_run", [False, True], ids=["down_from_start", "down_mid_run"])
def test_sql_journal_is_synced_whole_and_once(sql_url, tmp_path, mid_run):
    obs = sql_observer(sql_url, tmp_path)
    ex = make_experiment(
        tmp_path, obs, down=lambda: setattr(obs.outage, "down", True), mid_run=mid_run
    )
    run = ex.run(options={"--capture": "sys"})
    assert run.status == "COMPLETED" and run._failed_observers == []
    (path,) = journals_in(tmp_path / "failures")
    lines = lines_of(path)
    assert lines[0]["event"] == "started_event" and lines[0]["store"] == obs.url
    assert lines[0]["run"] == ("1" if mid_run else None)
    obs.outage.down = False
    if mid_run:  # the database has the first part of the run only
        assert len(sql_state(sql_url, 1)[2]["loss"]["steps"]) == N_POINTS // 2

    code, out, err = sacred_cli("sync", path)
    assert (code, err) == (0, "")
    assert (
        out
        == f"run 1: {len(lines) - mid_run} events applied, {int(mid_run)} already there ({path})\n"
    )
    check_sql(sql_url, 1)
    code, out, err = sacred_cli("sync", path)  # again: nothing doubles
    assert out == f"run 1: 0 events applied, {len(lines)} already there ({path})\n"
    check_sql(sql_url, 1)


def test_sql_live_rows_go_when_nothing_was_journaled(sql_url, tmp_path):
    import sqlalchemy as sa

    obs = sql_observer(sql_url, tmp_path)
    ex = make_experiment(tmp_path, obs, down=lambda: None)
    run = ex.run(options={"--capture": "sys"})
    assert run.status == "COMPLETED" and journals_in(tmp_path / "failures") == []
    with obs.engine.connect() as con:
        assert con.execute(sa.text("SELECT count(*) FROM journal_event")).scalar() == 0
    check_sql(sql_url, run._id)


def test_sql_replay_failed_events_is_sync(sql_url, tmp_path):
    from sacred.observers.sql import replay_failed_events

    obs = sql_observer(sql_url, tmp_path)
    ex = make_experiment(tmp_path, obs, down=lambda: setattr(obs.outage, "down", True))
    ex.run(options={"--capture": "sys"})
    (path,) = journals_in(tmp_path / "failures")
    obs.outage.down = False
    assert replay_failed_events(path, sql_url) == len(lines_of(path))
    assert replay_failed_events(path, sql_url) == 0
    assert os.path.exists(path)  # not renamed: the database knows what it has
    check_sql(sql_url, 1)


def test_sql_sync_of_a_planted_py_reduce_payload_creates_no_file(tmp_path):
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    obs = sql_observer(url, tmp_path)
    ex = make_experiment(tmp_path, obs, down=lambda: setattr(obs.outage, "down", True))
    ex.run(options={"--capture": "sys"})
    (path,) = journals_in(tmp_path / "failures")
    marker = tmp_path / "pwned"
    payload = {"py/reduce": [{"py/function": "os.system"}, {"py/tuple": [f"touch {marker}"]}]}
    lines = lines_of(path)
    lines[0]["kwargs"]["config"]["evil"] = payload
    lines[-1]["kwargs"]["result"] = payload
    with open(path, "w") as f:
        f.writelines(json.dumps(line) + "\n" for line in lines)
    obs.outage.down = False
    code, out, err = sacred_cli("sync", path)
    assert code == 0 and out.startswith("run 1: ")
    store, record, _, _ = sql_state(url, 1)
    assert record["config"]["lr"] == 0.1 and record["status"] == "COMPLETED"
    assert not marker.exists()


def test_kept_copies_never_reuse_the_name_of_a_forgotten_one(tmp_path):
    from sacred.observers.journal import Journal

    for name, text in (("a/x", "A"), ("b/y", "B"), ("c/y", "C")):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text)
    journal = Journal(str(tmp_path / "failures"), prefix="run")
    first = journal.keep(tmp_path / "a/x")
    second = journal.keep(tmp_path / "b/y")
    journal.forget(first)
    third = journal.keep(tmp_path / "c/y")
    assert third != second
    assert open(second).read() == "B" and open(third).read() == "C"
