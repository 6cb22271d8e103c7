"""``FileStore``: the read side of the FileStorageObserver's folder format.

It reads ``<basedir>/<id>/{run,config,info,metrics}.json``, ``cout.txt``, the artifacts in
the run folder and the copies of sources and resources. Listing uses an index kept
outside the folder, in the user's cache directory (see ``cache_dir``: the folder holds only
what the observer puts there): for every run the modification time and size of its JSON
files and the fields queries and sorting look at (including metric summaries), so a query
only re-reads the runs that changed since the index was written. The index is a cache and
never the source of truth: a missing, stale, old-version or corrupt index is rebuilt from
the run folders, and without a cache directory that can be written to, the index lives in
memory only. The caches earlier versions kept in the folder (``.sacred_cache/``,
``.sacred_index.json``) are removed when the index is built anew, if the folder can be
written to. The index is kept column by column (see ``_run_index``): a query unpickles
only the fields it names, a page only the records it shows. It is a pickle read by an unpickler that refuses every
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
A run whose folder changed less than a tick of the file system's clock (``_TICK_NS``)
before the index is saved is saved without its times, so that the next reader reads it
again: a change in that same tick, or a folder made anew in it, could keep every time and
size as they were.

The class is put together from parts kept in their own modules: ``metrics`` (metric
reading and caches), ``files`` (artifacts, sources, resources) and ``writes`` (``delete``,
``update_meta``, ``import_run``); this module holds the index, the records and the queries.
"""

from __future__ import annotations

import os
import pickle
import threading
import time
from collections.abc import Mapping
from typing import Optional

from sacred.observers.file_storage import cache_dir
from sacred.observers.file_storage._run_index import CorruptIndex, RunIndex
from sacred.observers.file_storage.claims import FileStoreClaims
from sacred.observers.file_storage.files import FileStoreFiles
from sacred.observers.file_storage.layout import (
    DATE_KEYS,
    RUN_FILES,
    flat_stats,
    mtime_size,
    read_json,
    remove_file,
)
from sacred.observers.file_storage.metrics import FileStoreMetrics, summarize
from sacred.observers.file_storage.writes import FileStoreWrites
from sacred.store import query as q
from sacred.store.base import (
    TERMINAL_STATUSES,
    RunNotFoundError,
    RunStore,
    StoreError,
    decode_stored,
    gc_paused,
    sort_rows,
    to_naive_utc,
)

__all__ = ("FileStore", "INDEX_NAME", "INDEX_VERSION")

INDEX_NAME = "index.pickle"  # in the store's cache folder (see cache_dir)
INDEX_VERSION = 3  # 3: columns (see _run_index); 2: one pickled dict a run
DEFAULT_REFRESH_INTERVAL = 0.5
_UNSET = object()
# a base folder time less than this old at a complete check may still change unseen (a
# folder created in the same clock tick keeps it): no quick checks are trusted then
_RACY_NS = 1_000_000_000
# a run folder whose time is less than this old when the index is saved may change again,
# or be made anew, in the same tick of the file system's clock (a few milliseconds), and
# keep its time: it is saved without its times, so that the next reader reads it again
_TICK_NS = 20_000_000
# parts of run.json left out of the index (big, and rarely queried); queries that look at
# them read the runs themselves
_PRUNED = (("experiment", "dependencies"), ("experiment", "repositories"), ("meta", "options"))


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
        remove_file(tmp)
        raise


class FileStore(FileStoreMetrics, FileStoreFiles, FileStoreWrites, FileStoreClaims, RunStore):
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
        self._cache = _UNSET  # the folder of the caches, once looked up (None: none)

    def __repr__(self):
        return f"FileStore({self.basedir!r})"

    # ------------------------------------------------------------------ index
    def _run_dir(self, name) -> str:
        return os.path.join(self.basedir, name)

    @property
    def cache_folder(self) -> Optional[str]:
        """The folder of this store's index and metric caches, in the user's cache
        directory (None if there is none; it is made when first written to)."""
        if self._cache is _UNSET:
            self._cache = cache_dir.open_store_cache(self.basedir)
        return self._cache

    def _index_path(self) -> Optional[str]:
        folder = self.cache_folder
        return None if folder is None else os.path.join(folder, INDEX_NAME)

    def _load_index(self) -> RunIndex:
        path = self._index_path() if self.use_index else None
        if path is not None:
            try:
                with open(path, "rb") as f:
                    return RunIndex.from_bytes(f.read(), INDEX_VERSION)
            except Exception:  # missing, old or corrupt (unpickling raises many kinds)
                pass
        # built anew: a good time to remove what earlier versions left in the folder
        cache_dir.remove_legacy(self.basedir)
        return RunIndex()

    def _save_index(self) -> None:
        self._index_dirty = False
        path = self._index_path() if self.use_index else None
        if path is None:
            return  # no cache directory: the index lives in memory only
        try:
            racy_after = time.time_ns() - _TICK_NS  # see RunIndex.to_bytes
            data = self._index.to_bytes(INDEX_VERSION, racy_after)
            os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
            _write_bytes_atomic(path, data)
        except (OSError, pickle.PicklingError):
            return  # a cache directory that cannot be written to: in memory only

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
        dir_stat = mtime_size(folder)
        stats = [mtime_size(os.path.join(folder, f)) for f in RUN_FILES]
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
            summaries = {n: summarize(m["values"]) for n, m in metrics.items()}
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
                or flat_stats([mtime_size(folder + "/run.json")]) == index.stats[row][:2]
            ):
                return
        old = None
        if row is not None:
            stats = flat_stats([mtime_size(os.path.join(folder, f)) for f in RUN_FILES])
            if stats == index.stats[row]:
                dir_stat = mtime_size(folder)
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
        stats = flat_stats(entry["stat"])
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
        run = read_json(os.path.join(folder, "run.json"))
        if not isinstance(run, dict):
            raise ValueError("run.json is not an object")
        try:
            config = read_json(os.path.join(folder, "config.json"))
        except FileNotFoundError:
            config = {}
        try:
            info = read_json(os.path.join(folder, "info.json"))
        except FileNotFoundError:
            info = {}
        record = {"_id": int(name)}
        record.update(run)
        for key in DATE_KEYS:
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


# ---------------------------------------------------------------------- helpers
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
