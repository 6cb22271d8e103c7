"""``ex.sweep`` from Python: the Experiment method over ``sacred.launch.sweep``."""

from sacred.launch.script import load_experiment
from sacred.store import open_store

SCRIPT = """
from sacred import Experiment
ex = Experiment("swept")

@ex.config
def cfg():
    lr = 0.1
    depth = 1

@ex.main
def main(lr, depth):
    return lr * depth
"""


def test_ex_sweep_runs_every_update_into_the_store(tmp_path):
    (tmp_path / "exp.py").write_text(SCRIPT)
    ex = load_experiment(str(tmp_path / "exp.py"))
    updates = [{"lr": lr, "depth": d} for lr in (0.1, 0.01) for d in (2, 3)]
    results = ex.sweep(updates, str(tmp_path / "runs"), launcher="local", n_jobs=2)
    assert [r["status"] for r in results] == ["COMPLETED"] * 4
    records = open_store(str(tmp_path / "runs")).find(sort="_id")
    got = sorted((r["config"]["lr"], r["config"]["depth"], r["result"]) for r in records)
    assert got == sorted((u["lr"], u["depth"], u["lr"] * u["depth"]) for u in updates)
    assert {r["meta"]["sweep"]["size"] for r in records} == {4}
    assert sorted(r["meta"]["sweep"]["index"] for r in records) == [0, 1, 2, 3]
