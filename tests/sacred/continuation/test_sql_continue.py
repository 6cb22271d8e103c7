"""The SQL backend on the continue-an-existing-record path: ``SqlObserver.continued_event``
(output, metrics, artifacts, meta, the database away at and after the continuation) and
``SqlStore.claim``/``claims`` (exactly one winner among processes), on SQLite files and a
real PostgreSQL server (SACRED_TEST_POSTGRES_URL)."""

import datetime
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import uuid

import pytest

from sacred import Experiment
from sacred.continuation import Continuation, segments_of
from sacred.launch.script import run_in_store
from sacred.observers.journal import sync
from sacred.store import open_store
from sacred.store.base import RunNotFoundError
from tests.services import service_url

sa = pytest.importorskip("sqlalchemy")
psycopg = pytest.importorskip("psycopg")

from sacred.observers.sql import SqlObserver  # noqa: E402 (after the skip)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))


# ---------------------------------------------------------------- databases
@pytest.fixture
def pg_url():
    server = service_url("SACRED_TEST_POSTGRES_URL")
    name = f"sacred_cont_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    yield sa.engine.make_url(server).set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(server, autocommit=True) as con:
        con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'runs.db'}"
    return request.getfixturevalue("pg_url")


def raw(url, sql, **params):
    engine = SqlObserver(url).engine
    try:
        with engine.connect() as con:
            return [tuple(r) for r in con.execute(sa.text(sql), params)]
    finally:
        engine.dispose()


# ---------------------------------------------------------------- an experiment to resume
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
            print("o" * (out_chars - 1))  # a long output before the resume
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


def _fail_then_resume(tmp_path, url, state=None, out_chars=0, observer=None):
    """A run that fails at step 3, then resumed (``state['hook'](_run)`` runs in the
    resumed run); returns the store and the run's id."""
    state = {} if state is None else state
    with pytest.raises(RuntimeError):
        _experiment(tmp_path, SqlObserver(url), state, out_chars).run(options={"--capture": "sys"})
    store = open_store(url)
    (run_id,) = store.find_ids()
    state["fixed"] = True
    state["before"] = store.get(run_id)
    run = _experiment(tmp_path, observer or SqlObserver(url), state).run(
        resume=run_id, options={"--capture": "sys"}
    )
    assert run._id == run_id and run.status == "COMPLETED"
    return store, run_id


def test_a_resumed_run_is_the_same_row_running_again(db_url, tmp_path):
    seen = {}

    def hook(_run):  # while the resumed run runs: the row as a reader sees it
        seen["record"] = open_store(db_url).get(_run._id)

    store, run_id = _fail_then_resume(tmp_path, db_url, {"hook": hook})
    running = seen["record"]
    assert running["status"] == "RUNNING"
    assert "stop_time" not in running and "fail_trace" not in running
    assert running["heartbeat"] >= running["start_time"]
    assert running["captured_out"].startswith("starting at 0\n")
    assert [s["status"] for s in segments_of(running)] == ["FAILED", "RUNNING"]
    assert "RuntimeError: crashed on purpose" in running["meta"]["segments"][0]["error"]

    record = store.get(run_id)
    assert record["status"] == "COMPLETED"
    assert record["start_time"] == running["start_time"]  # the first segment's start
    assert "fail_trace" not in record and record["stop_time"] > record["start_time"]
    assert raw(db_url, "SELECT count(*) FROM run") == [(1,)]
    assert store.metrics(run_id)["loss"]["steps"] == [0, 1, 2, 3, 4, 5]
    assert [a["name"] for a in record["artifacts"]] == ["part0.txt", "part3.txt"]
    assert store.open_artifact(run_id, "part3.txt").read() == b"from step 3\n"
    segments = segments_of(record)
    assert [s["status"] for s in segments] == ["FAILED", "COMPLETED"]
    assert all(s["start"] and s["stop"] for s in segments)


def test_the_output_goes_on_from_what_is_stored(db_url, tmp_path):
    """A long output (past the doubling threshold, past the fold limit) is not written
    again by the resumed run's heartbeats: they add what is new as chunks."""
    seen = {}
    fold_limit = 2000

    def hook(_run):
        print("new text of the second segment")
        _run._emit_heartbeat()
        seen["folded"] = raw(db_url, "SELECT length(captured_out) FROM run")[0][0]
        seen["chunks"] = [t for (t,) in raw(db_url, "SELECT text FROM output_chunk ORDER BY seq")]

    observer = SqlObserver(db_url)
    observer.output_fold_limit = fold_limit
    store, run_id = _fail_then_resume(
        tmp_path, db_url, {"hook": hook}, out_chars=5000, observer=observer
    )
    old = "o" * 4999 + "\nstarting at 0\n"
    # the old text stays in run.captured_out; only the marker and the new text were added
    assert seen["folded"] == len(old)
    added = "".join(seen["chunks"])
    assert added.startswith("--- resumed (segment 2) at ")
    assert added.endswith("starting at 3\nnew text of the second segment\n")
    out = store.get(run_id)["captured_out"]
    assert out.startswith(old) and out.endswith(added)
    # at the end, the whole output is in run.captured_out for the original's readers
    assert raw(db_url, "SELECT count(*) FROM output_chunk") == [(0,)]
    assert raw(db_url, "SELECT captured_out FROM run") == [(out,)]


def test_the_doubling_schedule_goes_on_from_the_stored_length(sqlite_path_url):
    """3,000 characters stored: a beat that does not double them adds a chunk; one that
    does rewrites run.captured_out (within the fold limit)."""
    url, tmp_path = sqlite_path_url
    seen = []

    def hook(_run):
        _run._emit_heartbeat()
        seen.append(raw(url, "SELECT length(captured_out) FROM run")[0][0])
        seen.append([t for (t,) in raw(url, "SELECT text FROM output_chunk")])
        print("y" * 4000)
        _run._emit_heartbeat()
        seen.append(raw(url, "SELECT length(captured_out) FROM run")[0][0])
        seen.append(raw(url, "SELECT count(*) FROM output_chunk")[0][0])
        seen.append(len(_run.captured_out))

    state = {"hook": hook}
    _fail_then_resume(tmp_path, url, state, out_chars=3000)
    stored = len(state["before"]["captured_out"])
    assert stored >= 3000
    assert seen[0] == stored  # not rewritten: the marker and "starting at 3" are a chunk
    assert len(seen[1]) == 1 and seen[1][0].startswith("--- resumed (segment 2)")
    assert seen[1][0].endswith("starting at 3\n")
    assert (seen[2], seen[3]) == (seen[4], 0)  # doubled: rewritten whole, no chunk left


@pytest.fixture
def sqlite_path_url(tmp_path):
    return f"sqlite:///{tmp_path / 'runs.db'}", tmp_path


def test_metric_chunks_keep_covering_the_rows(db_url, tmp_path):
    store, run_id = _fail_then_resume(tmp_path, db_url)
    rows = raw(db_url, "SELECT count(*), min(metric_id), max(metric_id) FROM metric")
    chunks = raw(db_url, "SELECT sum(count), min(first_id), max(last_id) FROM metric_chunk")
    assert rows == chunks == [(6, rows[0][1], rows[0][2])]
    metric = store.metrics(run_id)["loss"]
    assert metric["values"] == [1.0 / (i + 1) for i in range(6)]
    stamps = metric["timestamps"]
    assert stamps == sorted(stamps)


def test_a_claimed_queued_run_keeps_its_meta(db_url, tmp_path):
    ex = _experiment(tmp_path, SqlObserver(db_url), {"fixed": True})
    queued = ex.run(config_updates={"steps": 2}, options={"--queue": True, "--comment": "c"})
    store = open_store(db_url)
    store.update_meta(queued._id, {"tags": ["keep"], "priority": 5})
    record = store.get(queued._id)
    assert store.claim(queued._id, 1, "w1")
    claims = [{"attempt": 1, "worker": "w1", "at": "t"}]
    continuation = Continuation.queued(record, meta_updates={"claims": claims})
    run = run_in_store(
        _experiment(tmp_path, None, {"fixed": True}),
        SqlObserver(db_url),
        config_updates=continuation.config,
        options={"--capture": "sys"},
        continuation=continuation,
    )
    assert run._id == queued._id and run.result == 2
    done = store.get(queued._id)
    assert done.get("queue_time") == record.get("queue_time")  # (the original sets none)
    assert "start_time" not in record and done["start_time"] < done["stop_time"]
    assert done["meta"]["tags"] == ["keep"] and done["meta"]["claims"] == claims
    assert done["meta"]["comment"] == "c" and done["meta"]["priority"] == 5
    assert raw(db_url, "SELECT priority, comment FROM run") == [(5.0, "c")]
    assert "resumed" not in done["captured_out"]


def test_without_the_record_it_is_a_start_with_that_id(tmp_path):
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    observer = SqlObserver(url)
    when = datetime.datetime(2024, 1, 2, 3, 4, 5)
    ex_info = {"name": "x", "base_dir": str(tmp_path), "sources": [], "dependencies": []}
    host = {"hostname": "h", "cpu": "c", "os": ["Linux", "l"], "python_version": "3"}
    assert observer.continued_event(ex_info, "main", host, when, {"a": 1}, {}, 42) == 42
    observer.completed_event(when, 7)
    record = open_store(url).get(42)
    assert record["status"] == "COMPLETED" and record["start_time"] == when
    assert record["result"] == 7


def test_store_location_reads_the_same_database(tmp_path):
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    observer = SqlObserver(url)
    assert observer.store_location == url
    memory = SqlObserver("sqlite://")
    ex = Experiment("mem")
    ex.observers.append(memory)
    ex.main(lambda: 3)
    run = ex.run()
    store = open_store(memory.store_location)
    assert store.get(run._id)["result"] == 3


def test_the_password_is_kept_in_the_store_location():
    observer = SqlObserver("postgresql://me:secret@127.0.0.1:1/runs")
    assert observer.store_location.endswith("me:secret@127.0.0.1:1/runs")
    assert "secret" not in repr(observer)


# ---------------------------------------------------------------- the database away
def _locked(path):
    """A connection holding an exclusive lock on the SQLite file: every other
    connection's statements fail with 'database is locked'."""
    con = sqlite3.connect(path, timeout=5, isolation_level=None)
    con.execute("BEGIN EXCLUSIVE")
    return con


def _resume_with_outage(tmp_path, lock_at, unlock_at):
    """Fail a run, then resume it with the database locked from ``lock_at`` ("start": the
    continuation itself; "middle": after it) until ``unlock_at`` ("middle" or never)."""
    path = tmp_path / "runs.db"
    url = f"sqlite:///{path}?timeout=0.05"
    state = {}
    with pytest.raises(RuntimeError):
        _experiment(tmp_path, SqlObserver(url), state).run(options={"--capture": "sys"})
    state["fixed"] = True
    lock = {}

    def hook(_run):
        if lock_at == "middle":
            lock["con"] = _locked(str(path))
        _run.log_scalar("outage", 0.25)  # while the database is away
        _run._emit_heartbeat()
        if unlock_at == "middle":
            lock.pop("con").rollback()

    state["hook"] = hook
    observer = SqlObserver(url, failure_dir=str(tmp_path / "journal"), retry_timeout=0.2)
    observer.retry_interval = 0.05
    continuation = Continuation.resume(url, 1)  # read before the lock is taken
    if lock_at == "start":
        lock["con"] = _locked(str(path))
    try:
        run = run_in_store(
            _experiment(tmp_path, None, state),
            observer,
            config_updates=continuation.config,
            options={"--capture": "sys"},
            continuation=continuation,
        )
    finally:
        if lock.get("con") is not None:
            lock["con"].rollback()
    assert run.status == "COMPLETED" and run._id == 1
    return url, observer


def _check_resumed(url):
    store = open_store(url)
    assert store.find_ids() == [1]
    record = store.get(1)
    assert record["status"] == "COMPLETED"
    # step 3 was logged twice: by the hook (0.25) and by the loop (1/4)
    metrics = store.metrics(1)
    assert metrics["loss"]["steps"] == [0, 1, 2, 3, 4, 5]
    assert metrics["outage"]["values"] == [0.25]
    out = record["captured_out"]
    assert out.index("starting at 0") < out.index("--- resumed (segment 2)")
    assert out.index("--- resumed (segment 2)") < out.index("starting at 3")
    assert [s["status"] for s in segments_of(record)] == ["FAILED", "COMPLETED"]
    assert sorted(store.artifacts(1)) == ["part0.txt", "part3.txt"]


@pytest.mark.parametrize("lock_at", ["start", "middle"])
def test_the_database_away_for_a_while_loses_nothing(tmp_path, lock_at, caplog):
    url, observer = _resume_with_outage(tmp_path, lock_at, "middle")
    assert "is unreachable" in caplog.text
    assert not (tmp_path / "journal").exists() or not list((tmp_path / "journal").glob("*.jsonl"))
    _check_resumed(url)


@pytest.mark.parametrize("lock_at", ["start", "middle"])
def test_the_database_away_until_the_end_journals_the_continuation(tmp_path, lock_at):
    url, observer = _resume_with_outage(tmp_path, lock_at, None)
    (path,) = (tmp_path / "journal").glob("*.jsonl")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines[0]["event"] == "started_event" and lines[0]["continued"] is True
    assert bool(lines[0].get("delivered")) == (lock_at == "middle")
    store = open_store(url)
    assert store.get(1)["status"] == ("FAILED" if lock_at == "start" else "RUNNING")

    plain = url.split("?")[0]
    result = sync(str(path), plain)
    assert result.run in (1, "1")
    assert sync(str(path), plain).applied == 0  # once only
    _check_resumed(plain)


# ---------------------------------------------------------------- claims
def _queue(url, n):
    ex = Experiment("queued")
    ex.observers.append(SqlObserver(url))
    ex.main(lambda: None)
    return [ex.run(options={"--queue": True})._id for _ in range(n)]


def test_claims_in_attempt_order_and_the_errors(db_url):
    (run_id,) = _queue(db_url, 1)
    store = open_store(db_url)
    assert store.claims(run_id) == []
    assert store.claim(run_id, 1, "host:1") is True
    assert store.claim(str(run_id), 1, "host:2") is False
    assert store.claim(run_id, 2, "host:2") is True
    claims = store.claims(run_id)
    assert [(c["attempt"], c["worker"]) for c in claims] == [(1, "host:1"), (2, "host:2")]
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    assert all(abs((now - c["at"]).total_seconds()) < 60 for c in claims)
    assert claims[0]["at"].tzinfo is None
    with pytest.raises(RunNotFoundError):
        store.claim(999, 1, "host:1")
    with pytest.raises(ValueError, match="attempt must be an integer >= 1"):
        store.claim(run_id, 0, "host:1")
    store.delete(run_id)
    assert store.claims(run_id) == []
    assert raw(db_url, "SELECT count(*) FROM run_claim") == [(0,)]


def test_claims_leave_the_observer_tables_alone(tmp_path):
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    (run_id,) = _queue(url, 1)
    before = set(sa.inspect(SqlObserver(url).engine).get_table_names())
    assert "run_claim" not in before
    open_store(url).claim(run_id, 1, "w")
    after = set(sa.inspect(SqlObserver(url).engine).get_table_names())
    assert after - before == {"run_claim"}


CLAIMER = textwrap.dedent(
    """
    import json, os, sys, time
    from sacred.store import open_store

    url, name, ready_dir, n, ids = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), json.loads(sys.argv[5])
    store = open_store(url)
    store.claims(ids[0])  # connected
    open(os.path.join(ready_dir, name), "w").close()
    while len(os.listdir(ready_dir)) < n:  # all start together
        time.sleep(0.005)
    print(json.dumps([i for i in ids if store.claim(i, 1, name)]))
    """
)


def test_processes_racing_for_the_same_runs_claim_each_once(db_url, tmp_path):
    ids = _queue(db_url, 20)
    open_store(db_url).claim(ids[0], 1, "warm-up")  # the table exists: the race is on rows
    script = tmp_path / "claimer.py"
    script.write_text(CLAIMER)
    ready = tmp_path / "ready"
    ready.mkdir()
    n = 4
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), db_url, f"w{k}", str(ready), str(n), json.dumps(ids)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for k in range(n)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * n, [e[-2000:] for _, e in outputs]
    won = {f"w{k}": json.loads(out) for k, (out, _) in enumerate(outputs)}
    taken = [i for ids_won in won.values() for i in ids_won]
    assert sorted(taken) == sorted(ids[1:])  # each run once, the warmed-up one by nobody
    store = open_store(db_url)
    for worker, runs in won.items():
        for run_id in runs:
            assert [c["worker"] for c in store.claims(run_id)] == [worker]
    assert len(raw(db_url, "SELECT run_id FROM run_claim")) == 20


def test_a_new_table_is_made_once_by_racing_processes(tmp_path):
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    ids = _queue(url, 5)
    script = tmp_path / "claimer.py"
    script.write_text(CLAIMER.replace("store.claims(ids[0])  # connected", "store.find_ids()"))
    ready = tmp_path / "ready"
    ready.mkdir()
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), url, f"w{k}", str(ready), "3", json.dumps(ids)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for k in range(3)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 3, [e[-2000:] for _, e in outputs]
    taken = sorted(i for out, _ in outputs for i in json.loads(out))
    assert taken == sorted(ids)


# ---------------------------------------------------------------- checkpoints
def test_checkpoints_saved_while_the_database_is_away_leave_the_newest(tmp_path):
    path = tmp_path / "runs.db"
    url = f"sqlite:///{path}?timeout=0.05"
    observer = SqlObserver(url, failure_dir=str(tmp_path / "journal"), retry_timeout=5)
    ex = Experiment("checkpointed", base_dir=str(tmp_path))
    ex.observers.append(observer)
    kept = {}

    @ex.main
    def main(_run):
        _run.save_checkpoint(b"0")
        lock = _locked(str(path))
        for epoch in (1, 2, 3):
            _run.save_checkpoint(str(epoch).encode())
        kept["pending"] = [op[1]["name"] for op in observer._pending if op[0] == "artifact_event"]
        lock.rollback()
        return 3

    assert ex.run(options={"--capture": "sys"}).status == "COMPLETED"
    assert kept["pending"] == ["checkpoint"]  # the unwritten older ones were dropped
    store = open_store(f"sqlite:///{path}")
    assert store.artifacts(1) == ["checkpoint"]
    assert store.open_artifact(1, "checkpoint").read() == b"3"
    assert raw(f"sqlite:///{path}", "SELECT count(*) FROM artifact") == [(1,)]


# ---------------------------------------------------------------- observers of one process
def test_many_observers_share_an_engine_without_holding_its_connections(db_url):
    """A process making an observer per run (workers, sweeps): one engine per URL, whose
    pool (5 + 10 connections) is not used up by 30 observers kept alive."""
    observers = []
    for _ in range(30):
        ex = Experiment("many")
        observers.append(SqlObserver(db_url))
        ex.observers.append(observers[-1])
        ex.main(lambda: 1)
        ex.run(options={"--queue": True})
        ex.run()
    assert len({id(o.engine) for o in observers}) == 1
    assert observers[0].engine.pool.checkedout() == 0
    assert open_store(db_url).count() == 60


FORKED = textwrap.dedent(
    """
    import os, sys
    from sacred import Experiment
    from sacred.observers import SqlObserver

    def one_run(tag):
        ex = Experiment("forked")
        ex.observers.append(SqlObserver(sys.argv[1]))
        ex.main(lambda: tag)
        return ex.run(options={"--capture": "no"})._id

    parent = SqlObserver(sys.argv[1]).engine
    one_run(1)  # the parent's engine holds a pooled connection now
    pid = os.fork()
    if pid == 0:
        child = SqlObserver(sys.argv[1]).engine
        code = 0 if child is not parent and one_run(2) else 3
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    one_run(3)  # the parent's connection still works
    print("ok")
    """
)


def test_a_forked_child_makes_its_own_engine(pg_url, tmp_path):
    script = tmp_path / "forked.py"
    script.write_text(FORKED)
    done = subprocess.run(
        [sys.executable, str(script), pg_url], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
    store = open_store(pg_url)
    assert sorted(r["result"] for r in store.find()) == [1, 2, 3]
    store.close()
