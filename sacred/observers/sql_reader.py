"""``SqlStore``: the read side of the SqlObserver's tables (SQLite, PostgreSQL, MySQL...).

    store = SqlStore("sqlite:///runs.db")        # or open_store("postgresql://user@host/db")

Records are built like the MongoObserver's documents from the tables of ``sql_bases``:
``config``/``info`` restored from their JSON, ``result`` from ``run.result_json`` (else
the Float column), ``meta`` from ``command``/``comment``/``priority`` and the added
``run.meta_json`` (see ``update_meta``), ``host``/``experiment``/``artifacts``/``resources``
from their tables and ``fail_trace`` split back into a list. A column that is NULL is a missing field
(a running run has no ``stop_time``), except ``result`` (null) and ``captured_out`` ("").

Filtering, sorting and paging run in the database (``WHERE``/``ORDER BY``/``LIMIT``, see
``sacred.store.sql_query`` for what translates); a query part it cannot translate is
checked in Python on the rows the rest selects, and a query the database rejects (e.g. a
config holding NaN, which is no valid JSON for it) is answered wholly in Python.

Metrics are read in the order of ``step`` (then of insertion) from the packed copies in
``metric_chunk`` when these cover exactly the metric's rows (a few rows per metric), else
from the ``metric`` table; long metrics (>= 50,000 points) are kept in memory as arrays,
keyed by their first/last row id, so reading one again only costs two index lookups.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import io
import itertools
import json
import os
from array import array
from types import SimpleNamespace
from typing import Optional

import sqlalchemy as sa

from sacred.safe_restore import safe_restore
from sacred.serializer import flatten
from sacred.store import query as q
from sacred.store.base import (
    RunNotFoundError,
    RunStore,
    StoreError,
    gc_paused,
    merge_meta,
    metric_summary,
)
from sacred.store.downsample import downsample_indices
from sacred.store.sql_query import SqlTranslator, Untranslatable

__all__ = ("SqlStore",)

_EPOCH = _dt.datetime(1970, 1, 1)
_CACHE_MIN_POINTS = 50_000
_CACHE_MAX_POINTS = 20_000_000
_CHUNK = 500  # ids per IN (...) list
_TIME_COLUMNS = ("start_time", "heartbeat", "stop_time", "queue_time")
_META_COLUMNS = ("command", "comment", "priority")  # meta keys kept in columns of their own


def _sqlite_regexp(pattern, value):
    """``regexp(pattern, value)`` for SQLite: an RE2 search, in time linear in the value
    (Python's ``re`` could backtrack for minutes holding the GIL; no code is run)."""
    if not isinstance(value, str) or not isinstance(pattern, str):
        return 0
    return 1 if q.regex_searcher(pattern)(value) else 0


def _public_id(run_id):
    return int(run_id) if isinstance(run_id, str) and run_id.isdigit() else run_id


def _key(run_id) -> str:
    return str(run_id).strip()


def _split_trace(text):
    """The observer stores ``"\\n".join(lines)`` of lines that end with a newline."""
    if text is None:
        return None
    parts = text.split("\n\n")
    return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def _from_json(text, default, field):
    if text is None:
        return default
    return safe_restore(json.loads(text), field)


def _chunks(seq, size=_CHUNK):
    seq = list(seq)
    for start in range(0, len(seq), size):
        yield seq[start : start + size]


def _epoch(value):
    """A timestamp (datetime, ISO string or number) as float seconds since the epoch."""
    if isinstance(value, str):
        value = _dt.datetime.fromisoformat(value)
    if isinstance(value, _dt.datetime):
        if value.tzinfo is not None:
            return value.timestamp()
        return (value - _EPOCH).total_seconds()
    return None if value is None else float(value)


class SqlStore(RunStore):
    """Runs in a database written by the SqlObserver, from a SQLAlchemy URL (or Engine)."""

    scheme = "sql"
    #: seconds PostgreSQL may spend on one statement of a query (None: query.QUERY_TIMEOUT)
    query_timeout: Optional[float] = None

    def __init__(self, location, echo: bool = False):
        from sacred.observers import sql_bases as b
        from sacred.observers.sql import _create_engine

        if isinstance(location, sa.engine.Engine):
            self.engine = location
        else:
            url = sa.engine.make_url(os.fspath(location))
            if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
                if not os.path.isfile(url.database):
                    raise StoreError(f"There is no SQLite database at {url.database!r}.")
            self.engine = _create_engine(url, echo)
        self.dialect = self.engine.dialect.name
        if self.dialect == "sqlite":
            sa.event.listen(self.engine, "connect", _register_regexp)
        self.t = SimpleNamespace(
            run=b.Run.__table__,
            host=b.Host.__table__,
            experiment=b.Experiment.__table__,
            metric=b.Metric.__table__,
            chunk=b.MetricChunk.__table__,
            artifact=b.Artifact.__table__,
            resource=b.Resource.__table__,
            source=b.Source.__table__,
            dependency=b.Dependency.__table__,
            repository=b.Repository.__table__,
            ex_sources=b.experiment_source_association,
            ex_deps=b.experiment_dependency_association,
            ex_repos=b.experiment_repository_association,
            run_resources=b.run_resource_association,
        )
        self.translator = SqlTranslator(self.dialect, self.t)
        self._metric_cache = {}  # (run_id, name) -> (key, steps, stamps, values)
        self._reduced_cache = {}  # (run_id, name, key, max_points or None) -> SQL-side result
        try:
            with self.engine.connect():
                pass
        except sa.exc.DBAPIError as e:
            raise StoreError(f"Cannot connect to {self.url}: {_describe(e)}") from None
        self._has_tables = None

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def __repr__(self):
        return f"SqlStore({self.url!r})"

    def close(self) -> None:
        self.engine.dispose()

    def _tables_exist(self) -> bool:
        if not self._has_tables:  # re-checked until an observer has created them
            self._has_tables = sa.inspect(self.engine).has_table("run")
        return self._has_tables

    def _has_result_json(self) -> bool:
        # databases written by the original SqlObserver lack this added column
        if getattr(self, "_result_json", None) is None:
            columns = {c["name"] for c in sa.inspect(self.engine).get_columns("run")}
            self._result_json = "result_json" in columns
        return self._result_json

    def _has_meta_json(self) -> bool:
        # added later than result_json: asked again until it is there (another process
        # may add it at any time)
        if not getattr(self, "_meta_json", False):
            columns = {c["name"] for c in sa.inspect(self.engine).get_columns("run")}
            self._meta_json = "meta_json" in columns
        return self._meta_json

    # ------------------------------------------------------------------ records
    def _from(self):
        t = self.t
        return t.run.outerjoin(t.host, t.run.c.host_id == t.host.c.host_id).outerjoin(
            t.experiment, t.run.c.experiment_id == t.experiment.c.experiment_id
        )

    def _columns(self, full: bool) -> list:
        run, host, ex = self.t.run.c, self.t.host.c, self.t.experiment.c
        cols = [
            run.run_id,
            run.command,
            *[run[c] for c in _TIME_COLUMNS],
            run.priority,
            run.comment,
            run.fail_trace,
            run.config,
            run.info,
            sa.cast(run.status, sa.String).label("status"),
            run.host_id,
            run.experiment_id,
            run.result,
            run.result_json if self._has_result_json() else sa.null().label("result_json"),
            run.meta_json if self._has_meta_json() else sa.null().label("meta_json"),
            host.cpu.label("h_cpu"),
            host.hostname.label("h_hostname"),
            host.os.label("h_os"),
            host.os_info.label("h_os_info"),
            host.python_version.label("h_python_version"),
            ex.name.label("e_name"),
            ex.base_dir.label("e_base_dir"),
        ]
        if full:
            cols.append(run.captured_out)
        return cols

    def _select_stmt(self, full=False):
        return sa.select(*self._columns(full)).select_from(self._from())

    def _records(self, conn, stmt, full=False) -> list:
        rows = conn.execute(stmt).all()
        if not rows:
            return []
        run_ids = [r.run_id for r in rows]
        experiments = self._experiment_parts(conn, {r.experiment_id for r in rows})
        artifacts = self._grouped(
            conn,
            sa.select(self.t.artifact.c.run_id, self.t.artifact.c.filename).order_by(
                self.t.artifact.c.artifact_id
            ),
            self.t.artifact.c.run_id,
            run_ids,
        )
        rr, res = self.t.run_resources.c, self.t.resource.c
        resources = self._grouped(
            conn,
            sa.select(rr.run_id, res.filename, res.md5sum)
            .select_from(self.t.run_resources.join(self.t.resource))
            .order_by(res.resource_id),
            rr.run_id,
            run_ids,
        )
        with gc_paused():
            return [self._record(r, experiments, artifacts, resources, full) for r in rows]

    def _record(self, r, experiments, artifacts, resources, full) -> dict:
        if r.result_json is not None:
            result = safe_restore(json.loads(r.result_json), "result")
        else:
            result = r.result
        experiment = {"name": r.e_name, "base_dir": r.e_base_dir}
        experiment = {k: v for k, v in experiment.items() if v is not None}
        experiment.update(experiments.get(r.experiment_id, {}))
        host = {
            "cpu": r.h_cpu,
            "hostname": r.h_hostname,
            "python_version": r.h_python_version,
        }
        host = {k: v for k, v in host.items() if v is not None}
        if r.h_os is not None or r.h_os_info is not None:
            host["os"] = [r.h_os, r.h_os_info]
        meta = {"command": r.command}
        if r.meta_json:
            extra = json.loads(r.meta_json)
            if isinstance(extra, dict):
                meta.update((k, v) for k, v in extra.items() if k not in _META_COLUMNS)
        if r.comment:
            meta["comment"] = r.comment
        if r.priority:
            meta["priority"] = r.priority
        record = {"_id": _public_id(r.run_id), "experiment": experiment, "command": r.command}
        if record["command"] is None:
            del record["command"]
        record["host"] = host
        for name in _TIME_COLUMNS:
            value = getattr(r, name)
            if value is not None:
                record[name] = value
        record.update(
            {
                "config": _from_json(r.config, {}, "config"),
                "meta": meta,
                "status": r.status,
                "resources": [[f, m] for _, f, m in resources.get(r.run_id, ())],
                "artifacts": [{"name": f} for _, f in artifacts.get(r.run_id, ())],
                "info": _from_json(r.info, {}, "info"),
                "result": result,
            }
        )
        if full:
            record["captured_out"] = r.captured_out or ""
        if r.fail_trace is not None:
            record["fail_trace"] = _split_trace(r.fail_trace)
        return record

    def _grouped(self, conn, stmt, column, run_ids) -> dict:
        out = {}
        for chunk in _chunks(run_ids):
            for row in conn.execute(stmt.where(column.in_(chunk))):
                out.setdefault(row[0], []).append(tuple(row))
        return out

    def _experiment_parts(self, conn, ids) -> dict:
        """``{experiment_id: {"sources", "dependencies", "repositories"}}``."""
        t = self.t
        ids = [i for i in ids if i is not None]
        parts = {i: {"sources": [], "dependencies": [], "repositories": []} for i in ids}
        if not ids:
            return parts
        queries = [
            (
                "sources",
                sa.select(t.ex_sources.c.experiment_id, t.source.c.filename, t.source.c.md5sum)
                .select_from(t.ex_sources.join(t.source))
                .order_by(t.source.c.source_id),
                t.ex_sources.c.experiment_id,
                lambda row: [row[1], row[2]],
            ),
            (
                "dependencies",
                sa.select(t.ex_deps.c.experiment_id, t.dependency.c.name, t.dependency.c.version)
                .select_from(t.ex_deps.join(t.dependency))
                .order_by(t.dependency.c.name, t.dependency.c.dependency_id),
                t.ex_deps.c.experiment_id,
                lambda row: f"{row[1]}=={row[2]}",
            ),
            (
                "repositories",
                sa.select(
                    t.ex_repos.c.experiment_id,
                    t.repository.c.url,
                    t.repository.c.commit,
                    t.repository.c.dirty,
                )
                .select_from(t.ex_repos.join(t.repository))
                .order_by(t.repository.c.repository_id),
                t.ex_repos.c.experiment_id,
                lambda row: {"url": row[1], "commit": row[2], "dirty": row[3]},
            ),
        ]
        for key, stmt, column, convert in queries:
            for chunk in _chunks(ids):
                for row in conn.execute(stmt.where(column.in_(chunk))):
                    parts[row[0]][key].append(convert(row))
        return parts

    def get(self, run_id) -> dict:
        if self._tables_exist():
            with self.engine.connect() as conn:
                stmt = self._select_stmt(full=True).where(self.t.run.c.run_id == _key(run_id))
                records = self._records(conn, stmt, full=True)
            if records:
                return records[0]
        raise RunNotFoundError(f"There is no run {run_id!r} in {self.url}")

    def _require_run(self, conn, run_id) -> str:
        key = _key(run_id)
        found = None
        if self._tables_exist():
            found = conn.execute(
                sa.select(self.t.run.c.run_id).where(self.t.run.c.run_id == key)
            ).first()
        if found is None:
            raise RunNotFoundError(f"There is no run {run_id!r} in {self.url}")
        return key

    # ------------------------------------------------------------------ querying
    @contextlib.contextmanager
    def _query_connection(self):
        """A connection to run a query on. PostgreSQL matches regular expressions itself, so
        there each statement is stopped after ``query_timeout`` seconds (``SET LOCAL``: for
        this transaction only), and being stopped is a QueryError, not a Python fallback."""
        limit = self.query_timeout if self.query_timeout is not None else q.QUERY_TIMEOUT
        with self.engine.connect() as conn:
            if self.dialect == "postgresql" and limit:
                ms = max(1, int(limit * 1000))
                conn.execute(sa.text(f"SET LOCAL statement_timeout = {ms}"))
            try:
                yield conn
            except sa.exc.DBAPIError as e:
                code = getattr(e.orig, "sqlstate", None) or getattr(e.orig, "pgcode", None)
                if code == "57014":  # query_canceled
                    raise q.QueryError(
                        f"the database stopped the query after {limit:g} s (query_timeout): "
                        "narrow it down or simplify its regular expressions"
                    ) from None
                raise

    def _scan(self, need_metrics=False, full=False):
        """Every run's record (Python filtering: used when the database cannot answer)."""
        if not self._tables_exist():
            return
        with self.engine.connect() as conn:
            order = self.translator.order_by([])
            records = self._records(conn, self._select_stmt(full).order_by(*order), full)
            summaries = (
                self._summaries_for(conn, [r["_id"] for r in records]) if need_metrics else {}
            )
        for record in records:
            yield record, summaries.get(record["_id"], {})

    def _select_summaries(self, node, sort, skip=0, limit=None, fields=(), full=False):
        full = full or any(f.root == "captured_out" for f in fields)
        if not self._tables_exist():
            return []
        try:
            with self._query_connection() as conn:
                return self._query(conn, node, sort, skip, limit, full)
        except sa.exc.DBAPIError:
            # the database rejected the translation (e.g. NaN in a config is no JSON for it,
            # or a regular expression it does not know): answer in Python
            rows = [(r, m) for r, m in self._scan(_uses_metrics(node, sort), full)]
            pred = q.compile_query(node)
            from sacred.store.base import sort_rows

            rows = sort_rows([(r, m) for r, m in rows if pred(r, m)], sort)
            end = None if limit is None else skip + limit
            return [r for r, _ in rows[skip:end]]

    def _query(self, conn, node, sort, skip, limit, full, ids_only=False):
        tr = self.translator
        where, residual = tr.where(node)
        try:
            order = tr.order_by(sort)
            sorted_in_db = True
        except Untranslatable:
            order = tr.order_by([])
            sorted_in_db = False
        if residual is None and sorted_in_db:
            if ids_only:
                stmt = sa.select(self.t.run.c.run_id).select_from(self._from())
            else:
                stmt = self._select_stmt(full)
            if where is not None:
                stmt = stmt.where(where)
            stmt = stmt.order_by(*order).offset(skip or None).limit(limit)
            if ids_only:
                return [_public_id(r[0]) for r in conn.execute(stmt)]
            return self._records(conn, stmt, full)
        # part of the query or the sort is done in Python, on the rows the rest selects
        full = full or (residual is not None and _mentions(residual, "captured_out"))
        stmt = self._select_stmt(full)
        if where is not None:
            stmt = stmt.where(where)
        records = self._records(conn, stmt.order_by(*order), full)
        need = (residual is not None and _uses_metrics(residual, [])) or (
            not sorted_in_db and any(f.metric for f, _ in sort)
        )
        summaries = self._summaries_for(conn, [r["_id"] for r in records]) if need else {}
        rows = [(r, summaries.get(r["_id"], {})) for r in records]
        if residual is not None:
            pred = q.compile_query(residual)
            rows = [(r, m) for r, m in rows if pred(r, m)]
        if not sorted_in_db:
            from sacred.store.base import sort_rows

            rows = sort_rows(rows, sort)
        end = None if limit is None else skip + limit
        rows = rows[skip:end]
        return [r["_id"] for r, _ in rows] if ids_only else [r for r, _ in rows]

    def _select(self, node, sort, skip, limit) -> list:
        if not self._tables_exist():
            return []
        try:
            with self._query_connection() as conn:
                return self._query(conn, node, sort, skip, limit, False, ids_only=True)
        except sa.exc.DBAPIError:
            return [r["_id"] for r in self._select_summaries(node, sort, skip, limit)]

    def find(self, query=None, sort=None, skip: int = 0, limit: Optional[int] = None) -> list:
        """Whole records of the matching runs (read in a few queries, not one per run)."""
        from sacred.store.base import _check_limit, _check_skip

        return self._select_summaries(
            q.parse(query), q.parse_sort(sort), _check_skip(skip), _check_limit(limit), full=True
        )

    def count(self, query=None) -> int:
        node = q.parse(query)
        if not self._tables_exist():
            return 0
        where, residual = self.translator.where(node)
        if residual is None:
            stmt = sa.select(sa.func.count()).select_from(self._from())
            if where is not None:
                stmt = stmt.where(where)
            try:
                with self._query_connection() as conn:
                    return conn.execute(stmt).scalar_one()
            except sa.exc.DBAPIError:
                pass
        return len(self._select_summaries(node, []))

    # ------------------------------------------------------------------ metrics
    def _summaries_for(self, conn, run_ids) -> dict:
        """``{run _id: {name: metric_summary}}`` for the given runs (read in Python)."""
        if not self._has_metric_table():
            return {}
        m = self.t.metric.c
        stmt = sa.select(m.run_id, m.name, m.value).order_by(m.run_id, m.name, m.step, m.metric_id)
        out = {}
        for chunk in _chunks([str(i) for i in run_ids]):
            rows = conn.execute(stmt.where(m.run_id.in_(chunk))).all()
            for (run_id, name), group in itertools.groupby(rows, key=lambda r: (r[0], r[1])):
                values = [r[2] for r in group]
                out.setdefault(_public_id(run_id), {})[name] = metric_summary(values)
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
        from sacred.observers.sql_bases import unpack

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
                "steps": _take(steps, idx),
                "timestamps": [
                    None if t is None or t != t else _EPOCH + _dt.timedelta(seconds=t)
                    for t in _take(stamps, idx)
                ],
                "values": _take(values, idx),
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
        keys = {run_id: _key(run_id) for run_id in run_ids}
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
                for part in _chunks(keys):
                    for (key,) in conn.execute(sa.select(run_id).where(run_id.in_(part))):
                        ranges[key] = {}
                return ranges
            try:
                for part in _chunks(keys):
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
            for part in _chunks(runs):
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
            for part in _chunks(rest):
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

    # ------------------------------------------------------------------ files
    def artifacts(self, run_id) -> list:
        a = self.t.artifact.c
        with self.engine.connect() as conn:
            key = self._require_run(conn, run_id)
            rows = conn.execute(
                sa.select(a.filename).where(a.run_id == key).order_by(a.artifact_id)
            ).all()
        return [r[0] for r in rows]

    def open_artifact(self, run_id, name):
        a = self.t.artifact.c
        with self.engine.connect() as conn:
            key = self._require_run(conn, run_id)
            row = conn.execute(
                sa.select(a.content)
                .where(a.run_id == key, a.filename == name)
                .order_by(a.artifact_id)
                .limit(1)
            ).first()
        if row is None:
            raise RunNotFoundError(f"Run {run_id!r} has no artifact {name!r}")
        return io.BytesIO(row[0] or b"")

    def open_source(self, run_id, name):
        t = self.t
        with self.engine.connect() as conn:
            key = self._require_run(conn, run_id)
            row = conn.execute(
                sa.select(t.source.c.content)
                .select_from(
                    t.run.join(
                        t.ex_sources, t.ex_sources.c.experiment_id == t.run.c.experiment_id
                    ).join(t.source, t.source.c.source_id == t.ex_sources.c.source_id)
                )
                .where(t.run.c.run_id == key, t.source.c.filename == name)
                .limit(1)
            ).first()
        if row is None:
            raise RunNotFoundError(f"Run {run_id!r} has no source {name!r}")
        return io.BytesIO((row[0] or "").encode("utf-8"))

    def open_resource(self, run_id, name):
        t = self.t
        with self.engine.connect() as conn:
            key = self._require_run(conn, run_id)
            row = conn.execute(
                sa.select(t.resource.c.content)
                .select_from(t.run_resources.join(t.resource))
                .where(t.run_resources.c.run_id == key, t.resource.c.filename == name)
                .limit(1)
            ).first()
        if row is None:
            raise RunNotFoundError(f"Run {run_id!r} has no resource {name!r}")
        return io.BytesIO(row[0] or b"")

    # ------------------------------------------------------------------ writing
    def delete(self, run_id) -> None:
        """Remove the run, its metric rows, artifacts and resource links, and the resources,
        experiment (with its sources, dependencies, repositories) and host no other run uses."""
        t = self.t
        with self.engine.begin() as conn:
            key = self._require_run(conn, run_id)
            run = conn.execute(
                sa.select(t.run.c.experiment_id, t.run.c.host_id).where(t.run.c.run_id == key)
            ).first()
            if self._has_metric_table():
                conn.execute(t.metric.delete().where(t.metric.c.run_id == key))
            if self._has_chunk_table():
                conn.execute(t.chunk.delete().where(t.chunk.c.run_id == key))
            conn.execute(t.artifact.delete().where(t.artifact.c.run_id == key))
            rr = t.run_resources.c
            resource_ids = [
                r[0] for r in conn.execute(sa.select(rr.resource_id).where(rr.run_id == key))
            ]
            conn.execute(t.run_resources.delete().where(rr.run_id == key))
            conn.execute(t.run.delete().where(t.run.c.run_id == key))
            for rid in resource_ids:
                if not _used(conn, rr.resource_id, rid):
                    conn.execute(t.resource.delete().where(t.resource.c.resource_id == rid))
            if run.host_id is not None and not _used(conn, t.run.c.host_id, run.host_id):
                conn.execute(t.host.delete().where(t.host.c.host_id == run.host_id))
            ex_id = run.experiment_id
            if ex_id is not None and not _used(conn, t.run.c.experiment_id, ex_id):
                for assoc, table, column in (
                    (t.ex_sources, t.source, "source_id"),
                    (t.ex_deps, t.dependency, "dependency_id"),
                    (t.ex_repos, t.repository, "repository_id"),
                ):
                    ids = [
                        r[0]
                        for r in conn.execute(
                            sa.select(assoc.c[column]).where(assoc.c.experiment_id == ex_id)
                        )
                    ]
                    conn.execute(assoc.delete().where(assoc.c.experiment_id == ex_id))
                    for other in set(ids):
                        if not _used(conn, assoc.c[column], other):
                            conn.execute(table.delete().where(table.c[column] == other))
                conn.execute(t.experiment.delete().where(t.experiment.c.experiment_id == ex_id))
        for cached in [k for k in self._metric_cache if k[0] == key]:
            del self._metric_cache[cached]

    def update_meta(self, run_id, updates: dict) -> dict:
        """Merge ``updates`` into the run's ``meta``; returns the new ``meta``.

        ``comment`` and ``priority`` (a number) go to their columns of the original
        schema; every other key to the added column ``run.meta_json``, which is made
        here if the database lacks it. ``command`` is the run's command and cannot be
        changed. The SqlObserver never writes ``meta_json``, so a running run keeps it.
        """
        from sacred.observers.sql_bases import upgrade_schema

        if "command" in updates:
            raise StoreError("meta.command is the command of the run; it cannot be changed")
        priority = updates.get("priority")
        if priority is not None and (
            not isinstance(priority, (int, float)) or isinstance(priority, bool)
        ):
            raise StoreError(f"meta.priority must be a number in a SQL store, not {priority!r}")
        meta = merge_meta(self.get(run_id)["meta"], updates)  # RunNotFoundError if none
        if not self._has_meta_json():
            upgrade_schema(self.engine)
            self._meta_json = True
        extra = {k: v for k, v in meta.items() if k not in _META_COLUMNS}
        values = {"meta_json": json.dumps(extra) if extra else None}
        if "comment" in updates:
            values["comment"] = meta.get("comment", "")  # the observer's "no comment"
        if "priority" in updates:
            values["priority"] = meta.get("priority", 0)
        run = self.t.run
        with self.engine.begin() as conn:
            conn.execute(run.update().where(run.c.run_id == _key(run_id)).values(**values))
        return self.get(run_id)["meta"]

    def import_run(
        self, record, metrics=None, artifacts=None, sources=None, resources=None, new_id=False
    ):
        """Write a run read from another store in the SqlObserver's tables; returns its id."""
        from sqlalchemy.orm import Session

        from sacred.observers import sql_bases as b
        from sacred.observers.sql import _insert_points, _result_columns, _sqlite_insert, _text

        b.Base.metadata.create_all(self.engine)
        b.upgrade_schema(self.engine)  # a database of the original SqlObserver
        self._result_json = self._meta_json = True
        self._has_tables = True
        self._metric_table = True
        wanted = record.get("_id")
        with Session(self.engine) as session:
            if new_id or wanted is None:
                run_id = str(b.next_run_id(session))
            else:
                run_id = _key(wanted)
                if session.execute(sa.select(b.Run.id).where(b.Run.run_id == run_id)).first():
                    raise StoreError(
                        f"Run {run_id} already exists in {self.url}; import it under a new id "
                        "instead (new_id=True, or --new-ids on the command line)."
                    )
            experiment = self._import_experiment(session, record.get("experiment") or {}, sources)
            host = b.Host.get_or_create(record.get("host") or {}, session)
            meta = record.get("meta") or {}
            status = record.get("status")
            if status not in b.STATUSES:
                status = "INTERRUPTED"
            trace = record.get("fail_trace")
            if isinstance(trace, list):
                trace = "\n".join(trace)
            times = {}
            for name in _TIME_COLUMNS:
                value = record.get(name)
                if isinstance(value, str):
                    value = _dt.datetime.fromisoformat(value)
                if isinstance(value, _dt.datetime) and value.tzinfo is not None:
                    value = value.astimezone(_dt.timezone.utc).replace(tzinfo=None)
                times[name] = value
            run = b.Run(
                run_id=run_id,
                config=json.dumps(flatten(record.get("config") or {})),
                info=json.dumps(flatten(record.get("info") or {})),
                command=b._fit(record.get("command"), b.Run.command),
                priority=meta.get("priority", 0),
                comment=meta.get("comment", ""),
                meta_json=_meta_json(meta),
                experiment=experiment,
                host=host,
                status=status,
                captured_out=_text(record.get("captured_out")),
                fail_trace=_text(trace),
                **times,
                **_result_columns(record.get("result")),
            )
            session.add(run)
            names = [a["name"] if isinstance(a, dict) else a for a in record.get("artifacts") or []]
            names += [n for n in artifacts or {} if n not in names]
            for name in names:
                content = (artifacts or {}).get(name)
                session.add(
                    b.Artifact(filename=b._fit(name, b.Artifact.filename), content=content, run=run)
                )
            for entry in record.get("resources") or []:
                filename = entry[0]
                content = (resources or {}).get(filename)
                if content is None:
                    continue  # a resource without content cannot be stored here
                md5 = hashlib.md5(content).hexdigest()
                stored = b._fit(filename, b.Resource.filename)
                resource = session.query(b.Resource).filter_by(
                    filename=stored, md5sum=md5
                ).first() or b.Resource(filename=stored, md5sum=md5, content=content)
                if resource not in run.resources:
                    run.resources.append(resource)
            session.flush()
            connection = session.connection()
            for name, m in (metrics or {}).items():
                steps = _take(m["steps"], None)
                values = _take(m["values"], None)
                stamps = [_epoch(t) for t in _take(m["timestamps"], None)]
                n = min(len(steps), len(values), len(stamps))
                points = (run_id, name, steps[:n], values[:n], stamps[:n])
                if self.dialect == "sqlite":  # timestamps are epoch seconds already
                    _sqlite_insert(connection.connection.dbapi_connection, *points)
                else:
                    _insert_points(connection, *points)
            session.commit()
        return _public_id(run_id)

    def _import_experiment(self, session, ex_info, sources):
        from sacred.observers import sql_bases as b

        name = b._fit(ex_info.get("name"), b.Experiment.name)
        md5 = hashlib.md5(json.dumps(ex_info, default=str).encode("utf-8")).hexdigest()
        existing = session.query(b.Experiment).filter_by(name=name, md5sum=md5).first()
        if existing is not None:
            return existing
        stored_sources = []
        for entry in ex_info.get("sources") or []:
            filename = entry[0]
            content = (sources or {}).get(filename)
            if content is None:
                continue
            digest = hashlib.md5(content).hexdigest()
            stored = b._fit(filename, b.Source.filename)
            source = session.query(b.Source).filter_by(filename=stored, md5sum=digest).first()
            stored_sources.append(
                source
                or b.Source(
                    filename=stored, md5sum=digest, content=content.decode("utf-8", "replace")
                )
            )
        repositories = [
            b.Repository.get_or_create(r.get("url"), r.get("commit"), r.get("dirty"), session)
            for r in ex_info.get("repositories") or []
            if isinstance(r, dict)
        ]
        dependencies = [
            b.Dependency.get_or_create(d, session)
            for d in dict.fromkeys(ex_info.get("dependencies") or [])
        ]
        return b.Experiment(
            name=name,
            md5sum=md5,
            base_dir=b._fit(ex_info.get("base_dir"), b.Experiment.base_dir),
            sources=list(dict.fromkeys(stored_sources)),
            repositories=list(dict.fromkeys(repositories)),
            dependencies=list(dict.fromkeys(dependencies)),
        )


# ---------------------------------------------------------------------- helpers
def _meta_json(meta: dict):
    """The ``run.meta_json`` of an imported run: its ``meta`` without the column keys and
    without what the SqlObserver does not keep of a run's own meta either (the command
    line options, named configs, config updates, the queue time)."""
    skip = (*_META_COLUMNS, "options", "named_configs", "config_updates", "queue_time")
    extra = {k: v for k, v in meta.items() if k not in skip}
    return json.dumps(flatten(extra)) if extra else None


def _register_regexp(dbapi_connection, connection_record):
    dbapi_connection.create_function("regexp", 2, _sqlite_regexp, deterministic=True)


def _describe(error) -> str:
    orig = getattr(error, "orig", None)
    return str(orig if orig is not None else error).strip()


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
# without metrics gives one row with a NULL name; a missing run none.
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


def _used(conn, column, value) -> bool:
    return conn.execute(sa.select(column).where(column == value).limit(1)).first() is not None


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
    from sacred.observers.sql_bases import unpack

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


def _take(seq, idx):
    """``seq`` (list or numpy array) as a list, only the positions ``idx`` if given."""
    if hasattr(seq, "tolist"):
        return (seq[idx] if idx is not None else seq).tolist()
    return list(seq) if idx is None else [seq[i] for i in idx]


def _uses_metrics(node, sort) -> bool:
    return q.any_field(node, lambda f: f.metric is not None) or any(f.metric for f, _ in sort)


def _mentions(node, root) -> bool:
    return q.any_field(node, lambda f: f.root == root)
