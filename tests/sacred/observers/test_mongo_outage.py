"""MongoObserver and a MongoDB that is down: the run does not wait for it long, says so in one
line, and keeps the journal up to date, so that even a killed process leaves one that
``sacred sync`` writes into a store."""

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import mongomock
import mongomock.gridfs
import pytest

import sacred
from sacred import Experiment
from sacred.observers.journal import sync
from sacred.observers.mongo import MongoObserver, read_metrics, read_run

from .test_mongo_reliability import failing_client  # noqa: F401 (a fixture)

mongomock.gridfs.enable_gridfs_integration()

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(sacred.__file__)))  # for subprocesses
DOWN = "127.0.0.1:1"  # loopback, a port nothing listens on: connections are refused

SCRIPT = textwrap.dedent(
    """
    import sys, time
    from sacred import Experiment

    ex = Experiment("outage")

    @ex.config
    def cfg():
        lr = 0.25
        steps = 5

    @ex.automain
    def main(_run, steps):
        with open("weights.txt", "w") as f:
            f.write("w1")
        _run.add_artifact("weights.txt")
        i = 0
        while steps < 0 or i < steps:
            _run.log_scalar("loss", float(i), i)
            print(f"step {i}", flush=True)
            i += 1
            time.sleep(0.05)
        return "done"
    """
)


def start(tmp_path, *args, **env):
    script = tmp_path / "exp.py"
    script.write_text(SCRIPT)
    full_env = {k: v for k, v in os.environ.items() if k != "SACRED_MONGO_TIMEOUT"}
    full_env.update(PYTHONPATH=ROOT, **env)
    return subprocess.Popen(
        [sys.executable, str(script), "-m", f"{DOWN}:db", *args],
        cwd=str(tmp_path),
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def journal_of(tmp_path):
    (path,) = (tmp_path / "sacred_failures").glob("*.jsonl")
    return path


def events(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


def test_unreachable_server_costs_seconds_and_one_warning(tmp_path):
    """pymongo alone waits 30 s at the start and again at each final-save attempt; the
    run waits SACRED_MONGO_TIMEOUT (5 s) once, then tries once more at the end."""
    started = time.monotonic()
    proc = start(tmp_path)
    out, err = proc.communicate(timeout=180)
    took = time.monotonic() - started
    assert proc.returncode == 0, err
    assert "step 4" in out
    assert took < 15  # a hang check (the fix's own waits add up to about 6 s)
    journal = journal_of(tmp_path)
    warnings = [line for line in err.splitlines() if line.startswith("WARNING")]
    assert warnings == [
        "WARNING - sacred.observers.mongo - MongoObserver: writing to MongoDB at "
        f"mongodb://{DOWN}/db failed (ServerSelectionTimeoutError: {DOWN}: [Errno 111] "
        f"Connection refused); the run goes on, journaled in {journal} until MongoDB is back "
        f"(if it is not: sacred sync {journal})"
    ]
    lines = events(journal)
    assert [e["event"] for e in lines][0] == "started_event"
    assert lines[-1]["event"] == "completed_event"
    assert lines[0]["store"] == f"mongodb://{DOWN}/db"

    client = mongomock.MongoClient()
    result = sync(journal, client)
    doc = read_run(client.db.runs, result.run)
    assert doc["status"] == "COMPLETED" and doc["result"] == "done"
    assert doc["config"]["lr"] == 0.25
    assert "step 0\nstep 1\nstep 2\nstep 3\nstep 4\n" in doc["captured_out"]
    assert read_metrics(client.db.metrics, result.run)["loss"]["values"] == [
        0.0,
        1.0,
        2.0,
        3.0,
        4.0,
    ]
    (art,) = doc["artifacts"]
    assert MongoObserver(client=client, db_name="db").fs.get(art["file_id"]).read() == b"w1"
    assert sync(journal, client).applied == 0  # once only


def last_beat_output(path):
    beats = [e for e in events(path) if e["event"] == "heartbeat_event"]
    return beats[-1]["kwargs"]["captured_out"] if beats else ""


def test_a_process_killed_mid_outage_leaves_a_journal_that_syncs(tmp_path):
    proc = start(tmp_path, "with", "steps=-1", "-b", "0.2", SACRED_MONGO_TIMEOUT="1")
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            journals = list((tmp_path / "sacred_failures").glob("*.jsonl"))
            if journals and "step 20\n" in last_beat_output(journals[0]):
                break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.1)
        else:
            pytest.fail("no journal with 20 steps in its heartbeat")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    journal = journal_of(tmp_path)
    output = last_beat_output(journal)

    client = mongomock.MongoClient()
    result = sync(journal, client)
    doc = read_run(client.db.runs, result.run)
    assert doc["status"] == "RUNNING" and doc["heartbeat"] is not None
    assert doc["config"]["lr"] == 0.25 and doc["config"]["steps"] == -1
    assert doc["captured_out"] == output and "step 0\n" in output
    values = read_metrics(client.db.metrics, result.run)["loss"]["values"]
    assert len(values) >= 20 and values == [float(i) for i in range(len(values))]
    (art,) = doc["artifacts"]
    assert MongoObserver(client=client, db_name="db").fs.get(art["file_id"]).read() == b"w1"
    assert doc["experiment"]["sources"]  # the sources were kept beside the journal
    assert sync(journal, client).applied == 0


def test_the_journal_is_up_to_date_at_each_heartbeat_of_an_outage(failing_client, tmp_path):  # noqa: F811
    """The server goes away mid-run: the journal already holds the outage's events while
    the run goes on. A copy taken then (what a killed process leaves) and the final journal
    both sync, in that order, each point once."""
    failures = tmp_path / "failures"
    obs = MongoObserver(client=failing_client, db_name="rel", failure_dir=str(failures))
    obs.retry_delay = 0.0
    kept = tmp_path / "kept"

    def main(_run):
        print("up")
        _run.log_scalar("acc", 0.0)
        _run._emit_heartbeat()
        failing_client.down = True
        for i in range(1, 4):
            _run.log_scalar("acc", float(i))
        print("down")
        _run._emit_heartbeat()  # the write fails: the journal is written
        _run.log_scalar("acc", 4.0)
        _run.info["phase"] = "outage"
        _run._emit_heartbeat()  # within retry_interval: only the journal
        (path,) = failures.glob("*.jsonl")
        shutil.copytree(failures, kept)  # as a kill -9 now would leave it
        _run.log_scalar("acc", 5.0)
        print("end")
        return 7

    ex = Experiment("journaled", base_dir=str(tmp_path))
    ex.observers.append(obs)
    ex.main(main)
    run = ex.run(options={"--capture": "sys"})
    assert run.status == "COMPLETED"
    failing_client.down = False

    (copy,) = kept.glob("*.jsonl")
    sync(copy, MongoObserver(client=failing_client, db_name="rel"))
    doc = read_run(failing_client.rel.runs, run._id)
    assert doc["status"] == "RUNNING" and doc["info"]["phase"] == "outage"
    assert doc["captured_out"] == "up\ndown\n"
    assert read_metrics(failing_client.rel.metrics, run._id)["acc"]["values"] == [0, 1, 2, 3, 4]

    sync(obs.failure_file, MongoObserver(client=failing_client, db_name="rel"))
    doc = read_run(failing_client.rel.runs, run._id)
    assert doc["status"] == "COMPLETED" and doc["result"] == 7
    assert doc["captured_out"] == "up\ndown\nend\n"
    assert read_metrics(failing_client.rel.metrics, run._id)["acc"]["values"] == [0, 1, 2, 3, 4, 5]


def test_the_journal_goes_when_mongodb_is_back(failing_client, tmp_path):  # noqa: F811
    failures = tmp_path / "failures"
    obs = MongoObserver(client=failing_client, db_name="rel", failure_dir=str(failures))
    obs.retry_interval = 0.0
    seen = []

    def main(_run):
        failing_client.down = True
        _run.log_scalar("m", 1)
        _run._emit_heartbeat()
        seen.extend(failures.glob("*.jsonl"))
        failing_client.down = False
        _run._emit_heartbeat()

    ex = Experiment("back", base_dir=str(tmp_path))
    ex.observers.append(obs)
    ex.main(main)
    run = ex.run(options={"--capture": "sys"})
    assert len(seen) == 1 and not seen[0].exists()
    assert not any(failures.iterdir())
    assert read_metrics(failing_client.rel.metrics, run._id)["m"]["values"] == [1]


def started_in(tmp_path, url, **env):
    """Seconds the start of a run takes with the observer of ``url`` (server down)."""
    script = textwrap.dedent(
        f"""
        import time
        from sacred.observers.mongo import MongoObserver
        obs = MongoObserver(url={url!r}, failure_dir="failures")
        began = time.monotonic()
        obs.started_event({{"name": "x", "base_dir": ".", "sources": [], "dependencies": []}},
                          "main", {{}}, None, {{}}, {{}}, None)
        print(time.monotonic() - began)
        """
    )
    env = dict(os.environ, PYTHONPATH=ROOT, **env)
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=str(tmp_path),
    )
    assert done.returncode == 0, done.stderr
    return float(done.stdout)


def test_the_first_contact_waits_sacred_mongo_timeout_unless_the_url_says(tmp_path):
    # pymongo alone: 30 s
    assert started_in(tmp_path, f"mongodb://{DOWN}/db", SACRED_MONGO_TIMEOUT="0.5") < 10
    url = f"mongodb://{DOWN}/db?serverSelectionTimeoutMS=500"
    assert started_in(tmp_path, url, SACRED_MONGO_TIMEOUT="60") < 10


def test_a_bad_sacred_mongo_timeout_is_one_line(tmp_path):
    script = tmp_path / "exp.py"
    script.write_text(SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script), "-m", f"{DOWN}:db"],
        capture_output=True,
        text=True,
        cwd=str(tmp_path),
        env=dict(os.environ, PYTHONPATH=ROOT, SACRED_MONGO_TIMEOUT="soon"),
        timeout=60,
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .endswith("SACRED_MONGO_TIMEOUT must be a number of seconds, not 'soon'")
    )


def test_sync_into_an_unreachable_server_is_one_line_soon(tmp_path):
    from sacred.observers.journal import Journal

    journal = Journal(str(tmp_path), store=f"mongodb://{DOWN}/db")
    path = journal.write([journal.line("started_event", {"_id": None})])
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "sacred.store.cli", "sync", path],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=ROOT, SACRED_MONGO_TIMEOUT="1"),
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr == (
        f"sacred: error: {path}: Cannot reach MongoDB at mongodb://{DOWN}/db: "
        f"{DOWN}: [Errno 111] Connection refused\n"
    )
    assert time.monotonic() - started < 15  # pymongo alone: 30 s


def test_a_journal_that_cannot_be_written_is_one_error_line(failing_client, tmp_path, caplog):  # noqa: F811
    blocked = tmp_path / "not_a_folder"
    blocked.write_text("")
    obs = MongoObserver(client=failing_client, db_name="rel", failure_dir=str(blocked))
    obs.retry_delay = 0.0

    def main(_run):
        failing_client.down = True
        for i in range(3):
            _run.log_scalar("m", i)
            _run._emit_heartbeat()

    ex = Experiment("blocked", base_dir=str(tmp_path))
    ex.observers.append(obs)
    ex.main(main)
    with caplog.at_level("WARNING"):
        run = ex.run(options={"--capture": "sys"})
    assert run.status == "COMPLETED" and run._failed_observers == []
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert errors == [
        f"MongoObserver: the journal cannot be written: [Errno 17] File exists: '{blocked}'",
        "MongoObserver: the run is lost: MongoDB at mongodb://localhost:27017/rel cannot be "
        f"reached and the journal cannot be written: [Errno 17] File exists: '{blocked}'",
    ]
    assert "Traceback" not in caplog.text
