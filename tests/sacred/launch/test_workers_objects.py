"""Queue workers on TinyDB, S3 (moto) and Google Cloud Storage (fake-gcs-server) stores: runs
queued with ``sacred queue`` are run by two ``sacred worker`` processes, each exactly once under
its queued id, and (TinyDB) a worker killed with -9 has its run given back and completed by
another."""

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest

from sacred.store import open_store
from tests.services import service_url

SCRIPT = """
import os, time
from sacred import Experiment
ex = Experiment("queued")

@ex.config
def cfg():
    a = 0
    sleep = 0.0

@ex.automain
def main(a, sleep, _run):
    _run.info["pid"] = os.getpid()
    start = 0 if _run.last_step("tick") is None else _run.last_step("tick") + 1
    for i in range(start, 10):
        _run.log_scalar("tick", i, i)
        time.sleep(sleep / 10)
    print("done", a)
    return a * 10
"""


@pytest.fixture(params=["tinydb", "s3", "gcs"])
def store(request, tmp_path, monkeypatch):
    """The location of an empty store; the environment (also the subprocesses') reaches the
    server."""
    if request.param == "tinydb":
        return f"tinydb://{tmp_path / 'db'}"
    if request.param == "gcs":
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", service_url("SACRED_TEST_GCS_URL"))
        monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
        return f"gs://sacred-workers-{uuid.uuid4().hex[:12]}/runs"
    endpoint = service_url("SACRED_TEST_S3_URL")
    for name, value in (
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
    ):
        monkeypatch.setenv(name, value)  # for the subprocesses and open_store here
    return f"s3://sacred-workers-{uuid.uuid4().hex[:12]}/runs"


@pytest.fixture
def script(tmp_path):
    path = tmp_path / "exp.py"
    path.write_text(SCRIPT)
    return path


def _sacred(*args):
    return [sys.executable, "-m", "sacred.store.cli", *args]


def _queue(location, script, *updates):
    proc = subprocess.run(
        _sacred("queue", location, str(script), "with", *updates),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("Queued run ") and proc.stdout.endswith(f" in {location}\n")
    return proc.stdout.split()[2]


def test_queued_runs_and_two_workers_run_each_once(store, script):
    queued = [_queue(store, script, f"a={n}") for n in range(1, 5)]
    listed = subprocess.run(
        _sacred("runs", "list", store, "-q", "status == 'QUEUED'", "--columns", "id"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listed.stdout.split()[1:] == queued
    workers = [
        subprocess.Popen(
            _sacred("worker", store, "--idle-exit", "2", "--poll", "0.1"),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [w.communicate(timeout=300)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0]

    reader = open_store(store)
    records = {str(r["_id"]): r for r in reader.find()}
    assert sorted(records) == sorted(queued)  # the queued records themselves, no new ones
    assert [records[i]["status"] for i in queued] == ["COMPLETED"] * 4
    assert [records[i]["result"] for i in queued] == [10, 20, 30, 40]
    assert all(len(records[i]["meta"]["claims"]) == 1 for i in queued)
    assert all(reader.metrics(i)["tick"]["steps"] == list(range(10)) for i in queued)
    ran = [line for out in outputs for line in out.splitlines() if line.endswith(": COMPLETED")]
    assert sorted(ran) == sorted(f"Run {i}: COMPLETED" for i in queued)  # each ran once
    for run_id in queued:
        claim = reader.claims(run_id)
        assert [c["attempt"] for c in claim] == [1]
        assert records[run_id]["meta"]["claims"][0]["worker"] == claim[0]["worker"]


@pytest.mark.slow
@pytest.mark.parametrize("store", ["tinydb"], indirect=True)  # S3: the same path, 16 s more
def test_a_worker_killed_with_minus_9_has_its_run_completed_by_another(store, script):
    """A process killed while it may hold the TinyDB folder lock: the OS releases it."""
    (run_id,) = [_queue(store, script, "sleep=6.0")]
    first = subprocess.Popen(
        _sacred("worker", store, "--lease", "1.5", "--poll", "0.1", "--max-runs", "1"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    reader = open_store(store)
    deadline = time.time() + 60
    while time.time() < deadline:
        running = reader.get(run_id)["status"] == "RUNNING"
        ticks = reader.metrics(run_id).get("tick") if running else None
        if ticks and len(ticks["steps"]) >= 2:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the first worker never got going")
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=30)

    second = subprocess.run(
        _sacred("worker", store, "--lease", "1.5", "--poll", "0.1", "--retries", "1")
        + ["--idle-exit", "4"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert second.returncode == 0, second.stderr
    assert f"Run {run_id}: the lease of" in second.stdout and "attempt 2" in second.stdout
    record = open_store(store).get(run_id)
    assert (record["status"], record["result"]) == ("COMPLETED", 0)
    assert [c["attempt"] for c in record["meta"]["claims"]] == [1, 2]
    assert open_store(store).metrics(run_id)["tick"]["steps"] == list(range(10))  # contiguous
    assert "--- resumed (segment 2)" in record["captured_out"]
