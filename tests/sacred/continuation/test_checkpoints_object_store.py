"""S3 and Google Cloud Storage checkpoints while the bucket is away: the journal keeps one
event and one copy of each checkpoint name (the newest), and a sync, or the store coming
back, leaves one listed artifact with the newest content; syncing twice changes nothing."""

import json

import pytest

from sacred import Experiment
from sacred.observers.journal import sync
from tests.sacred.continuation.test_object_store_continue import OBJECT_KINDS, _down_bucket
from tests.sacred.store.conftest import STORE_KINDS


@pytest.fixture(params=OBJECT_KINDS)
def kind(request):
    return request.param


def _experiment(observer, body):
    ex = Experiment("ckpt")
    ex.observers.append(observer)

    @ex.main
    def main(_run):
        return body(_run)

    return ex


def _journal(tmp_path):
    (journal,) = (tmp_path / "journals").glob("*.jsonl")
    lines = [json.loads(line) for line in journal.read_text().splitlines()]
    artifacts = [line for line in lines if line["event"] == "artifact_event"]
    copies = sorted(p.read_bytes() for p in (tmp_path / "journals").glob("*_files/*_checkpoint"))
    return journal, artifacts, copies


def _check(store, run_id, newest, extra=()):
    assert store.artifacts(run_id) == [*extra, "checkpoint"]
    assert store.open_artifact(run_id, "checkpoint").read() == newest


@pytest.mark.parametrize("away_from", ["the start", "the second checkpoint"])
def test_checkpoints_saved_while_the_store_is_away_sync_as_one(kind, tmp_path, away_from):
    make_observer, open_ = STORE_KINDS[kind]
    observer = make_observer(tmp_path)
    observer.failure_dir = str(tmp_path / "journals")
    bucket = _down_bucket(observer)
    bucket.down = away_from == "the start"

    def body(_run):
        for epoch in range(4):
            _run.save_checkpoint(f"epoch {epoch}".encode())
            bucket.down = True
        return "done"

    run = _experiment(observer, body).run(options={"--capture": "no"})
    assert run.status == "COMPLETED"
    journal, artifacts, copies = _journal(tmp_path)
    assert [a["kwargs"]["name"] for a in artifacts] == ["checkpoint"]
    assert copies == [b"epoch 3"]  # one copy, of the newest

    result = sync(str(journal), make_observer(tmp_path))
    store = open_(tmp_path)
    _check(store, result.run, b"epoch 3")
    assert store.get(result.run)["status"] == "COMPLETED"
    again = sync(str(journal), make_observer(tmp_path))
    assert again.applied == 0 and again.run == result.run
    store = open_(tmp_path)
    assert store.find_ids() == [result.run]
    _check(store, result.run, b"epoch 3")


def test_the_store_back_during_the_run_gets_the_newest_checkpoint(kind, tmp_path):
    make_observer, open_ = STORE_KINDS[kind]
    observer = make_observer(tmp_path)
    observer.failure_dir = str(tmp_path / "journals")
    bucket = _down_bucket(observer)
    bucket.down = False

    def body(_run):
        _run.save_checkpoint(b"epoch 0")  # uploaded
        bucket.down = True
        _run.save_checkpoint(b"epoch 1")  # kept in the journal
        _run.save_checkpoint(b"epoch 2")  # replaces that copy
        assert _journal(tmp_path)[2] == [b"epoch 2"]
        bucket.down = False
        _run.add_artifact(__file__, "notes.py")  # the next event uploads all

    run = _experiment(observer, body).run(options={"--capture": "no"})
    store = open_(tmp_path)
    assert store.artifacts(run._id) == ["checkpoint", "notes.py"]
    assert store.open_artifact(run._id, "checkpoint").read() == b"epoch 2"
    assert not list((tmp_path / "journals").glob("*.jsonl"))
    assert not list((tmp_path / "journals").glob("*_files/*_checkpoint"))


def test_a_continued_run_away_from_the_store_replaces_the_stored_checkpoint(kind, tmp_path):
    make_observer, open_ = STORE_KINDS[kind]

    def first(_run):
        _run.save_checkpoint(b"segment 1")
        raise RuntimeError("preempted")

    with pytest.raises(RuntimeError):
        _experiment(make_observer(tmp_path), first).run(options={"--capture": "no"})
    (run_id,) = open_(tmp_path).find_ids()

    observer = make_observer(tmp_path)
    observer.failure_dir = str(tmp_path / "journals")
    _down_bucket(observer)

    def second(_run):
        _run.save_checkpoint(b"segment 2, epoch 0")
        _run.save_checkpoint(b"segment 2, epoch 1")

    _experiment(observer, second).run(resume=run_id, options={"--capture": "no"})
    _check(open_(tmp_path), run_id, b"segment 1")  # the store has not got it yet
    journal, artifacts, copies = _journal(tmp_path)
    assert len(artifacts) == 1 and copies == [b"segment 2, epoch 1"]

    assert sync(str(journal), make_observer(tmp_path)).run == run_id
    _check(open_(tmp_path), run_id, b"segment 2, epoch 1")
    assert sync(str(journal), make_observer(tmp_path)).applied == 0
    store = open_(tmp_path)
    _check(store, run_id, b"segment 2, epoch 1")
    assert store.get(run_id)["status"] == "COMPLETED"
