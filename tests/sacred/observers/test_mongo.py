"""MongoObserver on mongomock (with its GridFS integration): documents, files, metrics, ids."""

import datetime
import logging
import os
import subprocess
import sys
import textwrap

import gridfs
import mongomock
import mongomock.gridfs
import pymongo
import pytest

from sacred import Experiment
from sacred.observers.mongo import (
    MongoObserver,
    QueueCompatibleMongoObserver,
    QueuedMongoObserver,
    force_bson_encodeable,
    force_valid_bson_key,
    mimetype_detector,
    read_metrics,
    read_run,
)
from sacred.utils import ObserverError

mongomock.gridfs.enable_gridfs_integration()

T1 = datetime.datetime(1999, 5, 4, 3, 2, 1)
T2 = datetime.datetime(1999, 5, 5, 5, 5, 5)


@pytest.fixture
def client():
    return mongomock.MongoClient()


@pytest.fixture
def obs(client):
    return MongoObserver(client=client, db_name="testdb")


@pytest.fixture
def sample_run(tmp_path):
    src = tmp_path / "exp.py"
    src.write_text("print('hi')\n")
    return {
        "_id": None,
        "ex_info": {
            "name": "test_exp",
            "base_dir": str(tmp_path),
            "sources": [("exp.py", "b4a5e6ae6a8c9c7e1d4e2b8aa7e0c3b0")],
            "dependencies": ["sacred==0.8.7"],
            "repositories": [],
            "mainfile": "exp.py",
        },
        "command": "run",
        "host_info": {"hostname": "h", "os": ["Linux", "x"], "python_version": "3.11"},
        "config": {"config": "True", "foo": "bar", "answer": 42},
        "meta_info": {"comment": "test run"},
    }


def start(obs, sample_run, **extra):
    return obs.started_event(start_time=T1, **sample_run, **extra)


# ---------------------------------------------------------------- construction
def test_collections_default_and_prefix(client):
    obs = MongoObserver(client=client, db_name="d")
    assert (obs.runs.name, obs.metrics.name) == ("runs", "metrics")
    obs = MongoObserver(client=client, db_name="d", collection_prefix="p")
    assert (obs.runs.name, obs.metrics.name) == ("p_runs", "p_metrics")
    with pytest.warns(DeprecationWarning):
        obs = MongoObserver(client=client, db_name="d", collection="x")
    assert (obs.runs.name, obs.metrics.name) == ("x", "metrics")
    with pytest.raises(ValueError, match="Cannot pass both collection and a collection prefix."):
        MongoObserver(client=client, collection="x", collection_prefix="p")


@pytest.mark.parametrize("name", ["fs.files", "fs.chunks", "_properties", "search_space"])
def test_reserved_collection_names(client, name):
    with pytest.raises(KeyError) as e, pytest.warns(DeprecationWarning):
        MongoObserver(client=client, collection=name)
    assert e.value.args[0] == f'Collection name "{name}" is reserved. Please use a different one.'


def test_client_checks(client):
    with pytest.raises(ValueError, match="Cannot pass both a client and a url."):
        MongoObserver(client=client, url="localhost:1234")
    with pytest.raises(
        ValueError, match="client needs to be a pymongo.MongoClient, but is <class 'dict'> instead"
    ):
        MongoObserver(client={})
    real = pymongo.MongoClient("localhost:1", connect=False)
    assert MongoObserver(client=real).runs.database.client is real


def test_url_and_kwargs_go_to_mongo_client(monkeypatch):
    calls = []

    def fake_client(*args, **kwargs):
        calls.append((args, kwargs))
        return mongomock.MongoClient()

    monkeypatch.setattr(pymongo, "MongoClient", fake_client)
    obs = MongoObserver(url="somehost:27017", db_name="x", authSource="admin")
    assert calls == [(("somehost:27017",), {"authSource": "admin"})]
    assert obs.runs.database.name == "x" and obs.priority == 30


def test_equality(client):
    assert MongoObserver(client=client, db_name="a") == MongoObserver(client=client, db_name="a")
    assert MongoObserver(client=client, db_name="a") != MongoObserver(client=client, db_name="b")
    assert MongoObserver(client=client) != "x"


def test_create_from_and_deprecated_create(client):
    db = client.db
    fs = gridfs.GridFS(db)
    obs = MongoObserver.create_from(db.runs, fs, priority=5)
    assert (obs.metrics.name, obs.fs, obs.priority) == ("metrics", fs, 5)
    with pytest.warns(DeprecationWarning):
        MongoObserver.create(client=client)


# ---------------------------------------------------------------- documents
def test_started_event_document(obs, sample_run):
    _id = start(obs, sample_run)
    assert _id == 1
    doc = obs.runs.find_one()
    source_id = doc["experiment"]["sources"][0][1]
    assert doc == {
        "_id": 1,
        "experiment": dict(sample_run["ex_info"], sources=[["exp.py", source_id]]),
        "format": "MongoObserver-0.7.0",
        "command": "run",
        "host": sample_run["host_info"],
        "start_time": T1,
        "config": sample_run["config"],
        "meta": {"comment": "test run"},
        "status": "RUNNING",
        "resources": [],
        "artifacts": [],
        "captured_out": "",
        "info": {},
        "heartbeat": None,
    }
    stored = obs.fs.get(source_id)
    assert stored.filename == os.path.join(sample_run["ex_info"]["base_dir"], "exp.py")
    assert stored.read() == b"print('hi')\n"


def test_ids_increment_and_given_ids(obs, client, sample_run):
    assert start(obs, sample_run) == 1
    assert start(MongoObserver(client=client, db_name="testdb"), sample_run) == 2
    sample_run["_id"] = "custom"
    assert start(MongoObserver(client=client, db_name="testdb"), sample_run) == "custom"
    sample_run["_id"] = None
    assert start(MongoObserver(client=client, db_name="testdb"), sample_run) == 3


def test_id_collision_with_a_concurrent_process_is_retried(client, sample_run):
    """Another process inserts the id we computed between our find and our insert."""
    obs = MongoObserver(client=client, db_name="testdb")
    runs = obs.runs
    original_insert = type(runs).insert_one
    raced = []

    def racing_insert(self, doc, *args, **kwargs):
        if not raced and self.name == "runs":
            raced.append(doc["_id"])
            original_insert(self, {"_id": doc["_id"], "other": True})
        return original_insert(self, doc, *args, **kwargs)

    type(runs).insert_one = racing_insert
    try:
        assert start(obs, sample_run) == 2
    finally:
        type(runs).insert_one = original_insert
    assert raced == [1]
    assert runs.find_one({"_id": 1}) == {"_id": 1, "other": True}
    assert runs.find_one({"_id": 2})["status"] == "RUNNING"


def test_sources_are_deduplicated(obs, client, sample_run):
    start(obs, sample_run)
    start(MongoObserver(client=client, db_name="testdb"), sample_run)
    assert client.testdb["fs.files"].count_documents({}) == 1


def test_heartbeat_completed_failed_interrupted(obs, sample_run):
    start(obs, sample_run)
    info = {"my_info": [1, 2, 3], "nr": 7}
    obs.heartbeat_event(info=info, captured_out="some output", beat_time=T2, result=0.7)
    doc = obs.runs.find_one()
    assert (doc["info"], doc["captured_out"], doc["heartbeat"], doc["result"]) == (
        info,
        "some output",
        T2,
        0.7,
    )
    obs.completed_event(stop_time=T2, result=42)
    doc = obs.runs.find_one()
    assert (doc["stop_time"], doc["result"], doc["status"]) == (T2, 42, "COMPLETED")

    obs.started_event(start_time=T1, **dict(sample_run, _id=None))
    obs.failed_event(fail_time=T2, fail_trace=["lots of errors and", "so", "on..."])
    doc = obs.runs.find_one({"_id": 2})
    assert doc["status"] == "FAILED" and doc["fail_trace"] == ["lots of errors and", "so", "on..."]

    obs.started_event(start_time=T1, **dict(sample_run, _id=None))
    obs.interrupted_event(interrupt_time=T2, status="TIMEOUT")
    doc = obs.runs.find_one({"_id": 3})
    assert (doc["status"], doc["stop_time"]) == ("TIMEOUT", T2)


def test_heartbeat_flattens_info_and_result(obs, sample_run):
    start(obs, sample_run)
    obs.heartbeat_event(info={"t": (1, 2)}, captured_out="", beat_time=T2, result=(3, 4))
    doc = obs.runs.find_one()
    assert doc["info"] == {"t": {"py/tuple": [1, 2]}}
    assert doc["result"] == {"py/tuple": [3, 4]}


class RecordingRuns:
    """Wraps a collection and records the update documents it receives."""

    def __init__(self, runs):
        self._runs = runs
        self.updates = []

    def update_one(self, query, update, **kwargs):
        self.updates.append(update)
        return self._runs.update_one(query, update, **kwargs)

    def __getattr__(self, name):
        return getattr(self._runs, name)


def test_heartbeat_sends_only_what_changed(obs, sample_run):
    start(obs, sample_run)
    obs.runs = recorder = RecordingRuns(obs.runs)
    out = "x" * 1000
    obs.heartbeat_event(info={"a": 1}, captured_out=out, beat_time=T2, result=None)
    out2 = out + "new line\n"
    obs.heartbeat_event(info={"a": 1}, captured_out=out2, beat_time=T1, result=None)
    last = recorder.updates[-1]
    assert isinstance(last, list)  # an update pipeline appending the new suffix only
    stage = last[0]["$set"]
    assert stage["captured_out"] == {"$concat": ["$captured_out", "new line\n"]}
    assert set(stage) == {"captured_out", "heartbeat"}  # info and result did not change
    assert obs.runs.find_one()["captured_out"] == out2
    # a filter that rewrote earlier output: the whole text is set
    obs.heartbeat_event(info={"a": 1}, captured_out="rewritten", beat_time=T2, result=None)
    assert recorder.updates[-1]["$set"]["captured_out"] == "rewritten"
    assert obs.runs.find_one()["captured_out"] == "rewritten"


def test_queued_event(obs, sample_run):
    _id = obs.queued_event(queue_time=T1, **sample_run)
    doc = obs.runs.find_one({"_id": _id})
    assert _id == 1 and doc["status"] == "QUEUED"
    assert set(doc) == {"_id", "experiment", "command", "host", "config", "meta", "status"}


def test_overwrite(client, sample_run):
    first = MongoObserver(client=client, db_name="testdb")
    start(first, sample_run)
    first.heartbeat_event(info={"old": 1}, captured_out="old", beat_time=T2, result=1)
    obs = MongoObserver(client=client, db_name="testdb", overwrite=1)
    assert start(obs, sample_run) == 1
    doc = obs.runs.find_one({"_id": 1})
    assert doc["status"] == "RUNNING" and doc["captured_out"] == "" and doc["info"] == {}
    assert obs.runs.count_documents({}) == 1
    with pytest.raises(RuntimeError, match="Cannot overwrite more than once!"):
        start(obs, sample_run)
    with pytest.raises(RuntimeError, match="Can't overwrite with QUEUED run."):
        MongoObserver(client=client, db_name="testdb", overwrite=1).queued_event(
            queue_time=T1, **sample_run
        )
    with pytest.raises(RuntimeError, match="Couldn't find run to overwrite with _id='99'"):
        MongoObserver(client=client, db_name="testdb", overwrite=99)


# ---------------------------------------------------------------- files
def test_artifacts_in_gridfs(obs, sample_run, tmp_path, capsys):
    start(obs, sample_run)
    (tmp_path / "model.py").write_text("x = 1\n")
    (tmp_path / "blob.unknownext").write_bytes(b"\x00\x01")
    obs.artifact_event("model.py", str(tmp_path / "model.py"), metadata={"epoch": 3})
    obs.artifact_event("blob", str(tmp_path / "blob.unknownext"), content_type=None)
    obs.artifact_event("given", str(tmp_path / "model.py"), content_type="text/x-mine")
    out = capsys.readouterr().out
    assert f"Added text/x-python as content-type of artifact {tmp_path / 'model.py'}.\n" in out
    assert (
        "Failed to detect content-type automatically for artifact "
        f"{tmp_path / 'blob.unknownext'}.\n"
    ) in out
    arts = obs.runs.find_one()["artifacts"]
    assert [a["name"] for a in arts] == ["model.py", "blob", "given"]
    files = [obs.fs.get(a["file_id"]) for a in arts]
    assert [f.filename for f in files] == [
        "artifact://runs/1/model.py",
        "artifact://runs/1/blob",
        "artifact://runs/1/given",
    ]
    assert [f.content_type for f in files] == ["text/x-python", None, "text/x-mine"]
    assert files[0].metadata == {"epoch": 3} and files[0].read() == b"x = 1\n"


def test_resources_in_gridfs_without_duplicates(obs, sample_run, tmp_path):
    start(obs, sample_run)
    res = tmp_path / "data.csv"
    res.write_text("a,b\n1,2\n")
    obs.resource_event(str(res))
    obs.resource_event(str(res))
    doc = obs.runs.find_one()
    import hashlib

    md5 = hashlib.md5(res.read_bytes()).hexdigest()
    assert doc["resources"] == [[str(res), md5]]
    assert obs.fs.find_one({"filename": str(res)}).read() == b"a,b\n1,2\n"


@pytest.mark.parametrize(
    "name, mime",
    [
        ("a.py", "text/x-python"),
        ("a.txt", "text/plain"),
        ("a.json", "application/json"),
        ("a.png", "image/png"),
        ("a.jpg", "image/jpeg"),
        ("a.csv", "text/csv"),
        ("a.pdf", "application/pdf"),
        ("a.npy", "application/x-numpy-data"),
        ("a.pkl", "application/x-python-pickle"),
        ("a.html", "text/html"),
        ("a.svg", "image/svg+xml"),
        ("a.yaml", "application/x-yaml"),
        ("a.zip", "application/zip"),
        ("a.gz", "application/gzip"),
        ("a.tar.gz", "application/gzip"),
        ("a.tar", "application/x-tar"),
        ("a.unknownext", None),
    ],
)
def test_mimetype_detector(name, mime):
    assert mimetype_detector(name) == mime


# ---------------------------------------------------------------- metrics
def test_log_metrics(obs, sample_run):
    start(obs, sample_run)
    info = {}
    obs.log_metrics(
        {
            "training.loss": {
                "steps": [10, 20, 30],
                "values": [1, 2, 3],
                "timestamps": [T1, T1, T2],
                "name": "training.loss",
            },
            "acc": {"steps": [0], "values": [0.5], "timestamps": [T1], "name": "acc"},
        },
        info,
    )
    obs.log_metrics(
        {"training.loss": {"steps": [40], "values": [10], "timestamps": [T2], "name": "x"}}, info
    )
    docs = {d["name"]: d for d in obs.metrics.find()}
    loss = docs["training.loss"]
    assert set(loss) == {"_id", "name", "run_id", "steps", "values", "timestamps"}
    assert (loss["run_id"], loss["steps"], loss["values"]) == (1, [10, 20, 30, 40], [1, 2, 3, 10])
    assert loss["timestamps"] == [T1, T1, T2, T2]
    assert info["metrics"] == [
        {"name": "training.loss", "id": str(loss["_id"])},
        {"name": "acc", "id": str(docs["acc"]["_id"])},
    ]
    obs.heartbeat_event(info=info, captured_out="", beat_time=T2, result=None)
    assert obs.runs.find_one()["info"]["metrics"] == info["metrics"]


def test_metric_documents_are_split_below_the_size_limit(obs, sample_run):
    obs.METRIC_DOCUMENT_BUDGET = 51 * 100  # 100 numeric points per document
    start(obs, sample_run)
    info = {}
    n = 0
    for batch in (30, 250, 5, 120):
        steps = list(range(n, n + batch))
        obs.log_metrics(
            {"m": {"steps": steps, "values": [s * 2.0 for s in steps], "timestamps": [T1] * batch}},
            info,
        )
        n += batch
    docs = sorted(obs.metrics.find({"name": "m"}), key=lambda d: d.get("part", 0))
    assert [len(d["steps"]) for d in docs] == [100, 100, 100, 100, 5]
    assert [d.get("part", 0) for d in docs] == [0, 1, 2, 3, 4]
    assert info["metrics"] == [{"name": "m", "id": str(docs[0]["_id"])}]  # one reference
    whole = read_metrics(obs.metrics, 1)["m"]
    assert whole["steps"] == list(range(n))
    assert whole["values"] == [s * 2.0 for s in range(n)]


def test_experiment_end_to_end(client, tmp_path):
    ex = Experiment("e2e", base_dir=str(tmp_path))
    ex.observers.append(MongoObserver(client=client, db_name="e2e"))
    art = tmp_path / "out.json"
    art.write_text("{}")

    @ex.config
    def cfg():
        a = 10  # noqa: F841

    @ex.main
    def main(_run, a):
        print("progress", a)
        for i in range(5):
            _run.log_scalar("loss", 1.0 / (i + 1))
        _run.add_artifact(str(art))
        _run.info["note"] = "hi"
        return a * 2

    run = ex.run(options={"--capture": "sys"})
    doc = client.e2e.runs.find_one({"_id": run._id})
    assert doc["status"] == "COMPLETED" and doc["result"] == 20
    assert doc["config"]["a"] == 10 and doc["experiment"]["name"] == "e2e"
    assert doc["captured_out"].startswith("progress 10\n")
    assert doc["info"]["note"] == "hi"
    assert doc["info"]["metrics"][0]["name"] == "loss"
    loss = client.e2e.metrics.find_one({"run_id": run._id, "name": "loss"})
    assert loss["values"] == [1.0, 0.5, 1.0 / 3, 0.25, 0.2] and loss["steps"] == [0, 1, 2, 3, 4]
    assert str(loss["_id"]) == doc["info"]["metrics"][0]["id"]
    gfile = client.e2e["fs.files"].find_one({"filename": f"artifact://runs/{run._id}/out.json"})
    assert gfile["contentType"] == "application/json"


def test_experiment_failure_is_recorded(client, tmp_path):
    ex = Experiment("fails", base_dir=str(tmp_path))
    ex.observers.append(MongoObserver(client=client, db_name="f"))

    @ex.main
    def main():
        raise ValueError("boom")

    with pytest.raises(ValueError):
        ex.run()
    doc = client.f.runs.find_one()
    assert doc["status"] == "FAILED" and "ValueError: boom\n" in doc["fail_trace"][-1]


# ---------------------------------------------------------------- 16 MB limit
def test_large_output_moves_to_gridfs_and_is_read_back_whole(obs, sample_run):
    obs.DOCUMENT_BUDGET = 200_000
    start(obs, sample_run)
    out = ""
    for i in range(40):
        out += f"line {i} " + "y" * 10_000 + "\n"
        obs.heartbeat_event(info={"i": i}, captured_out=out, beat_time=T2, result=i)
    doc = obs.runs.find_one()
    assert "captured_out" in doc["overflow"]
    assert doc["captured_out"].startswith("[The output is too large for the run document.")
    assert doc["captured_out"].endswith(out[-10_000:])
    assert obs.fs.get(doc["overflow"]["captured_out"]).filename == "captured_out://runs/1"
    assert read_run(obs.runs, 1)["captured_out"] == out
    obs.completed_event(stop_time=T2, result="done")
    whole = read_run(obs.runs, 1)
    assert whole["captured_out"] == out and whole["status"] == "COMPLETED"
    assert whole["info"] == {"i": 39}


def test_large_info_moves_to_gridfs_keeping_metric_references(obs, sample_run):
    obs.DOCUMENT_BUDGET = 100_000
    start(obs, sample_run)
    info = {}
    obs.log_metrics({"m": {"steps": [0], "values": [1], "timestamps": [T1]}}, info)
    info["big"] = ["z" * 1000] * 200
    obs.heartbeat_event(info=info, captured_out="short", beat_time=T2, result=None)
    doc = obs.runs.find_one()
    assert set(doc["overflow"]) == {"info"}
    assert doc["info"] == {"metrics": info["metrics"]}  # dashboards still find the metrics
    assert doc["captured_out"] == "short"
    assert read_run(obs.runs, 1)["info"] == info
    info["big"] = ["w" * 1000] * 150  # changed again: rewritten, the old file removed
    obs.heartbeat_event(info=info, captured_out="short", beat_time=T2, result=None)
    assert read_run(obs.runs, 1)["info"] == info
    assert obs.runs.database["fs.files"].count_documents({"filename": "info://runs/1"}) == 1


def test_output_over_16mb_in_a_real_experiment(client, tmp_path):
    ex = Experiment("big", base_dir=str(tmp_path))
    ex.observers.append(MongoObserver(client=client, db_name="big"))
    chunk = "0123456789abcdef" * 64 * 1024  # 1 MiB
    nbytes = 18 * len(chunk)

    @ex.main
    def main():
        for _ in range(18):
            sys.stdout.write(chunk)

    run = ex.run(options={"--capture": "sys"})
    doc = read_run(client.big.runs, run._id)
    assert doc["status"] == "COMPLETED"
    assert len(doc["captured_out"]) == nbytes and doc["captured_out"] == chunk * 18
    import bson

    assert len(bson.encode(client.big.runs.find_one({"_id": run._id}))) < 16 * 1024 * 1024


# ---------------------------------------------------------------- bson helpers
def test_force_valid_bson_key():
    assert force_valid_bson_key("$foo") == "@foo"
    assert force_valid_bson_key("a.b.c") == "a,b,c"
    assert force_valid_bson_key(12.7) == "12,7"
    assert force_valid_bson_key("ok") == "ok"


def test_force_bson_encodeable():
    valid = {"int": 1, "string": "foo", "float": 23.87, "list": ["a", 1, True], "d": {"a": "b"}}
    assert force_bson_encodeable(valid) == valid
    bad = {
        "a_module": datetime,
        "nested": {"dict": {"with": {"illegal_module": logging}}},
        "$illegal": "because it starts with a $",
        "il.legal": "because it contains a .",
        12.7: "illegal because it is not a string key",
    }
    assert force_bson_encodeable(bad) == {
        "a_module": str(datetime),
        "nested": {"dict": {"with": {"illegal_module": str(logging)}}},
        "@illegal": "because it starts with a $",
        "il,legal": "because it contains a .",
        "12,7": "illegal because it is not a string key",
    }
    np = pytest.importorskip("numpy")
    arr = np.arange(3)
    assert force_bson_encodeable({"a": arr})["a"] is arr


@pytest.fixture
def server_encoding(monkeypatch):
    """mongomock collections that refuse what pymongo refuses before it sends anything:
    each document is BSON-encoded first."""
    import bson
    from mongomock.collection import Collection

    insert_one, update_one = Collection.insert_one, Collection.update_one

    def encoding_insert_one(self, document, *args, **kwargs):
        bson.encode(document)
        return insert_one(self, document, *args, **kwargs)

    def encoding_update_one(self, filter, update, *args, **kwargs):
        bson.encode(update if isinstance(update, dict) else {"pipeline": update})
        return update_one(self, filter, update, *args, **kwargs)

    monkeypatch.setattr(Collection, "insert_one", encoding_insert_one)
    monkeypatch.setattr(Collection, "update_one", encoding_update_one)


def test_names_that_are_not_utf8_are_stored_with_replacement_characters(client, server_encoding):
    """A name that is not UTF-8, as Python decodes it (surrogateescape), in the config, the
    info and the result: BSON refuses it, so U+FFFD takes its place (the run is stored)."""
    name = b"caf\xe9.txt".decode("utf-8", "surrogateescape")
    ex = Experiment("bytes")
    ex.add_config(name="x")

    @ex.main
    def main(_run, name):
        _run.info["file"] = name
        return name

    ex.observers.append(MongoObserver(client=client, db_name="b"))
    run = ex.run(config_updates={"name": name}, options={"--capture": "sys"})
    doc = client.b.runs.find_one({"_id": run._id})
    assert doc["status"] == "COMPLETED"
    assert doc["config"]["name"] == doc["info"]["file"] == doc["result"] == "caf\ufffd.txt"


def test_unserializable_entry_at_start_is_an_observer_error(obs, sample_run):
    sample_run["meta_info"] = {"bad": object()}
    with pytest.raises(ObserverError, match="Run contained an unserializable entry"):
        start(obs, sample_run)


# ---------------------------------------------------------------- queue variants
def test_queued_mongo_observer(client, tmp_path):
    obs = QueuedMongoObserver(client=client, db_name="q", interval=0.01, retry_interval=0.01)
    assert obs.priority == 0  # spec quirk: the attribute does not fall through
    assert isinstance(obs._covered_observer, QueueCompatibleMongoObserver)
    ex = Experiment("queued", base_dir=str(tmp_path))
    ex.observers.append(obs)

    @ex.main
    def main(_run):
        for i in range(3):
            _run.log_scalar("m", i)
        return 5

    run = ex.run()
    doc = client.q.runs.find_one({"_id": run._id})
    assert doc["status"] == "COMPLETED" and doc["result"] == 5
    assert client.q.metrics.find_one()["values"] == [0, 1, 2]
    assert doc["info"]["metrics"][0]["name"] == "m"


def test_queue_compatible_observer_raises_so_the_queue_retries(client, sample_run, monkeypatch):
    obs = QueueCompatibleMongoObserver(client=client, db_name="qc")
    start(obs, sample_run)

    def down(*args, **kwargs):
        raise pymongo.errors.AutoReconnect("gone")

    monkeypatch.setattr(type(obs.runs), "update_one", down)
    with pytest.raises(ObserverError, match="saving to MongoDB failed"):
        obs.completed_event(stop_time=T2, result=1)
    with pytest.raises(pymongo.errors.AutoReconnect):
        obs.heartbeat_event(info={}, captured_out="abc", beat_time=T2, result=None)
    monkeypatch.undo()
    obs.heartbeat_event(info={}, captured_out="abc", beat_time=T2, result=None)
    obs.completed_event(stop_time=T2, result=1)
    doc = obs.runs.find_one()
    assert (doc["status"], doc["captured_out"], doc["result"]) == ("COMPLETED", "abc", 1)
    with pytest.raises(TypeError):
        obs.log_metrics({"m": {}}, {})  # the per-metric signature
    obs.log_metrics("m", {"steps": [1], "values": [2], "timestamps": [T1]}, {})
    assert obs.metrics.find_one()["values"] == [2]


# ---------------------------------------------------------------- command line
def test_mongo_db_option_end_to_end(tmp_path, monkeypatch):
    """``-m`` creates the observer through pymongo.MongoClient (patched to mongomock)."""
    shared = mongomock.MongoClient()
    seen = []

    def fake_client(url=None, **kwargs):
        seen.append(url)
        return shared

    monkeypatch.setattr(pymongo, "MongoClient", fake_client)
    ex = Experiment("cli", base_dir=str(tmp_path))

    @ex.main
    def main():
        print("from cli")
        return 3

    run = ex.run_commandline(["cli.py", "-m", "myhost:27017:clidb.mycoll!12", "--capture=sys"])
    assert seen == ["myhost:27017"]
    assert [type(o).__name__ for o in run.observers] == ["MongoObserver"]
    assert run.observers[0].priority == 12
    doc = shared.clidb.mycoll.find_one()
    assert doc["_id"] == run._id == 1 and doc["status"] == "COMPLETED" and doc["result"] == 3
    assert doc["captured_out"].startswith("from cli")
    assert doc["meta"]["options"]["--mongo_db"] == "myhost:27017:clidb.mycoll!12"


def test_unreachable_server_at_the_start_journals_the_whole_run(tmp_path):
    """The original fails such a run; here it runs, and `sacred sync` stores it later."""
    script = tmp_path / "unreachable.py"
    script.write_text(
        textwrap.dedent(
            """
            from sacred import Experiment
            ex = Experiment("unreachable")

            @ex.automain
            def main():
                print("main runs")
            """
        )
    )
    # port 9 (discard) on localhost: nothing listens; fail within 0.5 s
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    code = (
        "import sys, runpy, pymongo\n"
        "orig = pymongo.MongoClient\n"
        "pymongo.MongoClient = lambda url=None, **kw: orig(url, serverSelectionTimeoutMS=500, **kw)\n"
        f"sys.argv = [{str(script)!r}, '-m', '127.0.0.1:9:db']\n"
        f"runpy.run_path({str(script)!r}, run_name='__main__')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        cwd=str(tmp_path),
    )
    assert proc.returncode == 0, proc.stderr
    assert "main runs" in proc.stdout
    (journal,) = (tmp_path / "sacred_failures").glob("*.jsonl")
    assert journal.name in proc.stderr  # the warning says where the run is kept


def _metric_runs(observer, n_runs=3, points=4):
    ex = Experiment("notebook")

    @ex.main
    def main(_run):
        for i in range(points):
            _run.log_scalar("loss", 10 * _run._id + i, i)
            _run.log_scalar("acc", i, i)

    ex.observers.append(observer)  # one observer for every run, as a notebook does
    return [ex.run(options={"--capture": "sys"})._id for _ in range(n_runs)]


@pytest.mark.parametrize("kind", ["plain", "queued"])
def test_one_observer_for_several_runs_keeps_their_metrics_apart(client, kind):
    if kind == "plain":
        observer = MongoObserver(client=client)
    else:
        observer = QueuedMongoObserver(client=client, interval=0.01)
    ids = _metric_runs(observer)
    db = client["sacred"]
    assert db.metrics.count_documents({}) == len(ids) * 2
    for run_id in ids:
        docs = {d["name"]: d for d in db.metrics.find({"run_id": run_id})}
        assert set(docs) == {"loss", "acc"}, run_id
        assert docs["loss"]["values"] == [10 * run_id + i for i in range(4)]
        assert docs["acc"]["steps"] == [0, 1, 2, 3]
        refs = db.runs.find_one({"_id": run_id})["info"]["metrics"]
        assert {r["id"] for r in refs} == {str(d["_id"]) for d in docs.values()}
