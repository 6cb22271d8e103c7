"""``RunStore.update_meta`` (Sacredboard's tags and notes) on every backend, also while the
run's observer is still writing it."""

import json
import os
import threading
import time

import pytest

from sacred import Experiment
from sacred.store import RunNotFoundError, StoreError
from tests.sacred.store.conftest import STORE_KINDS, run_experiments


@pytest.fixture(scope="module", params=sorted(STORE_KINDS))
def writable(request, tmp_path_factory):
    """``(kind, tmp_path, store)`` with the runs a..e, for this module's tests to change."""
    make_observer, open_ = STORE_KINDS[request.param]
    tmp_path = tmp_path_factory.mktemp(f"meta_{request.param}")
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        run_experiments(make_observer, tmp_path)
    finally:
        os.chdir(cwd)
    store = open_(tmp_path)
    yield request.param, tmp_path, store
    store.close()


def _id_of(store, tag):
    (run_id,) = store.find_ids(f'config.tag == "{tag}"')
    return run_id


def test_set_change_and_remove_tags_and_notes(writable):
    kind, tmp_path, store = writable
    b, c = _id_of(store, "b"), _id_of(store, "c")
    other = STORE_KINDS[kind][1](tmp_path)  # opened (and its caches filled) before the change
    assert other.find_ids("meta.tags exists") == []

    meta = store.update_meta(b, {"tags": ["best", "lr"], "notes": "fast\nand good"})
    assert meta["tags"] == ["best", "lr"] and meta["notes"] == "fast\nand good"
    assert meta["command"] == "train"  # the run's own meta is kept
    assert store.get(b)["meta"] == meta
    store.update_meta(c, {"tags": ["lr"]})

    for reader in (store, other, STORE_KINDS[kind][1](tmp_path)):
        assert reader.find_ids('meta.tags == ["best", "lr"]') == [b]
        assert reader.find_ids('meta.tags.0 == "lr"') == [c]
        assert reader.find_ids("meta.tags exists", sort="config.tag") == [b, c]
        assert reader.count('meta.notes =~ "good"') == 1
        (found,) = reader.find('meta.notes =~ "^fast"')
        assert found["_id"] == b and found["meta"]["tags"] == ["best", "lr"]

    # changed: only the keys given are touched
    meta = store.update_meta(b, {"tags": ["v2"]})
    assert (meta["tags"], meta["notes"]) == (["v2"], "fast\nand good")
    assert store.find_ids('meta.tags == ["best", "lr"]') == []
    assert other.find_ids('meta.tags == ["v2"]') == [b]

    # removed: a key set to None is gone (removing a missing key is no error)
    meta = store.update_meta(b, {"notes": None, "nothing": None})
    assert "notes" not in meta and "nothing" not in meta and meta["tags"] == ["v2"]
    assert "notes" not in store.get(b)["meta"]
    assert store.find_ids("meta.notes exists") == []
    store.update_meta(b, {"tags": None})
    store.update_meta(c, {"tags": None})
    assert other.find_ids("meta.tags exists") == []
    assert store.get(b)["meta"]["command"] == "train"
    assert store.update_meta(b, {}) == store.get(b)["meta"]


def test_update_meta_errors(writable):
    kind, _, store = writable
    a = _id_of(store, "a")
    with pytest.raises(RunNotFoundError):
        store.update_meta(987654, {"tags": ["x"]})
    with pytest.raises(StoreError, match="cannot be a key of a run's meta"):
        store.update_meta(a, {"a.b": 1})
    with pytest.raises(StoreError, match="cannot be a key of a run's meta"):
        store.update_meta(a, {"$set": 1})
    with pytest.raises(StoreError, match="must be JSON values"):
        store.update_meta(a, {"tags": {1, 2}})
    assert "tags" not in store.get(a)["meta"]


def test_other_meta_values_round_trip(writable):
    _, _, store = writable
    e = _id_of(store, "e")
    value = {"reviewed": True, "score": 0.5, "by": ["ann", "bob"], "unicode": "äß✓"}
    assert store.update_meta(e, {"review": value})["review"] == value
    assert store.get(e)["meta"]["review"] == value
    assert store.find_ids("meta.review.score > 0.25") == [e]
    store.update_meta(e, {"review": None})


# ---------------------------------------------------------------------- while running
def _wait_for(condition, what, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize("kind", sorted(STORE_KINDS))
def test_tags_written_while_the_observer_beats_survive(kind, tmp_path):
    """Heartbeats (every 0.2 s) and the final event rewrite the run; the tags stay."""
    make_observer, open_ = STORE_KINDS[kind]
    started, release, ids = threading.Event(), threading.Event(), []
    ex = Experiment("live")

    @ex.main
    def main(_run):
        ids.append(_run._id)
        started.set()
        assert release.wait(60)
        return 42

    ex.observers.append(make_observer(tmp_path))
    runs = []
    thread = threading.Thread(
        target=lambda: runs.append(
            ex.run(options={"--beat-interval": "0.2", "--capture": "sys", "--comment": "mine"})
        )
    )
    thread.start()
    try:
        assert started.wait(30)
        store = open_(tmp_path)
        run_id = ids[0]

        def next_beat(after):
            return _wait_for(
                lambda: (b := store.get(run_id).get("heartbeat")) is not None and b != after and b,
                "a heartbeat",
            )

        beat = next_beat(None)  # just beaten: the next beat is about 0.2 s away
        store.update_meta(run_id, {"tags": ["live"], "notes": "set while running"})
        for _ in range(3):  # three more heartbeats rewrite the run
            beat = next_beat(beat)
            record = store.get(run_id)
            assert record["status"] == "RUNNING"
            assert record["meta"]["tags"] == ["live"]
            assert record["meta"]["notes"] == "set while running"
            assert record["meta"]["comment"] == "mine"
        beat = next_beat(beat)
        store.update_meta(run_id, {"tags": ["live", "v2"], "notes": None})
        beat = next_beat(next_beat(beat))
        assert store.get(run_id)["meta"]["tags"] == ["live", "v2"]
        assert "notes" not in store.get(run_id)["meta"]
    finally:
        release.set()
        thread.join(60)
    assert runs[0].status == "COMPLETED"
    store = open_(tmp_path)
    record = store.get(run_id)
    assert (record["status"], record["result"]) == ("COMPLETED", 42)
    assert record["meta"]["tags"] == ["live", "v2"] and "notes" not in record["meta"]
    assert record["meta"]["comment"] == "mine" and record["meta"]["command"] == "main"
    assert store.find_ids('meta.tags == ["live", "v2"]') == [record["_id"]]
    if kind == "file":  # the file itself, as other dashboards read it
        with open(tmp_path / "runs" / str(run_id) / "run.json") as f:
            on_disk = json.load(f)
        assert on_disk["status"] == "COMPLETED" and on_disk["meta"]["tags"] == ["live", "v2"]
        assert on_disk["meta"]["options"]["--comment"] == "mine"
