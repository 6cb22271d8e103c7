"""The listing index of a ``FileStore``, kept column by column.

For every run (a row) it holds the folder name, the folder's time, the times and sizes of
its JSON files, its status, and its summary record with metric summaries (pickled per run,
unpickled only for the runs a page shows). Queries and sorting do not look at whole records:
every leaf of the records (a path through dicts, e.g. ``("config", "optimizer", "name")``;
lists and empty dicts are leaves) and every metric summary (``(None, name, aggregate)``) is
a column ``{row: value}``, also pickled on its own, so a query only unpickles the columns it
names. That keeps opening a big index cheap: few objects, and none a query does not use.

Saved as a pickle read by an unpickler that refuses every class but ``datetime``.
"""

from __future__ import annotations

import datetime as _dt
import io
import pickle

from sacred.store import query as q

__all__ = ("RunIndex", "CorruptIndex", "safe_loads")

_V = q.Field(("v",))  # predicates of single comparisons are compiled on {"v": value}
_PLAIN = frozenset({str, int, float, bool, type(None), _dt.datetime})


class CorruptIndex(Exception):
    """A part of the index file cannot be read: the index is rebuilt."""


class _Unpickler(pickle.Unpickler):
    """Plain data and datetimes only: an index file cannot make us import or call anything."""

    def find_class(self, module, name):
        if (module, name) == ("datetime", "datetime"):
            return _dt.datetime
        raise pickle.UnpicklingError(f"{module}.{name} has no place in a run index")


def safe_loads(data: bytes):
    return _Unpickler(io.BytesIO(data)).load()


def _dumps(obj) -> bytes:
    return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


def _leaves(value, path=()):
    """``(path, value)`` of every leaf of a record (non-empty dicts are walked into)."""
    for key, v in value.items():
        p = (*path, key)
        if type(v) is dict and v:
            yield from _leaves(v, p)
        else:
            yield p, v


def _metric_leaves(summaries):
    for name, summary in summaries.items():
        for agg, v in summary.items():
            yield (None, name, agg), v


class RunIndex:
    """Rows of runs; removed runs leave an empty row until the index is compacted."""

    def __init__(self):
        self.names = []  # row -> run folder name, None for a removed run
        self.rows = {}  # name -> row
        self.dirs = []  # row -> the run folder's st_mtime_ns
        self.stats = []  # row -> (mtime, size) or None of run/config/info/metrics.json
        self.status = []  # row -> status
        self._blobs = []  # row -> pickled (record, metric summaries)
        self._records = {}  # row -> unpickled (record, metric summaries)
        self._columns = {}  # key -> {row: value} (unpickled columns only)
        self._column_blobs = {}  # key -> pickled (rows, values), while still up to date
        self._fields = {}  # field -> {row: value}, for this generation
        self._value_groups = {}  # field -> see _groups, for this generation
        self._order = None  # live rows in id order
        self.generation = 0  # changes with every change of a row

    # ------------------------------------------------------------------ file form
    def to_bytes(self, version, racy_after=None) -> bytes:
        """The index as bytes. Runs whose folder time is ``racy_after`` or later are saved
        without their times (and so are read again by whoever loads it): a change made in
        the same clock tick as the last one seen, or a folder made anew in it, would leave
        the times as they are."""
        if len(self.rows) * 2 < len(self.names):  # many removed runs: renumber the rows
            self._compact()
        dirs, stats = self.dirs, self.stats
        if racy_after is not None:
            racy = [r for r, t in enumerate(dirs) if t is not None and t >= racy_after]
            if racy:
                dirs, stats = list(dirs), list(stats)
                for r in racy:
                    dirs[r] = 0
                    stats[r] = (None,) * len(stats[r])
        for key, col in self._columns.items():
            if key not in self._column_blobs:
                self._column_blobs[key] = _dumps((list(col), _shared(col.values())))
        strings = {}
        data = {
            "version": version,
            "names": self.names,
            "dirs": dirs,
            "stats": stats,
            "status": [strings.setdefault(s, s) for s in self.status],
            "records": self._blobs,
            "columns": self._column_blobs,
        }
        return _dumps(data)

    @classmethod
    def from_bytes(cls, data: bytes, version) -> RunIndex:
        """The index in ``data``; raises if it is not one of this version."""
        raw = safe_loads(data)
        if type(raw) is not dict or raw.get("version") != version:
            raise CorruptIndex("not an index of this version")
        index = cls()
        index.names, index.dirs = raw["names"], raw["dirs"]
        index.stats, index.status = raw["stats"], raw["status"]
        index._blobs, index._column_blobs = raw["records"], raw["columns"]
        n = len(index.names)
        if not (
            all(type(x) is list for x in (index.names, index.dirs, index.stats, index.status))
            and all(len(x) == n for x in (index.dirs, index.stats, index.status, index._blobs))
            and type(index._blobs) is list
            and type(index._column_blobs) is dict
        ):
            raise CorruptIndex("parts of different lengths")
        index.rows = {name: row for row, name in enumerate(index.names) if name is not None}
        return index

    # ------------------------------------------------------------------ rows
    def __len__(self):
        return len(self.rows)

    def record(self, row):
        """``(summary record, metric summaries)`` of a row."""
        hit = self._records.get(row)
        if hit is None:
            try:
                hit = safe_loads(self._blobs[row])
                if type(hit) is not tuple or type(hit[0]) is not dict:
                    raise ValueError("not a record")
            except Exception as e:
                raise CorruptIndex(str(e)) from None
            self._records[row] = hit
        return hit

    def set(self, name, dir_time, stats, record, summaries) -> None:
        """Add or replace the run ``name``."""
        row = self.rows.get(name)
        if row is None:
            row = len(self.names)
            self.names.append(name)
            self.dirs.append(dir_time)
            self.stats.append(stats)
            self.status.append(None)
            self._blobs.append(b"")
            self.rows[name] = row
            self._order = None
        else:
            self._drop_values(row)
            self.dirs[row], self.stats[row] = dir_time, stats
        self.status[row] = record.get("status")
        self._blobs[row] = _dumps((record, summaries))
        self._records[row] = (record, summaries)
        for leaves in (_leaves(record), _metric_leaves(summaries)):
            for key, v in leaves:
                self._column(key, create=True)[row] = v
        self._changed()

    def remove(self, name) -> None:
        row = self.rows.pop(name)
        self._drop_values(row)
        self.names[row] = self.status[row] = None
        self._blobs[row] = b""
        self._records.pop(row, None)
        self._order = None
        self._changed()

    def _drop_values(self, row):
        record, summaries = self.record(row)
        for leaves in (_leaves(record), _metric_leaves(summaries)):
            for key, _ in leaves:
                col = self._column(key)
                if col is not None:
                    col.pop(row, None)
                    if not col:
                        del self._columns[key]
                        self._column_blobs.pop(key, None)

    def _changed(self):
        self.generation += 1
        self._fields = {}
        self._value_groups = {}

    def _compact(self):
        live = [(n, r) for r, n in enumerate(self.names) if n is not None]
        parts = [(n, self.dirs[r], self.stats[r], *self.record(r)) for n, r in live]
        self.__init__()
        for part in parts:
            self.set(*part)

    def ordered_rows(self) -> list:
        """The rows of the runs there are, by id."""
        if self._order is None:
            self._order = sorted(self.rows.values(), key=lambda r: int(self.names[r]))
        return self._order

    # ------------------------------------------------------------------ columns
    def _column(self, key, create=False):
        col = self._columns.get(key)
        if col is None:
            blob = self._column_blobs.get(key)
            if blob is not None:
                try:
                    rows, values = safe_loads(blob)
                    col = dict(zip(rows, values))
                except Exception as e:
                    raise CorruptIndex(str(e)) from None
                self._columns[key] = col
            elif create:
                col = self._columns[key] = {}
            else:
                return None
        if create:
            self._column_blobs.pop(key, None)  # about to change
        return col

    def _keys(self):
        return self._columns.keys() | self._column_blobs.keys()

    def values(self, fld: q.Field) -> dict:
        """``{row: value}`` of a field, for the rows that have it."""
        found = self._fields.get(fld)
        if found is not None:
            return found
        if fld.metric is not None:
            found = self._column((None, *fld.metric)) or {}
        else:
            found = self._path_values(fld.path)
        self._fields[fld] = found
        return found

    def _path_values(self, path) -> dict:
        n = len(path)
        keys = self._keys()
        longer = [k for k in keys if len(k) > n and k[:n] == path]
        shorter = [path[:i] for i in range(1, n) if path[:i] in keys]
        exact = self._column(path) if path in keys else None
        if not longer and not shorter:
            return exact if exact is not None else {}
        out = dict(exact or {})
        for key in shorter:  # a path into a list, or past a leaf
            rest = q.Field(("v", *path[len(key) :]))
            for row, v in self._column(key).items():
                v = q.get_value({"v": v}, rest)
                if v is not q.MISSING:
                    out[row] = v
        for key in longer:  # a dict: made again from its leaves
            tail = key[n:]
            for row, v in self._column(key).items():
                d = out.setdefault(row, {})
                for part in tail[:-1]:
                    d = d.setdefault(part, {})
                d[tail[-1]] = v
        return out

    # ------------------------------------------------------------------ queries
    def select(self, node: q.Node, rows: list) -> list:
        """The rows of ``rows`` (in their order) whose runs match ``node``."""
        kind = type(node)
        if kind is q.MatchAll:
            return rows
        if kind is q.And:
            for item in node.items:
                rows = self.select(item, rows)
            return rows
        if kind is q.Or:
            hit, rest = set(), rows
            for item in node.items:
                hit.update(self.select(item, rest))
                rest = [r for r in rest if r not in hit]
            return [r for r in rows if r in hit]
        if kind is q.Not:
            hit = set(self.select(node.item, rows))
            return [r for r in rows if r not in hit]
        col = self.values(node.field)
        if kind is q.Exists:
            return [r for r in rows if (r in col) is node.exists]
        # a missing field never matches a comparison
        pred = q.compile_query(q.Compare(_V, node.op, node.value))
        rec = {}
        groups, rest = self._groups(node.field)
        if len(groups) + len(rest) < len(rows):  # fewer values than rows: test each once
            hit = set()
            for (_, v), group in groups.items():
                rec["v"] = v
                if pred(rec, None):
                    hit.update(group)
            for r, v in rest:
                rec["v"] = v
                if pred(rec, None):
                    hit.add(r)
            return [r for r in rows if r in hit]
        out, missing = [], q.MISSING
        get = col.get
        for r in rows:
            v = get(r, missing)
            if v is not missing:
                rec["v"] = v
                if pred(rec, None):
                    out.append(r)
        return out

    def _groups(self, fld):
        """The rows of a field by value: ``{(type, value): rows}`` for plain values, and
        ``[(row, value)]`` for the others (the type keeps ``1``, ``1.0`` and ``True`` apart)."""
        found = self._value_groups.get(fld)
        if found is None:
            groups, rest = {}, []
            for r, v in self.values(fld).items():
                t = type(v)
                if t in _PLAIN:
                    groups.setdefault((t, v), []).append(r)
                else:
                    rest.append((r, v))
            found = self._value_groups[fld] = (groups, rest)
        return found

    def sort(self, rows: list, sort: list) -> list:
        """``rows`` (in id order) sorted like ``sacred.store.base.sort_rows``."""
        rows = list(rows)
        key, missing = q.sort_key, q.MISSING
        for fld, descending in reversed(sort):
            get = self.values(fld).get
            rows.sort(key=lambda r: key(get(r, missing)), reverse=descending)
        return rows


def _shared(values) -> list:
    """The values with equal strings as one object (pickled once)."""
    seen = {}
    return [seen.setdefault(v, v) if type(v) is str else v for v in values]
