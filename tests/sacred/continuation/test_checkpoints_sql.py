"""SQL checkpoints: a checkpoint replaces the artifact row of its name (its content goes with
the row), also while the database is away (only the newest waits, with one copy beside the
journal) and through a journal synced twice."""

import json

import pytest

from sacred import Experiment
from sacred.observers import SqlObserver
from sacred.observers.journal import sync
from sacred.store import open_store
from tests.sacred.continuation.test_sql_continue import _locked, raw


def _run(observer, body, resume=None):
    ex = Experiment("ckpt")
    ex.observers.append(observer)

    @ex.main
    def main(_run):
        return body(_run)

    return ex.run(resume=resume, options={"--capture": "no"})


def _rows(url):
    return raw(url, "SELECT filename, content FROM artifact ORDER BY artifact_id")


def _copies(tmp_path):
    return sorted(p.read_bytes() for p in tmp_path.glob("j/*_files/*_checkpoint"))


def _away(tmp_path):
    path = tmp_path / "runs.db"
    url = f"sqlite:///{path}?timeout=0.05"
    observer = SqlObserver(url, failure_dir=str(tmp_path / "j"), retry_timeout=0.2)
    observer.retry_interval = 0.05
    return path, url, observer


def test_a_checkpoint_replaces_the_row_of_its_name_and_a_plain_artifact_does_not(tmp_path):
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    path = tmp_path / "model.txt"

    def body(_run):
        for epoch in range(3):
            _run.save_checkpoint(f"epoch {epoch}".encode())
            if epoch == 0:
                for text in (b"one", b"two"):
                    path.write_bytes(text)
                    _run.add_artifact(str(path), "model.txt")
        _run.save_checkpoint(b"three", name="model.txt")  # the last of its name

    run_id = _run(SqlObserver(url), body)._id
    store = open_store(url)
    assert store.artifacts(run_id) == ["checkpoint", "model.txt", "model.txt"]
    assert store.open_artifact(run_id, "checkpoint").read() == b"epoch 2"
    assert store.open_artifact(run_id, "model.txt").read() == b"three"
    assert _rows(url) == [
        ("checkpoint", b"epoch 2"),
        ("model.txt", b"one"),
        ("model.txt", b"three"),
    ]


def test_checkpoints_of_two_names_saved_while_the_database_is_away(tmp_path):
    """Both names' files are called ``checkpoint``: each keeps its own copy."""
    path, url, observer = _away(tmp_path)
    seen = {}

    def body(_run):
        lock = _locked(str(path))
        for epoch in range(3):
            _run.save_checkpoint(f"a {epoch}".encode(), name="a/checkpoint")
            _run.save_checkpoint(f"b {epoch}".encode(), name="b/checkpoint")
            seen.setdefault("copies", []).append(_copies(tmp_path))
        lock.rollback()

    run_id = _run(observer, body)._id
    assert seen["copies"][-1] == [b"a 2", b"b 2"]
    store = open_store(url)
    assert sorted(store.artifacts(run_id)) == ["a/checkpoint", "b/checkpoint"]
    assert store.open_artifact(run_id, "a/checkpoint").read() == b"a 2"
    assert store.open_artifact(run_id, "b/checkpoint").read() == b"b 2"
    assert not list(tmp_path.glob("j/*.jsonl"))


@pytest.mark.parametrize("away_from", ["the start", "the first checkpoint"])
def test_checkpoints_of_a_journal_sync_as_one(tmp_path, away_from):
    path, url, observer = _away(tmp_path)
    SqlObserver(url).engine.dispose()  # the tables are there
    lock = _locked(str(path)) if away_from == "the start" else None

    def body(_run):
        nonlocal lock
        for epoch in range(3):
            _run.save_checkpoint(f"epoch {epoch}".encode())
            lock = lock or _locked(str(path))

    try:
        _run(observer, body)
    finally:
        lock.rollback()
    (journal,) = tmp_path.glob("j/*.jsonl")
    lines = [json.loads(line) for line in journal.read_text().splitlines()]
    names = [e["kwargs"]["name"] for e in lines if e["event"] == "artifact_event"]
    assert names == ["checkpoint"]
    assert _copies(tmp_path) == [b"epoch 2"]

    result = sync(str(journal), SqlObserver(url))
    store = open_store(url)
    assert store.artifacts(result.run) == ["checkpoint"]
    assert store.open_artifact(result.run, "checkpoint").read() == b"epoch 2"
    assert sync(str(journal), SqlObserver(url)).applied == 0
    assert [str(i) for i in open_store(url).find_ids()] == [str(result.run)]
    assert _rows(url) == [("checkpoint", b"epoch 2")]


def test_a_checkpoint_replaces_the_row_of_a_resumed_run(tmp_path):
    url = f"sqlite:///{tmp_path / 'runs.db'}"

    def first(_run):
        _run.save_checkpoint(b"segment 1")
        raise RuntimeError("preempted")

    with pytest.raises(RuntimeError):
        _run(SqlObserver(url), first)

    def second(_run):
        assert _run.open_checkpoint().read() == b"segment 1"
        _run.save_checkpoint(b"segment 2")

    _run(SqlObserver(url), second, resume=1)
    assert _rows(url) == [("checkpoint", b"segment 2")]
