"""Artifacts with the same name: added twice in one run, and once in each of two runs."""

import time

import pytest

from sacred import Experiment
from tests.conformance.backends import QUEUE_INTERVAL, kinds


def _artifact_run(backend, tmp_path, contents, name="model.txt", sleep=0.0):
    """A run that adds each of ``contents`` (bytes) as the artifact ``name``, in order."""
    ex = Experiment("artifacts")

    @ex.main
    def main(_run):
        print("start")
        for i, content in enumerate(contents):
            path = tmp_path / f"{name}.{len(list(tmp_path.iterdir()))}.{i}"
            path.write_bytes(content)
            _run.add_artifact(str(path), name)
        time.sleep(sleep)
        print("end")

    ex.observers.append(backend.observer())
    return ex.run(options={"--capture": "sys"})._id


def _read(store, run_id, name="model.txt"):
    with store.open_artifact(run_id, name) as f:
        return f.read()


@pytest.mark.parametrize("kind", kinds())
def test_an_artifact_added_twice_in_one_run(backend, tmp_path):
    """Like a checkpoint saved under one name after each epoch: the run lists the name once
    per add (as the original observers do) and reading it gives the last one."""
    run_id = _artifact_run(backend, tmp_path, [b"epoch 1\n", b"epoch 2\n"])
    with backend.store() as store:
        assert store.artifacts(run_id) == ["model.txt", "model.txt"]
        assert _read(store, run_id) == b"epoch 2\n"


@pytest.mark.parametrize("kind", kinds())
def test_artifacts_of_the_same_name_in_two_runs(backend, tmp_path):
    first = _artifact_run(backend, tmp_path, [b"run one\n"])
    second = _artifact_run(backend, tmp_path, [b"run two\n"])
    with backend.store() as store:
        assert store.artifacts(first) == store.artifacts(second) == ["model.txt"]
        assert _read(store, first) == b"run one\n"
        assert _read(store, second) == b"run two\n"


MONGO_SAYS_ADDED = (
    "the MongoObserver prints 'Added text/plain as content-type of artifact <file>.' to "
    "stdout when it guesses an artifact's content type, as the original does, so the line "
    "is part of the run's captured output"
)


@pytest.mark.parametrize(
    "kind", kinds(mongomock=MONGO_SAYS_ADDED, mongomock_queued=MONGO_SAYS_ADDED)
)
def test_adding_an_artifact_leaves_the_output_alone(backend, tmp_path):
    run_id = _artifact_run(backend, tmp_path, [b"x\n"], sleep=3 * QUEUE_INTERVAL)
    with backend.store() as store:
        assert store.get(run_id)["captured_out"] == "start\nend\n"
