"""The dask launcher on a real ``LocalCluster`` (worker processes, one thread each)."""

import concurrent.futures as cf
import os
import re

import dask.distributed as distributed  # noqa: E402 (the dev extra installs it)
import pytest

from sacred.launch.launchers import get_launcher
from sacred.launch.script import load_experiment
from sacred.launch.sweep import grid, sweep
from sacred.launch.task import make_spec, run_task
from sacred.store.cli import main
from tests.sacred.launch.test_sweep import PROBE, check_sweep, store_location


@pytest.fixture(scope="module")
def cluster():
    import logging

    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",
        silence_logs=logging.ERROR,
    ) as cluster:
        yield cluster


def test_dask_workers_run_the_work(cluster, tmp_path):
    location = str(tmp_path / "runs")
    with get_launcher("dask", address=cluster.scheduler_address) as launcher:
        worker_pids = launcher.client.run(os.getpid)  # {worker address: pid}, as Dask says
        future = launcher.submit(run_task, make_spec(PROBE, location, {"lr": 0.7}))
        assert isinstance(future, cf.Future)
        out = future.result(timeout=120)
        key = future.handle.key  # the dask future behind it
        pid_future = launcher.submit(os.getpid)
        assert pid_future.result(timeout=60) in worker_pids.values()
    engine = out["result"]["engine"]
    assert out["status"] == "COMPLETED"
    assert engine["dask_key"] == str(key)
    assert worker_pids[engine["dask_worker"]] == out["pid"] != os.getpid()


@pytest.mark.parametrize("kind", ["folder", "sqlite"])
def test_sweep_through_dask(kind, cluster, tmp_path):
    location = store_location(tmp_path, kind)
    points = grid({"lr": [0.1, 0.01], "depth": [2, 3]})
    with get_launcher("dask", address=cluster.scheduler_address) as launcher:
        worker_pids = set(launcher.client.run(os.getpid).values())
        results = sweep(load_experiment(PROBE), points, store=location, launcher=launcher)
        assert not launcher._closed  # a launcher given to sweep is left open
    records = check_sweep(location, points, results)
    for record in records.values():
        assert record["result"]["engine"]["pid"] in worker_pids
        assert "dask_key" in record["result"]["engine"]


def test_cli_sweep_starts_its_own_local_cluster(tmp_path, capsys):
    location = store_location(tmp_path, "sqlite")
    argv = ["sweep", location, PROBE, "--grid", "lr=[1,2]", "--launcher", "dask", "-j", "2"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert re.search(r"^sweep [0-9a-f]{12}: 2 runs in [0-9.]+ s: 2 COMPLETED$", out, re.M), out
    records = check_sweep(location, [{"lr": 1}, {"lr": 2}])
    assert all("dask_key" in r["result"]["engine"] for r in records.values())
