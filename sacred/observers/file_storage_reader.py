"""``FileStore``: the read side of the FileStorageObserver's folder format.

It reads ``<basedir>/<id>/{run,config,info,metrics}.json``, ``cout.txt``, the artifacts in
the run folder and the copies of sources and resources. Listing uses an index kept in
``<basedir>/.sacred_cache/index.pickle``: for every run the modification time and size of its JSON
files and the fields queries and sorting look at (including metric summaries), so a query
only re-reads the runs that changed since the index was written. The index is a cache and
never the source of truth: a missing, stale, old-version or corrupt index is rebuilt from
the run folders, and a folder that cannot be written to is indexed in memory only. It is
kept column by column (see ``_run_index``): a query unpickles only the fields it names, a
page only the records it shows. It is a pickle read by an unpickler that refuses every
class but ``datetime``, so a planted file cannot run code.

Checking for changes costs one ``stat`` of the run folder for a finished run (writing any
of its files through the observer, which replaces files atomically, changes the folder's
time) and one ``stat`` of each JSON file for a run that is still running or queued.
Within ``refresh_interval`` seconds (default 0.5) of the last complete check, a store
object only checks the runs that are not finished yet, as long as the base folder's time
(which changes when a run folder is created or removed) is the same and is not so recent
that a new folder could have been created in the same clock tick. So a finished run that
another process changes (``update_meta`` from elsewhere) can look unchanged for up to that
long; ``refresh_interval=0`` turns this off. Files rewritten in place by other tools
(which does not change the folder's time) are only noticed by ``refresh(full=True)``.

Long metrics are read from the binary copy the observer keeps in ``<run>/.sacred_metrics/``
when it matches metrics.json (see ``_metric_sidecar``): no JSON is parsed then, and steps
and timestamps are only read for the points returned. Without one, metric files of more
than a million bytes are cached as numpy arrays in ``<basedir>/.sacred_cache/`` (when numpy
is installed), so reading a long metric again does not parse its JSON again.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import pickle
import shutil
import threading
import time
import warnings
from array import array
from collections.abc import Mapping
from typing import Optional

from sacred.observers import _jsonio, _metric_sidecar
from sacred.observers._run_index import CorruptIndex, RunIndex
from sacred.store import query as q
from sacred.store.base import (
    TERMINAL_STATUSES,
    RunNotFoundError,
    RunStore,
    StoreError,
    decode_stored,
    gc_paused,
    merge_meta,
    to_naive_utc,
)

__all__ = ("FileStore", "OutsideStoreError", "resolve_inside")

CACHE_DIR = ".sacred_cache"
# in a sub-folder: writing it must not change the base folder's time (see refresh)
INDEX_NAME = os.path.join(CACHE_DIR, "index.pickle")
_OLD_INDEX_NAME = ".sacred_index.json"  # the JSON index of earlier versions
INDEX_VERSION = 3  # 3: columns (see _run_index); 2: one pickled dict a run
DEFAULT_REFRESH_INTERVAL = 0.5
# a base folder time less than this old at a complete check may still change unseen (a
# folder created in the same clock tick keeps it): no quick checks are trusted then
_RACY_NS = 1_000_000_000
_FILES = ("run.json", "config.json", "info.json", "metrics.json")
_DATE_KEYS = ("start_time", "stop_time", "heartbeat", "queue_time")
# parts of run.json left out of the index (big, and rarely queried); queries that look at
# them read the runs themselves
_PRUNED = (("experiment", "dependencies"), ("experiment", "repositories"), ("meta", "options"))
_BIG_METRICS = 1 << 20


def _read_json(path):
    with open(path, "rb") as f:
        return json.loads(f.read())


def _stat(path):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_mtime_ns, st.st_size]


def _flat_stats(stats) -> tuple:
    """``[[mtime, size] or None, ...]`` as one flat tuple (one object a run in the index)."""
    out = []
    for st in stats:
        out.extend(st if st is not None else (None, None))
    return tuple(out)


class _DirStat:
    """``os.stat`` of names in one folder, through the folder's descriptor where the system
    allows it (a shorter path lookup for each of thousands of run folders)."""

    def __init__(self, base):
        self.base = base
        self.fd = None

    def __enter__(self):
        if os.stat in os.supports_dir_fd:
            try:
                self.fd = os.open(self.base, os.O_RDONLY)
            except OSError:
                self.fd = None
        return self

    def __exit__(self, *exc):
        if self.fd is not None:
            os.close(self.fd)

    def __call__(self, name, key=False):
        """The mtime of ``name`` (raises OSError), or with ``key`` its ``(mtime, size)``
        (``(None, None)`` if it is missing)."""
        try:
            if self.fd is not None:
                st = os.stat(name, dir_fd=self.fd)
            else:
                st = os.stat(os.path.join(self.base, name))
        except OSError:
            if key:
                return (None, None)
            raise
        return (st.st_mtime_ns, st.st_size) if key else st.st_mtime_ns


class _EntryView(Mapping):
    """The index as ``{name: {"stat", "dir", "doc", "metrics"}}`` (made on access)."""

    def __init__(self, index):
        self._index = index

    def __getitem__(self, name):
        index = self._index
        row = index.rows[name]
        doc, summaries = index.record(row)
        st = index.stats[row]
        stats = [None if st[i] is None else [st[i], st[i + 1]] for i in range(0, len(st), 2)]
        return {"stat": stats, "dir": index.dirs[row], "doc": doc, "metrics": summaries}

    def __iter__(self):
        return iter(self._index.rows)

    def __len__(self):
        return len(self._index.rows)


def _write_bytes_atomic(path, data: bytes) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError:
        _remove(tmp)
        raise


def _md5_bytes(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


class FileStore(RunStore):
    """Runs in a FileStorageObserver folder (a path or a ``file://`` URL)."""

    scheme = "file"

    def __init__(
        self, location, index: bool = True, refresh_interval: float = DEFAULT_REFRESH_INTERVAL
    ):
        path = os.fspath(location)
        if path.startswith("file://"):
            path = path[len("file://") :]
        if not os.path.isdir(path):
            raise StoreError(
                f"There is no FileStorageObserver folder at {path!r}: it does not exist or "
                "is not a directory."
            )
        self.basedir = path
        self.use_index = index
        self._index = None  # the RunIndex, once loaded
        self._last_match = None  # ((index generation, query), rows) of the last query
        self._lock = threading.RLock()  # one refresh or query at a time (threaded servers)
        self._index_dirty = False
        self.refresh_interval = refresh_interval
        self._checked_at = None  # time.monotonic() of the last complete check
        self._base_key = None  # the base folder's time then, if old enough to be trusted
        self._live = ()  # names of the runs that were not finished then

    def __repr__(self):
        return f"FileStore({self.basedir!r})"

    # ------------------------------------------------------------------ index
    def _run_dir(self, name) -> str:
        return os.path.join(self.basedir, name)

    def _load_index(self) -> RunIndex:
        if not self.use_index:
            return RunIndex()
        try:
            with open(os.path.join(self.basedir, INDEX_NAME), "rb") as f:
                return RunIndex.from_bytes(f.read(), INDEX_VERSION)
        except Exception:  # missing, old or corrupt (unpickling raises many kinds): rebuilt
            return RunIndex()

    def _save_index(self) -> None:
        self._index_dirty = False
        if not self.use_index:
            return
        try:
            data = self._index.to_bytes(INDEX_VERSION)
            os.makedirs(os.path.join(self.basedir, CACHE_DIR), exist_ok=True)
            _write_bytes_atomic(os.path.join(self.basedir, INDEX_NAME), data)
        except (OSError, pickle.PicklingError):
            return  # a read-only folder: the index lives in memory only
        _remove(os.path.join(self.basedir, _OLD_INDEX_NAME))

    @property
    def _entries(self):
        """The index as ``{name: {"stat", "dir", "doc", "metrics"}}`` (None before loading)."""
        return None if self._index is None else _EntryView(self._index)

    def _run_names(self) -> list:
        with os.scandir(self.basedir) as entries:
            return [e.name for e in entries if e.name.isdigit() and e.is_dir()]

    def _read_entry(self, name, old: Optional[dict] = None) -> Optional[dict]:
        """Index entry of one run, or None if it cannot be read right now.

        The metric summaries of ``old`` (the previous entry) are kept if metrics.json did
        not change: a long metric is not parsed again for every heartbeat of its run.
        """
        folder = self._run_dir(name)
        dir_stat = _stat(folder)
        stats = [_stat(os.path.join(folder, f)) for f in _FILES]
        if dir_stat is None or stats[0] is None:
            return None
        try:
            record = self._read_record(name, captured_out=False)
        except (OSError, ValueError):
            return None  # being written by a non-atomic writer: try again next time
        doc = _prune(record)
        if stats[3] is None:
            summaries = {}
        elif old is not None and old["stat"][3] == stats[3]:
            summaries = old["metrics"]
        else:
            finished = record.get("status") in TERMINAL_STATUSES
            try:
                metrics = self._load_metrics(name, cache=finished)
            except (OSError, ValueError):
                return None
            summaries = {n: _summary(m["values"]) for n, m in metrics.items()}
        return {"stat": stats, "dir": dir_stat[0], "doc": doc, "metrics": summaries}

    def refresh(self, full: bool = False) -> None:
        """Bring the index up to date; ``full`` checks every file of every run.

        A finished run is checked by its folder's time only (the observer replaces files,
        which changes it); a running one also by its ``run.json``, which every heartbeat
        rewrites (writers that rewrite files in place do not change the folder's time).
        """
        with self._lock, gc_paused():
            try:
                self._refresh(full)
            except CorruptIndex:  # a part of the index file cannot be read: start again
                self._index = RunIndex()
                self._refresh(True)

    def _refresh(self, full) -> int:
        """Returns the number of runs read from the index file (0 if none was read)."""
        loaded = 0
        if self._index is None:
            self._index = self._load_index()
            self._index_dirty = not len(self._index)
            loaded = len(self._index)
        if not full and self._quick_check_will_do():
            for name in self._changed(self._live):
                self._check(name, False)
        else:
            self._full_check(full)
        if self._index_dirty:
            self._save_index()
        return loaded

    def _quick_check_will_do(self) -> bool:
        if not self.refresh_interval or self._checked_at is None or self._base_key is None:
            return False
        if time.monotonic() - self._checked_at >= self.refresh_interval:
            return False
        try:
            return os.stat(self.basedir).st_mtime_ns == self._base_key
        except OSError:
            return False

    def _full_check(self, full):
        self._checked_at = time.monotonic()
        try:
            base_time = os.stat(self.basedir).st_mtime_ns
        except OSError:
            base_time = None
        old_enough = base_time is not None and time.time_ns() - base_time > _RACY_NS
        self._base_key = base_time if old_enough else None
        index = self._index
        names = self._run_names()
        for name in names if full else self._changed(names):
            self._check(name, full)
        rows = index.rows
        if len(rows) != len(names):
            present = set(names)
            for name in [n for n in rows if n not in present]:
                index.remove(name)
            self._index_dirty = True
        status = index.status
        self._live = [n for n, r in rows.items() if status[r] not in TERMINAL_STATUSES]

    def _changed(self, names) -> list:
        """Those of ``names`` that are new or may have changed (see ``refresh``): one stat
        a finished run, two a running one."""
        index = self._index
        rows, dirs, stats, status = index.rows, index.dirs, index.stats, index.status
        terminal = TERMINAL_STATUSES
        changed = []
        with _DirStat(self.basedir) as stat:
            for name in names:
                row = rows.get(name)
                if row is not None:
                    try:
                        if stat(name) == dirs[row] and (
                            status[row] in terminal
                            or stat(name + "/run.json", key=True) == stats[row][:2]
                        ):
                            continue
                    except OSError:
                        continue  # removed just now
                changed.append(name)
        return changed

    def _check(self, name, full):
        """Read the run again if it changed (see ``refresh``)."""
        index = self._index
        row = index.rows.get(name)
        folder = os.path.join(self.basedir, name)
        if row is not None and not full:
            try:
                dir_time = os.stat(folder).st_mtime_ns
            except OSError:
                return  # removed just now
            if dir_time == index.dirs[row] and (
                index.status[row] in TERMINAL_STATUSES
                or _flat_stats([_stat(folder + "/run.json")]) == index.stats[row][:2]
            ):
                return
        old = None
        if row is not None:
            stats = _flat_stats([_stat(os.path.join(folder, f)) for f in _FILES])
            if stats == index.stats[row]:
                dir_stat = _stat(folder)
                if dir_stat is not None and dir_stat[0] != index.dirs[row]:
                    index.dirs[row] = dir_stat[0]
                    self._index_dirty = True
                return
            old = _EntryView(index)[name]
        new = self._read_entry(name, old)
        if new is not None:  # else keep the last good state until the files are complete
            self._set_entry(name, new)
            if name not in self._live and new["doc"].get("status") not in TERMINAL_STATUSES:
                self._live = [*self._live, name]

    def _set_entry(self, name, entry) -> None:
        stats = _flat_stats(entry["stat"])
        self._index.set(name, entry["dir"], stats, entry["doc"], entry["metrics"])
        self._index_dirty = True

    # ------------------------------------------------------------------ reading runs
    def _name(self, run_id) -> str:
        name = str(run_id).strip()
        if name.isdigit():
            name = str(int(name))
        if not name.isdigit() or not os.path.isdir(self._run_dir(name)):
            raise RunNotFoundError(f"There is no run {run_id!r} in {self.basedir}")
        return name

    def _read_record(self, name, captured_out=True) -> dict:
        folder = self._run_dir(name)
        run = _read_json(os.path.join(folder, "run.json"))
        if not isinstance(run, dict):
            raise ValueError("run.json is not an object")
        try:
            config = _read_json(os.path.join(folder, "config.json"))
        except FileNotFoundError:
            config = {}
        try:
            info = _read_json(os.path.join(folder, "info.json"))
        except FileNotFoundError:
            info = {}
        record = {"_id": int(name)}
        record.update(run)
        for key in _DATE_KEYS:
            if key in record:
                record[key] = to_naive_utc(record[key])
        record["config"] = config
        record["info"] = info
        decode_stored(record)
        record["artifacts"] = [
            a if isinstance(a, dict) else {"name": a} for a in record.get("artifacts") or []
        ]
        if captured_out:
            try:
                with open(os.path.join(folder, "cout.txt"), "rb") as f:
                    record["captured_out"] = f.read().decode("utf-8", errors="replace")
            except FileNotFoundError:
                record["captured_out"] = ""
        return record

    def get(self, run_id) -> dict:
        name = self._name(run_id)
        try:
            return self._read_record(name)
        except FileNotFoundError:
            raise RunNotFoundError(f"Run {run_id!r} in {self.basedir} has no run.json") from None
        except ValueError as e:
            raise StoreError(f"Run {run_id!r} in {self.basedir} cannot be read: {e}") from None

    def _scan(self, need_metrics=False, full=False):
        if full:  # the query needs parts the index leaves out
            for name in sorted(self._run_names(), key=int):
                try:
                    record = self._read_record(name, captured_out=False)
                except (OSError, ValueError):
                    continue
                summaries = self.metric_summaries(name) if need_metrics else None
                yield record, summaries
            return
        yield from self._index_query(lambda index: [index.record(r) for r in index.ordered_rows()])

    def _select_summaries(self, node, sort, skip=0, limit=None, fields=()):
        looked_at = _fields(node) + [f for f, _ in sort] + list(fields)
        if any(_is_pruned(f) for f in looked_at):
            return self._select_full(node, sort, skip, limit)
        end = None if limit is None else skip + limit

        def page(index):
            rows = index.sort(self._matching(node), sort)[skip:end]
            return [index.record(row)[0] for row in rows]

        return self._index_query(page)

    def _index_query(self, answer):
        """``answer(index)`` on the refreshed index (rebuilt if a part of it is corrupt)."""
        with self._lock, gc_paused():
            self.refresh()
            try:
                return answer(self._index)
            except CorruptIndex:
                self._index = RunIndex()
                self.refresh(full=True)
                return answer(self._index)

    def _matching(self, node) -> list:
        """Rows of the runs matching ``node``, by id (the last answer is kept: a table asks
        for a page and then for the number of matching runs)."""
        index = self._index
        key = (index.generation, repr(node))
        if self._last_match is not None and self._last_match[0] == key:
            return self._last_match[1]
        rows = index.select(node, index.ordered_rows())
        self._last_match = (key, rows)
        return rows

    def _select_full(self, node, sort, skip, limit):
        from sacred.store.base import sort_rows

        need = any(f.metric for f in _fields(node) + [f for f, _ in sort])
        pred = q.compile_query(node)
        rows = [(r, m) for r, m in self._scan(need, full=True) if pred(r, m)]
        rows = sort_rows(rows, sort)
        end = None if limit is None else skip + limit
        return [r for r, _ in rows[skip:end]]

    def count(self, query=None) -> int:
        node = q.parse(query)
        if any(_is_pruned(f) for f in _fields(node)):
            return len(self._select_full(node, [], 0, None))
        if isinstance(node, q.MatchAll):
            return self._index_query(len)
        return self._index_query(lambda index: len(self._matching(node)))

    # ------------------------------------------------------------------ metrics
    def _load_metrics(self, name, cache: bool = True, names=None) -> dict:
        """The metrics of a run (at least those in ``names``, default all).

        Long ones come from the observer's binary sidecar when it matches metrics.json (see
        _metric_sidecar), else from metrics.json; those of finished runs are then cached as
        numpy arrays.
        """
        path = os.path.join(self._run_dir(name), "metrics.json")
        st = _stat(path)
        if st is None:
            return {}
        if st[1] >= _metric_sidecar.MIN_SIZE:
            fast = _metric_sidecar.read(self._run_dir(name), st[1], st[0], names)
            if fast is not None:
                return fast
        if st[1] >= _BIG_METRICS:
            cached = self._load_metrics_cache(name, st)
            if cached is not None:
                return cached
        metrics = _read_json(path)
        if not isinstance(metrics, dict):
            raise ValueError("metrics.json is not an object")
        if st[1] >= _BIG_METRICS and cache:
            self._save_metrics_cache(name, st, metrics)
        return metrics

    def _cache_path(self, name) -> str:
        return os.path.join(self.basedir, CACHE_DIR, f"metrics_{name}.npz")

    def _load_metrics_cache(self, name, st):
        try:
            import numpy as np
        except ImportError:
            return None
        try:
            with np.load(self._cache_path(name), allow_pickle=False) as z:
                if z["key"].tolist() != st:
                    return None
                names = z["names"].tolist()
                return {
                    n: {"steps": z[f"s{i}"], "timestamps": z[f"t{i}"], "values": z[f"v{i}"]}
                    for i, n in enumerate(names)
                }
        except (OSError, ValueError, KeyError):
            return None

    def _save_metrics_cache(self, name, st, metrics) -> None:
        try:
            import numpy as np
        except ImportError:
            return
        arrays = {"key": np.array(st, dtype=np.int64), "names": np.array(list(metrics), dtype=str)}
        try:
            for i, m in enumerate(metrics.values()):
                steps, values = np.array(m["steps"]), np.array(m["values"])
                if steps.dtype.kind not in "iuf" or values.dtype.kind not in "iuf":
                    return  # not plain numbers: not worth a cache
                arrays[f"s{i}"] = steps
                arrays[f"v{i}"] = values
                arrays[f"t{i}"] = np.array(m["timestamps"], dtype="datetime64[us]")
            os.makedirs(os.path.join(self.basedir, CACHE_DIR), exist_ok=True)
            target = self._cache_path(name)
            tmp = f"{target}.{os.getpid()}.tmp.npz"
            np.savez(tmp, **arrays)
            os.replace(tmp, target)
        except (OSError, ValueError, TypeError, OverflowError):
            return

    def _read_metrics(self, run_id, names=None) -> dict:
        name = self._name(run_id)
        try:
            entry = (self._entries or {}).get(name)
            running = entry is not None and entry["doc"].get("status") not in TERMINAL_STATUSES
            return self._load_metrics(name, cache=not running, names=names)
        except ValueError as e:
            raise StoreError(f"metrics.json of run {run_id!r} cannot be read: {e}") from None

    def metric_summaries(self, run_id) -> dict:
        name = self._name(run_id)
        index = self._index
        row = None if index is None else index.rows.get(name)
        if row is not None:  # the index has them, if metrics.json is as it was then
            st = _stat(os.path.join(self._run_dir(name), "metrics.json"))
            if _flat_stats([st]) == index.stats[row][6:8]:
                try:
                    return index.record(row)[1]
                except CorruptIndex:
                    pass
        return {n: _summary(m["values"]) for n, m in self._read_metrics(run_id).items()}

    # ------------------------------------------------------------------ files
    # Every file a run lists (in run.json, which anyone who can write to the folder can
    # craft) is resolved, symlinks included, and read or removed only if it lies inside the
    # run's folder (artifacts), ``_sources`` (sources) or ``_resources`` (resources).
    def _artifact_path(self, run_id, name) -> str:
        folder = self._run_dir(self._name(run_id))
        if not isinstance(name, str) or name not in self.artifacts(run_id):
            raise RunNotFoundError(f"Run {run_id!r} has no artifact {name!r}")
        where = f"artifact {name!r} of run {run_id!r}"
        return resolve_inside(_join(folder, name), folder, where, "the run's folder")

    def open_artifact(self, run_id, name):
        return open(self._artifact_path(run_id, name), "rb")

    def _source_path(self, run_id, name) -> str:
        record = self.get(run_id)
        sources = record.get("experiment", {}).get("sources", [])
        if isinstance(sources, dict) and "py/tuple" in sources:  # queued runs
            sources = sources["py/tuple"]
        where = f"source {name!r} of run {run_id!r}"
        for entry in sources:
            if isinstance(entry, dict):
                entry = entry.get("py/tuple", [])
            if entry and entry[0] == name:
                if record.get("status") == "QUEUED":  # copied into the run folder
                    folder = self._run_dir(self._name(run_id))
                    path = _join(folder, os.path.basename(str(name)))
                    return resolve_inside(path, folder, where, "the run's folder")
                stored = entry[1] if len(entry) > 1 else None
                return resolve_inside(
                    _join(self.basedir, stored), self._sources_dir, where, "the store's _sources"
                )
        raise RunNotFoundError(f"Run {run_id!r} has no source {name!r}")

    @property
    def _sources_dir(self) -> str:
        return os.path.join(self.basedir, "_sources")

    @property
    def _resources_dir(self) -> str:
        return os.path.join(self.basedir, "_resources")

    def sources(self, run_id) -> list:
        sources = self.get(run_id).get("experiment", {}).get("sources", [])
        if isinstance(sources, dict):
            sources = sources.get("py/tuple", [])
        return [(s.get("py/tuple", [None])[0] if isinstance(s, dict) else s[0]) for s in sources]

    def open_source(self, run_id, name):
        return open(self._source_path(run_id, name), "rb")

    def _resource_path(self, stored, where="a resource") -> str:
        """Where a resource copy is: as recorded, else by its name in ``_resources``, and
        only inside ``_resources`` (the resolved path; OutsideStoreError else)."""
        root = self._resources_dir
        if not isinstance(stored, str):
            raise RunNotFoundError(f"{where} has no stored copy")
        by_name = os.path.join(root, os.path.basename(stored))
        refused = None
        for candidate in ([stored] if os.path.isabs(stored) else []) + [by_name]:
            if os.path.lexists(candidate):
                try:
                    return resolve_inside(candidate, root, where, "the store's _resources")
                except OutsideStoreError as e:
                    refused = e
        if refused is not None:
            raise refused
        return by_name  # gone: opening it says so

    def open_resource(self, run_id, name):
        for entry in self.get(run_id).get("resources") or []:
            if entry[0] == name:
                where = f"resource {name!r} of run {run_id!r}"
                return open(self._resource_path(entry[1], where), "rb")
        raise RunNotFoundError(f"Run {run_id!r} has no resource {name!r}")

    # ------------------------------------------------------------------ writing
    def delete(self, run_id) -> None:
        with self._lock:  # Sacredboard serves requests in threads
            self._delete(run_id)

    def _delete(self, run_id) -> None:
        name = self._name(run_id)
        self.refresh()
        index = self._index
        row = index.rows.get(name)
        record = index.record(row)[0] if row is not None else None
        if record is None:
            record = self._read_record(name, captured_out=False)
        others = [index.record(r)[0] for n, r in index.rows.items() if n != name]
        folder = self._run_dir(name)
        if os.path.islink(folder):  # only the link is the store's: what it points to stays
            warnings.warn(
                f"Run {run_id!r}: its folder is a symbolic link; removed the link only",
                stacklevel=3,
            )
            os.unlink(folder)
        else:
            shutil.rmtree(folder)  # removes the symbolic links in it, never their targets
        # the copies of sources and resources only this run uses, if they lie inside
        # _sources and _resources (a listed file elsewhere is left alone, with a warning)
        used = {self._owned_source(p) for d in others for p in _stored_sources(d)}
        for stored in _stored_sources(record):
            self._remove_copy(lambda s=stored: self._owned_source(s, run_id), used)
        used = {self._owned_resource(r) for d in others for r in _stored_resources(d)}
        for stored in _stored_resources(record):
            self._remove_copy(lambda s=stored: self._owned_resource(s, run_id), used)
        _remove(self._cache_path(name))
        if row is not None:
            index.remove(name)
        self._save_index()

    def _owned_source(self, stored, run_id=None):
        """The resolved path of the copy in ``_sources`` a source entry of ``run_id`` names:
        OutsideStoreError for a file elsewhere (None for another run's entry)."""
        where = f"source copy {stored!r} of run {run_id!r}"
        try:
            return resolve_inside(
                _join(self.basedir, stored), self._sources_dir, where, "the store's _sources"
            )
        except RunNotFoundError:
            if run_id is not None:
                raise
            return None

    def _owned_resource(self, stored, run_id=None):
        """The same for a resource entry's copy in ``_resources``."""
        try:
            where = f"resource copy {stored!r} of run {run_id!r}"
            return os.path.realpath(self._resource_path(stored, where))
        except RunNotFoundError:
            if run_id is not None:
                raise
            return None

    @staticmethod
    def _remove_copy(resolve, used) -> None:
        try:
            path = resolve()
        except OutsideStoreError as e:
            warnings.warn(f"{e}; left alone", stacklevel=4)
            return
        except RunNotFoundError:
            return
        if path not in used:
            _remove(path)

    def update_meta(self, run_id, updates: dict) -> dict:
        """Merge ``updates`` into ``meta`` of ``run.json`` (replaced atomically).

        A running FileStorageObserver notices the change before its next write of
        ``run.json`` and keeps the keys set here (see ``FileStorageObserver``). Should the
        observer replace the file between the read and the write here, the write is done
        again on the observer's version, so no event of the run is undone.
        """
        name = self._name(run_id)
        path = os.path.join(self._run_dir(name), "run.json")
        for _ in range(20):
            before = _jsonio.file_key(path)
            try:
                run = _read_json(path)
            except FileNotFoundError:
                raise RunNotFoundError(
                    f"Run {run_id!r} in {self.basedir} has no run.json"
                ) from None
            except ValueError as e:
                raise StoreError(f"Run {run_id!r} in {self.basedir} cannot be read: {e}") from None
            if not isinstance(run, dict):
                raise StoreError(f"Run {run_id!r} in {self.basedir}: run.json is no object")
            meta = merge_meta(run.get("meta"), updates)
            run["meta"] = meta
            text = _dumps(run)
            if _jsonio.file_key(path) == before:  # else the observer wrote meanwhile: read again
                _jsonio.write_atomic(path, text)
                break
        else:
            raise StoreError(f"run.json of run {run_id!r} changes all the time; try again")
        with self._lock:
            if self._index is not None and name in self._index.rows:
                new = self._read_entry(name, self._entries[name])
                if new is not None:
                    self._set_entry(name, new)  # saved with the next refresh
        return meta

    def _new_run_dir(self) -> str:
        candidate = max((int(n) for n in self._run_names()), default=0) + 1
        for _ in range(1000):
            try:
                os.mkdir(self._run_dir(str(candidate)))
                return str(candidate)
            except FileExistsError:
                candidate += 1
        raise StoreError(f"Could not create a new run folder in {self.basedir}")

    def import_run(
        self, record, metrics=None, artifacts=None, sources=None, resources=None, new_id=False
    ):
        """Write a run in the FileStorageObserver format; returns its id (an int).

        An artifact whose name would put it outside the run's folder (``../x``, an
        absolute path) or onto one of the run's own files is not written (with a warning).
        """
        artifacts = _writable_artifacts(artifacts or {})
        wanted = record.get("_id")
        if new_id or wanted is None or not str(wanted).isdigit():
            name = self._new_run_dir()
        else:
            name = str(int(str(wanted)))
            try:
                os.mkdir(self._run_dir(name))
            except FileExistsError:
                raise StoreError(
                    f"Run {name} already exists in {self.basedir}; import it under a new id "
                    "instead (new_id=True, or --new-ids on the command line)."
                ) from None
        folder = self._run_dir(name)
        run = {
            k: v for k, v in record.items() if k not in ("_id", "config", "info", "captured_out")
        }
        for key in _DATE_KEYS:
            if isinstance(run.get(key), _dt.datetime):
                run[key] = run[key].isoformat()
        names = [a["name"] if isinstance(a, dict) else a for a in run.get("artifacts") or []]
        run["artifacts"] = names + [n for n in artifacts or {} if n not in names]
        experiment = dict(run.get("experiment") or {})
        if sources is not None and isinstance(experiment.get("sources"), list):
            new_sources = []
            for src_name, stored in experiment["sources"]:
                if src_name in sources:
                    stored = os.path.relpath(
                        self._store_file(sources[src_name], src_name, "_sources"), self.basedir
                    )
                new_sources.append([src_name, stored])
            experiment["sources"] = new_sources
            run["experiment"] = experiment
        if resources is not None and run.get("resources"):
            run["resources"] = [
                [fn, self._store_file(resources[fn], fn, "_resources") if fn in resources else ref]
                for fn, ref in run["resources"]
            ]
        _jsonio.write_atomic(os.path.join(folder, "config.json"), _dumps(record.get("config", {})))
        if record.get("info"):
            _jsonio.write_atomic(os.path.join(folder, "info.json"), _dumps(record["info"]))
        with open(os.path.join(folder, "cout.txt"), "wb") as f:
            f.write((record.get("captured_out") or "").encode("utf-8"))
        if metrics is not None:
            out = {}
            for metric_name, m in metrics.items():
                out[metric_name] = {
                    "steps": _as_list(m["steps"]),
                    "timestamps": [
                        t.isoformat() if hasattr(t, "isoformat") else t
                        for t in _as_list(m["timestamps"])
                    ],
                    "values": _as_list(m["values"]),
                }
            st = _jsonio.write_atomic(os.path.join(folder, "metrics.json"), _dumps(out))
            _write_sidecar(folder, out, st)
        for art_name, content in artifacts.items():
            path = os.path.join(folder, art_name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            resolve_inside(path, folder, f"artifact {art_name!r}", "the run's folder")
            with open(path, "wb") as f:
                f.write(content)
        # run.json last: a reader that sees it sees a complete run
        _jsonio.write_atomic(os.path.join(folder, "run.json"), _dumps(run))
        return int(name)

    def _store_file(self, content: bytes, filename: str, subdir: str) -> str:
        stem, ext = os.path.splitext(os.path.basename(filename))
        target_dir = os.path.join(self.basedir, subdir)
        os.makedirs(target_dir, exist_ok=True)
        target = os.path.join(target_dir, f"{stem}_{_md5_bytes(content)}{ext}")
        if not os.path.exists(target):
            tmp = f"{target}.{os.getpid()}.tmp"
            with open(tmp, "wb") as f:
                f.write(content)
            os.replace(tmp, target)
        return target


# ---------------------------------------------------------------------- helpers
def _write_sidecar(folder, metrics, metrics_json_stat) -> None:
    """The binary sidecar the observer would have written for these metrics."""
    if sum(len(m["steps"]) for m in metrics.values()) < _metric_sidecar.MIN_POINTS:
        return
    writer = _metric_sidecar.SidecarWriter(folder)
    writer.start({})
    for name, m in metrics.items():
        fixed = _metric_sidecar.fixed_from_strings(m["timestamps"])
        writer.append(name, m["steps"], fixed, m["values"])
    writer.commit(metrics_json_stat)


def _dumps(obj) -> str:
    try:
        return _jsonio.dumps(obj)
    except TypeError:
        return json.dumps(obj, sort_keys=True, indent=2, default=str)


def _as_list(seq):
    if hasattr(seq, "dtype") and seq.dtype.kind == "M":  # numpy datetimes
        return seq.astype("datetime64[us]").tolist()
    return seq.tolist() if hasattr(seq, "tolist") else list(seq)


def _summary(values) -> dict:
    from sacred.store.base import metric_summary

    if hasattr(values, "dtype"):  # a numpy array from the cache
        import numpy as np

        summary = {"count": int(len(values))}
        if len(values):
            summary["first"] = values[0].item()
            summary["last"] = values[-1].item()
            finite = values[~np.isnan(values)] if values.dtype.kind == "f" else values
            if len(finite):
                summary["min"] = finite.min().item()
                summary["max"] = finite.max().item()
        return summary
    if isinstance(values, array) and len(values):  # from the sidecar: plain numbers
        total = sum(values)
        if total == total:  # no NaN in there (NaN or inf - inf would make the sum NaN)
            return {
                "count": len(values),
                "first": values[0],
                "last": values[-1],
                "min": min(values),
                "max": max(values),
            }
    return metric_summary(values)


def _prune(record: dict) -> dict:
    doc = dict(record)
    for outer, inner in _PRUNED:
        if isinstance(doc.get(outer), dict) and inner in doc[outer]:
            doc[outer] = {k: v for k, v in doc[outer].items() if k != inner}
    return doc


def _is_pruned(fld: q.Field) -> bool:
    return any(fld.path[: len(p)] == p for p in _PRUNED) or fld.path in {("experiment",), ("meta",)}


class _FieldCollector(q.Visitor):
    def __init__(self):
        self.fields = []

    def visit_MatchAll(self, node):  # noqa: N802
        pass

    def visit_And(self, node):  # noqa: N802
        for n in node.items:
            self.visit(n)

    visit_Or = visit_And  # noqa: N815

    def visit_Not(self, node):  # noqa: N802
        self.visit(node.item)

    def visit_Compare(self, node):  # noqa: N802
        self.fields.append(node.field)

    visit_Exists = visit_Compare  # noqa: N815


def _fields(node) -> list:
    collector = _FieldCollector()
    collector.visit(node)
    return collector.fields


def _stored_sources(doc) -> list:
    sources = (doc.get("experiment") or {}).get("sources") or []
    if not isinstance(sources, list):
        return []
    return [s[1] for s in sources if isinstance(s, list) and len(s) == 2 and isinstance(s[1], str)]


def _stored_resources(doc) -> list:
    resources = doc.get("resources") or []
    if not isinstance(resources, list):
        return []
    return [r[1] for r in resources if isinstance(r, list) and len(r) == 2]


class OutsideStoreError(RunNotFoundError):
    """A file a run lists lies outside the folders of the store that may hold it (a crafted
    ``run.json``, a symbolic link out, a copy kept elsewhere): it is neither read nor
    removed."""


def resolve_inside(path, root, what, where=None) -> str:
    """``path`` with every symbolic link resolved, if that lies inside ``root`` (resolved
    too); else OutsideStoreError, a one-line message naming ``what`` and ``where``."""
    try:
        real = os.path.realpath(path)
        base = os.path.realpath(root)
        inside = real != base and os.path.commonpath([real, base]) == base
    except (ValueError, TypeError):  # a NUL byte, different drives, not a path
        inside = False
    if not inside:
        raise OutsideStoreError(f"Refused: {what} lies outside {where or root}")
    return real


def _join(base, name) -> str:
    """``base/name`` (``name`` itself if it is absolute): the place a run's entry names."""
    if not isinstance(name, str) or not name:
        raise RunNotFoundError(f"{name!r} names no file")
    return os.path.join(base, name)


_OWN_FILES = frozenset(_FILES) | {"cout.txt", _metric_sidecar.DIRNAME}


def _writable_artifacts(artifacts) -> dict:
    """The artifacts ``import_run`` may write into a new run folder (see there)."""
    out = {}
    for name, content in artifacts.items():
        ok = isinstance(name, str) and name and "\0" not in name
        parts = os.path.normpath(name).split(os.sep) if ok else []
        if not ok or os.path.isabs(name) or ".." in parts or parts[0] in _OWN_FILES | {"."}:
            warnings.warn(
                f"Artifact {name!r} is not written: it would not be a file of its own inside "
                "the run's folder",
                stacklevel=3,
            )
            continue
        out[name] = content
    return out


def _remove(path) -> None:
    try:
        os.remove(path)
    except OSError:
        pass
