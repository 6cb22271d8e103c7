"""The TinyDbObserver writes metadata.json itself (``tables.FileTables``): the file is the
one TinyDB and tinydb-serialization write for the same events, byte for byte, and writers
coming in between events (another observer, ``TinyDbStore``) are never overwritten."""

import datetime
import hashlib
import json

import numpy as np
import pytest

from sacred.observers.tinydb_hashfs import TinyDbObserver, TinyDbReader
from sacred.observers.tinydb_hashfs import observer as observer_module
from sacred.observers.tinydb_hashfs.tables import FileTables, TinyTables
from sacred.store import open_store

T0 = datetime.datetime(2026, 11, 27, 22, 43, 50, 227301)
T1 = datetime.datetime(2026, 11, 27, 22, 43, 51, 0)  # no microseconds: still 6 digits
T2 = datetime.datetime(2026, 11, 27, 23, 0, 0, 500000)
HOST = {"hostname": "vm", "os": ["Linux", "Linux-6"], "python_version": "3.11.7", "cpu": "x"}


@pytest.fixture
def files(tmp_path):
    source = tmp_path / "demo.py"
    source.write_text("print('demo')\n")
    artifact = tmp_path / "model.txt"
    artifact.write_text("weights")
    resource = tmp_path / "data.csv"
    resource.write_text("1,2\n")
    return source, artifact, resource


def _ex_info(source):
    return {
        "name": "demo",
        "base_dir": str(source.parent),
        "sources": [(source.name, hashlib.md5(source.read_bytes()).hexdigest())],
        "dependencies": ["numpy==2"],
        "repositories": [],
        "mainfile": source.name,
    }


def _points(steps, when):
    return {
        "steps": list(steps),
        "values": [np.float64(0.5 * s) if s % 2 else 0.5 * s for s in steps],
        "timestamps": [when + datetime.timedelta(microseconds=s) for s in steps],
    }


def _events(folder, files):
    """Two runs with every kind of event, interleaved; the first continued later, the
    second overwritten."""
    source, artifact, resource = files
    info = _ex_info(source)
    a, b = TinyDbObserver(folder), TinyDbObserver(folder)
    a.started_event(info, "main", HOST, T0, {"lr": 0.1, "n": [1, 2]}, {"comment": "x"}, "ra")
    b.started_event(info, "main", HOST, T0, {"lr": 0.2}, {}, "rb")
    a.log_metrics({"loss": _points(range(5), T0), "acc": _points(range(3), T0)}, {})
    b.log_metrics({"loss": _points(range(2), T1)}, {})
    a.heartbeat_event({"arr": np.arange(3), "when": T1}, "out\n", T1, None)
    a.resource_event(str(resource))
    a.artifact_event("model.txt", str(artifact))
    a.log_metrics({"loss": _points(range(5, 9), T1)}, {})
    b.heartbeat_event({}, "b\n", T1, 1.5)
    a.interrupted_event(T2, "INTERRUPTED")
    b.completed_event(T2, {"best": 0.25})

    again = TinyDbObserver(folder)
    again.continued_event(info, "main", HOST, T2, {"lr": 0.1}, {"comment": "again"}, "ra")
    again.log_metrics({"loss": _points(range(9, 12), T2), "new": _points([0], T2)}, {})
    again.completed_event(T2, 3)

    over = TinyDbObserver(folder, overwrite="rb")
    over.started_event(info, "main", HOST, T1, {"lr": 0.3}, {}, None)
    over.log_metrics({"acc": _points(range(4), T1)}, {})
    over.failed_event(T2, ["Traceback\n"])


def test_metadata_json_is_what_tinydb_writes_byte_for_byte(tmp_path, files, monkeypatch):
    fast = tmp_path / "fast"
    _events(str(fast), files)
    assert isinstance(TinyDbObserver(str(fast))._tables, FileTables)

    monkeypatch.setattr(observer_module, "_json_file", lambda db: None)
    slow = tmp_path / "tinydb"
    _events(str(slow), files)
    assert isinstance(TinyDbObserver(str(slow))._tables, TinyTables)

    written = (fast / "metadata.json").read_bytes()
    assert written == (slow / "metadata.json").read_bytes()
    raw = json.loads(written)
    assert raw["metrics"]["1"]["timestamps"][0] == "{TinyDate}:2026-11-27T22:43:50.227301"
    (acc,) = [m for m in raw["metrics"].values() if m["run_id"] == "rb"]
    assert acc["timestamps"][0] == "{TinyDate}:2026-11-27T22:43:51.000000"
    store = open_store(str(fast))
    assert store.metrics("ra")["loss"]["steps"] == list(range(12))
    assert store.metrics("rb") == {"acc": {k: list(v) for k, v in _points(range(4), T1).items()}}
    assert [e["status"] for e in TinyDbReader(str(fast)).runs.all()] == ["COMPLETED", "FAILED"]


def test_writers_in_between_are_kept(tmp_path, files):
    """Each event reads the file again when another writer changed it, even by a change
    of the same size right after its own write."""
    source, _, _ = files
    folder = str(tmp_path / "db")
    a, b = TinyDbObserver(folder), TinyDbObserver(folder)
    a.started_event(_ex_info(source), "main", HOST, T0, {}, {}, "ra")
    b.started_event(_ex_info(source), "main", HOST, T0, {}, {}, "rb")
    for i in range(20):  # heartbeats of the same size, one after the other at once
        when = T0 + datetime.timedelta(seconds=i)
        a.heartbeat_event({"i": i}, "", when, None)
        b.heartbeat_event({"i": i}, "", when, None)
    store = open_store(folder)
    store.update_meta("ra", {"tags": ["kept"]})
    a.log_metrics({"loss": _points(range(3), T1)}, {})
    a.completed_event(T2, 1)
    b.completed_event(T2, 2)
    store = open_store(folder)
    assert [store.get(r)["heartbeat"] for r in ("ra", "rb")] == [
        T0 + datetime.timedelta(seconds=19)
    ] * 2
    assert [store.get(r)["result"] for r in ("ra", "rb")] == [1, 2]
    assert store.get("ra")["meta"]["tags"] == ["kept"]
    assert store.metrics("ra")["loss"]["steps"] == [0, 1, 2]


def test_a_tinydb_in_memory_is_written_through_tinydb(tmp_path, files):
    """create_from with another storage: the entries are TinyDB's documents, as before."""
    from hashfs import HashFS
    from tinydb import TinyDB
    from tinydb.storages import MemoryStorage

    db = TinyDB(storage=MemoryStorage)
    obs = TinyDbObserver.create_from(db, HashFS(str(tmp_path / "fs"), depth=3, width=2))
    assert isinstance(obs._tables, TinyTables)
    obs.started_event(_ex_info(files[0]), "main", HOST, T0, {"a": 1}, {}, "m1")
    obs.log_metrics({"loss": _points(range(2), T1)}, {})
    obs.completed_event(T2, 5)
    (entry,) = db.table("runs").all()
    assert (entry["_id"], entry["start_time"], entry["stop_time"], entry["result"]) == (
        "m1",
        T0,
        T2,
        5,
    )
    (metric,) = db.table("metrics").all()
    assert metric["timestamps"] == _points(range(2), T1)["timestamps"]
    assert not (tmp_path / "metadata.json").exists()


def test_a_change_of_the_same_size_and_time_is_seen(tmp_path, files):
    """On a clock with coarse ticks, a write right after another can leave the file's
    size and mtime as they were: the next event still sees it."""
    import os

    source, _, _ = files
    folder = tmp_path / "db"
    a, b = TinyDbObserver(str(folder)), TinyDbObserver(str(folder))
    a.started_event(_ex_info(source), "main", HOST, T0, {}, {}, "ra")
    b.started_event(_ex_info(source), "main", HOST, T0, {"who": "b"}, {}, "rb")
    a.heartbeat_event({}, "", T1, None)
    path = folder / "metadata.json"
    before = os.stat(path)
    path.write_bytes(path.read_bytes().replace(b'"who": "b"', b'"who": "c"'))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert os.stat(path).st_size == before.st_size
    a.heartbeat_event({}, "", T2, None)
    store = open_store(str(folder))
    assert store.get("rb")["config"] == {"who": "c"}
    assert store.get("ra")["heartbeat"] == T2
