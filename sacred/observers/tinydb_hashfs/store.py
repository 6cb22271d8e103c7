"""``TinyDbStore``: the read side of the TinyDbObserver's folder (``metadata.json`` + ``hashfs/``).

``metadata.json`` is read as plain JSON and the serializers' tagged strings are turned into
values here (``{TinyDate}:...`` -> datetime, ``{TinyFile}:<md5>`` -> the HashFS id,
``{TinyArray}``/``{TinyDataFrame}``/``{TinySeries}`` -> their JSON), so reading never opens
a handle per stored file and never imports numpy or pandas. The parsed tables are kept
until the file changes. Filtering, sorting and paging are done in Python by ``RunStore``;
runs keep the order in which they were stored (their ids are random uuids).

Records are shaped like the MongoObserver's documents: ``experiment.sources`` is
``[[name, file_id]]``, ``resources`` is ``[[filename, file_id]]`` and ``artifacts`` is
``[{"name", "file_id"}]``. Metrics come from the table ``metrics`` (one entry per run and
metric, ``{run_id, name, steps, values, timestamps}``).

``import_run`` (``sacred export`` into the folder) is in ``store_writes``.

Workers' claims (``claim``, ``claims``) are entries of the table ``claims``
(``{run_id, attempt, worker, at}``), added under the folder's lock (see ``lock``): of all
callers asking for the same run and attempt on this machine, exactly one adds it.
"""

from __future__ import annotations

import datetime as _dt
import io
import json
import os
import re
import time
import warnings
from typing import Optional

from sacred.observers import _jsonio
from sacred.observers.file_storage.paths import resolve_inside
from sacred.observers.tinydb_hashfs.store_writes import TinyDbWrites
from sacred.store import query as q
from sacred.store.base import (
    OutsideStoreError,
    RunNotFoundError,
    RunStore,
    StoreError,
    _uses_metrics,
    decode_stored,
    gc_paused,
    merge_meta,
    metric_summary,
)

__all__ = ("TinyDbStore",)

_TAG = re.compile(r"\{(TinyDate|TinyFile|TinyArray|TinyDataFrame|TinySeries)\}:(.*)\Z", re.S)
_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"
_QUIET_NS = 100_000_000  # a write waits until the file has been left alone this long


def _decode(value):
    """A value of ``metadata.json`` with the serializers' tagged strings decoded."""
    kind = type(value)
    if kind is dict:
        return {k: _decode(v) for k, v in value.items()}
    if kind is list:
        return [_decode(v) for v in value]
    if kind is str and value.startswith("{Tiny"):
        m = _TAG.match(value)
        if m is not None:
            tag, body = m.groups()
            if tag == "TinyDate":
                return _date(body)
            if tag == "TinyFile":
                return body
            try:
                return _rebuild(tag, body)
            except (ValueError, TypeError):
                return body
    return value


def _date(body):
    """The serializer's ``strptime(body, _DATE_FORMAT)``; its own layout read the fast way."""
    if len(body) == 26 and body[10] == "T" and body[19] == ".":
        try:
            return _dt.datetime.fromisoformat(body)
        except ValueError:
            pass
    return _dt.datetime.strptime(body, _DATE_FORMAT)


def _decode_points(values) -> list:
    """A metric's list decoded (``_decode`` of each item; numbers and dates the fast way)."""
    out = []
    add = out.append
    for v in values:
        if type(v) in _NUMBERS:
            add(v)
        elif type(v) is str and v.startswith("{TinyDate}:"):
            add(_date(v[11:]))
        else:
            add(_decode(v))
    return out


_NUMBERS = frozenset((int, float, bool, type(None)))


def _rebuild(tag, body):
    """An array, DataFrame or Series as tinydb-serialization wrote it (lists if numpy or
    pandas is not installed); never runs code: the body is JSON."""
    try:
        if tag == "TinyArray":
            import numpy as np

            return np.array(json.loads(body))
        import pandas as pd
    except ImportError:
        return json.loads(body)
    frame = pd.read_json(io.StringIO(body), typ="series" if tag == "TinySeries" else "frame")
    return frame


def _record(entry: dict) -> dict:
    """A run entry shaped like a MongoObserver document."""
    record = dict(entry)
    experiment = dict(record.get("experiment") or {})
    if isinstance(experiment.get("sources"), list):
        experiment["sources"] = [list(s[:2]) for s in experiment["sources"]]
    record["experiment"] = experiment
    record["resources"] = [list(r[:2]) for r in record.get("resources") or []]
    record["artifacts"] = [
        {"name": a[0], "file_id": a[2]} if isinstance(a, list) else a
        for a in record.get("artifacts") or []
    ]
    return decode_stored(record)


def _file_ids(record: dict) -> set:
    ids = {s[1] for s in record["experiment"].get("sources") or [] if len(s) > 1}
    ids.update(r[1] for r in record.get("resources") or [] if len(r) > 1)
    ids.update(a.get("file_id") for a in record.get("artifacts") or [])
    return {i for i in ids if isinstance(i, str)}


class TinyDbStore(TinyDbWrites, RunStore):
    """Runs in a TinyDbObserver folder (a path, or ``tinydb://path``)."""

    scheme = "tinydb"

    def __init__(self, location):
        path = os.fspath(location)
        if path.startswith("tinydb://"):
            path = path[len("tinydb://") :]
        self.root = os.path.abspath(path)
        self.db_path = os.path.join(self.root, "metadata.json")
        if not os.path.isfile(self.db_path):
            raise StoreError(
                f"There is no TinyDbObserver folder at {path!r}: {self.db_path} does not exist."
            )
        self._stat = None
        self._tables = None
        self._fs = None

    def __repr__(self):
        return f"TinyDbStore({self.root!r})"

    # ------------------------------------------------------------------ reading the file
    def _raw(self) -> dict:
        """The parsed file. TinyDB rewrites it in place (write, fsync, then truncate), so
        a reader may meet a half-written file: it is read again for up to half a second."""
        deadline = time.monotonic() + 0.5
        while True:
            try:
                with open(self.db_path, "rb") as f:
                    text = f.read()
            except FileNotFoundError:
                raise StoreError(f"{self.db_path} is gone") from None
            if not text.strip():
                return {}
            try:
                data = json.loads(text)
                break
            except ValueError as e:
                if time.monotonic() > deadline:
                    raise StoreError(f"{self.db_path} cannot be read: {e}") from None
                time.sleep(0.01)
        if not isinstance(data, dict):
            raise StoreError(f"{self.db_path} is not a TinyDB file")
        return data

    def _load(self):
        """``(runs, metrics)``: ``[(doc_id, record)]`` in stored order and
        ``{run_id: {name: metric}}``; parsed again only when the file changed."""
        try:
            st = os.stat(self.db_path)
        except OSError:
            raise StoreError(f"{self.db_path} is gone") from None
        key = (st.st_mtime_ns, st.st_size, st.st_ino)
        if self._tables is not None and self._stat == key:
            return self._tables
        with gc_paused():
            raw = self._raw()
            runs = sorted(((int(k), v) for k, v in (raw.get("runs") or {}).items()))
            records = [(doc_id, _record(_decode(entry))) for doc_id, entry in runs]
            metrics = {}
            for _, entry in sorted(((int(k), v) for k, v in (raw.get("metrics") or {}).items())):
                entry = {
                    k: _decode_points(v) if type(v) is list else _decode(v)
                    for k, v in entry.items()
                }
                per_run = metrics.setdefault(_id_key(entry.get("run_id")), {})
                metric = per_run.setdefault(
                    entry.get("name"), {"steps": [], "values": [], "timestamps": []}
                )
                for field in ("steps", "values", "timestamps"):
                    metric[field].extend(entry.get(field) or [])
        self._tables = (records, metrics, {})
        self._stat = key
        return self._tables

    def _find(self, run_id):
        """``(doc_id, record)`` of a run, by its id (or the id's text)."""
        records = self._load()[0]
        for doc_id, record in records:
            if record.get("_id") == run_id and type(record.get("_id")) is type(run_id):
                return doc_id, record
        for doc_id, record in records:
            if str(record.get("_id")) == str(run_id).strip():
                return doc_id, record
        raise RunNotFoundError(f"There is no run {run_id!r} in {self.root}")

    def get(self, run_id) -> dict:
        return _copy(self._find(run_id)[1])

    def _summaries_of(self, run_id) -> dict:
        _, metrics, cache = self._load()
        key = _id_key(run_id)
        if key not in cache:
            cache[key] = {n: metric_summary(m["values"]) for n, m in metrics.get(key, {}).items()}
        return cache[key]

    def _scan(self, need_metrics=False):
        for _, record in self._load()[0]:
            yield record, (self._summaries_of(record["_id"]) if need_metrics else None)

    def _select_summaries(self, node, sort, skip=0, limit=None, fields=()) -> list:
        """Like RunStore's, but ties keep the stored order (uuid ids carry no order)."""
        need = _uses_metrics(node) or any(f.metric for f, _ in sort)
        pred = q.compile_query(node)
        with gc_paused():
            rows = [(r, m) for r, m in self._scan(need) if pred(r, m)]
            for fld, descending in reversed(sort):
                rows.sort(
                    key=lambda rm, f=fld: q.sort_key(q.get_value(rm[0], f, rm[1])),
                    reverse=descending,
                )
        end = None if limit is None else skip + limit
        return [_copy(r) for r, _ in rows[skip:end]]

    def find(self, query=None, sort=None, skip: int = 0, limit: Optional[int] = None) -> list:
        return self.summaries(query, sort, skip, limit)  # summaries are whole records here

    def _read_metrics(self, run_id, names=None) -> dict:
        record = self._find(run_id)[1]
        metrics = self._load()[1].get(_id_key(record["_id"]), {})
        return {
            name: {k: list(v) for k, v in m.items()}
            for name, m in metrics.items()
            if names is None or name in names
        }

    def metric_summaries(self, run_id) -> dict:
        return {n: dict(s) for n, s in self._summaries_of(self._find(run_id)[1]["_id"]).items()}

    # ------------------------------------------------------------------ files
    @property
    def fs(self):
        if self._fs is None:
            try:
                from hashfs import HashFS
            except ImportError:
                raise StoreError(
                    'Reading the files of a TinyDB store needs hashfs: pip install "sacred[tinydb]"'
                ) from None
            self._fs = HashFS(os.path.join(self.root, "hashfs"), depth=3, width=2, algorithm="md5")
        return self._fs

    def _path(self, file_id, what) -> str:
        """Where the stored copy ``file_id`` is, if it lies inside ``hashfs/`` (symbolic
        links resolved): RunNotFoundError if there is none, OutsideStoreError if the id
        names a file elsewhere (an absolute path or ``../`` in a crafted metadata.json)."""
        root = os.path.join(self.root, "hashfs")
        path = self.fs.realpath(file_id) if isinstance(file_id, str) and file_id else None
        if path is None:
            raise RunNotFoundError(f"The stored copy of {what} is not in {root}")
        resolve_inside(path, root, f"the stored copy of {what}", "the store's hashfs folder")
        return path

    def _open(self, file_id, what):
        return open(self._path(file_id, what), "rb")

    def open_artifact(self, run_id, name):
        """The artifact ``name``; of a name listed more than once, the last one added."""
        for entry in reversed(self._find(run_id)[1]["artifacts"]):
            if entry.get("name") == name:
                return self._open(entry.get("file_id"), f"artifact {name!r}")
        raise RunNotFoundError(f"Run {run_id!r} has no artifact {name!r}")

    def open_source(self, run_id, name):
        for entry in self._find(run_id)[1]["experiment"].get("sources") or []:
            if entry[0] == name:
                return self._open(entry[1], f"source {name!r}")
        raise RunNotFoundError(f"Run {run_id!r} has no source {name!r}")

    def open_resource(self, run_id, name):
        for entry in self._find(run_id)[1].get("resources") or []:
            if entry[0] == name:
                return self._open(entry[1], f"resource {name!r}")
        raise RunNotFoundError(f"Run {run_id!r} has no resource {name!r}")

    # ------------------------------------------------------------------ writing
    def update_meta(self, run_id, updates: dict) -> dict:
        """Merge ``updates`` into the ``meta`` of the run's entry; returns the new ``meta``.

        A running TinyDbObserver keeps the keys set here (it merges its own meta into the
        stored one). TinyDB has no locks, so the file is only written when it has not
        changed for a moment (a writer has finished, truncating included) and did not
        change while it was read here.
        """
        doc_id, _ = self._find(run_id)
        meta = self._rewrite(lambda raw: _set_meta(raw, doc_id, run_id, updates, self.root))
        self._tables = None
        return _decode(meta)

    def _rewrite(self, change):
        """Apply ``change(raw)`` (which returns what to give back) to the file, in place,
        under the folder's lock (see ``lock``)."""
        from sacred.observers.tinydb_hashfs.lock import folder_lock

        with folder_lock(self.root):
            return self._rewrite_locked(change)

    def _rewrite_locked(self, change):
        deadline = time.monotonic() + 10
        while True:
            before = _jsonio.file_key(self.db_path)
            quiet_for = time.time_ns() - (before[1] if before else 0)
            if quiet_for >= _QUIET_NS:
                raw = self._raw()
                result = change(raw)
                if isinstance(result, _Unchanged):
                    return result.value
                text = json.dumps(raw)
                if _jsonio.file_key(self.db_path) == before:
                    _write_in_place(self.db_path, text)
                    return result
            if time.monotonic() > deadline:
                raise StoreError(f"{self.db_path} changes all the time; try again")
            time.sleep(max(0.005, (_QUIET_NS - quiet_for) / 1e9))

    # ------------------------------------------------------------------ claims (workers)
    def claim(self, run_id, attempt: int, worker: str) -> bool:
        """Add claim ``attempt`` on the run for ``worker`` unless the table ``claims`` has
        it already; the check and the write are made under the folder's lock."""
        key = _id_key(self._find(run_id)[1]["_id"])
        attempt = int(attempt)
        now = _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)

        def taken(raw) -> bool:
            return any(
                _id_key(entry.get("run_id")) == key and entry.get("attempt") == attempt
                for entry in (raw.get("claims") or {}).values()
            )

        if taken(self._raw()):  # no need to wait for the lock: it stays taken
            return False

        def add(raw):
            if taken(raw):
                return _Unchanged(False)
            table = raw.setdefault("claims", {})
            doc_id = max((int(k) for k in table), default=0) + 1
            table[str(doc_id)] = {
                "run_id": key,
                "attempt": attempt,
                "worker": str(worker),
                "at": "{TinyDate}:" + now.strftime(_DATE_FORMAT),
            }
            return True

        taken = self._rewrite(add)
        self._tables = None
        return taken

    def claims(self, run_id) -> list:
        key = _id_key(self._find(run_id)[1]["_id"])
        found = []
        for entry in (self._raw().get("claims") or {}).values():
            entry = _decode(entry)
            if not isinstance(entry, dict) or _id_key(entry.get("run_id")) != key:
                continue
            at = entry.get("at")
            found.append(
                {
                    "attempt": int(entry.get("attempt") or 0),
                    "worker": str(entry.get("worker", "")),
                    "at": at if isinstance(at, _dt.datetime) else None,
                }
            )
        return sorted(found, key=lambda c: c["attempt"])

    def delete(self, run_id) -> None:
        """Remove the run's entry, its metrics and the stored files no other run uses."""
        doc_id, record = self._find(run_id)
        key = _id_key(record["_id"])

        def remove(raw):
            runs = raw.get("runs") or {}
            if str(doc_id) not in runs:
                raise RunNotFoundError(f"There is no run {run_id!r} in {self.root}")
            del runs[str(doc_id)]
            for table in ("metrics", "claims"):
                entries = raw.get(table) or {}
                for doc_id_ in [k for k, v in entries.items() if _id_key(v.get("run_id")) == key]:
                    del entries[doc_id_]
            return runs

        from sacred.observers.tinydb_hashfs.lock import folder_lock

        # under the lock: an observer saves an entry that refers to a file under it too
        with folder_lock(self.root):
            runs = self._rewrite(remove)
            used = set()
            for entry in runs.values():
                used |= _file_ids(_record(_decode(entry)))
            for file_id in _file_ids(record) - used:
                try:
                    path = self._path(file_id, f"file {file_id!r} of run {run_id!r}")
                except OutsideStoreError as e:  # never removed: not the store's
                    warnings.warn(f"{e}; left alone", stacklevel=2)
                    continue
                except RunNotFoundError:  # gone already
                    continue
                self.fs.delete(path)
        self._tables = None


class _Unchanged:
    """What a change given to ``_rewrite`` returns when it changed nothing (no write)."""

    def __init__(self, value):
        self.value = value


def _write_in_place(path, text: str) -> None:
    """Rewrite ``metadata.json`` in place, as TinyDB itself does: a running TinyDbObserver
    keeps the file open, and would neither see a file put in its place nor write to it.

    One write at offset 0 and no truncation: shorter JSON is padded with spaces to the old
    size, so that no reader (nor a TinyDB truncating after its own write) meets the tail of
    the old content."""
    data = text.encode("utf-8")
    fd = os.open(path, os.O_RDWR)
    try:
        size = os.fstat(fd).st_size
        if len(data) < size:
            data += b" " * (size - len(data))
        os.pwrite(fd, data, 0)
        os.fsync(fd)
    finally:
        os.close(fd)


def _set_meta(raw, doc_id, run_id, updates, root) -> dict:
    entry = (raw.get("runs") or {}).get(str(doc_id))
    if entry is None:
        raise RunNotFoundError(f"There is no run {run_id!r} in {root}")
    entry["meta"] = merge_meta(entry.get("meta"), updates)
    return entry["meta"]


def _id_key(run_id):
    """Run ids as dictionary keys (an int id and the same id as text are one run)."""
    return str(run_id)


def _copy(record: dict) -> dict:
    """A copy callers may change without changing the cached tables."""
    import copy

    return copy.deepcopy(record)
