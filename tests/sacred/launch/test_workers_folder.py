"""Queue workers on a folder store: every queued run runs exactly once under its queued id,
and a worker killed with -9 has its run given back and completed by another."""

import os
import signal
import subprocess
import sys
import time

import pytest

from sacred.store import open_store

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


def _sacred(*args, **kwargs):
    return [sys.executable, "-m", "sacred.store.cli", *args]


@pytest.fixture
def script(tmp_path):
    path = tmp_path / "exp.py"
    path.write_text(SCRIPT)
    return path


def _queue(location, script, n, **updates):
    from sacred.launch.queue_cli import queue_run

    for i in range(n):
        queue_run(str(script), location, updates={"a": i, **updates})


def test_sacred_queue_adds_a_queued_run_from_the_shell(tmp_path, script):
    location = str(tmp_path / "runs")
    proc = subprocess.run(
        _sacred("queue", location, str(script), "with", "a=7", "sleep=0.5"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"Queued run 1 in {location}\n"
    record = open_store(location).get(1)
    assert record["status"] == "QUEUED"
    assert (record["config"]["a"], record["config"]["sleep"]) == (7, 0.5)
    listed = subprocess.run(
        _sacred("runs", "list", location, "-q", "status == 'QUEUED'", "--columns", "id,a"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listed.stdout.splitlines() == ["id  a", "1   7"]


@pytest.mark.slow
def test_thirty_queued_runs_and_three_workers_run_each_once(tmp_path, script):
    location = str(tmp_path / "runs")
    _queue(location, script, 30)
    store = open_store(location)
    assert store.count("status == 'QUEUED'") == 30
    workers = [
        subprocess.Popen(
            _sacred("worker", location, "--idle-exit", "2", "--poll", "0.1"),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [w.communicate(timeout=300)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0, 0]
    records = open_store(location).find(sort="_id")
    assert len(records) == 30
    assert all(r["status"] == "COMPLETED" for r in records)
    assert sorted(r["result"] for r in records) == [10 * i for i in range(30)]
    assert all(len(r["meta"]["claims"]) == 1 for r in records)
    ran = [line for out in outputs for line in out.splitlines() if line.endswith(": COMPLETED")]
    assert len(ran) == 30  # each run ran once, by one of the workers
    assert sum(1 for out in outputs if ": COMPLETED" in out) >= 2  # the work was shared


def test_a_worker_killed_with_minus_9_has_its_run_completed_by_another(tmp_path, script):
    location = str(tmp_path / "runs")
    _queue(location, script, 1, sleep=6.0)
    first = subprocess.Popen(
        _sacred("worker", location, "--lease", "1.5", "--poll", "0.1", "--max-runs", "1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    store = open_store(location)
    deadline = time.time() + 60
    while time.time() < deadline:
        metrics = store.metrics(1).get("tick") if store.get(1)["status"] == "RUNNING" else None
        if metrics and len(metrics["steps"]) >= 2:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the first worker never got going")
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=30)

    second = subprocess.run(
        _sacred(
            "worker",
            location,
            "--lease",
            "1.5",
            "--poll",
            "0.1",
            "--retries",
            "1",
            "--idle-exit",
            "4",
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert second.returncode == 0, second.stderr
    assert "the lease of" in second.stdout and "attempt 2" in second.stdout
    record = open_store(location).get(1)
    assert record["status"] == "COMPLETED"
    assert record["result"] == 0
    assert [c["attempt"] for c in record["meta"]["claims"]] == [1, 2]
    steps = open_store(location).metrics(1)["tick"]["steps"]
    assert steps == list(range(10))  # contiguous: the second worker went on from the first
    assert "--- resumed (segment 2)" in record["captured_out"]


def test_a_dead_worker_is_not_retried_without_retries(tmp_path, script):
    location = str(tmp_path / "runs")
    _queue(location, script, 1, sleep=6.0)
    first = subprocess.Popen(
        _sacred("worker", location, "--lease", "1", "--poll", "0.1"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    store = open_store(location)
    deadline = time.time() + 60
    while store.get(1)["status"] != "RUNNING" and time.time() < deadline:
        time.sleep(0.1)
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=30)
    second = subprocess.run(
        _sacred("worker", location, "--lease", "1", "--poll", "0.1", "--idle-exit", "3"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "not retried (--retries)" in second.stdout
    record = open_store(location).get(1)
    assert record["meta"]["gave_up"]["attempts"] == 1
    assert record["status"] == "RUNNING"  # dead: PROBABLY_DEAD once its heartbeat is old
