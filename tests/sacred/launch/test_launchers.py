"""The launcher interface, the local process pool, the queue launcher and ``run_task``.

The engines (submitit, Dask, Ray) have their own files: test_launchers_<engine>.py.
"""

import concurrent.futures as cf
import os
import signal
import sys
import time

import pytest

from sacred.launch.launchers import LauncherError, get_launcher
from sacred.launch.script import ScriptError
from sacred.launch.task import make_spec, run_task
from sacred.store import open_store
from tests.sacred.launch.test_sweep import PROBE, store_location


def wait_for_file(path, timeout=60):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)
    with open(path) as f:
        return int(f.read())


# ------------------------------------------------------------------ get_launcher
def test_unknown_launcher_is_one_line():
    with pytest.raises(LauncherError) as e:
        get_launcher("slurm")
    assert str(e.value) == "Unknown launcher 'slurm' (known: local, submitit, dask, ray, queue)"


@pytest.mark.parametrize(
    "name, module, package",
    [("dask", "dask.distributed", "dask[distributed]"), ("ray", "ray", "ray"),
     ("submitit", "submitit", "submitit")],
)  # fmt: skip
def test_a_missing_engine_names_its_extra(name, module, package, monkeypatch):
    monkeypatch.setitem(sys.modules, module, None)  # `import module` raises ImportError
    with pytest.raises(LauncherError) as e:
        get_launcher(name)
    assert str(e.value) == f'The {name} launcher needs {package}: pip install "sacred[{name}]"'


def test_bad_options_are_one_line():
    with pytest.raises(LauncherError, match=r"^n_jobs must be a positive integer, not 0$"):
        get_launcher("local", n_jobs=0)
    with pytest.raises(LauncherError, match=r"^mp_context must be 'forkserver' or 'spawn'"):
        get_launcher("local", mp_context="fork")
    with pytest.raises(LauncherError, match=r"^Unknown option\(s\) of the local launcher: x "):
        get_launcher("local", x=1)
    with pytest.raises(LauncherError, match=r"^The queue launcher takes no options \(got x\)$"):
        get_launcher("queue", x=1)


# ------------------------------------------------------------------ local
def test_local_pool_runs_the_work_in_its_own_processes():
    with get_launcher("local", n_jobs=2) as launcher:
        assert launcher.n_jobs == 2 and launcher.mp_context in ("forkserver", "spawn")
        futures = launcher.map(pow, [2, 3], [5, 2])
        assert all(isinstance(f, cf.Future) for f in futures)
        assert [f.result(timeout=60) for f in futures] == [32, 9]
        pids = {launcher.submit(os.getpid).result(timeout=60) for _ in range(4)}
        workers = set(launcher._pool._processes)  # the pool's own record of its processes
        assert pids <= workers and os.getpid() not in pids
    with pytest.raises(LauncherError, match="^The local launcher is closed$"):
        launcher.submit(os.getpid)


def test_local_pool_defaults_to_the_cpus_and_cancels_waiting_work():
    launcher = get_launcher("local")
    assert launcher.n_jobs == os.cpu_count()
    launcher.close()
    with get_launcher("local", n_jobs=1) as launcher:
        busy = launcher.submit(time.sleep, 1.0)
        waiting = [launcher.submit(os.getpid) for _ in range(3)]
        assert waiting[-1].cancel()
        assert waiting[-1].cancelled()
        done, _ = cf.wait([busy, *waiting[:-1]], timeout=60)
        assert len(done) == 3


@pytest.mark.parametrize("kind", ["folder", "sqlite"])
def test_run_task_through_the_local_pool(kind, tmp_path):
    location = store_location(tmp_path, kind)
    with get_launcher("local", n_jobs=2) as launcher:
        specs = [
            make_spec(PROBE, location, {"lr": 0.5}, meta_info={"sweep": {"id": "s", "index": 0}}),
            make_spec(PROBE, location, {"fail": True}),
        ]
        ok, failed = [f.result(timeout=120) for f in launcher.map(run_task, specs)]
        workers = set(launcher._pool._processes)
    assert ok["status"] == "COMPLETED" and ok["pid"] in workers and ok["pid"] != os.getpid()
    assert ok["result"]["lr"] == 0.5 and ok["result"]["engine"]["pid"] == ok["pid"]
    assert failed["status"] == "FAILED" and failed["error"] == "ValueError: asked to fail"
    store = open_store(location)
    assert store.get(ok["run_id"])["status"] == "COMPLETED"
    assert store.get(ok["run_id"])["meta"]["sweep"] == {"id": "s", "index": 0}
    assert store.get(failed["run_id"])["status"] == "FAILED"


def test_run_task_reports_what_it_cannot_start(tmp_path):
    with pytest.raises(ScriptError, match="^Cannot load the experiment script"):
        run_task(make_spec(tmp_path / "nope.py", str(tmp_path / "runs")))
    with pytest.raises(ValueError, match="^Unknown key\\(s\\) in a task spec: colour$"):
        run_task({**make_spec(PROBE, str(tmp_path / "runs")), "colour": "red"})
    # in this process: the result is made JSON-safe, the pid and host are this process's
    out = run_task(make_spec(PROBE, str(tmp_path / "runs"), {"lr": 2}))
    assert out["status"] == "COMPLETED" and out["pid"] == os.getpid() and out["host"]


def test_sigterm_during_a_run_ends_it_interrupted(tmp_path):
    """In a pool worker (default SIGTERM handler), the run is recorded INTERRUPTED and
    then the worker ends as SIGTERM would end it (the pool reports it broken)."""
    location = str(tmp_path / "runs")
    pidfile = str(tmp_path / "pid")
    with get_launcher("local", n_jobs=1) as launcher:
        future = launcher.submit(
            run_task, make_spec(PROBE, location, {"pidfile": pidfile, "sleep": 60})
        )
        pid = wait_for_file(pidfile)
        assert pid in launcher._pool._processes
        os.kill(pid, signal.SIGTERM)
        with pytest.raises(cf.process.BrokenProcessPool):
            future.result(timeout=60)
    (record,) = open_store(location).find()
    assert record["status"] == "INTERRUPTED"
    assert record["config"]["pidfile"] == pidfile


# ------------------------------------------------------------------ queue
@pytest.mark.parametrize("kind", ["folder", "sqlite"])
def test_queue_launcher_stores_queued_runs(kind, tmp_path):
    location = store_location(tmp_path, kind)
    with get_launcher("queue") as launcher:
        assert launcher.queues_only
        futures = [
            launcher.submit(run_task, make_spec(PROBE, location, {"lr": lr})) for lr in (1, 2)
        ]
        ids = [f.result(timeout=0) for f in futures]
        with pytest.raises(LauncherError, match="^The queue launcher only queues runs"):
            launcher.submit(os.getpid)
    store = open_store(location)
    assert [store.get(i)["status"] for i in ids] == ["QUEUED", "QUEUED"]
    assert [store.get(i)["config"]["lr"] for i in ids] == [1, 2]
