"""LabAssistant.optimize: a search with several runs in flight, in threads or processes."""

import math
import os
import runpy
import textwrap

import pytest

from labwatch.backends import backend_for
from sacred.store import open_store

SCRIPT = textwrap.dedent(
    """
    import functools
    import math
    import time

    from sacred import Experiment
    from labwatch import LabAssistant
    from labwatch.hyperparameters import UniformFloat
    from labwatch.optimizers import {optimizer}

    ex = Experiment("parallel_branin")
    a = LabAssistant(
        ex, store={location!r}, optimizer=functools.partial({optimizer}, seed=1)
    )

    @ex.config
    def cfg():
        x = [0.0, 0.0]
        sleep = {sleep}
        fail_above = None

    @a.search_space
    def space():
        x = (UniformFloat(-5, 10), UniformFloat(0, 15))

    @ex.main
    def main(_run, x, sleep, fail_above):
        time.sleep(sleep)
        b, c, t = 5.1 / (4 * math.pi ** 2), 5 / math.pi, 1 / (8 * math.pi)
        cost = (x[1] - b * x[0] ** 2 + c * x[0] - 6) ** 2 + 10 * (1 - t) * math.cos(x[0]) + 10
        if fail_above is not None and x[0] > fail_above:
            raise ValueError("x[0] too large")
        _run.info["pid"] = __import__("os").getpid()
        return cost
    """
)


def branin(x):
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x[1] - b * x[0] ** 2 + c * x[0] - 6) ** 2 + 10 * (1 - t) * math.cos(x[0]) + 10


def make(tmp_path, location, optimizer="TPE", sleep=0.0):
    """The script's experiment and assistant, as a user's ``python script.py`` has them."""
    script = tmp_path / "parallel_branin.py"
    script.write_text(SCRIPT.format(location=location, optimizer=optimizer, sleep=sleep))
    namespace = runpy.run_path(str(script), run_name="__sacred_script__")
    return namespace["ex"], namespace["a"]


def check_search(location, a, trials, n_trials):
    assert len(trials) == n_trials
    assert [t["status"] for t in trials] == ["COMPLETED"] * n_trials
    store = open_store(location)
    runs = store.find("status == 'COMPLETED'")
    assert len(runs) == n_trials
    assert sorted(str(r["_id"]) for r in runs) == sorted(str(t["run_id"]) for t in trials)
    configs = [tuple(r["config"]["x"]) for r in runs]
    assert len(set(configs)) == n_trials  # each a distinct configuration
    for r in runs:
        assert r["result"] == pytest.approx(branin(r["config"]["x"]))  # its own config's
        assert r["info"]["labwatch"]["name"] == "space"
    # the optimizer saw every result
    optimizer = a._optimizer(a._space("space"))
    assert sorted(optimizer.costs) == sorted(r["result"] for r in runs)
    assert len(a.history("space")) == n_trials
    return runs


def overlapping(runs):
    spans = sorted((r["start_time"], r["stop_time"]) for r in runs)
    return any(later[0] < earlier[1] for earlier, later in zip(spans, spans[1:]))


def test_threads_run_a_search_two_at_a_time(tmp_path):
    location = str(tmp_path / "runs")
    ex, a = make(tmp_path, location, optimizer="BayesianOptimization", sleep=0.1)
    trials = a.optimize(8, n_workers=2)
    runs = check_search(location, a, trials, 8)
    assert overlapping(runs)  # two runs were in flight at once
    assert {r["info"]["pid"] for r in runs} == {os.getpid()}
    assert {r["captured_out"] for r in runs} == {""}  # threads share stdout: not captured


def test_one_thread_runs_the_experiment_itself(tmp_path):
    location = f"sqlite:///{tmp_path / 'runs.db'}"
    ex, a = make(tmp_path, location)
    trials = a.optimize(3)
    check_search(location, a, trials, 3)


def test_the_local_launcher_runs_a_search_in_processes(tmp_path):
    location = f"sqlite:///{tmp_path / 'runs.db'}"
    ex, a = make(tmp_path, location, sleep=0.05)
    trials = a.optimize(6, launcher="local", n_workers=2)
    runs = check_search(location, a, trials, 6)
    pids = {r["info"]["pid"] for r in runs}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2  # the pool's processes ran them
    assert {t["pid"] for t in trials} == pids


def test_the_queue_launcher_queues_distinct_suggestions(tmp_path):
    location = str(tmp_path / "runs")
    ex, a = make(tmp_path, location, optimizer="BayesianOptimization")
    for x0 in (-3.0, 0.0, 3.0, 6.0):  # past the random start: suggestions are the model's
        a.run_config({"x[0]": x0, "x[1]": 5.0}, search_space="space")
    trials = a.optimize(3, launcher="queue")
    assert [t["status"] for t in trials] == ["QUEUED"] * 3
    queued = open_store(location).find("status == 'QUEUED'")
    assert sorted(str(r["_id"]) for r in queued) == sorted(str(t["run_id"]) for t in trials)
    assert len({tuple(r["config"]["x"]) for r in queued}) == 3
    assert len(a.pending("space")) == 3


def test_a_failed_run_is_reported_and_the_search_goes_on(tmp_path):
    location = str(tmp_path / "runs")
    ex, a = make(tmp_path, location)
    ex.add_config(fail_above=0.0)
    trials = a.optimize(6, n_workers=1)
    statuses = {t["status"] for t in trials}
    assert len(trials) == 6 and statuses == {"COMPLETED", "FAILED"}
    failed = [t for t in trials if t["status"] == "FAILED"]
    assert open_store(location).count("status == 'FAILED'") == len(failed)
    assert all(t["values"]["x[0]"] > 0.0 for t in failed)
    assert all(t["error"] == "ValueError: x[0] too large" for t in failed)
    assert len(a.history("space")) == 6 - len(failed)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n_trials": -1}, "n_trials must be a non-negative integer, not -1"),
        ({"n_trials": 2, "n_workers": 0}, "n_workers must be a positive integer, not 0"),
    ],
)
def test_bad_arguments_are_clear_errors(tmp_path, kwargs, message):
    ex, a = make(tmp_path, str(tmp_path / "runs"))
    with pytest.raises(ValueError, match=message):
        a.optimize(**kwargs)


def test_threads_write_to_the_assistants_mongomock_database(tmp_path):
    mongomock = pytest.importorskip("mongomock")
    ex, a = make(tmp_path, str(tmp_path / "unused"), sleep=0.05)
    database = mongomock.MongoClient()["hpo"]
    a.backend = backend_for(database)
    trials = a.optimize(4, n_workers=2)
    assert [t["status"] for t in trials] == ["COMPLETED"] * 4
    runs = list(database["runs"].find({"status": "COMPLETED"}))
    assert sorted(r["_id"] for r in runs) == sorted(t["run_id"] for t in trials)
    assert len(a.history("space")) == 4
    with pytest.raises(ValueError, match="A mongomock database lives in this process only"):
        a.optimize(1, launcher="queue")
