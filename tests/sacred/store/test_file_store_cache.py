"""Where FileStore keeps its caches: outside the observed folder (see ``cache_dir``)."""

import datetime as dt
import os
import subprocess
import sys
import textwrap
import time

import pytest

from sacred.observers.file_storage import cache_dir
from sacred.observers.file_storage.layout import RUN_FILES
from sacred.observers.file_storage.store import FileStore
from sacred.store import open_store

from .conftest import tags
from .test_file_store import (
    CountingStore,
    _index_file,
    _metric_cache,
    _settle,
    _write_big_metric,
)


@pytest.fixture(autouse=True)
def user_cache(tmp_path, monkeypatch):
    """The user's cache directory (where the index and metric caches live), private to
    the test."""
    cache = tmp_path / "user_cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return cache


@pytest.fixture
def fresh_file_store(fresh_file_store):
    """The runs a..e, written more than a clock tick ago (see ``_settle``)."""
    _settle()
    return fresh_file_store


def _tree(folder):
    """Every entry below ``folder`` (and itself) with its type, time and size."""
    found = {}
    for root, dirs, files in os.walk(folder):
        for name in [".", *dirs, *files]:
            path = os.path.join(root, name)
            st = os.lstat(path)
            found[os.path.relpath(path, folder)] = (st.st_mode, st.st_mtime_ns, st.st_size)
    return found


def _read_everything(basedir):
    store = open_store(basedir)
    assert tags(store.find("lr < 0.05", sort="lr")) == ["c", "b"]
    assert store.count("metrics.loss.min < 0.5") == 3  # b, c and 6
    assert len(store.metrics(2)["loss"]["values"]) == 5
    big = store.metrics(6, max_points=100)["loss"]  # a long metric: a numpy cache
    assert len(big["values"]) <= 100 and max(big["values"]) == 50.0
    return store


def test_reading_leaves_the_folder_as_the_observer_wrote_it(fresh_file_store, user_cache):
    """The base folder holds only what the original puts there: no index, no caches (they
    are in the user's cache directory), and nothing in it changes (so a folder that
    cannot be written to is read the same way)."""
    _, basedir = fresh_file_store
    _write_big_metric(basedir, 6, 100_000)
    before = _tree(basedir)
    store = _read_everything(basedir)
    assert sorted(os.listdir(basedir)) == ["1", "2", "3", "4", "5", "6", "_resources", "_sources"]
    assert _tree(basedir) == before
    cache = store.cache_folder
    assert os.path.dirname(cache) == str(user_cache / "sacred" / "file_stores")
    assert sorted(os.listdir(cache)) == ["index.pickle", "metrics_6.npz"]
    again = CountingStore(basedir)
    assert again.count("metrics.loss.max == 50") == 1 and again.reads == []


def test_a_cache_directory_that_cannot_be_written_to(fresh_file_store, tmp_path, monkeypatch):
    _, basedir = fresh_file_store
    _write_big_metric(basedir, 6, 100_000)
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    _read_everything(basedir)
    _read_everything(basedir)
    assert sorted(os.listdir(basedir)) == ["1", "2", "3", "4", "5", "6", "_resources", "_sources"]
    assert blocker.read_text() == "x"
    first = CountingStore(basedir)  # the index lives in memory only: each store builds its own
    assert first.count("lr < 0.05") == 2 and len(first.reads) == 6
    assert first.count("lr < 0.05") == 2 and len(first.reads) == 6


def test_the_index_is_reused_by_another_process(fresh_file_store):
    _, basedir = fresh_file_store
    assert open_store(basedir).count() == 5
    code = textwrap.dedent(
        """
        import sys
        from sacred.observers.file_storage.store import FileStore

        class Counting(FileStore):
            reads = 0

            def _read_entry(self, name, old=None):
                Counting.reads += 1
                return super()._read_entry(name, old)

        store = Counting(sys.argv[1])
        print([r["_id"] for r in store.find("lr < 0.05", sort="lr")], Counting.reads)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code, basedir], capture_output=True, text=True, check=True
    )
    assert out.stdout == "[3, 2] 0\n"


def test_a_folder_made_anew_at_the_same_path_is_read_anew(tmp_path):
    """Its inode may well be the old one's (ext4 hands it out again at once), and so its
    cache: the runs in it are new to the index all the same, also when everything happens
    within one tick of the file system's clock (the same times and sizes, as if the
    clock had not moved)."""
    import shutil

    from sacred.observers import FileStorageObserver

    basedir = str(tmp_path / "runs")

    def run(values, times=None):
        obs = FileStorageObserver(basedir)
        for value in values:
            _observe(obs, {"value": value})
        paths = [os.path.join(basedir, r, f) for r in ("1", "2", "3") for f in ("", *RUN_FILES)]
        paths = [p for p in paths if os.path.exists(p)]
        now = time.time_ns()
        for path in paths:  # all changed in one tick, this one
            os.utime(path, ns=(now, now) if times is None else times[path])
        return {path: (os.stat(path).st_atime_ns, os.stat(path).st_mtime_ns) for path in paths}

    def values():
        """The values, as the index has them (a query), and the runs read to answer."""
        store = CountingStore(basedir)
        found = [store.find_ids(f"config.value == {v}") for v in range(10)]
        return [v for v in range(10) if found[v]], sorted(store.reads)

    times = run([1, 2, 3])
    assert values() == ([1, 2, 3], ["1", "2", "3"])
    shutil.rmtree(basedir)
    run([7, 8, 9], times)  # the same sizes, and the same times
    assert values() == ([7, 8, 9], ["1", "2", "3"])
    _settle()
    assert values()[0] == [7, 8, 9]  # read again if the last index was saved in that tick
    assert values() == ([7, 8, 9], [])  # and then no more
    shutil.rmtree(basedir)
    run([4, 5])  # made anew later: new times
    assert values() == ([4, 5], ["1", "2"])


def _observe(obs, config):
    """One finished run of ``obs`` with ``config``."""
    start = dt.datetime(2026, 11, 27, 10)
    obs.started_event(
        ex_info={"name": "anew", "base_dir": str(obs.basedir), "sources": [], "dependencies": []},
        command="main",
        host_info={},
        start_time=start,
        config=config,
        meta_info={},
        _id=None,
    )
    obs.completed_event(start + dt.timedelta(seconds=1), None)


def test_caches_earlier_versions_left_in_the_folder_are_removed(fresh_file_store):
    _, basedir = fresh_file_store
    legacy = os.path.join(basedir, ".sacred_cache")
    os.makedirs(legacy)
    for name in ("index.pickle", "metrics_2.npz", "index.pickle.77.tmp"):
        with open(os.path.join(legacy, name), "wb") as f:
            f.write(b"old")
    with open(os.path.join(basedir, ".sacred_index.json"), "w") as f:
        f.write("{}")
    assert open_store(basedir).count() == 5
    assert sorted(os.listdir(basedir)) == ["1", "2", "3", "4", "5", "_resources", "_sources"]
    # a file of someone else's in there stays, and so does the folder
    os.makedirs(legacy)
    for name in ("index.pickle", "notes.txt"):
        with open(os.path.join(legacy, name), "w") as f:
            f.write("mine")
    os.remove(_index_file(basedir))  # the next store builds its index anew
    assert open_store(basedir).count() == 5
    assert os.listdir(legacy) == ["notes.txt"]


def test_caches_of_folders_not_read_for_long_are_removed(fresh_file_store, user_cache):
    _, basedir = fresh_file_store
    root = user_cache / "sacred" / "file_stores"
    old, recent = root / "1-2-gone", root / "1-3-recent"
    for folder in (old, recent):
        folder.mkdir(parents=True)
        (folder / "index.pickle").write_bytes(b"x")
    now = time.time()
    os.utime(old, (now, now - (cache_dir.MAX_AGE_DAYS + 1) * 86400))
    os.utime(recent, (now, now - (cache_dir.MAX_AGE_DAYS - 1) * 86400))
    store = open_store(basedir)
    assert store.count() == 5
    own = os.path.basename(store.cache_folder)
    assert sorted(os.listdir(root)) == sorted([".pruned", own, "1-3-recent"])
    # looked at once a day at most: an old one is left until then
    old.mkdir()
    os.utime(old, (now, now - (cache_dir.MAX_AGE_DAYS + 1) * 86400))
    assert open_store(basedir).count() == 5
    assert old.exists()
    os.utime(root / ".pruned", (now, now - 86400 - 60))
    assert open_store(basedir).count() == 5
    assert not old.exists()


def test_metric_caches_are_capped_least_recently_read_first(tmp_path, monkeypatch):
    basedir = str(tmp_path / "runs")
    for run_id in (1, 2, 3):
        _write_big_metric(basedir, run_id, 30_000)
    store = FileStore(basedir)
    store.metrics(1)
    size = os.path.getsize(_metric_cache(basedir, 1))
    monkeypatch.setattr(cache_dir, "METRICS_CAP", 2 * size + size // 2)  # room for two
    store.metrics(2)
    now = time.time()
    os.utime(_metric_cache(basedir, 1), (now, now - 20))
    os.utime(_metric_cache(basedir, 2), (now, now - 10))
    store.metrics(1)  # from its cache: now the most recently read
    store.metrics(3)  # a third does not fit: the least recently read one goes
    cached = sorted(n for n in os.listdir(store.cache_folder) if n.startswith("metrics_"))
    assert cached == ["metrics_1.npz", "metrics_3.npz"]
    values = store.metrics(2)["loss"]["values"]  # read from metrics.json again
    assert len(values) == 30_000 and max(values) == 50.0


def test_caches_of_earlier_folders_at_the_same_path_are_removed(tmp_path, user_cache):
    """A folder made anew at a path (with another inode) gets a cache of its own; those of
    the folders that were there before go."""
    basedir = tmp_path / "runs"
    basedir.mkdir()
    own = cache_dir.store_cache_dir(str(basedir))
    root, name = os.path.split(own)
    digest = name.rsplit("-", 1)[1]
    before = os.path.join(root, f"1-2-{digest}")  # an earlier folder there (its inode was 2)
    other = os.path.join(root, "1-2-0123456789abcdef")  # another path's
    for folder in (before, other):
        os.makedirs(folder)
    assert open_store(str(basedir)).count() == 0
    assert sorted(os.listdir(root)) == sorted([".pruned", name, "1-2-0123456789abcdef"])
