"""MongoStore against runs written by the real MongoObserver (mongomock; a real server too
when ``SACRED_TEST_MONGO_URL`` is set). The shared suite runs in test_store_suite.py."""

import datetime as dt
import os
import uuid

import pytest

pytest.importorskip("mongomock")

import gridfs  # noqa: E402
import mongomock  # noqa: E402
import mongomock.gridfs  # noqa: E402

from sacred import Experiment  # noqa: E402
from sacred.observers import MongoObserver  # noqa: E402
from sacred.observers.mongo.store import MongoStore  # noqa: E402
from sacred.store import RunNotFoundError, StoreError, open_store  # noqa: E402

from .conftest import run_experiments, tags  # noqa: E402

mongomock.gridfs.enable_gridfs_integration()


def _fill(client, tmp_path, db_name="sacred", **observer_kwargs):
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        run_experiments(
            lambda _: MongoObserver(client=client, db_name=db_name, **observer_kwargs), tmp_path
        )
    finally:
        os.chdir(cwd)


@pytest.fixture
def filled(tmp_path):
    """(store, client): a fresh mongomock database with the runs a..e."""
    client = mongomock.MongoClient()
    _fill(client, tmp_path)
    return open_store(client), client


def test_open_store_locations(monkeypatch):
    client = mongomock.MongoClient()
    store = open_store(client, db_name="lab", prefix="ex")
    assert isinstance(store, MongoStore)
    assert (store.db.name, store.runs.name, store.metrics_collection.name) == (
        "lab",
        "ex_runs",
        "ex_metrics",
    )
    assert open_store(client["other"]).db.name == "other"  # a database object
    # URLs: the store pings the server once (see test_unreachable_mongo); here mongomock's
    # client stands in for pymongo's, to check the names a URL gives
    with pytest.raises(StoreError, match=r"^Cannot reach MongoDB at mongodb://localhost:1/mydb"):
        open_store("mongodb://localhost:1/mydb", serverSelectionTimeoutMS=50)
    monkeypatch.setattr("pymongo.MongoClient", mongomock.MongoClient)
    store = open_store("mongodb://localhost:1/mydb", prefix="ex", serverSelectionTimeoutMS=50)
    assert (store.db.name, store.runs.name) == ("mydb", "ex_runs")
    store.close()
    store = open_store("mongodb://localhost:1", serverSelectionTimeoutMS=50)
    assert (store.db.name, store.runs.name, store.metrics_collection.name) == (
        "sacred",
        "runs",
        "metrics",
    )
    store.close()


def test_prefix_selects_the_observers_collections(tmp_path):
    client = mongomock.MongoClient()
    ex = Experiment("pref")
    ex.main(lambda _run: _run.log_scalar("x", 1.5) or 7)
    ex.observers.append(MongoObserver(client=client, collection_prefix="ex"))
    ex.run()
    assert open_store(client).count() == 0
    store = open_store(client, prefix="ex")
    (run,) = store.find()
    assert run["result"] == 7 and run["experiment"]["name"] == "pref"
    assert store.metrics(run["_id"])["x"]["values"] == [1.5]
    assert store.find("metrics.x.max == 1.5") == [run]


def test_string_ids_and_unknown_runs(filled):
    store, _ = filled
    assert store.get("2")["config"]["tag"] == "b"  # ids typed on a command line
    with pytest.raises(RunNotFoundError, match="There is no run 'x' in database 'sacred'"):
        store.get("x")
    with pytest.raises(RunNotFoundError):
        store.metrics(42)
    with pytest.raises(RunNotFoundError):
        store.open_source(1, "nope.py")
    with pytest.raises(RunNotFoundError):
        store.open_resource(1, "nope.csv")


class _Recorder:
    """A collection wrapper that records what is sent to the server."""

    def __init__(self, collection, sent):
        self._c = collection
        self._sent = sent

    def __getattr__(self, name):
        attr = getattr(self._c, name)
        if name in ("find", "find_one", "count_documents", "aggregate"):

            def call(*args, **kwargs):
                self._sent.append((name, args, kwargs))
                return attr(*args, **kwargs)

            return call
        return attr


def _keys(obj):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield k
            yield from _keys(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _keys(v)


def test_queries_run_on_the_server_without_javascript(filled):
    store, _ = filled
    sent = []
    store.runs = _Recorder(store.runs, sent)
    store.metrics_collection = _Recorder(store.metrics_collection, sent)
    query = "status == 'COMPLETED' and metrics.loss.min < 0.5 and experiment.name =~ 'mn'"
    assert tags(store.find(query, sort="-lr", limit=1)) == ["a"]
    assert store.count("lr > 0.05 or not metrics.acc.count exists") == 3
    assert tags(store.find(sort="-metrics.loss.last", skip=1, limit=2)) == ["c", "b"]
    kinds = [name for name, _, _ in sent]
    assert "aggregate" in kinds and "count_documents" in kinds
    for _, args, kwargs in sent:
        keys = set(_keys([args, kwargs]))
        assert not keys & {"$where", "$function", "$accumulator"}


def test_paging_is_done_by_the_cursor(filled):
    store, _ = filled
    calls = []
    real_find = store.runs.find

    def find(*args, **kwargs):
        cursor = real_find(*args, **kwargs)
        calls.append(cursor)
        return cursor

    store.runs.find = find
    assert tags(store.find("lr < 1", sort="lr", skip=1, limit=2)) == ["b", "e"]
    # one query, sorted, skipped and limited by the server: the cursor held 2 documents
    assert len(calls) == 1
    assert store.find(limit=0) == []


def test_whole_records_when_fields_overflowed(tmp_path):
    client = mongomock.MongoClient()
    ex = Experiment("big")

    @ex.main
    def main(_run):
        print("line of output " * 4000)
        _run.info["blob"] = "i" * 50_000
        print("the end")
        return {"r": "x" * 40_000}

    observer = MongoObserver(client=client)
    observer.DOCUMENT_BUDGET = 30_000
    ex.observers.append(observer)
    ex.run(options={"--capture": "sys"})
    raw = client["sacred"]["runs"].find_one()
    assert set(raw["overflow"]) >= {"captured_out", "info"}
    assert len(raw["captured_out"]) < 20_000 and raw["info"] == {}
    store = open_store(client)
    (record,) = store.find()
    assert record["captured_out"].endswith("the end\n")
    assert record["captured_out"].startswith("line of output " * 4000)
    assert record["info"]["blob"] == "i" * 50_000
    assert record["result"] == {"r": "x" * 40_000}
    assert "overflow" not in record
    assert store.get(record["_id"]) == record
    assert store.find("info.blob =~ '^i+$'") == []  # the server sees the stand-in only
    (summary,) = store.summaries()
    assert "captured_out" not in summary and summary["info"]["blob"] == "i" * 50_000
    store.delete(record["_id"])
    # the overflow files went with it, and the source no other run uses
    assert client["sacred"]["fs.files"].count_documents({}) == 0
    assert client["sacred"]["fs.chunks"].count_documents({}) == 0


def test_metrics_across_continuation_documents(tmp_path):
    client = mongomock.MongoClient()
    ex = Experiment("long")

    @ex.main
    def main(_run):
        for i in range(300):
            _run.log_scalar("loss", 300.0 - i if i != 150 else -5.0, i)
        _run.log_scalar("other", 1.0, 0)

    observer = MongoObserver(client=client)
    observer.METRIC_DOCUMENT_BUDGET = 2000
    ex.observers.append(observer)
    run = ex.run()
    parts = list(client["sacred"]["metrics"].find({"name": "loss"}))
    assert len(parts) > 3 and sorted(p.get("part", 0) for p in parts) == list(range(len(parts)))
    store = open_store(client)
    m = store.metrics(run._id, names="loss")["loss"]
    assert m["steps"] == list(range(300))
    assert m["values"][150] == -5.0 and m["values"][-1] == 1.0
    assert store.metric_summaries(run._id)["loss"] == {
        "count": 300,
        "first": 300.0,
        "last": 1.0,
        "min": -5.0,
        "max": 300.0,
    }
    for query in (
        "metrics.loss.count == 300",
        "metrics.loss.last == 1",
        "metrics.loss.first == 300",
        "metrics.loss.min == -5",
    ):
        assert store.count(query) == 1, query
    small = store.metrics(run._id, names="loss", max_points=10)["loss"]
    assert len(small["values"]) <= 10
    assert {300.0, -5.0, 1.0} <= set(small["values"])
    assert small["steps"] == sorted(small["steps"])


def test_metric_summaries_ignore_nan_and_non_numbers(tmp_path):
    client = mongomock.MongoClient()
    store = open_store(client)
    client["sacred"]["runs"].insert_one({"_id": 1, "status": "COMPLETED"})
    client["sacred"]["metrics"].insert_one(
        {"run_id": 1, "name": "m", "steps": [0, 1, 2], "values": [2.0, "x", 5.0], "timestamps": []}
    )
    assert store.metric_summaries(1)["m"] == {
        "count": 3,
        "first": 2.0,
        "last": 5.0,
        "min": 2.0,
        "max": 5.0,
    }
    assert store.count("metrics.m.max == 5") == 1


def test_delete_removes_what_only_the_run_owns(filled):
    store, client = filled
    db = client["sacred"]
    ids = {r["config"]["tag"]: r["_id"] for r in store.find()}
    files = db["fs.files"]
    sources = {f["filename"] for f in files.find({"filename": {"$regex": r"\.py$"}})}
    assert any(s.endswith("conftest.py") for s in sources)
    assert files.count_documents({"filename": {"$regex": "^artifact://"}}) == 1
    assert files.count_documents({"filename": {"$regex": r"data\.csv$"}}) == 1
    store.delete(ids["a"])
    assert store.count() == 4 and db.runs.find_one({"_id": ids["a"]}) is None
    assert db.metrics.count_documents({"run_id": ids["a"]}) == 0
    assert db.metrics.count_documents({}) > 0
    assert files.count_documents({"filename": {"$regex": "^artifact://"}}) == 0
    assert files.count_documents({"filename": {"$regex": r"data\.csv$"}}) == 0
    # sources are shared by the other runs
    assert {f["filename"] for f in files.find({"filename": {"$regex": r"\.py$"}})} == sources
    for tag in "bcde":
        store.delete(ids[tag])
    assert files.count_documents({}) == 0 and db["fs.chunks"].count_documents({}) == 0
    assert db.metrics.count_documents({}) == 0
    with pytest.raises(RunNotFoundError):
        store.delete(ids["a"])


def test_export_file_to_mongo_to_file_is_lossless(fresh_file_store, tmp_path):
    from sacred.cli import copy_runs
    from sacred.observers.file_storage.store import FileStore

    src, _ = fresh_file_store
    mongo = open_store(mongomock.MongoClient())
    assert copy_runs(src, mongo) == [(i, i) for i in [1, 2, 3, 4, 5]]
    os.makedirs(tmp_path / "back")
    back = FileStore(str(tmp_path / "back"))
    assert copy_runs(mongo, back) == [(i, i) for i in [1, 2, 3, 4, 5]]
    for run_id in [1, 2, 3, 4, 5]:
        a, m, b = src.get(run_id), mongo.get(run_id), back.get(run_id)
        assert [r[0] for r in a["resources"]] == [r[0] for r in b["resources"]]
        for record in (a, m, b):
            record.pop("resources")
        assert a == b
        assert {k: v for k, v in m.items() if k not in ("experiment", "artifacts")} == {
            k: v for k, v in a.items() if k not in ("experiment", "artifacts")
        }
        assert src.metrics(run_id) == mongo.metrics(run_id) == back.metrics(run_id)
        for name in src.artifacts(run_id):
            assert src.open_artifact(run_id, name).read() == back.open_artifact(run_id, name).read()
        for name in src.sources(run_id):
            assert src.open_source(run_id, name).read() == mongo.open_source(run_id, name).read()
            assert src.open_source(run_id, name).read() == back.open_source(run_id, name).read()
        for name in src.resources(run_id):
            assert src.open_resource(run_id, name).read() == back.open_resource(run_id, name).read()
    # the imported runs look like the observer's: metrics referenced from info in MongoDB
    raw = mongo.runs.find_one({"_id": 2})
    assert [r["name"] for r in raw["info"]["metrics"]] == ["acc", "loss"]
    assert mongo.find("metrics.loss.count == 5") == [mongo.get(2)]
    # the sources are stored once
    assert mongo.fs.find({"filename": {"$regex": "conftest.py$"}}).__class__
    with pytest.raises(StoreError, match="Run 1 is already in the destination; nothing was copied"):
        copy_runs(src, mongo, "tag == 'a'")
    assert copy_runs(src, mongo, "tag == 'a'", new_ids=True) == [(1, 6)]


def test_import_keeps_microseconds_and_splits_big_values():
    store = open_store(mongomock.MongoClient())
    store.DOCUMENT_BUDGET = 20_000
    store.METRIC_DOCUMENT_BUDGET = 1000
    t = dt.datetime(2026, 11, 27, 10, 0, 0, 123456)
    n = 100
    record = {
        "_id": 9,
        "status": "COMPLETED",
        "start_time": t,
        "stop_time": t + dt.timedelta(microseconds=7),
        "experiment": {"name": "imp"},
        "config": {"k": 1},
        "info": {},
        "captured_out": "o" * 50_000,
        "artifacts": [],
    }
    metrics = {
        "m": {
            "steps": list(range(n)),
            "values": [float(i) for i in range(n)],
            "timestamps": [t + dt.timedelta(microseconds=i) for i in range(n)],
        }
    }
    assert store.import_run(record, metrics=metrics) == 9
    got = store.get(9)
    assert got["start_time"] == t and got["stop_time"].microsecond == 123463
    assert got["captured_out"] == "o" * 50_000
    assert got["info"] == {}
    assert store.metrics(9) == metrics
    assert store.metrics_collection.count_documents({"run_id": 9}) > 1
    assert store.import_run(dict(record, _id="abc")) == "abc"
    assert store.import_run(record, new_id=True) == 10


@pytest.mark.skipif(
    not os.environ.get("SACRED_TEST_MONGO_URL"), reason="needs SACRED_TEST_MONGO_URL"
)
def test_against_a_real_server(tmp_path):
    import pymongo

    url = os.environ["SACRED_TEST_MONGO_URL"]
    db_name = f"sacred_store_test_{uuid.uuid4().hex[:8]}"
    client = pymongo.MongoClient(url, serverSelectionTimeoutMS=5000)
    try:
        _fill(client, tmp_path, db_name=db_name, collection_prefix="t")
        base = url.split("?")[0].rstrip("/")
        if base.count("/") > 2:  # the URL names a database already
            base = base.rsplit("/", 1)[0]
        store = open_store(f"{base}/{db_name}", prefix="t")
        assert store.count() == 5
        assert "".join(tags(store.find("metrics.loss.min < 0.5"))) == "ab"
        assert "".join(tags(store.find(sort="-metrics.loss.min", limit=2))) == "dc"
        assert "".join(tags(store.find("lr < 0.05 or result =~ 'o'", sort="-lr"))) == "ebc"
        assert "".join(tags(store.find(sort="result"))) == "dabce"
        a = store.find("tag == 'a'")[0]
        assert store.open_artifact(a["_id"], "model.txt").read() == b"weights of a\n"
        assert store.metrics(a["_id"])["loss"]["values"] == [1.0, 0.5, 1 / 3]
        store.delete(a["_id"])
        assert store.count() == 4
        assert (
            gridfs.GridFS(client[db_name]).find_one({"filename": {"$regex": "^artifact"}}) is None
        )
        store.close()
    finally:
        client.drop_database(db_name)
        client.close()


def test_a_runs_collection_of_any_name(tmp_path):
    """Sacredboard's -mc: e.g. ``default.runs`` (Sacred 0.6) with ``default.metrics``."""
    client = mongomock.MongoClient()
    db = client["sacred"]
    T = dt.datetime(2026, 11, 28, 3, 0, 0)
    db["default.runs"].insert_one({"_id": 1, "status": "COMPLETED", "config": {"a": 1}})
    db["default.metrics"].insert_one(
        {"run_id": 1, "name": "loss", "steps": [0, 1], "values": [2.0, 1.0], "timestamps": [T, T]}
    )
    db["odd"].insert_one({"_id": 2, "status": "FAILED", "config": {"a": 2}})
    store = open_store(client, runs_collection="default.runs")
    assert [r["config"] for r in store.find()] == [{"a": 1}]
    assert store.metrics(1)["loss"]["values"] == [2.0, 1.0]
    assert store.metrics_collection.name == "default.metrics"
    odd = open_store(client, runs_collection="odd")
    assert [r["_id"] for r in odd.find("status == 'FAILED'")] == [2]
    assert odd.metrics_collection.name == "metrics"
    with pytest.raises(StoreError, match="either prefix or runs_collection"):
        open_store(client, prefix="x", runs_collection="odd")
