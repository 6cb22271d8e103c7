"""TinyDbStore against runs written by the real TinyDbObserver (the shared suite runs in
test_store_suite.py)."""

import datetime as dt
import json
import os

import pytest

pytest.importorskip("tinydb")
pytest.importorskip("tinydb_serialization")
pytest.importorskip("hashfs")

from sacred import Experiment  # noqa: E402
from sacred.observers import TinyDbObserver, TinyDbReader  # noqa: E402
from sacred.observers.tinydb_hashfs.store import TinyDbStore  # noqa: E402
from sacred.store import RunNotFoundError, StoreError, open_store  # noqa: E402

from .conftest import run_experiments, tags  # noqa: E402


@pytest.fixture
def filled(tmp_path):
    """(store, folder): a TinyDB folder with the runs a..e that a test may change."""
    folder = str(tmp_path / "db")
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        run_experiments(lambda _: TinyDbObserver(folder), tmp_path)
    finally:
        os.chdir(cwd)
    return open_store(folder), folder


def _hashfs_files(folder):
    return sorted(
        os.path.relpath(os.path.join(d, f), folder)
        for d, _, files in os.walk(os.path.join(folder, "hashfs"))
        for f in files
    )


def test_open_store_locations(filled, tmp_path):
    store, folder = filled
    assert isinstance(store, TinyDbStore)
    assert open_store(f"tinydb://{folder}").count() == 5
    with pytest.raises(StoreError, match="There is no TinyDbObserver folder at"):
        open_store(f"tinydb://{tmp_path / 'nothing'}")


def test_records_hold_plain_values(filled):
    store, folder = filled
    (a,) = store.find("tag == 'a'")
    assert len(a["_id"]) == 32 and isinstance(a["_id"], str)  # uuid hex, as the observer
    assert a["format"].startswith("TinyDbObserver-")
    assert isinstance(a["start_time"], dt.datetime)
    (source,) = [s for s in a["experiment"]["sources"] if s[0].endswith("conftest.py")]
    assert len(source) == 2 and len(source[1]) == 32  # [name, md5 id], no file handle
    (resource,) = a["resources"]
    assert resource[0].endswith("data.csv") and len(resource) == 2
    assert a["artifacts"] == [{"name": "model.txt", "file_id": a["artifacts"][0]["file_id"]}]
    # the same run as the original reader sees it
    (entry,) = TinyDbReader(folder).fetch_metadata(indices=[0])
    assert entry["_id"] == a["_id"] and entry["config"] == a["config"]
    assert entry["start_time"] == a["start_time"]
    for handle in [s[2] for s in entry["experiment"]["sources"]] + [entry["resources"][0][2]]:
        handle.close()
    entry["artifacts"][0][3].close()


def _open_files_under(folder):
    """Paths under ``folder`` this process has open (other threads' fds don't matter)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(folder)):
            found.append(target)
    return found


def test_reading_opens_no_stored_files(filled, monkeypatch):
    store, folder = filled
    opened = []
    real_open = open

    def recording_open(file, *args, **kwargs):
        opened.append(os.fspath(file) if isinstance(file, (str, os.PathLike)) else file)
        return real_open(file, *args, **kwargs)

    hashfs = os.path.join(str(folder), "hashfs")
    open_before = set(_open_files_under(hashfs))  # handles the observer kept are not ours
    monkeypatch.setattr("builtins.open", recording_open)
    records = store.find()
    store.find("metrics.loss.min < 1", sort="-lr")
    assert len(records) == 5
    # only the metadata file is read, never a stored source, resource or artifact
    assert not [f for f in opened if isinstance(f, str) and f.startswith(hashfs)]
    assert set(_open_files_under(hashfs)) <= open_before


def test_ids_order_and_changes(filled):
    store, folder = filled
    (b,) = store.find("tag == 'b'")
    assert store.get(b["_id"]) == b and store.get(f" {b['_id']} ") == b
    with pytest.raises(RunNotFoundError, match="There is no run 'nope' in"):
        store.get("nope")
    # uuids are random: runs keep the order they were stored in, ties too
    assert "".join(tags(store.find())) == "abcde"
    assert "".join(tags(store.find(sort="status"))) == "abced"
    # a changed file is read again; a returned record is the caller's to change
    b["config"]["tag"] = "changed"
    assert store.get(b["_id"])["config"]["tag"] == "b"
    ex = Experiment("late")
    ex.main(lambda: 3)
    ex.observers.append(TinyDbObserver(folder))
    ex.run()
    assert store.count() == 6 and store.find(sort="-start_time", limit=1)[0]["result"] == 3


def test_metrics_table_written_by_the_observer(filled):
    store, folder = filled
    with open(os.path.join(folder, "metadata.json")) as f:
        data = json.load(f)
    entries = list(data["metrics"].values())
    assert len(entries) == 8  # loss and acc of a, b, c and d
    assert sorted(entries[0]) == ["name", "run_id", "steps", "timestamps", "values"]
    assert entries[0]["timestamps"][0].startswith("{TinyDate}:")
    (b,) = store.find("tag == 'b'")
    assert store.metrics(b["_id"])["loss"]["steps"] == [0, 1, 2, 3, 4]
    # a folder written by an observer without metrics (the original format) reads fine
    del data["metrics"]
    with open(os.path.join(folder, "metadata.json"), "w") as f:
        json.dump(data, f)
    assert store.metrics(b["_id"]) == {}
    assert store.count("metrics.loss.count > 0") == 0
    assert store.count() == 5


def test_overwrite_starts_the_metrics_afresh(tmp_path):
    folder = str(tmp_path / "db")
    ex = Experiment("ow")

    @ex.main
    def main(_run):
        _run.log_scalar("x", 1.0)

    ex.observers.append(TinyDbObserver(folder))
    run = ex.run()
    ex.observers[:] = [TinyDbObserver(folder, overwrite=run._id)]
    ex.run()
    store = open_store(folder)
    assert store.count() == 1
    assert store.metrics(run._id)["x"]["values"] == [1.0]


def test_delete_removes_what_only_the_run_owns(filled):
    store, folder = filled
    ids = {r["config"]["tag"]: r["_id"] for r in store.find()}
    a = store.get(ids["a"])
    files = _hashfs_files(folder)
    art_id = a["artifacts"][0]["file_id"]
    res_id = a["resources"][0][1]
    assert any(art_id[6:] in f for f in files) and any(res_id[6:] in f for f in files)
    store.delete(ids["a"])
    assert store.count() == 4
    with pytest.raises(RunNotFoundError):
        store.get(ids["a"])
    left = _hashfs_files(folder)
    assert not any(art_id[6:] in f for f in left) and not any(res_id[6:] in f for f in left)
    assert len(left) == len(files) - 2  # the sources are shared with the other runs
    with open(os.path.join(folder, "metadata.json")) as f:
        data = json.load(f)
    assert len(data["metrics"]) == 6
    assert TinyDbReader(folder).runs.count(lambda e: True) == 4  # TinyDB still reads it
    for tag in "bcde":
        store.delete(ids[tag])
    assert _hashfs_files(folder) == [] and store.count() == 0
    with pytest.raises(RunNotFoundError):
        store.delete(ids["a"])


def test_export_tinydb_to_file(filled, tmp_path):
    from sacred.cli import copy_runs
    from sacred.observers.file_storage.store import FileStore

    store, _ = filled
    os.makedirs(tmp_path / "files")
    dst = FileStore(str(tmp_path / "files"))
    copied = copy_runs(store, dst)
    assert [new for _, new in copied] == [1, 2, 3, 4, 5]
    for old, new in copied:
        a, b = store.get(old), dst.get(new)
        for key in ("config", "info", "result", "status", "start_time", "captured_out"):
            assert a.get(key) == b.get(key), key
        assert store.metrics(old) == dst.metrics(new)
    (a,) = dst.find("tag == 'a'")
    assert dst.open_artifact(a["_id"], "model.txt").read() == b"weights of a\n"
