"""The MongoDB backend on the continue-an-existing-record path: ``MongoObserver
.continued_event`` (output, metrics, artifacts, meta, MongoDB away at and after the
continuation, the journal) and ``MongoStore.claim``/``claims`` (exactly one winner among
threads), with mongomock; against a real server when SACRED_TEST_MONGO_URL is set."""

import datetime
import json
import os
import threading
import uuid

import mongomock
import mongomock.gridfs
import pymongo
import pytest

from sacred import Experiment
from sacred.continuation import Continuation, segments_of
from sacred.launch.script import run_in_store
from sacred.observers.journal import sync
from sacred.observers.mongo import MongoObserver, QueuedMongoObserver
from sacred.store import open_store
from sacred.store.base import RunNotFoundError

mongomock.gridfs.enable_gridfs_integration()

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
)


class FailingClient(mongomock.MongoClient):
    """A mongomock client whose server can be switched off (every call then fails)."""

    down = False


@pytest.fixture
def failing_client(monkeypatch):
    collection_cls = mongomock.collection.Collection

    def wrap(name):
        original = getattr(collection_cls, name)

        def method(self, *args, **kwargs):
            client = self.database.client
            if isinstance(client, FailingClient) and client.down:
                raise pymongo.errors.AutoReconnect("connection refused (server is down)")
            return original(self, *args, **kwargs)

        return method

    for name in _METHODS:
        monkeypatch.setattr(collection_cls, name, wrap(name))
    return FailingClient()


@pytest.fixture(params=["mongomock", "server"])
def client(request):
    """A mongomock client, or one of a real server (SACRED_TEST_MONGO_URL)."""
    if request.param == "mongomock":
        yield mongomock.MongoClient()
        return
    url = os.environ.get("SACRED_TEST_MONGO_URL")
    if not url:
        pytest.skip("SACRED_TEST_MONGO_URL is not set (a real MongoDB server)")
    real = pymongo.MongoClient(url, serverSelectionTimeoutMS=5000)
    name = f"sacred_cont_{uuid.uuid4().hex[:12]}"
    _DB_NAMES[id(real)] = name
    yield real
    real.drop_database(name)
    real.close()
    del _DB_NAMES[id(real)]


_DB_NAMES = {}  # a real server's client -> its test database (mongomock: "cont")


def _db_name(client):
    return _DB_NAMES.get(id(client), "cont")


def _observer(client, **kwargs):
    return MongoObserver(client=client, db_name=_db_name(client), **kwargs)


def _store(client):
    return open_store(client, db_name=_db_name(client))


def _experiment(tmp_path, observer, state, out_chars=0):
    ex = Experiment("resumable", base_dir=str(tmp_path))
    if observer is not None:
        ex.observers.append(observer)

    @ex.config
    def cfg():
        steps = 6
        crash_at = 3

    @ex.main
    def main(_run, steps, crash_at):
        last = _run.last_step("loss")
        start = 0 if last is None else last + 1
        if start == 0 and out_chars:
            print("o" * (out_chars - 1))
        print(f"starting at {start}")
        part = tmp_path / f"part{start}.txt"
        part.write_text(f"from step {start}\n")
        _run.add_artifact(str(part), f"part{start}.txt")
        hook = state.get("hook")
        if hook is not None and start > 0:
            hook(_run)
        for i in range(start, steps):
            if i == crash_at and not state.get("fixed"):
                raise RuntimeError("crashed on purpose")
            _run.log_scalar("loss", 1.0 / (i + 1))
        return steps

    return ex


def _fail(tmp_path, observer, state, out_chars=0):
    with pytest.raises(RuntimeError):
        _experiment(tmp_path, observer, state, out_chars).run(options={"--capture": "sys"})
    state["fixed"] = True


def test_a_resumed_run_is_the_same_document_running_again(client, tmp_path):
    seen = {}

    def hook(_run):
        seen["record"] = _store(client).get(_run._id)

    state = {"hook": hook}
    _fail(tmp_path, _observer(client), state)
    store = _store(client)
    (run_id,) = store.find_ids()
    run = _experiment(tmp_path, _observer(client), state).run(
        resume=run_id, options={"--capture": "sys"}
    )
    assert run._id == run_id and run.status == "COMPLETED"
    running = seen["record"]
    assert running["status"] == "RUNNING"
    assert "stop_time" not in running and "fail_trace" not in running
    assert running["heartbeat"] >= running["start_time"]
    assert [s["status"] for s in segments_of(running)] == ["FAILED", "RUNNING"]

    record = store.get(run_id)
    assert record["status"] == "COMPLETED" and "fail_trace" not in record
    assert record["start_time"] == running["start_time"]
    assert store.find_ids() == [run_id]
    metric = store.metrics(run_id)["loss"]
    assert metric["steps"] == [0, 1, 2, 3, 4, 5]
    db = client[_db_name(client)]
    assert db.metrics.count_documents({}) == 1  # the old document, continued
    assert [m["name"] for m in record["info"]["metrics"]] == ["loss"]
    assert [a["name"] for a in record["artifacts"]] == ["part0.txt", "part3.txt"]
    assert store.open_artifact(run_id, "part3.txt").read() == b"from step 3\n"
    out = record["captured_out"]
    assert out.index("starting at 0") < out.index("--- resumed (segment 2)")
    assert out.index("--- resumed (segment 2)") < out.index("starting at 3")
    assert [s["status"] for s in segments_of(record)] == ["FAILED", "COMPLETED"]


class _Recorder:
    """Wraps the runs collection: the updates sent to MongoDB."""

    def __init__(self, runs):
        self._runs = runs
        self.updates = []

    def update_one(self, query, update, **kwargs):
        self.updates.append(update)
        return self._runs.update_one(query, update, **kwargs)

    def __getattr__(self, name):
        return getattr(self._runs, name)

    def __eq__(self, other):
        return self._runs == other


def test_heartbeats_append_to_the_stored_output(tmp_path):
    client = mongomock.MongoClient()
    sent = {}

    def hook(_run):
        print("new text")
        _run._emit_heartbeat()
        sent["updates"] = list(observer.runs.updates)

    state = {"hook": hook}
    _fail(tmp_path, _observer(client), state, out_chars=5000)
    observer = _observer(client)
    observer.runs = _Recorder(observer.runs)
    run = _experiment(tmp_path, observer, state).run(resume=1, options={"--capture": "sys"})
    assert run.status == "COMPLETED"
    texts = [json.dumps(u, default=str) for u in sent["updates"]]
    assert all("o" * 5000 not in t for t in texts)  # the old text never travels again
    appended = [u[0]["$set"]["captured_out"]["$concat"][1] for u in sent["updates"][-1:]]
    assert appended[0].startswith("--- resumed (segment 2)")
    assert "\nstarting at 3\n" in appended[0] and appended[0].endswith("new text\n")
    out = _store(client).get(1)["captured_out"]
    assert out.startswith("o" * 4999 + "\nstarting at 0\n") and out.count("o" * 4999) == 1


def test_output_moved_to_gridfs_goes_on_whole(tmp_path):
    client = mongomock.MongoClient()
    state = {}
    first = _observer(client)
    first.DOCUMENT_BUDGET = 4000  # the output moves to GridFS
    _fail(tmp_path, first, state, out_chars=6000)
    assert "captured_out" in client.cont.runs.find_one({"_id": 1})["overflow"]
    observer = _observer(client)
    observer.DOCUMENT_BUDGET = 4000
    _experiment(tmp_path, observer, state).run(resume=1, options={"--capture": "sys"})
    out = _store(client).get(1)["captured_out"]
    assert out.startswith("o" * 5999 + "\nstarting at 0\n")
    assert out.count("o" * 5999) == 1 and "\nstarting at 3\n" in out


def test_a_claimed_queued_run_keeps_its_meta(client, tmp_path):
    ex = _experiment(tmp_path, _observer(client), {"fixed": True})
    queued = ex.run(config_updates={"steps": 2}, options={"--queue": True})
    store = _store(client)
    store.update_meta(queued._id, {"tags": ["keep"]})
    assert store.claim(queued._id, 1, "w1")
    claims = [{"attempt": 1, "worker": "w1", "at": "t"}]
    continuation = Continuation.queued(store.get(queued._id), meta_updates={"claims": claims})
    run = run_in_store(
        _experiment(tmp_path, None, {"fixed": True}),
        _observer(client),
        config_updates=continuation.config,
        options={"--capture": "sys"},
        continuation=continuation,
    )
    assert run._id == queued._id and run.result == 2
    done = store.get(queued._id)
    assert done["status"] == "COMPLETED" and done["meta"]["tags"] == ["keep"]
    assert done["meta"]["claims"] == claims
    assert done["captured_out"].startswith("starting at 0\n")
    assert store.metrics(queued._id)["loss"]["steps"] == [0, 1]


def test_the_queued_observer_continues_too(tmp_path):
    client = mongomock.MongoClient()
    state = {}
    _fail(tmp_path, _observer(client), state)
    queued = QueuedMongoObserver(client=client, db_name="cont", interval=0.05)
    run = _experiment(tmp_path, queued, state).run(resume=1, options={"--capture": "sys"})
    assert run._id == 1 and run.status == "COMPLETED"
    store = _store(client)
    assert store.find_ids() == [1] and store.get(1)["status"] == "COMPLETED"
    assert store.metrics(1)["loss"]["steps"] == [0, 1, 2, 3, 4, 5]


def test_without_the_document_it_is_a_start_with_that_id(tmp_path):
    client = mongomock.MongoClient()
    observer = _observer(client)
    when = datetime.datetime(2024, 1, 2, 3, 4, 5)
    ex_info = {"name": "x", "base_dir": str(tmp_path), "sources": [], "dependencies": []}
    assert observer.continued_event(ex_info, "main", {}, when, {"a": 1}, {}, 42) == 42
    observer.completed_event(when, 7)
    record = _store(client).get(42)
    assert record["status"] == "COMPLETED" and record["result"] == 7


def test_store_location_reads_the_same_collections():
    client = mongomock.MongoClient()
    observer = MongoObserver(client=client, db_name="loc", collection_prefix="exp")
    ex = Experiment("loc")
    ex.observers.append(observer)
    ex.main(lambda: 3)
    run = ex.run()
    store = open_store(observer.store_location)
    assert store is observer.store_location
    assert store.get(run._id)["result"] == 3
    assert store.runs.name == "exp_runs" and store.metrics_collection.name == "exp_metrics"
    assert store.claims_collection.name == "exp_claims"


# ---------------------------------------------------------------- MongoDB away
def _resume_with_outage(tmp_path, client, down_at, up_at):
    state = {}
    _fail(tmp_path, _observer(client), state)

    def hook(_run):
        if down_at == "middle":
            client.down = True
        _run.log_scalar("outage", 0.25)
        _run._emit_heartbeat()
        if up_at == "middle":
            client.down = False

    state["hook"] = hook
    observer = _observer(client, failure_dir=str(tmp_path / "journal"))
    observer.retry_delay = 0.0
    observer.retry_interval = 0.0
    continuation = Continuation.resume(_store(client), 1)
    client.down = down_at == "start"
    try:
        run = run_in_store(
            _experiment(tmp_path, None, state),
            observer,
            config_updates=continuation.config,
            options={"--capture": "sys"},
            continuation=continuation,
        )
    finally:
        client.down = False
    assert run.status == "COMPLETED" and run._id == 1
    return observer


def _check_resumed(client):
    store = _store(client)
    assert store.find_ids() == [1]
    record = store.get(1)
    assert record["status"] == "COMPLETED" and "fail_trace" not in record
    metrics = store.metrics(1)
    assert metrics["loss"]["steps"] == [0, 1, 2, 3, 4, 5]
    assert metrics["outage"]["values"] == [0.25]
    assert {m["name"] for m in record["info"]["metrics"]} == {"loss", "outage"}
    out = record["captured_out"]
    assert out.index("starting at 0") < out.index("--- resumed (segment 2)")
    assert out.index("--- resumed (segment 2)") < out.index("starting at 3")
    assert out.count("starting at 0") == 1
    assert [s["status"] for s in segments_of(record)] == ["FAILED", "COMPLETED"]
    assert sorted(store.artifacts(1)) == ["part0.txt", "part3.txt"]


@pytest.mark.parametrize("down_at", ["start", "middle"])
def test_mongodb_away_for_a_while_loses_nothing(failing_client, tmp_path, down_at):
    observer = _resume_with_outage(tmp_path, failing_client, down_at, "middle")
    assert getattr(observer, "failure_file", None) is None
    _check_resumed(failing_client)


@pytest.mark.parametrize("down_at", ["start", "middle"])
def test_mongodb_away_until_the_end_journals_the_continuation(failing_client, tmp_path, down_at):
    observer = _resume_with_outage(tmp_path, failing_client, down_at, None)
    path = observer.failure_file
    lines = [json.loads(line) for line in open(path)]
    assert lines[0]["event"] == "started_event" and lines[0]["continued"] is True
    assert bool(lines[0].get("delivered")) == (down_at == "middle")
    before = _store(failing_client).get(1)["status"]
    assert before == ("FAILED" if down_at == "start" else "RUNNING")
    result = sync(path, MongoObserver(client=failing_client, db_name="cont"))
    assert result.run == 1
    assert sync(path, MongoObserver(client=failing_client, db_name="cont")).applied == 0
    _check_resumed(failing_client)


# ---------------------------------------------------------------- claims
def _queue(client, n):
    ex = Experiment("queued")
    ex.observers.append(_observer(client))
    ex.main(lambda: None)
    return [ex.run(options={"--queue": True})._id for _ in range(n)]


def test_claims_in_attempt_order_and_the_errors(client):
    (run_id,) = _queue(client, 1)
    store = _store(client)
    assert store.claims(run_id) == []
    assert store.claim(run_id, 1, "host:1") is True
    assert store.claim(str(run_id), 1, "host:2") is False
    assert store.claim(run_id, 2, "host:2") is True
    claims = store.claims(run_id)
    assert [(c["attempt"], c["worker"]) for c in claims] == [(1, "host:1"), (2, "host:2")]
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    assert all(abs((now - c["at"]).total_seconds()) < 60 for c in claims)
    assert claims[0]["at"].tzinfo is None
    db = client[_db_name(client)]
    assert db.claims.find_one({"_id": f"{run_id}:1"})["worker"] == "host:1"
    with pytest.raises(RunNotFoundError):
        store.claim(999, 1, "host:1")
    with pytest.raises(ValueError, match="attempt must be an integer >= 1"):
        store.claim(run_id, 0, "host:1")
    store.delete(run_id)
    assert db.claims.count_documents({}) == 0


def test_threads_racing_for_the_same_runs_claim_each_once(client):
    ids = _queue(client, 20)
    n = 8
    barrier = threading.Barrier(n)
    won = {}

    def claimer(name):
        store = _store(client)
        barrier.wait()
        won[name] = [i for i in ids if store.claim(i, 1, name)]

    threads = [threading.Thread(target=claimer, args=(f"w{k}",)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    taken = [i for runs in won.values() for i in runs]
    assert sorted(taken) == sorted(ids)
    store = _store(client)
    for worker, runs in won.items():
        for run_id in runs:
            assert [c["worker"] for c in store.claims(run_id)] == [worker]


def test_a_checkpoint_replaces_its_gridfs_file():
    client = mongomock.MongoClient()
    ex = Experiment("checkpointed")
    ex.observers.append(_observer(client))

    @ex.main
    def main(_run):
        for epoch in range(3):
            _run.save_checkpoint(str(epoch).encode())
        _run.save_checkpoint(b"other", name="other")

    ex.run(options={"--capture": "sys"})
    store = _store(client)
    assert sorted(store.artifacts(1)) == ["checkpoint", "other"]
    assert store.open_artifact(1, "checkpoint").read() == b"2"
    files = sorted(f["filename"] for f in client.cont["fs.files"].find())  # (and sources)
    artifacts = [f for f in files if f.startswith("artifact://")]
    assert artifacts == ["artifact://runs/1/checkpoint", "artifact://runs/1/other"]


WORKER_SCRIPT = """
from sacred import Experiment

ex = Experiment("trivial")


@ex.config
def cfg():
    a = 0


@ex.main
def main(a, _run):
    _run.log_scalar("a", a)
    return a * 2
"""


def test_workers_run_the_queue_of_a_mongo_store(tmp_path):
    """One worker stops after 4 runs, the next one runs the rest: each run once. (Workers
    are processes: runs in threads of one process would share the fd capture.)"""
    from sacred.launch.queue_cli import queue_run
    from sacred.launch.worker import Worker

    script = tmp_path / "exp.py"
    script.write_text(WORKER_SCRIPT)
    client = mongomock.MongoClient()
    queued = [queue_run(str(script), client, updates={"a": a}) for a in range(10)]
    first = Worker(client, max_runs=4, poll=0.02, name="w1", say=lambda text: None)
    second = Worker(client, idle_exit=0.2, poll=0.02, name="w2", say=lambda text: None)
    assert [status for _, status in first.serve()] == ["COMPLETED"] * 4
    assert [status for _, status in second.serve()] == ["COMPLETED"] * 6
    ran = [run_id for w in (first, second) for run_id, _ in w.finished]
    assert sorted(ran) == queued  # each once
    store = open_store(client)
    for record in store.find():
        (claim,) = record["meta"]["claims"]
        assert claim["worker"] == ("w1" if record["_id"] in ran[:4] else "w2")
        assert [c["worker"] for c in store.claims(record["_id"])] == [claim["worker"]]
        assert record["status"] == "COMPLETED"
        assert record["result"] == 2 * record["config"]["a"]
        assert store.metrics(record["_id"])["a"]["values"] == [record["config"]["a"]]
