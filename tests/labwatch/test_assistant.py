import json
import os
import subprocess
import sys

import pytest

from labwatch import LabAssistant
from labwatch.assistant import convert_result
from labwatch.hyperparameters import Categorical, Condition, UniformFloat, UniformInt
from labwatch.optimizers import RandomSearch
from sacred import Experiment
from sacred.store import open_store

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def make_experiment(store, optimizer=RandomSearch, **kw):
    ex = Experiment("quadratic")

    @ex.config
    def cfg():
        x = 0.0
        y = 3
        solver = "sgd"
        momentum = 0.5

    a = LabAssistant(ex, store=store, optimizer=optimizer, **kw)

    @a.search_space
    def search_space():
        x = UniformFloat(-5, 5)
        y = UniformInt(0, 4)
        solver = Categorical(["sgd", "adam"])
        momentum = UniformFloat(0.0, 0.9) | Condition(solver, ["sgd"])

    @a.searchspace
    def small_search_space():
        x = UniformFloat(-1, 1)

    @ex.main
    def main(x, y, solver, momentum):
        return {"optimization_target": x * x + y, "solver": solver}

    return ex, a


@pytest.fixture(params=["folder", "sqlite", "mongomock"])
def store_location(request, tmp_path):
    if request.param == "folder":
        return str(tmp_path / "runs")
    if request.param == "mongomock":
        mongomock = pytest.importorskip("mongomock")
        return mongomock.MongoClient()["labwatch_test"]
    pytest.importorskip("sqlalchemy")
    return f"sqlite:///{tmp_path / 'runs.db'}"


def test_convert_result():
    assert convert_result(3) == 3.0
    assert convert_result({"optimization_target": 0.25, "acc": 1}) == 0.25
    with pytest.raises(ValueError, match="without the key optimization_target"):
        convert_result({"acc": 1})
    for bad in (None, "x", float("nan"), True):
        with pytest.raises(ValueError, match="Cannot use the result"):
            convert_result(bad)


def test_named_config_runs_a_suggestion_and_marks_the_run(store_location):
    ex, a = make_experiment(store_location)
    run = ex.run(named_configs=["search_space"])
    cfg = run.config
    assert -5 <= cfg["x"] <= 5 and cfg["y"] in range(5) and cfg["solver"] in ("sgd", "adam")
    store = open_store(store_location)
    record = store.get(store.find_ids()[0])
    assert record["status"] == "COMPLETED"
    space = a.current_search_space
    assert record["info"]["labwatch"] == {
        "search_space": space.id,
        "name": "search_space",
        "optimizer": "RandomSearch",
    }
    if (
        isinstance(store_location, str) and "://" not in store_location
    ):  # the SQL schema keeps no meta beyond comment/priority
        assert record["meta"]["named_configs"] == ["search_space"]


def test_explicit_updates_win(store_location):
    ex, a = make_experiment(store_location)
    for _ in range(5):
        run = ex.run(config_updates={"y": 4, "solver": "adam"}, named_configs=["search_space"])
        assert run.config["y"] == 4 and run.config["solver"] == "adam"
    # the runs still belong to the search space's history
    history = a.history()
    assert len(history) == 5
    assert all(values["y"] == 4 and "momentum" not in values for values, _, _ in history)


def test_small_search_space_keeps_other_defaults(store_location):
    ex, a = make_experiment(store_location)
    run = ex.run(named_configs=["small_search_space"])
    assert -1 <= run.config["x"] <= 1
    assert run.config["y"] == 3 and run.config["solver"] == "sgd"


def test_history_per_search_space_and_current_best(store_location):
    ex, a = make_experiment(store_location)
    for _ in range(4):
        ex.run(named_configs=["search_space"])
    for _ in range(3):
        ex.run(named_configs=["small_search_space"])
    ex.run()  # not from a search space: in no history
    big = a._space("search_space")
    small = a._space("small_search_space")
    assert big.id != small.id
    assert len(a.history(big)) == 4
    assert len(a.history("small_search_space")) == 3
    values, cost = a.get_current_best(search_space="small_search_space")
    store = open_store(store_location)
    small_runs = [
        r for r in store.find() if r["info"].get("labwatch", {}).get("name") == "small_search_space"
    ]
    best = min(small_runs, key=lambda r: r["result"]["optimization_target"])
    assert cost == best["result"]["optimization_target"]
    assert values == {"x": best["config"]["x"]}
    values, job = a.get_current_best(return_job_info=True, search_space="small_search_space")
    assert job["_id"] == best["_id"] and job["config"]["x"] == values["x"]


def test_search_space_definitions_are_stored(tmp_path):
    ex, a = make_experiment(str(tmp_path / "runs"))
    ex.run(named_configs=["search_space"])
    ex.run(named_configs=["search_space"])
    ex.run(named_configs=["small_search_space"])
    files = sorted(os.listdir(tmp_path / "runs" / "_search_spaces"))
    assert len(files) == 2
    docs = [json.loads((tmp_path / "runs" / "_search_spaces" / f).read_text()) for f in files]
    by_name = {d["name"]: d for d in docs}
    assert by_name["search_space"]["_id"] == a._space("search_space").id
    assert by_name["search_space"]["parameters"]["momentum"]["condition"] == {
        "parent": "solver",
        "values": ["sgd"],
    }
    assert by_name["small_search_space"]["parameters"] == {
        "x": {
            "_class": "UniformFloat",
            "lower": -1.0,
            "upper": 1.0,
            "type": "float",
            "default": 0.0,
            "log_scale": False,
        }
    }


def test_search_space_table_in_sqlite(tmp_path):
    sa = pytest.importorskip("sqlalchemy")
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    ex, a = make_experiment(url)
    ex.run(named_configs=["search_space"])
    with sa.create_engine(url).connect() as conn:
        rows = conn.execute(sa.text("SELECT id, name, definition FROM search_space")).all()
    assert [(r[0], r[1]) for r in rows] == [(a.current_search_space.id, "search_space")]
    assert json.loads(rows[0][2])["parameters"]["y"]["_class"] == "UniformInt"


def test_run_methods(store_location):
    ex, a = make_experiment(store_location)
    with pytest.raises(ValueError, match="No current search space"):
        a.get_suggestion()
    run = a.run_default(search_space="search_space")
    assert run.config["x"] == 0.0 and run.config["y"] == 2 and run.config["solver"] == "sgd"
    run = a.run_random()
    assert a.current_search_space.valid(a.current_search_space.values_from_config(run.config))
    run = a.run_suggestion()
    run = a.run_config({"x": 1.5, "y": 1, "solver": "adam"})
    assert run.config["x"] == 1.5 and run.info["labwatch"]["name"] == "search_space"
    with pytest.raises(ValueError, match="needs a configuration"):
        a.run_config(None)
    assert len(a.history()) == 4
    values, cost = a.get_current_best()
    assert cost == min(h[1] for h in a.history())


def test_failed_and_bad_results_are_left_out(tmp_path, caplog):
    ex = Experiment("bad")
    a = LabAssistant(ex, store=str(tmp_path / "runs"))

    @a.search_space
    def space():
        x = UniformFloat(0, 1)

    @ex.main
    def main(x):
        if x > 0.5:
            raise RuntimeError("boom")
        return "not a number"

    a.run_config({"x": 0.2})
    with pytest.raises(RuntimeError):
        a.run_config({"x": 0.9})
    assert a.update_optimizer() == 0  # the failed run is not COMPLETED, the other has no cost
    assert "Cannot use the result 'not a number'" in caplog.text


def test_without_a_store_the_assistant_says_what_to_do():
    ex = Experiment("nostore")
    a = LabAssistant(ex)

    @a.search_space
    def space():
        x = UniformFloat(0, 1)

    @ex.main
    def main(x):
        return x

    with pytest.raises(RuntimeError, match="no store to keep the history in"):
        ex.run(named_configs=["space"])


def test_observer_is_attached_once(tmp_path):
    from sacred.observers import FileStorageObserver

    ex = Experiment("obs")
    ex.observers.append(FileStorageObserver(str(tmp_path / "runs")))
    LabAssistant(ex, store=str(tmp_path / "runs"))
    assert len(ex.observers) == 1
    LabAssistant(ex, store=str(tmp_path / "other"))
    assert len(ex.observers) == 2


def test_uses_an_attached_observer(tmp_path):
    from sacred.observers import FileStorageObserver

    ex = Experiment("obs")
    ex.observers.append(FileStorageObserver(str(tmp_path / "runs")))
    a = LabAssistant(ex)

    @a.search_space
    def space():
        x = UniformFloat(0, 1)

    @ex.main
    def main(x):
        return x

    for _ in range(3):
        ex.run(named_configs=["space"])
    assert len(a.history()) == 3


SCRIPT = """
from sacred import Experiment
from labwatch import LabAssistant
from labwatch.hyperparameters import UniformFloat, UniformInt
from labwatch.optimizers import RandomSearch

ex = Experiment("cli_exp")
a = LabAssistant(ex, optimizer=RandomSearch)

@ex.config
def cfg():
    lr = 0.5
    batch_size = 128

@a.searchspace
def search_space():
    lr = UniformFloat(1e-3, 1e-1, log_scale=True)
    batch_size = UniformInt(32, 64, log_scale=True)

@ex.automain
def main(lr, batch_size):
    print("lr", lr, "batch_size", batch_size)
    return lr * batch_size
"""


def test_command_line_with_search_space_and_file_storage(tmp_path):
    script = tmp_path / "exp.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, PYTHONPATH=REPO)
    for args in (["with", "search_space"], ["with", "search_space", "batch_size=40"]):
        out = subprocess.run(
            [sys.executable, str(script), "-F", "runs", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert out.returncode == 0, out.stderr
    store = open_store(str(tmp_path / "runs"))
    runs = store.find(sort="_id")
    assert [r["status"] for r in runs] == ["COMPLETED", "COMPLETED"]
    for r in runs:
        assert 1e-3 <= r["config"]["lr"] <= 1e-1
        assert r["info"]["labwatch"]["name"] == "search_space"
    assert runs[1]["config"]["batch_size"] == 40
    assert os.listdir(tmp_path / "runs" / "_search_spaces")


def test_search_space_collection_and_queue_in_mongo():
    mongomock = pytest.importorskip("mongomock")
    db = mongomock.MongoClient()["lw"]
    ex, a = make_experiment(db)
    ex.run(named_configs=["small_search_space"])
    docs = list(db["search_space"].find())
    assert [(d["_id"], d["name"]) for d in docs] == [
        (a.current_search_space.id, "small_search_space")
    ]
    queued = a.enqueue_suggestion()
    assert db.runs.find_one({"_id": queued._id})["status"] == "QUEUED"
    run = a.run_from_queue(wait_time_in_s=0)
    assert run._id == queued._id  # the queued run runs under its own id
    assert db.runs.find_one({"_id": queued._id})["status"] == "COMPLETED"
    assert db.runs.count_documents({}) == 2
    assert a.run_from_queue(wait_time_in_s=0) is None


def test_run_from_queue_waits_then_gives_up(tmp_path):
    import time

    ex, a = make_experiment(str(tmp_path / "runs"))
    start = time.monotonic()
    assert a.run_from_queue(wait_time_in_s=0.3, sleep_time=0.1) is None
    assert 0.3 <= time.monotonic() - start < 2


def test_numpy_results_count_in_every_store(store_location):
    """The original's Branin example returns numpy.float64; folder and Mongo stores keep it as
    {"py/object": "numpy.float64", ...}, and the history must still count those runs."""
    np = pytest.importorskip("numpy")
    ex = Experiment("numpy_cost")

    @ex.config
    def cfg():
        x = 0.0

    a = LabAssistant(ex, store=store_location, optimizer=RandomSearch)

    @a.search_space
    def search_space():
        x = UniformFloat(-5, 5)

    @ex.main
    def main(x):
        return np.float64(x * x)

    runs = [ex.run(named_configs=["search_space"]) for _ in range(3)]
    stored = open_store(store_location).get(runs[0]._id)["result"]
    assert isinstance(stored, np.float64) and stored == runs[0].result
    assert len(a.history("search_space")) == 3
    values, cost = a.get_current_best()
    assert cost == min(float(r.result) for r in runs)
