"""FileStore specifics: the index, changes by writers, delete, import, big metrics."""

import datetime as dt
import json
import os
import pickle
import subprocess
import sys
import textwrap
import time

import pytest

from sacred.observers.file_storage import cache_dir
from sacred.observers.file_storage import store as file_store
from sacred.observers.file_storage._run_index import RunIndex
from sacred.observers.file_storage.store import INDEX_NAME, FileStore
from sacred.store import RunNotFoundError, StoreError, open_store

from .conftest import tags


def _rewrite(path, update):
    """Change a JSON file the way the observer does: write a new file, rename it over."""
    with open(path) as f:
        data = json.load(f)
    update(data)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=2, sort_keys=True)
    os.replace(tmp, path)


@pytest.fixture(autouse=True)
def user_cache(tmp_path, monkeypatch):
    """The user's cache directory (where the index and metric caches live), private to
    the test (like the session's one of tests/conftest.py, but one a test)."""
    cache = tmp_path / "user_cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return cache


@pytest.fixture
def fresh_file_store(fresh_file_store):
    """The runs a..e, written more than a clock tick ago (see ``_settle``)."""
    _settle()
    return fresh_file_store


def _settle():
    """Let a file system clock tick pass: a run changed less than a tick before an index is
    saved is saved without its times, and read again by the next reader (a change in the
    same tick could keep the times; see ``RunIndex.to_bytes``)."""
    time.sleep(2 * file_store._TICK_NS / 1e9)


def _index_file(basedir):
    return os.path.join(cache_dir.store_cache_dir(basedir), INDEX_NAME)


def _metric_cache(basedir, name):
    return os.path.join(cache_dir.store_cache_dir(basedir), f"metrics_{name}.npz")


class CountingStore(FileStore):
    """Counts how many runs' JSON files are read (to see what the index saves)."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.reads = []

    def _read_entry(self, name, old=None):
        self.reads.append(name)
        return super()._read_entry(name, old)


def test_open_store_locations(fresh_file_store, tmp_path):
    store, basedir = fresh_file_store
    assert isinstance(open_store(basedir), FileStore)
    assert open_store("file://" + basedir).count() == 5
    from pathlib import Path

    assert open_store(Path(basedir)).count() == 5
    with pytest.raises(StoreError, match="There is no FileStorageObserver folder at"):
        open_store(str(tmp_path / "nope"))


def test_index_is_written_and_reused(fresh_file_store):
    _, basedir = fresh_file_store
    first = CountingStore(basedir)
    assert first.count() == 5
    assert sorted(first.reads) == ["1", "2", "3", "4", "5"]
    with open(_index_file(basedir), "rb") as f:
        index = RunIndex.from_bytes(f.read(), file_store.INDEX_VERSION)
    assert sorted(index.rows) == ["1", "2", "3", "4", "5"]
    assert index.record(index.rows["2"])[1]["loss"]["count"] == 5
    record = index.record(index.rows["1"])[0]
    assert "dependencies" not in record["experiment"]  # kept out: big
    second = CountingStore(basedir)  # another process, later: nothing changed
    assert tags(second.find("lr < 0.05")) == ["b", "c"]
    assert second.count("metrics.loss.min < 0.5") == 2
    assert second.reads == []


def test_changed_run_is_read_again(fresh_file_store):
    _, basedir = fresh_file_store
    store = CountingStore(basedir)
    assert store.count("lr > 1") == 0
    store.reads.clear()
    _rewrite(os.path.join(basedir, "2", "config.json"), lambda c: c.update(lr=7.0))
    _settle()
    assert tags(store.find("lr > 1")) == ["b"]
    assert store.reads == ["2"]
    other = CountingStore(basedir)  # a new reader sees the index written after the change
    assert other.count("lr > 1") == 1 and other.reads == []


def test_unchanged_metrics_are_not_parsed_again(fresh_file_store, monkeypatch):
    _, basedir = fresh_file_store
    store = FileStore(basedir)
    assert store.count("metrics.loss.min < 0.5") == 2
    parsed = []
    original = FileStore._load_metrics
    monkeypatch.setattr(
        FileStore,
        "_load_metrics",
        lambda self, name, cache=True: parsed.append(name) or original(self, name, cache),
    )
    _rewrite(os.path.join(basedir, "2", "run.json"), lambda r: r.update(status="RUNNING"))
    assert store.count("metrics.loss.min < 0.5 and status == 'RUNNING'") == 1
    assert parsed == []
    _rewrite(os.path.join(basedir, "2", "metrics.json"), lambda m: m["loss"]["values"].append(0.1))
    assert store.count("metrics.loss.min < 0.2") == 1
    assert parsed == ["2"]


def test_in_place_edit_of_a_finished_run_is_found_by_a_full_refresh(fresh_file_store):
    _, basedir = fresh_file_store
    store = FileStore(basedir)
    assert store.count("info.best > 100") == 0
    path = os.path.join(basedir, "1", "info.json")
    stat = os.stat(os.path.join(basedir, "1"))
    with open(path, "w") as f:  # in place: the folder's time does not change
        json.dump({"best": 500}, f)
    os.utime(os.path.join(basedir, "1"), ns=(stat.st_atime_ns, stat.st_mtime_ns))
    store.refresh(full=True)
    assert store.count("info.best > 100") == 1


def test_new_and_removed_runs(fresh_file_store, tmp_path):
    import shutil

    store, basedir = fresh_file_store
    assert store.count() == 5
    shutil.rmtree(os.path.join(basedir, "3"))
    assert tags(store.find()) == ["a", "b", "d", "e"]
    shutil.copytree(os.path.join(basedir, "1"), os.path.join(basedir, "17"))
    assert [r["_id"] for r in store.find()] == [1, 2, 4, 5, 17]


def test_corrupt_index_is_rebuilt(fresh_file_store):
    _, basedir = fresh_file_store
    FileStore(basedir).count()
    for garbage in [
        b"{not a pickle",
        pickle.dumps({"version": 999, "runs": {}}),
        pickle.dumps({"version": 2, "runs": []}),
        pickle.dumps({"version": 2, "runs": {"1": {"doc": 3}}}),
        pickle.dumps([1, 2]),
        pickle.dumps({"version": 2, "runs": {"1": os.getcwd}}),  # no code from an index
        pickle.dumps({"version": 2, "runs": {"1": {"doc": {}, "metrics": {}}}})[:-9],
        b"",
    ]:
        with open(_index_file(basedir), "wb") as f:
            f.write(garbage)
        store = CountingStore(basedir)
        assert tags(store.find(sort="-lr")) == ["d", "a", "e", "b", "c"]
        assert len(store.reads) == 5
        with open(_index_file(basedir), "rb") as f:
            assert len(pickle.load(f)["names"]) == 5


def test_corrupt_parts_of_an_index_are_found_when_used(fresh_file_store):
    """Columns and records are unpickled when a query needs them; a bad one means a rebuild."""
    _, basedir = fresh_file_store
    FileStore(basedir).count()
    path = _index_file(basedir)
    with open(path, "rb") as f:
        good = pickle.load(f)
    assert good["version"] == file_store.INDEX_VERSION
    bad_column = dict(good, columns={**good["columns"], ("config", "lr"): b"{nope"})
    planted = pickle.dumps(([0], [os.getcwd]))
    bad_record = dict(good, records=[planted] * len(good["records"]))
    for broken in (bad_column, bad_record):
        with open(path, "wb") as f:
            pickle.dump(broken, f)
        store = CountingStore(basedir)
        assert tags(store.find(sort="-lr")) == ["d", "a", "e", "b", "c"]
        assert len(store.reads) == 5
    with open(path, "wb") as f:  # an index of version 2 is rebuilt, not misread
        pickle.dump(
            {"version": 2, "runs": {"1": {"doc": {}, "metrics": {}, "stat": [], "dir": 0}}}, f
        )
    store = CountingStore(basedir)
    assert store.count() == 5 and len(store.reads) == 5


def test_other_folders_and_half_written_runs_are_skipped(fresh_file_store):
    store, basedir = fresh_file_store
    os.makedirs(os.path.join(basedir, "notarun"))
    os.makedirs(os.path.join(basedir, "12"))  # just created, nothing written yet
    with open(os.path.join(basedir, "13.txt"), "w") as f:
        f.write("x")
    os.makedirs(os.path.join(basedir, "14"))
    with open(os.path.join(basedir, "14", "run.json"), "w") as f:
        f.write('{"status": "RUN')  # a non-atomic writer is half way
    assert store.count() == 5
    with open(os.path.join(basedir, "14", "run.json"), "w") as f:
        f.write('{"status": "RUNNING", "start_time": "2026-11-27T10:00:00"}')
    assert store.count() == 6
    assert store.get(14)["config"] == {} and store.get("14")["captured_out"] == ""
    with pytest.raises(RunNotFoundError):
        store.get("notarun")
    with pytest.raises(RunNotFoundError):
        store.get("../1")


def test_queries_on_fields_left_out_of_the_index(fresh_file_store):
    store, _ = fresh_file_store
    assert store.count("experiment.dependencies exists") == 5
    assert tags(store.find("meta.options.--capture == 'sys' and lr < 0.05")) == ["b", "c"]
    (row,) = store.summaries("tag == 'a'", fields=["experiment.dependencies"])
    assert any(d.startswith("sacred==") for d in row["experiment"]["dependencies"])
    pytest.importorskip("pandas")
    frame = store.to_frame("tag == 'a'", columns=["tag", "experiment.dependencies"])
    assert any(d.startswith("sacred==") for d in frame["experiment.dependencies"][0])


def test_running_run_seen_by_a_concurrent_reader(tmp_path):
    """A run writes heartbeats and metrics in another process while we keep listing."""
    basedir = tmp_path / "runs"
    script = tmp_path / "slow.py"
    script.write_text(
        textwrap.dedent(f"""
        import time
        from sacred import Experiment
        from sacred.observers import FileStorageObserver
        ex = Experiment("slow")
        ex.observers.append(FileStorageObserver({str(basedir)!r}))

        @ex.main
        def main(_run):
            for i in range(40):
                _run.log_scalar("x", i)
                time.sleep(0.03)
            return 40

        ex.run(options={{"--beat-interval": 0.05}})
    """)
    )
    proc = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.time() + 30
        while not (basedir / "1" / "run.json").exists():
            assert time.time() < deadline
            time.sleep(0.01)
        store = FileStore(str(basedir))
        seen = []
        while proc.poll() is None:
            (record,) = store.find()
            seen.append(record["status"])
            assert record["status"] in ("RUNNING", "COMPLETED")
            count = store.metric_summaries(1).get("x", {}).get("count", 0)
            assert 0 <= count <= 40
            time.sleep(0.01)
    finally:
        proc.wait(30)
    assert "RUNNING" in seen
    assert store.find()[0]["status"] == "COMPLETED"
    assert store.count("metrics.x.count == 40 and metrics.x.max == 39 and result == 40") == 1


def test_delete_removes_what_only_that_run_owns(fresh_file_store):
    store, basedir = fresh_file_store
    ids = {r["config"]["tag"]: r["_id"] for r in store.find()}
    source_rel = [
        s for s in store.get(ids["a"])["experiment"]["sources"] if s[0].endswith("conftest.py")
    ][0][1]
    (res,) = store.get(ids["a"])["resources"]
    resource_copy = store._resource_path(res[1])
    assert os.path.exists(resource_copy)
    store.delete(ids["a"])
    assert not os.path.exists(os.path.join(basedir, str(ids["a"])))
    assert tags(store.find()) == ["b", "c", "d", "e"]
    assert os.path.exists(os.path.join(basedir, source_rel))  # still used by b, c, d
    assert not os.path.exists(resource_copy)  # only a used it
    for tag in "bcd":
        store.delete(ids[tag])
    assert os.path.exists(os.path.join(basedir, source_rel))  # e comes from conftest.py too
    store.delete(ids["e"])
    assert not os.path.exists(os.path.join(basedir, source_rel))
    assert FileStore(basedir).count() == 0
    with pytest.raises(RunNotFoundError):
        store.delete(ids["a"])


def test_import_run_round_trip(fresh_file_store, tmp_path):
    from sacred.cli import copy_runs

    src, _ = fresh_file_store
    os.makedirs(tmp_path / "copy")
    dst = FileStore(str(tmp_path / "copy"))
    copied = copy_runs(src, dst)
    assert copied == [(i, i) for i in [1, 2, 3, 4, 5]]
    for run_id in [1, 2, 3, 4, 5]:
        a, b = src.get(run_id), dst.get(run_id)
        assert [r[0] for r in a["resources"]] == [r[0] for r in b["resources"]]
        a.pop("resources"), b.pop("resources")
        assert a == b
        assert src.metrics(run_id) == dst.metrics(run_id)
        for name in src.artifacts(run_id):
            assert src.open_artifact(run_id, name).read() == dst.open_artifact(run_id, name).read()
        for name in src.sources(run_id):
            assert src.open_source(run_id, name).read() == dst.open_source(run_id, name).read()
        for name in src.resources(run_id):
            assert src.open_resource(run_id, name).read() == dst.open_resource(run_id, name).read()
    with pytest.raises(StoreError, match="Run 1 is already in the destination; nothing was copied"):
        copy_runs(src, dst, "tag == 'a'")
    assert copy_runs(src, dst, "tag == 'a'", new_ids=True) == [(1, 6)]
    assert dst.get(6)["config"] == src.get(1)["config"]
    # the copy writes the files the observer wrote, byte for byte (run.json differs only
    # in the paths of resource copies)
    for name in ["config.json", "metrics.json", "cout.txt", "info.json"]:
        with (
            open(os.path.join(src.basedir, "2", name), "rb") as f1,
            open(os.path.join(dst.basedir, "2", name), "rb") as f2,
        ):
            assert f1.read() == f2.read(), name


def _write_big_metric(basedir, run_id, n):
    np = pytest.importorskip("numpy")
    folder = os.path.join(basedir, str(run_id))
    os.makedirs(folder)
    start = dt.datetime(2026, 11, 27, 10)
    rng = np.random.default_rng(1)
    values = rng.normal(size=n)
    values[n // 3] = 50.0
    values[2 * n // 3] = -50.0
    metrics = {
        "loss": {
            "steps": list(range(n)),
            "timestamps": [(start + dt.timedelta(milliseconds=i)).isoformat() for i in range(n)],
            "values": values.tolist(),
        }
    }
    with open(os.path.join(folder, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2, sort_keys=True)
    with open(os.path.join(folder, "run.json"), "w") as f:
        json.dump(
            {
                "status": "COMPLETED",
                "start_time": start.isoformat(),
                "experiment": {"name": "big"},
                "artifacts": [],
            },
            f,
        )
    return values


def test_long_metric_is_downsampled_and_cached(tmp_path):
    basedir = str(tmp_path)
    values = _write_big_metric(basedir, 1, 100_000)
    store = FileStore(basedir)
    small = store.metrics(1, max_points=500)["loss"]
    assert len(small["values"]) <= 500
    assert small["steps"][0] == 0 and small["steps"][-1] == 99_999
    assert max(small["values"]) == 50.0 and min(small["values"]) == -50.0
    assert small["values"] == [values[s] for s in small["steps"]]
    assert small["timestamps"][1] == dt.datetime(2026, 11, 27, 10) + dt.timedelta(
        milliseconds=small["steps"][1]
    )
    assert os.path.exists(_metric_cache(basedir, 1))
    again = FileStore(basedir).metrics(1, max_points=500)["loss"]
    assert again == small
    full = FileStore(basedir).metrics(1)["loss"]
    assert len(full["values"]) == 100_000 and full["values"] == values.tolist()
    assert isinstance(full["timestamps"][5], dt.datetime) and isinstance(full["steps"][5], int)
    assert store.count("metrics.loss.max == 50 and metrics.loss.count == 100000") == 1
    # a changed metrics file is not answered from the stale cache
    with open(os.path.join(basedir, "1", "metrics.json"), "w") as f:
        json.dump(
            {"loss": {"steps": [0], "timestamps": ["2026-11-27T10:00:00"], "values": [1.5]}}, f
        )
    assert FileStore(basedir).metrics(1)["loss"]["values"] == [1.5]


def test_queued_run_sources(tmp_path):
    from sacred.observers import FileStorageObserver

    src = tmp_path / "job.py"
    src.write_text("print('hi')\n")
    obs = FileStorageObserver(str(tmp_path / "runs"))
    obs.queued_event(
        ex_info={
            "name": "q",
            "base_dir": str(tmp_path),
            "sources": [("job.py", "abc")],
            "dependencies": [],
            "repositories": [],
            "mainfile": "job.py",
        },
        command="main",
        host_info={"hostname": "h"},
        queue_time=dt.datetime(2026, 1, 1),
        config={"a": 1},
        meta_info={},
        _id=None,
    )
    store = FileStore(str(tmp_path / "runs"))
    assert store.count("status == 'QUEUED' and a == 1") == 1
    assert store.sources(1) == ["job.py"]
    assert store.open_source(1, "job.py").read() == b"print('hi')\n"
    assert store.live_state(store.get(1)) == "QUEUED"


def test_quick_checks_within_the_refresh_interval(fresh_file_store):
    _, basedir = fresh_file_store
    _rewrite(os.path.join(basedir, "2", "run.json"), lambda r: r.update(status="RUNNING"))
    _settle()
    FileStore(basedir).count()  # writes the index (in a sub-folder of its own)
    old = time.time() - 60
    os.utime(basedir, (old, old))  # an old base folder time can be trusted
    store = CountingStore(basedir, refresh_interval=30)
    lazy = CountingStore(basedir, refresh_interval=0)
    assert store.count("status == 'RUNNING'") == lazy.count("status == 'RUNNING'") == 1
    # a finished run changed by another process: not checked again within the interval ...
    _rewrite(os.path.join(basedir, "1", "info.json"), lambda i: i.update(best=900))
    assert store.count("info.best > 800") == 0 and store.reads == []
    assert lazy.count("info.best > 800") == 1  # ... unless quick checks are off
    # a run that is still going is checked every time
    _rewrite(os.path.join(basedir, "2", "run.json"), lambda r: r.update(status="COMPLETED"))
    assert store.count("status == 'RUNNING'") == 0 and store.reads == ["2"]
    # a new run folder changes the base folder's time: everything is checked again
    import shutil

    shutil.copytree(os.path.join(basedir, "3"), os.path.join(basedir, "9"))
    assert store.count() == 6 and store.count("info.best > 800") == 1


def test_index_columns_answer_like_whole_records(tmp_path):
    """Queries and sorts over the index's columns give what matching whole records gives,
    also for paths into lists, whole dicts, null versus missing and 1 / 1.0 / True."""
    from sacred.store import query as q
    from sacred.store.base import sort_rows

    basedir = tmp_path / "runs"
    basedir.mkdir()
    store = FileStore(str(basedir))
    configs = [
        {"lr": 1, "opt": {"name": "adam", "beta": 0.9}, "layers": [64, 32]},
        {"lr": 1.0, "opt": {"name": "sgd"}, "layers": [64]},
        {"lr": True, "opt": {}, "layers": []},
        {"lr": None, "opt": "adam", "layers": {"0": 7}},
        {"opt": {"name": "adam", "beta": 0.99}, "layers": [[1, 2], 3]},
        {"lr": "1", "opt": {"name": ["adam"]}, "x": {"y": {"z": 2}}},
        {"lr": float("nan"), "opt": {"name": "adam", "beta": 0.9}},
    ]
    start = dt.datetime(2026, 1, 1)
    for i, config in enumerate(configs, 1):
        record = {
            "_id": i,
            "status": ["COMPLETED", "FAILED", "RUNNING"][i % 3],
            "start_time": start + dt.timedelta(hours=i),
            "heartbeat": start + dt.timedelta(hours=i, minutes=5),
            "config": config,
            "info": {"i": i} if i % 2 else {},
            "experiment": {"name": "e"},
            "host": {},
            "meta": {},
        }
        steps = list(range(i))
        metrics = {"loss": {"steps": steps, "timestamps": [start] * i, "values": [1 / i] * i}}
        store.import_run(record, metrics=metrics if i != 4 else None)
    queries = [
        None,
        "lr == 1",
        "lr == true",
        "lr != 1",
        "lr exists",
        "not (lr exists)",
        "lr == null",
        "lr in [1, '1']",
        "lr >= 1",
        "opt.name == 'adam'",
        q.Compare(q.Field(("config", "opt")), "==", {"name": "sgd"}),
        q.Compare(q.Field(("config", "opt")), "==", {}),
        "opt exists and not (opt.name exists)",
        "layers.0 == 64",
        "layers.1 exists",
        "layers == [64]",
        "layers.0.1 == 2",
        q.Compare(q.Field(("config", "x", "y")), "==", {"z": 2}),
        "x.y.z > 1",
        "info.i >= 3 or status == 'FAILED'",
        "opt.name =~ 'ad'",
        "metrics.loss.min < 0.4",
        "not (metrics.loss.count exists)",
        "live_state == 'PROBABLY_DEAD'",
        "start_time > 2026-01-01T03:30:00",
    ]
    sorts = [None, "lr", "-opt", "opt.beta,-_id", "-layers", "metrics.loss.max", "-x.y"]
    reference = [(store.get(i), store.metric_summaries(i)) for i in range(1, len(configs) + 1)]
    for query in queries:
        for sort in sorts:
            node, order = q.parse(query), q.parse_sort(sort)
            pred = q.compile_query(node)
            expected = [
                r["_id"] for r, _ in sort_rows([rm for rm in reference if pred(*rm)], order)
            ]
            fresh = FileStore(str(basedir))  # from the index file
            assert fresh.find_ids(query, sort) == expected, (query, sort)
            assert store.find_ids(query, sort, skip=1, limit=2) == expected[1:3], (query, sort)
            assert fresh.count(query) == len(expected), query


def test_index_after_many_runs_are_removed(fresh_file_store):
    import shutil

    store, basedir = fresh_file_store
    assert store.count() == 5
    for name in ("1", "3", "4"):
        shutil.rmtree(os.path.join(basedir, name))
    assert tags(store.find(sort="-lr")) == ["e", "b"]  # the index is renumbered when saved
    with open(_index_file(basedir), "rb") as f:
        assert sorted(pickle.load(f)["names"]) == ["2", "5"]
    later = CountingStore(basedir)
    assert tags(later.find("lr < 0.1", sort="lr")) == ["b", "e"] and later.reads == []
    assert later.metric_summaries(2)["loss"]["count"] == 5


def _observed_long_metric(basedir, n=60_000, beats=6):
    """A finished run whose long metrics the FileStorageObserver wrote (with its sidecar)."""
    from sacred.observers import FileStorageObserver

    obs = FileStorageObserver(basedir)
    start = dt.datetime(2026, 11, 27, 10, 59, 30)
    obs.started_event(
        ex_info={"name": "long", "base_dir": basedir, "sources": [], "dependencies": []},
        command="main",
        host_info={},
        start_time=start,
        config={},
        meta_info={},
        _id=None,
    )
    per = n // beats
    for b in range(beats):
        steps = list(range(b * per, (b + 1) * per))
        loss = [((i * 7919) % 1013) / 10 for i in steps]
        if b == 2:
            loss[5] = float("nan")
        obs.log_metrics(
            {
                "loss": {
                    "steps": steps,
                    "timestamps": [start + dt.timedelta(milliseconds=i) for i in steps],
                    "values": loss,
                },
                "epoch": {
                    "steps": steps[:10],
                    "timestamps": [start + dt.timedelta(seconds=i) for i in steps[:10]],
                    "values": [i // per for i in steps[:10]],
                },
            },
            {},
        )
    obs.completed_event(start + dt.timedelta(hours=1), None)
    return obs.dir


def test_long_metric_from_the_observers_sidecar_is_what_metrics_json_says(tmp_path):
    basedir = str(tmp_path)
    folder = _observed_long_metric(basedir)
    assert os.path.exists(os.path.join(folder, ".sacred_metrics", "manifest.json"))
    store = FileStore(basedir, refresh_interval=0)
    from_sidecar = {
        "all": store.metrics(1),
        "small": store.metrics(1, names=["loss"], max_points=300),
        "summaries": store.metric_summaries(1),
        "count": store.count("metrics.loss.max == 101.2 and metrics.epoch.count == 60"),
    }
    assert not os.path.exists(_metric_cache(basedir, 1))
    os.rename(os.path.join(folder, ".sacred_metrics"), os.path.join(basedir, "hidden"))
    json_store = FileStore(basedir, refresh_interval=0)
    json_store.refresh(full=True)
    from_json = {
        "all": json_store.metrics(1),
        "small": json_store.metrics(1, names=["loss"], max_points=300),
        "summaries": json_store.metric_summaries(1),
        "count": json_store.count("metrics.loss.max == 101.2 and metrics.epoch.count == 60"),
    }
    values = from_json["all"]["loss"].pop("values")
    assert from_sidecar["all"]["loss"].pop("values")[:3] == values[:3] == [0.0, 82.8, 64.3]
    nan_at = values.index(next(v for v in values if v != v))
    assert nan_at == 20_005
    assert from_sidecar == from_json
    small = from_json["small"]["loss"]
    assert len(small["steps"]) <= 300 and small["steps"][0] == 0 and small["steps"][-1] == 59_999
    assert small["timestamps"][-1] == dt.datetime(2026, 11, 27, 11, 0, 29, 999000)
    assert from_json["summaries"]["loss"] == {
        "count": 60_000,
        "first": 0.0,
        "last": values[-1],
        "min": 0.0,
        "max": 101.2,
    }
    assert from_json["count"] == 1


def test_a_copied_long_metric_gets_a_sidecar_too(tmp_path):
    from sacred.cli import copy_runs

    src_dir, dst_dir = str(tmp_path / "src"), str(tmp_path / "dst")
    _observed_long_metric(src_dir)
    os.makedirs(dst_dir)
    src, dst = FileStore(src_dir), FileStore(dst_dir)
    assert copy_runs(src, dst) == [(1, 1)]
    copied = os.path.join(dst_dir, "1")
    with open(os.path.join(copied, ".sacred_metrics", "manifest.json")) as f:
        manifest = json.load(f)
    assert {n: m["count"] for n, m in manifest["metrics"].items()} == {"loss": 60_000, "epoch": 60}
    assert _text(dst.metrics(1)) == _text(src.metrics(1))
    downsampled = dst.metrics(1, ["loss"], max_points=500)
    assert _text(downsampled) == _text(src.metrics(1, ["loss"], max_points=500))
    # what the sidecar gives is what metrics.json says
    os.rename(os.path.join(copied, ".sacred_metrics"), os.path.join(dst_dir, "hidden"))
    assert _text(FileStore(dst_dir).metrics(1)) == _text(src.metrics(1))


def _text(metrics):
    """Comparable metrics: the loss holds a NaN, which equals nothing."""
    return json.dumps(metrics, sort_keys=True, default=str)
