"""``RunStore``: the one interface of the read side, whatever backend holds the runs.

A backend implements a few primitives (``_scan``, ``get``, ``_read_metrics`` and the file
accessors); the base class does filtering, sorting and paging over ``_scan`` in Python.
A backend that can do better (SQL ``WHERE``/``ORDER BY``/``LIMIT``, Mongo queries, an index)
overrides ``_select`` and ``count``.

Run records are shaped like the MongoObserver's documents: ``_id``, ``experiment``,
``command``, ``host``, ``start_time``, ``stop_time``, ``heartbeat``, ``config``, ``meta``,
``status``, ``resources``, ``artifacts`` (``[{"name": ...}, ...]``), ``captured_out``,
``info``, ``result``, ``fail_trace``; times are naive UTC ``datetime`` objects.

A backend is one package, ``sacred/observers/<name>/``, holding everything about its format:
``observer.py`` (the writer), ``store.py`` (the reader, below), ``query.py`` (native query
translation, if any) and ``options.py`` (its command-line option and location grammar); its
``__init__.py`` stays light and exports names lazily. Writing the reader:

1. subclass ``RunStore``; the constructor takes the location given to ``open_store`` (a URL,
   path or client) plus keyword options (e.g. ``prefix=``), and raises ``StoreError`` with
   a helpful message when it cannot open it;
2. implement ``_scan``, ``get``, ``_read_metrics``, ``open_artifact``, ``open_source``,
   ``open_resource`` and ``delete`` (``artifacts``/``sources``/``resources`` have defaults
   that read the record); ``import_run`` if runs can be copied into the backend, and
   ``update_meta`` (merge into a run's ``meta``; see ``merge_meta``) if it can be written.
   Stored data is untrusted: pass every record through ``decode_stored`` (never jsonpickle),
   and refuse with ``OutsideStoreError`` any path or key from a record that leaves the run's
   place or the store's shared sources/resources;
3. for native filtering, override ``count`` and ``_select`` (and ``_select_summaries`` if
   tables should avoid whole records): translate the AST with a ``query.Visitor`` (see
   ``sacred/observers/mongo/query.py``) and sort with ``query.sort_key``'s order
   (missing/null < numbers < strings < objects < lists < booleans < dates, ``_id`` ascending
   among ties); bound every database query by ``query_timeout``;
4. register the scheme in ``sacred/store/location.py`` (``_BACKENDS``: observer, store and
   the pip extra, as ``"module:Class"`` strings), and add the backend to ``STORE_KINDS`` in
   ``tests/sacred/store/conftest.py``: the shared suites (``test_store_suite.py``,
   ``test_stored_data_safety.py``) then run against it.
"""

from __future__ import annotations

import abc
import contextlib
import datetime as _dt
import gc
import json
import math
from typing import IO, Iterable, Optional

from sacred.safe_restore import safe_restore
from sacred.store import query as q
from sacred.store.downsample import downsample
from sacred.utils import SacredError

__all__ = (
    "RunStore",
    "merge_meta",
    "StoreError",
    "RunNotFoundError",
    "OutsideStoreError",
    "metric_summary",
    "flatten_record",
    "gc_paused",
    "decode_stored",
)

DEFAULT_DEAD_AFTER = q.DEFAULT_DEAD_AFTER
TERMINAL_STATUSES = frozenset({"COMPLETED", "FAILED", "INTERRUPTED", "TIMEOUT"})


class StoreError(SacredError):
    """A store cannot be opened or cannot do what was asked."""

    def __init__(self, *args):
        super().__init__(*args, print_traceback=False)


class RunNotFoundError(StoreError, KeyError):
    def __str__(self):
        return str(self.args[0]) if self.args else "run not found"


class OutsideStoreError(RunNotFoundError):
    """A file a run lists lies outside the places of the store that may hold it (a crafted
    record, a symbolic link out, a copy kept elsewhere): it is neither read nor removed.

    Stored records are untrusted: every store resolves a path (or key) it takes from a
    record and refuses it with this error unless it lies inside the run's own place or the
    store's shared copies of sources and resources."""


@contextlib.contextmanager
def gc_paused():
    """No cyclic garbage collection inside (scanning thousands of records makes many small
    objects; with collections this takes about twice as long)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def metric_summary(values) -> dict:
    """``{"count", "first", "last", "min", "max"}`` of a metric's values (min/max of numbers)."""
    summary = {"count": len(values)}
    if not len(values):
        return summary
    summary["first"] = _plain(values[0])
    summary["last"] = _plain(values[-1])
    numbers = [v for v in values if type(v) in (int, float) and not math.isnan(v)]
    if len(numbers) != len(values):  # numpy scalars, NaN, or things that are no numbers
        numbers = [
            float(v)
            for v in values
            if isinstance(v, (int, float)) and not isinstance(v, bool) and not math.isnan(v)
        ]
    if numbers:
        summary["min"] = min(numbers)
        summary["max"] = max(numbers)
    return summary


def _plain(v):
    return v.item() if hasattr(v, "item") else v


def decode_stored(record: dict) -> dict:
    """``record`` with its ``config``, ``info`` and ``result`` rebuilt by the safe decoder.

    Every reader calls this: stored data is untrusted, so tagged values are rebuilt only for
    Sacred's own types (numpy, pandas, datetimes, tuples, ...), never by importing what a
    record names (see ``sacred.safe_restore``).
    """
    for field in ("config", "info", "result"):
        if field in record:
            record[field] = safe_restore(record[field], field)
    return record


def merge_meta(meta, updates: dict) -> dict:
    """A copy of ``meta`` with ``updates`` merged in (a None value removes its key).

    Keys must be non-empty strings without "." and not starting with "$" (so that every
    backend can store them as they are, and queries can name them).
    """
    if not isinstance(updates, dict):
        raise StoreError(f"update_meta needs a dict of updates, not {type(updates).__name__}")
    for key in updates:
        if not isinstance(key, str) or not key or "." in key or key.startswith("$"):
            raise StoreError(
                f"{key!r} cannot be a key of a run's meta: use a non-empty string without "
                "'.' that does not start with '$'"
            )
    try:
        json.dumps(updates)
    except (TypeError, ValueError) as e:
        raise StoreError(f"the values of a run's meta must be JSON values: {e}") from None
    merged = dict(meta) if isinstance(meta, dict) else {}
    for key, value in updates.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def flatten_record(record: dict, prefix: str = "", out: Optional[dict] = None) -> dict:
    """Nested dicts as one dict with dotted keys (lists are kept as values)."""
    out = {} if out is None else out
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flatten_record(value, name + ".", out)
        else:
            out[name] = value
    return out


class RunStore(abc.ABC):
    """Read (and, where a backend supports it, write) access to stored runs."""

    #: the scheme of ``open_store`` locations this store reads, e.g. "file"
    scheme = ""

    # ------------------------------------------------------------------ primitives
    @abc.abstractmethod
    def _scan(self, need_metrics: bool = False) -> Iterable[tuple]:
        """Yield ``(summary_record, metric_summaries_or_None)`` for every run.

        A summary record has at least the fields queries and sorting look at (it may lack
        ``captured_out``); metric summaries are ``{name: metric_summary(values)}`` and are
        only needed when ``need_metrics`` is true.
        """

    @abc.abstractmethod
    def get(self, run_id) -> dict:
        """The whole record of one run; RunNotFoundError if there is none."""

    @abc.abstractmethod
    def _read_metrics(self, run_id, names=None) -> dict:
        """``{name: {"steps", "timestamps", "values"}}`` (sequences; timestamps datetimes)."""

    def artifacts(self, run_id) -> list:
        """Names of the artifacts of a run."""
        return [a["name"] if isinstance(a, dict) else a for a in self.get(run_id)["artifacts"]]

    @abc.abstractmethod
    def open_artifact(self, run_id, name) -> IO[bytes]:
        """A binary file object with the content of an artifact."""

    def sources(self, run_id) -> list:
        """Names (paths relative to the experiment's base_dir) of the run's source files."""
        return [s[0] for s in self.get(run_id)["experiment"].get("sources", [])]

    @abc.abstractmethod
    def open_source(self, run_id, name) -> IO[bytes]:
        """A binary file object with the content of a source file of the run."""

    def resources(self, run_id) -> list:
        """File names of the resources the run opened."""
        return [r[0] for r in self.get(run_id).get("resources") or []]

    @abc.abstractmethod
    def open_resource(self, run_id, name) -> IO[bytes]:
        """A binary file object with the content of a resource of the run."""

    @abc.abstractmethod
    def delete(self, run_id) -> None:
        """Remove a run with everything only it owns (metrics, artifacts, unshared files)."""

    def import_run(
        self,
        record: dict,
        metrics: Optional[dict] = None,
        artifacts: Optional[dict] = None,
        sources: Optional[dict] = None,
        resources: Optional[dict] = None,
        new_id: bool = False,
    ):
        """Write a run read from another store; returns its id here.

        ``artifacts``/``sources``/``resources`` map names to bytes. Backends that can be
        written override this.
        """
        raise StoreError(f"{type(self).__name__} stores cannot be written to")

    def update_meta(self, run_id, updates: dict) -> dict:
        """Merge ``updates`` into the run's ``meta`` and return the new ``meta``.

        A key set to None is removed. Values are JSON values (Sacredboard keeps its
        annotations in ``meta.tags`` and ``meta.notes``). While a run is still running,
        its observer owns the keys it wrote into ``meta`` itself (``command``,
        ``options``, ``comment``...): it keeps every other key that was set here, but may
        write its own ones over a change. Backends that can be written override this.
        """
        raise StoreError(
            f"{type(self).__name__} stores cannot change the meta of a run (no update_meta)"
        )

    # ------------------------------------------------------------------ claims (workers)
    def claim(self, run_id, attempt: int, worker: str) -> bool:
        """Take claim number ``attempt`` (1, 2, ...) on a run for ``worker``, atomically:
        of all callers asking for the same run and attempt, exactly one gets True.

        Workers (``sacred.launch.worker``) claim a QUEUED run with attempt 1, and a run
        whose claim lapsed (its worker died) with the next number. Backends that can
        create something exclusively (a file with O_EXCL, a unique key) override this.
        """
        raise StoreError(f"{type(self).__name__} stores cannot hand runs to workers (no claim)")

    def claims(self, run_id) -> list:
        """The claims of a run in order: ``[{"attempt", "worker", "at"}, ...]`` (``at`` a
        naive UTC datetime)."""
        return []

    def close(self) -> None:  # noqa: B027 (optional hook)
        """Release connections or file handles (no-op by default)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------------ querying
    def _select(self, node: q.Node, sort: list, skip: int, limit: Optional[int]) -> list:
        """Ids of the matching runs in order, after skip/limit (Python over ``_scan``)."""
        return [r["_id"] for r in self._select_summaries(node, sort, skip, limit)]

    def _select_summaries(self, node, sort, skip=0, limit=None, fields=()) -> list:
        """Matching summary records in order; ``fields`` are other fields the caller reads."""
        need_metrics = _uses_metrics(node) or any(f.metric for f, _ in sort)
        pred = q.compile_query(node)
        with gc_paused():
            rows = [(r, m) for r, m in self._scan(need_metrics) if pred(r, m)]
            rows = sort_rows(rows, sort)
        end = None if limit is None else skip + limit
        return [r for r, _ in rows[skip:end]]

    def count(self, query=None) -> int:
        """Number of runs matching the query."""
        node = q.parse(query)
        pred = q.compile_query(node)
        with gc_paused():
            return sum(1 for r, m in self._scan(_uses_metrics(node)) if pred(r, m))

    def find(self, query=None, sort=None, skip: int = 0, limit: Optional[int] = None) -> list:
        """Whole records of the matching runs; ``sort`` is a field (``-`` for descending)."""
        ids = self._select(
            q.parse(query), q.parse_sort(sort), _check_skip(skip), _check_limit(limit)
        )
        return [self.get(run_id) for run_id in ids]

    def find_ids(self, query=None, sort=None, skip: int = 0, limit: Optional[int] = None) -> list:
        """Like ``find`` but only the ids."""
        return self._select(
            q.parse(query), q.parse_sort(sort), _check_skip(skip), _check_limit(limit)
        )

    def summaries(self, query=None, sort=None, skip=0, limit=None, fields=()) -> list:
        """Records that may lack bulky parts (captured output...), for tables.

        ``fields`` (Field objects or field names) are guaranteed to be present if the run
        has them.
        """
        fields = [q.parse_field(f) if isinstance(f, str) else f for f in fields]
        return self._select_summaries(
            q.parse(query), q.parse_sort(sort), _check_skip(skip), _check_limit(limit), fields
        )

    # ------------------------------------------------------------------ metrics
    def metrics(self, run_id, names=None, max_points: Optional[int] = None) -> dict:
        """``{name: {"steps", "timestamps", "values"}}``, at most ``max_points`` points each."""
        if isinstance(names, str):
            names = [names]
        raw = self._read_metrics(run_id, names)
        result = {}
        for name, metric in raw.items():
            if names is not None and name not in names:
                continue
            metric = downsample(metric, max_points)
            result[name] = {
                "steps": _as_list(metric["steps"]),
                "timestamps": naive_utc_times(metric["timestamps"]),
                "values": _as_list(metric["values"]),
            }
        return result

    def metric_summaries(self, run_id) -> dict:
        return {name: metric_summary(m["values"]) for name, m in self._read_metrics(run_id).items()}

    def metric_summaries_many(self, run_ids) -> dict:
        """``{run_id: metric_summaries(run_id)}`` for several runs (a table page); stores
        that can read them together (SQL) do so in a few queries instead of one per run."""
        return {run_id: self.metric_summaries(run_id) for run_id in run_ids}

    # ------------------------------------------------------------------ live state
    @staticmethod
    def live_state(record: dict, now: Optional[_dt.datetime] = None, dead_after=DEFAULT_DEAD_AFTER):
        """The status, or "PROBABLY_DEAD" for a RUNNING run whose heartbeat is stale."""
        status = record.get("status")
        if status != "RUNNING":
            return status
        now = now or _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)
        last = record.get("heartbeat") or record.get("start_time")
        if not isinstance(last, _dt.datetime):
            return "PROBABLY_DEAD"
        return "RUNNING" if (now - last).total_seconds() <= dead_after else "PROBABLY_DEAD"

    # ------------------------------------------------------------------ frames
    def to_frame(self, query=None, columns=None, sort=None):
        """A pandas DataFrame, one row per run, with flattened dotted column names.

        Default columns: ``_id``, ``experiment.name``, ``command``, ``status``, the times,
        ``result`` and every ``config.*`` leaf. ``columns`` picks fields (shorthand and
        ``metrics.<name>.<summary>`` allowed).
        """
        pd = _pandas()
        node = q.parse(query)
        sort_fields = q.parse_sort(sort)
        if columns is None:
            rows = []
            for r in self._select_summaries(node, sort_fields, fields=[q.parse_field("config")]):
                row = {k: r.get(k) for k in _BASE_COLUMNS if k != "experiment.name"}
                row["experiment.name"] = (r.get("experiment") or {}).get("name")
                row.update(flatten_record(r.get("config") or {}, "config."))
                rows.append(row)
            ordered = ["_id", "experiment.name"] + [c for c in _BASE_COLUMNS[2:]]
            frame = pd.DataFrame(rows)
            rest = sorted(c for c in frame.columns if c not in ordered)
            return frame[[c for c in ordered if c in frame.columns] + rest] if rows else frame
        fields = [(c, q.parse_field(c)) for c in columns]
        need = any(f.metric for _, f in fields)
        rows = []
        for r in self._select_summaries(node, sort_fields, fields=[f for _, f in fields]):
            ms = self.metric_summaries(r["_id"]) if need else None
            rows.append({c: _none(q.get_value(r, f, ms)) for c, f in fields})
        return pd.DataFrame(rows, columns=list(columns))

    def metrics_frame(self, query=None, names=None, max_points=None):
        """Metrics of the matching runs in long format: run_id, name, step, timestamp, value."""
        pd = _pandas()
        parts = []
        for run_id in self.find_ids(query):
            for name, m in self.metrics(run_id, names, max_points).items():
                parts.append(
                    pd.DataFrame(
                        {
                            "run_id": run_id,
                            "name": name,
                            "step": m["steps"],
                            "timestamp": m["timestamps"],
                            "value": m["values"],
                        }
                    )
                )
        if not parts:
            return pd.DataFrame(columns=["run_id", "name", "step", "timestamp", "value"])
        return pd.concat(parts, ignore_index=True)


_BASE_COLUMNS = [
    "_id",
    "experiment.name",
    "command",
    "status",
    "start_time",
    "stop_time",
    "heartbeat",
    "result",
]


def _none(v):
    return None if v is q.MISSING else v


def _as_list(seq):
    if hasattr(seq, "dtype") and seq.dtype.kind == "M":  # numpy datetimes
        return seq.astype("datetime64[us]").tolist()
    return seq.tolist() if hasattr(seq, "tolist") else list(seq)


def naive_utc_times(seq) -> list:
    """``to_naive_utc`` of each time; a list of ISO strings (a file store's metric) in one
    pass of ``fromisoformat`` (three times faster for a long metric)."""
    items = _as_list(seq)
    if items and type(items[0]) is str:
        try:
            times = list(map(_dt.datetime.fromisoformat, items))
        except (TypeError, ValueError):  # not all ISO strings: one at a time
            return [to_naive_utc(t) for t in items]
        if all(t.tzinfo is None for t in times):
            return times
        items = times
    return [to_naive_utc(t) for t in items]


def to_naive_utc(value):
    """A time as a naive UTC datetime (file formats hold ISO strings; others pass)."""
    if isinstance(value, str):
        try:
            value = _dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, _dt.datetime) and value.tzinfo is not None:
        value = value.astimezone(_dt.timezone.utc).replace(tzinfo=None)
    return value


def _pandas():
    try:
        import pandas
    except ImportError:
        raise StoreError(
            "DataFrames need pandas, which is not installed: pip install pandas"
        ) from None
    return pandas


def _check_skip(skip) -> int:
    if not isinstance(skip, int) or isinstance(skip, bool) or skip < 0:
        raise StoreError(f"skip must be an integer >= 0, not {skip!r}")
    return skip


def _check_limit(limit):
    if limit is None:
        return None
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
        raise StoreError(f"limit must be an integer >= 0 or None, not {limit!r}")
    return limit


def _uses_metrics(node) -> bool:
    return q.any_field(node, lambda f: f.metric is not None)


def sort_rows(rows: list, sort: list) -> list:
    """Sort ``(record, metric_summaries)`` pairs: by ``_id``, then by each sort field."""
    rows = sorted(rows, key=lambda rm: q.sort_key(rm[0].get("_id")))
    for fld, descending in reversed(sort):
        rows.sort(
            key=lambda rm, f=fld: q.sort_key(q.get_value(rm[0], f, rm[1])), reverse=descending
        )
    return rows
