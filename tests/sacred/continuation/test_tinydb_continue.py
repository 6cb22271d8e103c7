"""TinyDB: -q stores a QUEUED run, a continued entry keeps its output, metric entries and
files, and workers' claims raced by several processes are each won once (the folder lock)."""

import datetime
import multiprocessing
import os
import subprocess
import sys
import threading

from sacred import Experiment
from sacred.observers import TinyDbObserver
from sacred.observers.tinydb_hashfs import TinyDbReader
from sacred.store import open_store

T0 = datetime.datetime(2026, 11, 27, 22, 43, 50, 227301)
T1 = datetime.datetime(2026, 11, 27, 22, 43, 51, 231358)
T2 = datetime.datetime(2026, 11, 27, 23, 0, 0, 500000)
HOST = {"hostname": "vm", "os": ["Linux", "Linux-6"], "python_version": "3.11.7", "cpu": "x"}

SCRIPT = """\
from sacred import Experiment

ex = Experiment("queued")


@ex.config
def cfg():
    a = 1


@ex.automain
def main(a):
    return a * 10
"""


def _utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def _sacred(*args):
    return [sys.executable, "-m", "sacred.store.cli", *args]


def test_minus_q_on_the_command_line_stores_a_queued_run(tmp_path):
    (tmp_path / "exp.py").write_text(SCRIPT)
    proc = subprocess.run(
        [sys.executable, "exp.py", "-q", "-t", "db", "with", "a=3"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    (run_id,) = open_store(str(tmp_path / "db")).find_ids()
    assert f'Queued-up run with ID "{run_id}"' in proc.stderr
    listed = subprocess.run(
        _sacred("runs", "list", "tinydb://db", "-q", "status == 'QUEUED'", "--columns", "id,a"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines() == ["id" + " " * 32 + "a", f"{run_id}  3"]
    store = open_store(str(tmp_path / "db"))
    record = store.get(run_id)
    assert record["status"] == "QUEUED" and record.get("start_time") is None
    assert record["config"]["a"] == 3 and isinstance(
        record["meta"]["queue_time"], datetime.datetime
    )
    assert store.open_source(run_id, "exp.py").read() == SCRIPT.encode()  # sources are saved


def _ex_info(source):
    import hashlib

    return {
        "name": "demo",
        "base_dir": str(source.parent),
        "sources": [(source.name, hashlib.md5(source.read_bytes()).hexdigest())],
        "dependencies": [],
        "repositories": [],
        "mainfile": source.name,
    }


def _metric(steps, when):
    return {"steps": steps, "values": [0.5 * s for s in steps], "timestamps": [when] * len(steps)}


def test_a_continued_entry_keeps_output_metrics_and_files(tmp_path):
    source = tmp_path / "demo.py"
    source.write_text("print('demo')\n")
    first_file, second_file = tmp_path / "a.txt", tmp_path / "b.txt"
    first_file.write_text("first\n")
    second_file.write_text("second\n")
    db = str(tmp_path / "db")

    obs = TinyDbObserver(db)
    run_id = obs.started_event(_ex_info(source), "main", HOST, T0, {"seed": 1}, {"c": 1}, None)
    obs.log_metrics({"loss": _metric([0, 1], T0)}, {})
    obs.artifact_event("a.txt", str(first_file))
    obs.heartbeat_event({"seen": 1}, "segment one\n", T1, None)
    obs.failed_event(T1, ["Traceback\n", "RuntimeError: x\n"])

    again = TinyDbObserver(db)
    meta = {"c": 1, "segments": ["..."]}
    assert again.continued_event(_ex_info(source), "main", HOST, T2, {"seed": 1}, meta, run_id) == (
        run_id
    )
    (entry,) = TinyDbReader(db).runs.all()
    assert entry["_id"] == run_id and entry["status"] == "RUNNING"
    assert (entry["start_time"], entry["heartbeat"]) == (T0, T2)  # its first start is kept
    assert "stop_time" not in entry and "fail_trace" not in entry
    assert (entry["captured_out"], entry["info"], entry["meta"]) == (
        "segment one\n",
        {"seen": 1},
        meta,
    )
    assert [a[0] for a in entry["artifacts"]] == ["a.txt"]

    output = "segment one\n--- resumed (segment 2) ---\nsegment two\n"
    again.log_metrics({"loss": _metric([2, 3], T2), "acc": _metric([0], T2)}, {})
    again.artifact_event("b.txt", str(second_file))
    again.heartbeat_event({"seen": 2}, output, T2, None)
    again.completed_event(T2, 42)

    store = open_store(db)
    record = store.get(run_id)
    assert (record["status"], record["result"], record["captured_out"]) == ("COMPLETED", 42, output)
    assert store.metrics(run_id)["loss"]["steps"] == [0, 1, 2, 3]
    assert store.metrics(run_id)["acc"]["steps"] == [0]
    raw = TinyDbReader(db).db.table("metrics").all()
    assert sorted(m["name"] for m in raw) == ["acc", "loss"]  # new points in the stored entry
    assert store.artifacts(run_id) == ["a.txt", "b.txt"]
    assert store.open_artifact(run_id, "a.txt").read() == b"first\n"


def test_continuing_an_entry_that_is_not_there_starts_one_with_that_id(tmp_path):
    source = tmp_path / "demo.py"
    source.write_text("print('demo')\n")
    obs = TinyDbObserver(str(tmp_path / "db"))
    assert obs.continued_event(_ex_info(source), "main", HOST, T2, {}, {}, "abc") == "abc"
    (entry,) = TinyDbReader(str(tmp_path / "db")).runs.all()
    assert (entry["_id"], entry["status"], entry["start_time"]) == ("abc", "RUNNING", T2)


def _claim_all(location, run_ids, name, start, results):
    """A process racing for every run with two threads of its own."""
    won = []

    def one(worker):
        store = open_store(location)  # a store object per thread, like separate workers
        start.wait(timeout=60)
        won.extend((run_id, worker) for run_id in run_ids if store.claim(run_id, 1, worker))

    threads = [threading.Thread(target=one, args=(f"{name}-{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results.put(won)


def test_claims_raced_by_processes_and_threads_are_each_won_once(tmp_path):
    location = str(tmp_path / "db")
    ex = Experiment("queued", base_dir=str(tmp_path))

    @ex.main
    def main():
        pass

    ex.observers.append(TinyDbObserver(location))
    run_ids = [ex.run(options={"--queue": True})._id for _ in range(10)]

    ctx = multiprocessing.get_context("spawn")
    start, results = ctx.Barrier(4 * 2), ctx.Queue()
    procs = [
        ctx.Process(target=_claim_all, args=(location, run_ids, f"p{i}", start, results))
        for i in range(4)
    ]
    for p in procs:
        p.start()
    won = [pair for _ in procs for pair in results.get(timeout=120)]
    for p in procs:
        p.join(timeout=60)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]

    assert sorted(run_id for run_id, _ in won) == sorted(run_ids)  # each run won exactly once
    store = open_store(location)
    for run_id, worker in won:
        claims = store.claims(run_id)
        assert [(c["attempt"], c["worker"]) for c in claims] == [(1, worker)]
        assert abs(_utcnow() - claims[0]["at"]).total_seconds() < 120
    assert sorted(os.listdir(location)) == ["hashfs", "metadata.json"]  # no lock file left
    # a second attempt is a claim of its own
    assert store.claim(run_ids[0], 2, "late") is True
    assert [c["attempt"] for c in store.claims(run_ids[0])] == [1, 2]
    assert store.claim(run_ids[0], 2, "later") is False
