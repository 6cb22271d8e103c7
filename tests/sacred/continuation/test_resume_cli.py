"""``sacred resume`` and ``sacred run --parent`` from the shell, ``ex.queue`` from Python."""

import subprocess
import sys

from sacred.store import open_store

TRAIN = """
import os
from sacred import Experiment
ex = Experiment("train")

@ex.config
def cfg():
    epochs = 5

@ex.automain
def main(epochs, _run):
    start = 0 if _run.last_step("loss") is None else _run.last_step("loss") + 1
    print("resumed" if _run.resumed else "fresh", "from", start)
    for i in range(start, epochs):
        if i == 2 and not os.path.exists("fixed"):
            raise RuntimeError("out of memory")
        _run.log_scalar("loss", 1 / (i + 1))
    with open("model.txt", "w") as f:
        f.write(f"weights after {epochs} epochs")
    _run.add_artifact("model.txt")
    return epochs
"""

EVALUATE = """
from sacred import Experiment
ex = Experiment("evaluate")

@ex.automain
def main(_run):
    parent = _run.parent
    weights = parent.open_artifact("model.txt").read().decode()
    print("evaluating", weights)
    return [parent.id, parent.config["epochs"], parent.result, weights]
"""


def _sacred(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "sacred.store.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def test_resume_from_the_shell(tmp_path):
    (tmp_path / "train.py").write_text(TRAIN)
    first = subprocess.run(
        [sys.executable, "train.py", "-F", "runs"], cwd=tmp_path, capture_output=True, text=True
    )
    assert first.returncode == 1
    (tmp_path / "fixed").write_text("")

    resumed = _sacred("resume", "runs", "1", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.splitlines()[-1] == "Run 1: COMPLETED"
    record = open_store(str(tmp_path / "runs")).get(1)
    assert record["status"] == "COMPLETED"
    assert "fresh from 0" in record["captured_out"]
    assert "resumed from 2" in record["captured_out"]
    assert open_store(str(tmp_path / "runs")).metrics(1)["loss"]["steps"] == [0, 1, 2, 3, 4]

    again = _sacred("resume", "runs", "1", cwd=tmp_path)
    assert again.returncode == 1
    assert again.stderr == (
        "sacred: error: Run 1 is COMPLETED: only FAILED, INTERRUPTED or dead runs are "
        "resumed without --force (force=True)\n"
    )
    changed = _sacred("resume", "runs", "1", "--force", "with", "epochs=6", cwd=tmp_path)
    assert changed.returncode == 0, changed.stderr
    assert open_store(str(tmp_path / "runs")).metrics(1)["loss"]["steps"] == [0, 1, 2, 3, 4, 5]

    refused = _sacred("resume", "runs", "1", "with", "epochs=7", cwd=tmp_path)
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr


def test_an_evaluation_reads_its_parent_run_through_the_store(tmp_path):
    (tmp_path / "train.py").write_text(TRAIN)
    (tmp_path / "evaluate.py").write_text(EVALUATE)
    (tmp_path / "fixed").write_text("")
    subprocess.run([sys.executable, "train.py", "-F", "runs"], cwd=tmp_path, check=True)
    (tmp_path / "model.txt").unlink()  # only the stored artifact is left

    child = _sacred("run", "--parent", "runs:1", "--to", "evals", "evaluate.py", cwd=tmp_path)
    assert child.returncode == 0, child.stderr
    assert child.stdout.splitlines()[-1] == "Run 1: COMPLETED"
    record = open_store(str(tmp_path / "evals")).get(1)
    assert record["meta"]["parent"] == {"store": str(tmp_path / "runs"), "id": 1}
    assert record["result"] == [1, 5, 5, "weights after 5 epochs"]
    assert "parent" not in record["config"]

    missing = _sacred("run", "--parent", "runs:9", "evaluate.py", cwd=tmp_path)
    assert missing.returncode == 1
    assert missing.stderr.startswith("sacred: error: ") and missing.stderr.count("\n") == 1
    bad = _sacred("run", "--parent", "runs", "evaluate.py", cwd=tmp_path)
    assert bad.stderr == "sacred: error: --parent needs STORE:RUN_ID (e.g. runs:3), not 'runs'\n"


def test_ex_queue_stores_a_queued_run(tmp_path):
    from sacred import Experiment
    from sacred.observers import FileStorageObserver

    ex = Experiment("queued")
    ex.observers.append(FileStorageObserver(str(tmp_path / "runs")))

    @ex.config
    def cfg():
        a = 1

    @ex.main
    def main(a):
        return a

    run_id = ex.queue(config_updates={"a": 3})
    record = open_store(str(tmp_path / "runs")).get(run_id)
    assert (record["status"], record["config"]["a"]) == ("QUEUED", 3)
