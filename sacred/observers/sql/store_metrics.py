"""Metrics of a ``SqlStore``: reading, summarizing and downsampling them (a mixin of the store).

Metrics are read in the order of ``step`` (then of insertion) from the packed copies in
``metric_chunk`` when these cover exactly the metric's rows (a few rows per metric), else
from the ``metric`` table; long metrics (>= 50,000 points) are kept in memory as arrays,
keyed by their first/last row id, so reading one again only costs two index lookups. On
SQLite a long metric that is not in memory is summarized or downsampled by the database.
"""

from __future__ import annotations

import datetime as _dt
import itertools
from array import array
from typing import Optional

import sqlalchemy as sa

from sacred.observers.sql.schema import unpack
from sacred.observers.sql.store_keys import EPOCH, in_batches, public_id, run_key
from sacred.store.base import RunNotFoundError, metric_summary
from sacred.store.downsample import downsample_indices

__all__ = ("SqlStoreMetrics", "as_list")

_CACHE_MIN_POINTS = 50_000
_CACHE_MAX_POINTS = 20_000_000


class SqlStoreMetrics:
    """The metric methods of ``SqlStore``: they use its ``engine``, ``dialect``, tables
    ``t``, ``_require_run``/``_tables_exist`` and the caches ``_metric_cache`` and
    ``_reduced_cache``."""

    def _summaries_for(self, conn, run_ids) -> dict:
        """``{run _id: {name: metric_summary}}`` for the given runs (read in Python)."""
        if not self._has_metric_table():
            return {}
        m = self.t.metric.c
        stmt = sa.select(m.run_id, m.name, m.value).order_by(m.run_id, m.name, m.step, m.metric_id)
        out = {}
        for chunk in in_batches([str(i) for i in run_ids]):
            rows = conn.execute(stmt.where(m.run_id.in_(chunk))).all()
            for (run_id, name), group in itertools.groupby(rows, key=lambda r: (r[0], r[1])):
                values = [r[2] for r in group]
                out.setdefault(public_id(run_id), {})[name] = metric_summary(values)
        return out

    def _has_metric_table(self) -> bool:
        if getattr(self, "_metric_table", None) is None:
            self._metric_table = sa.inspect(self.engine).has_table("metric") or None
        return bool(self._metric_table)

    def _metric_arrays(self, run_id, names=None, skip=()) -> dict:
        """``{name: (steps, timestamps as epoch seconds, values)}`` in the order of steps
        (without the metrics named in ``skip``)."""
        with self.engine.connect() as conn:
            key = self._require_run(conn, run_id)
            if not self._has_metric_table():
                return {}
            result = {}
            for name in names if names is not None else self._metric_names(conn, key):
                if name in skip:
                    continue
                # first and last row id: two index lookups (a count would read the index range)
                ids = self._metric_id_range(conn, key, name)
                if ids[0] is None:
                    continue
                cached = self._metric_cache.get((key, name))
                if cached is not None and cached[0] == ids:
                    result[name] = cached[1:]
                    continue
                arrays = self._fetch_chunks(conn, key, name, ids)
                if arrays is None:
                    arrays = self._fetch_metric(conn, key, name)
                if len(arrays[0]) >= _CACHE_MIN_POINTS:
                    self._remember(key, name, ids, arrays)
                result[name] = arrays
        return dict(sorted(result.items()))

    def _metric_names(self, conn, run_id) -> list:
        """The run's metric names, one index lookup each (a loose index scan)."""
        m = self.t.metric.c
        names, last = [], None
        while True:
            stmt = sa.select(sa.func.min(m.name)).where(m.run_id == run_id)
            if last is not None:
                stmt = stmt.where(m.name > last)
            last = conn.execute(stmt).scalar()
            if last is None:
                return names
            names.append(last)

    def _metric_id_range(self, conn, run_id, name) -> tuple:
        m = self.t.metric.c
        rows = sa.and_(m.run_id == run_id, m.name == name)
        first = conn.execute(sa.select(sa.func.min(m.metric_id)).where(rows)).scalar()
        if first is None:
            return None, None
        return first, conn.execute(sa.select(sa.func.max(m.metric_id)).where(rows)).scalar()

    def _fetch_metric(self, conn, run_id, name):
        m = self.t.metric.c
        if self.dialect == "sqlite":  # the raw driver: half the time of Core rows
            raw = conn.connection.driver_connection
            rows = raw.execute(
                'SELECT step, value, "timestamp" FROM metric WHERE run_id = ? AND name = ? '
                "ORDER BY metric_id",
                (run_id, name),
            ).fetchall()
        else:
            stmt = (
                sa.select(m.step, m.value, sa.type_coerce(m.timestamp, sa.Float))
                .where(m.run_id == run_id, m.name == name)
                .order_by(m.metric_id)
            )
            rows = conn.execute(stmt).all()
        np = _numpy()
        if np is not None:
            try:
                flat = np.fromiter(itertools.chain.from_iterable(rows), float, 3 * len(rows))
            except TypeError:  # NULLs
                flat = np.array(rows, dtype=float).reshape(-1)
            table = flat.reshape(-1, 3)
            steps = table[:, 0]
            if (steps == np.floor(steps)).all():  # no NaN (NULL) and no fractions
                steps = steps.astype(np.int64)
            return _in_step_order(np, steps, table[:, 2], table[:, 1])
        rows = sorted(rows, key=lambda r: r[0] if r[0] is not None else -1)
        return [r[0] for r in rows], [r[2] for r in rows], [r[1] for r in rows]

    def _has_chunk_table(self) -> bool:
        # asked again until it is there (an observer of this version may add it any time)
        if not getattr(self, "_chunk_table", False):
            inspector = sa.inspect(self.engine)
            self._chunk_table = inspector.has_table("metric_chunk")
            if self._chunk_table:  # lacking in the very first version of the table
                columns = {c["name"] for c in inspector.get_columns("metric_chunk")}
                self._chunk_first_step = "first_step" in columns
        return self._chunk_table

    def _fetch_chunks(self, conn, run_id, name, ids):
        """The metric's ``(steps, timestamps, values)`` in the order of steps from its
        ``metric_chunk`` rows, or None unless these cover its rows ``ids[0]..ids[1]``
        exactly: in order, without overlaps, all packed (else the rows are read)."""
        if not self._has_chunk_table():
            return None
        c = self.t.chunk.c
        first_step = c.first_step if self._chunk_first_step else sa.null()
        stmt = (
            sa.select(
                c.first_id, c.last_id, c.count, first_step, c.steps, c["values"], c.timestamps
            )
            .where(c.run_id == run_id, c.name == name)
            .order_by(c.chunk_id)
        )
        chunks = conn.execute(stmt).all()
        if not _chunks_cover(ids, [(*c[:6], None if c[6] is None else len(c[6])) for c in chunks]):
            return None
        np = _numpy()
        values, stamps = (b"".join(chunk[i] for chunk in chunks) for i in (5, 6))
        if np is not None:
            steps = np.concatenate(
                [
                    np.frombuffer(steps, "<i8")
                    if steps is not None
                    else np.arange(step0, step0 + count, dtype=np.int64)
                    for _, _, count, step0, steps, _, _ in chunks
                ]
            )
            values, stamps = (np.frombuffer(blob, "<f8") for blob in (values, stamps))
            return _in_step_order(np, steps, stamps, values)
        steps = array("q")
        for _, _, count, step0, packed, _, _ in chunks:
            steps.extend(
                unpack("q", [packed]) if packed is not None else range(step0, step0 + count)
            )
        values, stamps = unpack("d", [values]), unpack("d", [stamps])
        order = sorted(range(len(steps)), key=steps.__getitem__)
        if order == list(range(len(steps))):
            return steps.tolist(), stamps.tolist(), values.tolist()
        return [steps[i] for i in order], [stamps[i] for i in order], [values[i] for i in order]

    def _remember(self, run_id, name, key, arrays):
        cache = self._metric_cache
        cache.pop((run_id, name), None)
        total = sum(len(v[1]) for v in cache.values())
        while cache and total + len(arrays[0]) > _CACHE_MAX_POINTS:
            oldest = next(iter(cache))
            total -= len(cache.pop(oldest)[1])
        cache[(run_id, name)] = (key, *arrays)

    def metrics(self, run_id, names=None, max_points: Optional[int] = None) -> dict:
        """``{name: {"steps", "timestamps", "values"}}``; downsampled before the timestamps
        become datetimes, so only the kept points pay for that.

        A long metric (SQLite) that is not in memory yet is downsampled by the database
        (``_reduce_in_sql``) instead of sending all of its rows to Python.
        """
        if isinstance(names, str):
            names = [names]
        reduced = {}
        if max_points is not None:
            reduced = self._reduced(run_id, names, max_points)
        out = {}
        rest = None if names is None else [n for n in names if n not in reduced]
        arrays = {} if rest == [] else self._metric_arrays(run_id, rest, skip=set(reduced))
        for name, (steps, stamps, values) in sorted({**arrays, **reduced}.items()):
            idx = None
            if name in arrays and max_points is not None and len(values) > max_points:
                idx = downsample_indices(values, max_points)
            out[name] = {
                "steps": as_list(steps, idx),
                "timestamps": as_datetimes(stamps, idx),
                "values": as_list(values, idx),
            }
        return out

    def _read_metrics(self, run_id, names=None) -> dict:
        return self.metrics(run_id, names)

    def metric_summaries(self, run_id) -> dict:
        return self.metric_summaries_many([run_id])[run_id]

    def metric_summaries_many(self, run_ids) -> dict:
        """``{run_id: {name: summary}}``: the metrics of all runs found in one query, the
        short ones summarized from their packed chunks (else rows) read in one more; long
        metrics as for one run (in memory, or reduced by SQLite)."""
        run_ids = list(run_ids)
        keys = {run_id: run_key(run_id) for run_id in run_ids}
        ranges = self._metric_ranges(sorted(set(keys.values())))
        for run_id, key in keys.items():
            if key not in ranges:
                raise RunNotFoundError(f"There is no run {run_id!r} in {self.url}")
        out = {key: {} for key in ranges}
        short, long = {}, {}
        for key, names in ranges.items():
            for name, ids in names.items():
                if ids[1] - ids[0] + 1 < _CACHE_MIN_POINTS:
                    short[(key, name)] = ids
                else:
                    long.setdefault(key, []).append(name)
        if short:
            with self.engine.connect() as conn:
                for (key, name), summary in self._short_summaries(conn, short).items():
                    out[key][name] = summary
        for key, names in long.items():
            reduced = self._reduced(key, names, None)
            rest = [n for n in names if n not in reduced]
            arrays = self._metric_arrays(key, rest) if rest else {}
            out[key].update(reduced)
            out[key].update((n, _array_summary(a[2])) for n, a in arrays.items())
        return {run_id: dict(sorted(out[key].items())) for run_id, key in keys.items()}

    def _metric_ranges(self, keys) -> dict:
        """``{key: {name: (first row id, last row id)}}`` of the runs that exist."""
        if not keys or not self._tables_exist():
            return {}
        ranges = {}
        with self.engine.connect() as conn:
            if not self._has_metric_table():
                run_id = self.t.run.c.run_id
                for part in in_batches(keys):
                    for (key,) in conn.execute(sa.select(run_id).where(run_id.in_(part))):
                        ranges[key] = {}
                return ranges
            try:
                for part in in_batches(keys):
                    for key, name, first, last in conn.execute(_METRIC_RANGES, {"keys": part}):
                        names = ranges.setdefault(key, {})
                        if name is not None and first is not None:
                            names[name] = (first, last)
                return ranges
            except sa.exc.DBAPIError:  # no WITH RECURSIVE (e.g. MySQL 5): one run at a time
                ranges = {}
        with self.engine.connect() as conn:
            for key in keys:
                try:
                    self._require_run(conn, key)
                except RunNotFoundError:
                    continue
                names = ranges[key] = {}
                for name in self._metric_names(conn, key):
                    names[name] = self._metric_id_range(conn, key, name)
        return ranges

    def _short_summaries(self, conn, short) -> dict:
        """``{(key, name): summary}`` of the metrics ``short`` (``{(key, name): ids}``):
        from their packed chunks when these cover the rows, else from the rows."""
        out = {}
        runs = sorted({key for key, _ in short})
        if self._has_chunk_table():
            c = self.t.chunk.c
            stmt = sa.select(
                c.run_id,
                c.name,
                c.first_id,
                c.last_id,
                c.count,
                c.first_step if self._chunk_first_step else sa.null(),
                c.steps,
                c["values"],
                sa.func.length(c.timestamps),
            ).order_by(c.run_id, c.name, c.chunk_id)
            found = {}
            for part in in_batches(runs):
                for row in conn.execute(stmt.where(c.run_id.in_(part))):
                    if (row[0], row[1]) in short:
                        found.setdefault((row[0], row[1]), []).append(tuple(row[2:]))
            for pair, chunks in found.items():
                if _chunks_cover(short[pair], chunks):
                    out[pair] = _chunks_summary(chunks)
        rest = [pair for pair in short if pair not in out]
        if rest:
            m = self.t.metric.c
            stmt = sa.select(m.run_id, m.name, m.step, m.value).order_by(
                m.run_id, m.name, m.metric_id
            )
            for part in in_batches(rest):
                rows = conn.execute(stmt.where(sa.tuple_(m.run_id, m.name).in_(part))).all()
                for pair, group in itertools.groupby(rows, key=lambda r: (r[0], r[1])):
                    points = list(group)
                    out[pair] = _points_summary([p[2] for p in points], [p[3] for p in points])
        return out

    # SQL-side reduction of long metrics ----------------------------------------------
    def _reduced(self, run_id, names, max_points) -> dict:
        """Results computed by the database for the long metrics that are not in memory:
        ``{name: summary}`` (``max_points`` None) or ``{name: (steps, stamps, values)}``."""
        if self.dialect != "sqlite" or not self._has_metric_table():
            return {}
        out = {}
        with self.engine.connect() as conn:
            key = self._require_run(conn, run_id)
            raw = conn.connection.driver_connection
            for name in names if names is not None else self._metric_names(conn, key):
                ids = self._metric_id_range(conn, key, name)
                if ids[0] is None or ids[1] - ids[0] + 1 < _CACHE_MIN_POINTS:
                    continue
                cached = self._metric_cache.get((key, name))
                if cached is not None and cached[0] == ids:
                    continue  # the rows are in memory already
                arrays = self._fetch_chunks(conn, key, name, ids)
                if arrays is not None:  # packed: cheaper than the SQL below
                    self._remember(key, name, ids, arrays)
                    continue
                cache_key = (key, name, ids, max_points)
                result = self._reduced_cache.get(cache_key)
                if result is None:
                    if max_points is None:
                        result = _summary_in_sql(raw, key, name, ids)
                    else:  # the row count is known if the summary was asked for first
                        summary = self._reduced_cache.get((key, name, ids, None)) or {}
                        result = _reduce_in_sql(
                            raw, key, name, ids, max_points, summary.get("count")
                        )
                    if result is None:
                        continue  # unusual data: read every row
                    while len(self._reduced_cache) >= 64:
                        self._reduced_cache.pop(next(iter(self._reduced_cache)))
                    self._reduced_cache[cache_key] = result
                out[name] = result
        return out


def _chunks_cover(ids, chunks) -> bool:
    """Whether the ``metric_chunk`` rows ``(first_id, last_id, count, first_step, steps,
    values, length of timestamps)`` of a metric are packed copies of exactly its rows
    ``ids[0]..ids[1]``: in order, without overlaps (not e.g. left by a delete)."""
    if not chunks or chunks[0][0] != ids[0] or chunks[-1][1] != ids[1]:
        return False
    last = ids[0] - 1
    for first, end, count, step0, steps, values, stamps_len in chunks:
        if values is None or first is None or first <= last or not 0 < count <= end - first + 1:
            return False
        if not len(values) == stamps_len == 8 * count:
            return False
        if (step0 is None) == (steps is None) or (steps is not None and len(steps) != 8 * count):
            return False
        last = end
    return True


def _points_summary(steps, values) -> dict:
    """``_array_summary`` of a short metric's points as logged, in pure Python (no numpy
    import for a table page) and as the numpy path has it: NULL values are NaN, and the
    points are sorted stably by step (NULL steps last) if a step is below the one before."""
    values = [_float(v) for v in values]
    if any(a is not None and b is not None and b < a for a, b in zip(steps, steps[1:])):
        order = sorted(range(len(steps)), key=lambda i: (steps[i] is None, steps[i] or 0))
        values = [values[i] for i in order]
    return metric_summary(values)


# every metric of the given runs with its first and last row id, by index lookups only (a
# loose index scan over the names; a GROUP BY would read every row of a long metric). A run


_METRIC_RANGES = sa.text(
    """
WITH RECURSIVE names(run_id, name) AS (
    SELECT r.run_id, (SELECT MIN(m.name) FROM metric m WHERE m.run_id = r.run_id)
    FROM run r WHERE r.run_id IN :keys
    UNION ALL
    SELECT n.run_id,
        (SELECT MIN(m.name) FROM metric m WHERE m.run_id = n.run_id AND m.name > n.name)
    FROM names n WHERE n.name IS NOT NULL
)
SELECT n.run_id, n.name,
    (SELECT MIN(m.metric_id) FROM metric m WHERE m.run_id = n.run_id AND m.name = n.name),
    (SELECT MAX(m.metric_id) FROM metric m WHERE m.run_id = n.run_id AND m.name = n.name)
FROM names n
"""
).bindparams(sa.bindparam("keys", expanding=True))


def _array_summary(values) -> dict:
    """``metric_summary`` of a list or a float numpy array (without a list of a million)."""
    if not hasattr(values, "dtype"):
        return metric_summary(values)
    import numpy as np

    summary = {"count": int(len(values))}
    if len(values):
        summary["first"] = values[0].item()
        summary["last"] = values[-1].item()
        numbers = values[~np.isnan(values)]
        if len(numbers):
            summary["min"] = numbers.min().item()
            summary["max"] = numbers.max().item()
    return summary


_ROWS = "FROM metric WHERE run_id = ? AND name = ?"


def _float(v):
    return float("nan") if v is None else float(v)


def _chunks_summary(chunks) -> dict:
    """``_points_summary`` of a metric from its packed chunks (see ``_chunks_cover``)."""
    steps = array("q")
    for _, _, count, step0, packed, _, _ in chunks:
        steps.extend(unpack("q", [packed]) if packed is not None else range(step0, step0 + count))
    return _points_summary(steps.tolist(), unpack("d", [c[5] for c in chunks]).tolist())


def _summary_in_sql(raw, run_id, name, ids) -> Optional[dict]:
    """``metric_summary`` of a metric by one aggregate pass in SQLite (NaN is stored as
    NULL, which MIN/MAX skip). First and last in the order of steps are the first and last
    rows logged unless steps went back; then they are looked up. None: NULL steps."""
    count, vmin, vmax, smin, smax, nsteps = raw.execute(
        f"SELECT COUNT(*), MIN(value), MAX(value), MIN(step), MAX(step), COUNT(step) {_ROWS}",
        (run_id, name),
    ).fetchone()
    if not count or nsteps != count:
        return None
    first = raw.execute("SELECT step, value FROM metric WHERE metric_id = ?", (ids[0],)).fetchone()
    last = raw.execute("SELECT step, value FROM metric WHERE metric_id = ?", (ids[1],)).fetchone()
    if first[0] != smin:  # among the smallest steps the first logged comes first
        first = raw.execute(
            f"SELECT step, value {_ROWS} ORDER BY step, metric_id LIMIT 1", (run_id, name)
        ).fetchone()
    if last[0] != smax:
        last = raw.execute(
            f"SELECT step, value {_ROWS} ORDER BY step DESC, metric_id DESC LIMIT 1",
            (run_id, name),
        ).fetchone()
    summary = {"count": count, "first": _float(first[1]), "last": _float(last[1])}
    if vmin is not None:
        summary["min"] = float(vmin)
        summary["max"] = float(vmax)
    return summary


def _reduce_in_sql(raw, run_id, name, ids, max_points, count=None):
    """``downsample`` done by SQLite: the rows between the first and the last logged are
    cut into the same buckets as ``downsample_indices`` would (by row id, which is the
    position when the metric's rows are consecutive), and of each bucket the rows of the
    smallest and of the largest value are fetched (ties: the first; NULL (NaN) never
    wins). The rows come back in the order of steps; for rows logged with steps out of
    order the buckets follow the order of logging. None: fewer rows than ``max_points``."""
    if count is None:
        count = raw.execute(f"SELECT COUNT(*) {_ROWS}", (run_id, name)).fetchone()[0]
    max_points = int(max_points)
    if count <= max_points or max_points < 1:
        return None
    pick = 'SELECT metric_id, step, "timestamp", value FROM metric WHERE metric_id = ?'
    rows = [raw.execute(pick, (ids[0],)).fetchone()]
    buckets = (max_points - 2) // 2
    if max_points > 1:
        rows.append(raw.execute(pick, (ids[1],)).fetchone())
    if buckets > 0:
        lo, hi = ids[0] + 1, ids[1] - 1  # the rows between, by id
        span = hi - lo + 1
        size = -(-span // buckets)
        where = f"{_ROWS} AND metric_id BETWEEN ? AND ?"
        q_min = f'SELECT metric_id, step, "timestamp", MIN(value) {where}'
        q_max = f'SELECT metric_id, step, "timestamp", MAX(value) {where}'
        q_first = f'SELECT metric_id, step, "timestamp", value {where} ORDER BY metric_id LIMIT 1'
        for start in range(lo, hi + 1, size):
            args = (run_id, name, start, min(start + size - 1, hi))
            low = raw.execute(q_min, args).fetchone()
            if low[3] is None:  # no rows, or only NaN: keep the first row, if any
                first = raw.execute(q_first, args).fetchone()
                if first is not None:
                    rows.append(first)
                continue
            rows.append(low)
            rows.append(raw.execute(q_max, args).fetchone())
    if any(r[1] is None for r in rows):
        return None  # NULL steps: read every row
    rows = sorted({r[0]: r for r in rows}.values(), key=lambda r: (r[1], r[0]))
    return (
        [r[1] for r in rows],
        [r[2] for r in rows],
        [_float(r[3]) for r in rows],
    )


def _numpy():
    try:
        import numpy as np
    except ImportError:
        return None
    return np


def _in_step_order(np, steps, stamps, values):
    """The arrays sorted by step (stably), unless they are in that order already."""
    if len(steps) > 1 and (np.diff(steps) < 0).any():
        order = np.argsort(steps, kind="stable")
        return steps[order], stamps[order], values[order]
    return steps, stamps, values


def as_datetimes(stamps, idx) -> list:
    """Epoch seconds (list or numpy array; None or NaN: unknown) as naive UTC datetimes,
    only the positions ``idx`` if given; by numpy for a long metric (5x faster)."""
    np = _numpy() if len(stamps) >= 10_000 else None
    if np is None:
        return [
            None if t is None or t != t else EPOCH + _dt.timedelta(seconds=t)
            for t in as_list(stamps, idx)
        ]
    seconds = np.asarray(stamps if idx is None else as_list(stamps, idx), dtype=float)
    unknown = np.isnan(seconds)
    with np.errstate(invalid="ignore"):
        out = np.round(seconds * 1e6).astype("datetime64[us]")
    out[unknown] = np.datetime64("NaT")
    return out.tolist()  # datetimes, and None for NaT


def as_list(seq, idx):
    """``seq`` (list or numpy array) as a list, only the positions ``idx`` if given."""
    if hasattr(seq, "tolist"):
        return (seq[idx] if idx is not None else seq).tolist()
    return list(seq) if idx is None else [seq[i] for i in idx]
