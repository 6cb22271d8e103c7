"""MongoDB checkpoints while the database is away: only the newest checkpoint of a name waits
(with one copy beside the journal), and once the database is back, or at ``sacred sync``, the
run lists it once, GridFS holds its newest content alone, and syncing twice changes nothing."""

import json

import mongomock
import pytest

from sacred import Experiment
from sacred.observers import MongoObserver
from sacred.observers.journal import sync
from sacred.store import open_store
from tests.sacred.continuation import test_mongo_continue

failing_client = test_mongo_continue.failing_client  # the fixture: a client to switch off


def _observer(client, tmp_path):
    observer = MongoObserver(client=client, db_name="cont", failure_dir=str(tmp_path / "j"))
    observer.retry_delay = observer.retry_interval = 0.0
    return observer


def _run(observer, body, resume=None):
    ex = Experiment("ckpt")
    ex.observers.append(observer)

    @ex.main
    def main(_run):
        return body(_run)

    return ex.run(resume=resume, options={"--capture": "no"})


def _checkpoint_files(client):
    """(filename, content) of the GridFS files of artifacts named checkpoint."""
    import gridfs

    fs = gridfs.GridFS(client["cont"])
    found = client["cont"]["fs.files"].find({"filename": {"$regex": "^artifact://.*/checkpoint$"}})
    return sorted((f["filename"], fs.get(f["_id"]).read()) for f in found)


def _copies(tmp_path):
    return sorted(p.read_bytes() for p in tmp_path.glob("j/*_files/*_checkpoint"))


def _check(client, run_id, newest):
    store = open_store(client, db_name="cont")
    assert store.artifacts(run_id) == ["checkpoint"]
    assert store.open_artifact(run_id, "checkpoint").read() == newest
    assert _checkpoint_files(client) == [(f"artifact://runs/{run_id}/checkpoint", newest)]


def test_checkpoints_saved_while_the_database_is_away_store_the_newest(failing_client, tmp_path):
    observer = _observer(failing_client, tmp_path)
    seen = {}

    def body(_run):
        _run.save_checkpoint(b"epoch 0")  # stored
        failing_client.down = True
        for epoch in (1, 2, 3):
            _run.save_checkpoint(f"epoch {epoch}".encode())
            seen.setdefault("copies", []).append(_copies(tmp_path))
        failing_client.down = False

    run = _run(observer, body)
    # one copy waits at a time, with the newest content
    assert seen["copies"] == [[b"epoch 1"], [b"epoch 2"], [b"epoch 3"]]
    _check(failing_client, run._id, b"epoch 3")
    assert _copies(tmp_path) == []


@pytest.mark.parametrize("away_from", ["the start", "the first checkpoint"])
def test_checkpoints_of_a_journal_sync_as_one(failing_client, tmp_path, away_from):
    observer = _observer(failing_client, tmp_path)
    failing_client.down = away_from == "the start"

    def body(_run):
        for epoch in range(3):
            _run.save_checkpoint(f"epoch {epoch}".encode())
            failing_client.down = True

    try:
        _run(observer, body)
    finally:
        failing_client.down = False
    (journal,) = tmp_path.glob("j/*.jsonl")
    lines = [json.loads(line) for line in journal.read_text().splitlines()]
    assert [e["kwargs"]["name"] for e in lines if e["event"] == "artifact_event"] == ["checkpoint"]
    assert _copies(tmp_path) == [b"epoch 2"]

    target = MongoObserver(client=failing_client, db_name="cont")
    result = sync(str(journal), target)
    _check(failing_client, result.run, b"epoch 2")
    again = sync(str(journal), MongoObserver(client=failing_client, db_name="cont"))
    assert again.applied == 0
    assert open_store(failing_client, db_name="cont").find_ids() == [result.run]
    _check(failing_client, result.run, b"epoch 2")


def test_a_checkpoint_replaces_the_one_of_a_resumed_run():
    client = mongomock.MongoClient()

    def first(_run):
        _run.save_checkpoint(b"segment 1")
        raise RuntimeError("preempted")

    with pytest.raises(RuntimeError):
        _run(MongoObserver(client=client, db_name="cont"), first)

    def second(_run):
        assert _run.open_checkpoint().read() == b"segment 1"
        _run.save_checkpoint(b"segment 2")

    _run(MongoObserver(client=client, db_name="cont"), second, resume=1)
    _check(client, 1, b"segment 2")


def test_a_checkpoint_takes_the_place_of_the_last_artifact_of_its_name(tmp_path):
    client = mongomock.MongoClient()
    path = tmp_path / "model.txt"

    def body(_run):
        _run.save_checkpoint(b"epoch 0")
        for text in (b"one", b"two"):
            path.write_bytes(text)
            _run.add_artifact(str(path), "model.txt")
        _run.save_checkpoint(b"epoch 1")
        _run.save_checkpoint(b"three", name="model.txt")

    run_id = _run(MongoObserver(client=client, db_name="cont"), body)._id
    store = open_store(client, db_name="cont")
    assert store.artifacts(run_id) == ["checkpoint", "model.txt", "model.txt"]
    assert store.open_artifact(run_id, "model.txt").read() == b"three"
    import gridfs

    fs = gridfs.GridFS(client["cont"])
    stored = sorted(
        fs.get(f["_id"]).read()
        for f in client["cont"]["fs.files"].find({"filename": {"$regex": "^artifact://"}})
    )
    assert stored == [b"epoch 1", b"one", b"three"]
