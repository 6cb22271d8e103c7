"""TinyDB checkpoints: a checkpoint replaces the entry's artifact of its name, and the HashFS
file it replaced is removed unless an entry (of any run) still refers to that content."""

import os

import pytest

from sacred import Experiment
from sacred.observers import TinyDbObserver
from sacred.store import open_store

pytest.importorskip("tinydb")
pytest.importorskip("hashfs")


def _stored_contents(folder):
    """The contents of the HashFS files that are no run's sources."""
    store = open_store(f"tinydb://{folder}")
    sources = {s[1] for run in store.find() for s in run["experiment"]["sources"]}
    contents = []
    for d, _, files in os.walk(os.path.join(folder, "hashfs")):
        for f in files:
            path = os.path.join(d, f)
            file_id = os.path.relpath(path, os.path.join(folder, "hashfs")).replace(os.sep, "")
            if file_id not in sources:
                with open(path, "rb") as handle:
                    contents.append(handle.read())
    return sorted(contents)


def _run(folder, body, resume=None):
    ex = Experiment("ckpt")
    ex.observers.append(TinyDbObserver(folder))

    @ex.main
    def main(_run):
        return body(_run)

    return ex.run(resume=resume, options={"--capture": "no"})


def test_a_checkpoint_replaces_the_last_and_its_old_file_goes(tmp_path):
    folder = str(tmp_path / "db")

    def body(_run):
        for epoch in range(3):
            _run.save_checkpoint(f"epoch {epoch}".encode())

    run_id = _run(folder, body)._id
    store = open_store(f"tinydb://{folder}")
    assert store.artifacts(run_id) == ["checkpoint"]
    assert store.open_artifact(run_id, "checkpoint").read() == b"epoch 2"
    assert _stored_contents(folder) == [b"epoch 2"]


def test_content_another_entry_refers_to_stays(tmp_path):
    folder = str(tmp_path / "db")
    shared = tmp_path / "weights.bin"
    shared.write_bytes(b"epoch 0")

    def other(_run):
        _run.add_artifact(str(shared), "weights.bin")

    other_id = _run(folder, other)._id

    def body(_run):
        _run.add_artifact(str(shared), "copy.bin")  # the same content, in this run
        _run.save_checkpoint(b"epoch 0")
        _run.save_checkpoint(b"epoch 1")
        _run.save_checkpoint(b"epoch 1")  # the same content again: nothing to remove

    run_id = _run(folder, body)._id
    store = open_store(f"tinydb://{folder}")
    assert store.artifacts(run_id) == ["copy.bin", "checkpoint"]
    assert store.open_artifact(run_id, "checkpoint").read() == b"epoch 1"
    assert store.open_artifact(run_id, "copy.bin").read() == b"epoch 0"
    assert store.open_artifact(other_id, "weights.bin").read() == b"epoch 0"

    def only_checkpoints(_run):
        _run.save_checkpoint(b"epoch 1")  # the other run's newest checkpoint's content
        _run.save_checkpoint(b"epoch 2")

    third = _run(folder, only_checkpoints)._id
    store = open_store(f"tinydb://{folder}")
    assert store.open_artifact(third, "checkpoint").read() == b"epoch 2"
    assert store.open_artifact(run_id, "checkpoint").read() == b"epoch 1"
    assert _stored_contents(folder) == [b"epoch 0", b"epoch 1", b"epoch 2"]


def test_a_plain_artifact_added_twice_is_listed_twice_and_keeps_both_files(tmp_path):
    folder = str(tmp_path / "db")
    path = tmp_path / "model.txt"

    def body(_run):
        for text in (b"one", b"two"):
            path.write_bytes(text)
            _run.add_artifact(str(path), "model.txt")
        _run.save_checkpoint(b"three", name="model.txt")  # replaces the last of the name

    run_id = _run(folder, body)._id
    store = open_store(f"tinydb://{folder}")
    assert store.artifacts(run_id) == ["model.txt", "model.txt"]
    assert store.open_artifact(run_id, "model.txt").read() == b"three"
    assert _stored_contents(folder) == [b"one", b"three"]


def test_a_resumed_run_replaces_the_checkpoint_of_its_first_segment(tmp_path):
    folder = str(tmp_path / "db")

    def first(_run):
        _run.save_checkpoint(b"segment 1")
        raise RuntimeError("preempted")

    with pytest.raises(RuntimeError):
        _run(folder, first)
    store = open_store(f"tinydb://{folder}")
    (run_id,) = store.find_ids()

    def second(_run):
        assert _run.open_checkpoint().read() == b"segment 1"
        _run.save_checkpoint(b"segment 2")

    _run(folder, second, resume=run_id)
    store = open_store(f"tinydb://{folder}")
    assert store.artifacts(run_id) == ["checkpoint"]
    assert store.open_artifact(run_id, "checkpoint").read() == b"segment 2"
    assert _stored_contents(folder) == [b"segment 2"]
