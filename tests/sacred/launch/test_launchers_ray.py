"""The ray launcher on a local Ray (``ray.init(num_cpus=2, include_dashboard=False)``).

Ray starts once, in one session-scoped fixture; every test here is marked slow.
"""

import concurrent.futures as cf
import os
import signal
import threading
import time

import pytest

from sacred.launch.launchers import get_launcher
from sacred.launch.script import load_experiment
from sacred.launch.sweep import grid, sweep
from sacred.launch.task import make_spec, run_task
from sacred.store import open_store
from tests.sacred.launch.test_launchers import wait_for_file
from tests.sacred.launch.test_sweep import PROBE, check_sweep, store_location

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def ray_session():
    import ray

    sigterm = signal.getsignal(signal.SIGTERM)  # ray.init puts its own in this process
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()
        signal.signal(signal.SIGTERM, sigterm)


def test_ray_tasks_run_the_work(ray_session, tmp_path):
    location = str(tmp_path / "runs")
    with get_launcher("ray") as launcher:
        assert not launcher._own_ray  # the running Ray is used, and left running
        future = launcher.submit(run_task, make_spec(PROBE, location, {"lr": 0.9}))
        assert isinstance(future, cf.Future)
        out = future.result(timeout=120)
    ref = future.handle  # the ObjectRef behind it
    engine = out["result"]["engine"]
    assert out["status"] == "COMPLETED" and out["pid"] != os.getpid()
    assert engine["ray_task_id"] == ref.task_id().hex()
    assert engine["ray_worker_id"] and engine["pid"] == out["pid"]
    assert ray_session.is_initialized()


@pytest.mark.parametrize("kind", ["folder", "sqlite"])
def test_sweep_through_ray(kind, ray_session, tmp_path):
    location = store_location(tmp_path, kind)
    points = grid({"lr": [0.1, 0.01], "depth": [2, 3]})
    results = sweep(load_experiment(PROBE), points, store=location, launcher="ray")
    records = check_sweep(location, points, results)
    task_ids = {r["result"]["engine"]["ray_task_id"] for r in records.values()}
    assert len(task_ids) == 4 and os.getpid() not in {e["pid"] for e in results}


def test_sigterm_to_a_ray_worker_ends_the_run_interrupted(ray_session, tmp_path):
    """Ray's workers exit on SIGTERM (sys.exit from their own handler): the run is recorded
    INTERRUPTED first, then Ray's handler ends the worker and Ray reports the task's worker
    crashed; the sweep reads the run's status back from the store."""
    location = str(tmp_path / "runs")
    pidfile = str(tmp_path / "pid")
    results = []
    thread = threading.Thread(
        target=lambda: results.extend(
            sweep(load_experiment(PROBE), [{"pidfile": pidfile, "sleep": 60}], location, "ray")
        )
    )
    thread.start()
    os.kill(wait_for_file(pidfile), signal.SIGTERM)
    thread.join(timeout=120)
    (entry,) = results
    assert entry["status"] == "INTERRUPTED"
    assert entry["error"].startswith("WorkerCrashedError")
    (record,) = open_store(location).find()
    assert record["status"] == "INTERRUPTED"
    assert str(record["_id"]) == str(entry["run_id"])


def test_cancelling_a_running_ray_task_ends_the_run_interrupted(ray_session, tmp_path):
    location = str(tmp_path / "runs")
    pidfile = str(tmp_path / "pid")
    launcher = get_launcher("ray")
    future = launcher.submit(
        run_task, make_spec(PROBE, location, {"pidfile": pidfile, "sleep": 60})
    )
    wait_for_file(pidfile)
    assert future.cancel()  # ray.cancel: KeyboardInterrupt in the task
    started = time.monotonic()
    launcher.close()  # waits for the cancelled task to end in Ray (it records the run first)
    assert time.monotonic() - started < launcher.grace
    (record,) = open_store(location).find()
    assert record["status"] == "INTERRUPTED"
