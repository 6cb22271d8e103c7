"""The submitit launcher with submitit's local executor (``cluster="local"``): each task a job.

On a Slurm cluster the same launcher submits with ``sbatch`` (``cluster=None``).
"""

import concurrent.futures as cf
import os
import re

from sacred.launch.launchers import get_launcher
from sacred.launch.script import load_experiment
from sacred.launch.sweep import grid, sweep
from sacred.launch.task import make_spec, run_task
from sacred.store import open_store
from sacred.store.cli import main
from tests.sacred.launch.test_sweep import PROBE, check_sweep, store_location


def test_submitit_jobs_run_the_work(tmp_path):
    location = str(tmp_path / "runs")
    folder = tmp_path / "jobs"
    with get_launcher("submitit", folder=folder, cluster="local", timeout_min=5) as launcher:
        future = launcher.submit(run_task, make_spec(PROBE, location, {"lr": 0.3}))
        assert isinstance(future, cf.Future)
        out = future.result(timeout=120)
    job = future.handle  # the submitit job behind it
    engine = out["result"]["engine"]
    assert out["status"] == "COMPLETED" and out["pid"] != os.getpid()
    assert engine["submitit_job_id"] == job.job_id
    # the local executor's job id is its controller's pid, the parent of the task's process
    assert engine["ppid"] == int(job.job_id)
    assert engine["submitit_folder"] == str(folder)
    log = job.paths.stdout.read_text() + job.paths.stderr.read_text()
    assert job.paths.stdout.parent == folder
    assert f'Started run with ID "{out["run_id"]}"' in log


def test_submitit_keeps_n_jobs_in_the_engine(tmp_path):
    location = str(tmp_path / "runs")
    with get_launcher("submitit", n_jobs=1, folder=tmp_path / "jobs", cluster="local") as launcher:
        futures = [
            launcher.submit(run_task, make_spec(PROBE, location, {"lr": i, "sleep": 0.3}))
            for i in range(3)
        ]
        assert futures[2].cancel()  # still waiting for a slot: never submitted
        outs = [f.result(timeout=120) for f in futures[:2]]
    assert futures[2].handle is None
    assert futures[0].handle.job_id != futures[1].handle.job_id
    store = open_store(location)
    first, second = (store.get(o["run_id"]) for o in outs)
    assert (first["status"], second["status"]) == ("COMPLETED", "COMPLETED")
    assert second["start_time"] >= first["stop_time"]  # one job in the engine at a time
    assert len(store.find()) == 2


def test_sweep_through_submitit_into_folder_and_sqlite(tmp_path):
    points = grid({"lr": [0.1, 0.01], "depth": [2, 3]})
    ex = load_experiment(PROBE)
    for kind in ("folder", "sqlite"):
        location = store_location(tmp_path, kind)
        results = sweep(
            ex, points, store=location, launcher="submitit", n_jobs=4,
            folder=tmp_path / f"jobs-{kind}", cluster="local",
        )  # fmt: skip
        records = check_sweep(location, points, results)
        job_ids = {r["result"]["engine"]["submitit_job_id"] for r in records.values()}
        assert len(job_ids) == 4
        assert all((tmp_path / f"jobs-{kind}" / f"{j}_0_log.out").exists() for j in job_ids)


def test_cli_sweep_through_submitit(tmp_path, capsys):
    location = store_location(tmp_path, "folder")
    argv = ["sweep", location, PROBE, "--grid", "lr=[1,2]", "--launcher", "submitit",
            "--launcher-option", "cluster=local", "--launcher-option", f"folder={tmp_path}/jobs",
            "--launcher-option", "timeout_min=5"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert re.search(r"^sweep [0-9a-f]{12}: 2 runs in [0-9.]+ s: 2 COMPLETED$", out, re.M), out
    records = check_sweep(location, [{"lr": 1}, {"lr": 2}])
    assert all("submitit_job_id" in r["result"]["engine"] for r in records.values())


def test_sigterm_and_cancel_end_submitit_runs_interrupted(tmp_path):
    """submitit's own SIGTERM handler only logs the signal: the run ends INTERRUPTED and the
    job returns its entry. Cancelling a running job (SIGINT to the local executor's job,
    scancel on Slurm) interrupts its run too."""
    import signal

    from tests.sacred.launch.test_launchers import wait_for_file

    location = str(tmp_path / "runs")
    with get_launcher("submitit", folder=tmp_path / "jobs", cluster="local") as launcher:
        specs = [
            make_spec(PROBE, location, {"pidfile": str(tmp_path / f"pid{i}"), "sleep": 60})
            for i in range(2)
        ]
        terminated, cancelled = [launcher.submit(run_task, spec) for spec in specs]
        os.kill(wait_for_file(tmp_path / "pid0"), signal.SIGTERM)
        wait_for_file(tmp_path / "pid1")
        out = terminated.result(timeout=60)
        assert cancelled.cancel()
    assert out["status"] == "INTERRUPTED" and out["error"] == "SIGTERM"
    store = open_store(location)
    assert store.get(out["run_id"])["status"] == "INTERRUPTED"
    assert sorted(r["status"] for r in store.find()) == ["INTERRUPTED", "INTERRUPTED"]
