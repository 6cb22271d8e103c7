"""``SqlStore``: the read side of the SqlObserver's tables (SQLite, PostgreSQL, MySQL...).

    store = SqlStore("sqlite:///runs.db")        # or open_store("postgresql://user@host/db")

Records are built like the MongoObserver's documents from the tables of ``schema``:
``config``/``info`` restored from their JSON, ``result`` from ``run.result_json`` (else
the Float column), ``meta`` from ``command``/``comment``/``priority`` and the added
``run.meta_json`` (see ``update_meta``), ``host``/``experiment``/``artifacts``/``resources``
from their tables, ``captured_out`` from ``run.captured_out`` and the run's ``output_chunk``
rows (see ``output``: read in one statement) and ``fail_trace`` split back into a list. A
column that is NULL is a missing field (a running run has no ``stop_time``), except
``result`` (null) and ``captured_out`` ("").

Filtering, sorting and paging run in the database (``WHERE``/``ORDER BY``/``LIMIT``, see
``query`` for what translates); a query part it cannot translate is checked in Python on
the rows the rest selects, and a query the database rejects (e.g. a config holding NaN,
which is no valid JSON for it) is answered wholly in Python.

The class is put together from parts kept in their own modules: ``store_metrics`` (metric
reading, summaries and downsampling, with its caches), ``store_writes`` (``delete``,
``update_meta``, ``import_run``) and ``store_claims`` (workers' ``claim``/``claims``, in the
added table ``run_claim``); this module holds the connection, the records, the queries
and the files (artifacts, sources, resources).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from types import SimpleNamespace
from typing import Optional

import sqlalchemy as sa

from sacred.observers.sql import schema as b
from sacred.observers.sql.engine import create_engine, describe
from sacred.observers.sql.output import read_outputs
from sacred.observers.sql.query import SqlTranslator, Untranslatable
from sacred.observers.sql.store_claims import SqlStoreClaims
from sacred.observers.sql.store_keys import (
    _SESSION_TIMEOUT,
    META_COLUMNS,
    TIME_COLUMNS,
    public_id,
    run_key,
)
from sacred.observers.sql.store_metrics import SqlStoreMetrics
from sacred.observers.sql.store_parts import read_parts
from sacred.observers.sql.store_writes import SqlStoreWrites
from sacred.safe_restore import safe_restore
from sacred.store import query as q
from sacred.store.base import (
    RunNotFoundError,
    RunStore,
    StoreError,
    _check_limit,
    _check_skip,
    gc_paused,
    sort_rows,
)

__all__ = ("SqlStore",)


class SqlStore(SqlStoreMetrics, SqlStoreWrites, SqlStoreClaims, RunStore):
    """Runs in a database written by the SqlObserver, from a SQLAlchemy URL (or Engine)."""

    scheme = "sql"
    #: seconds PostgreSQL may spend on one statement of a query (None: query.QUERY_TIMEOUT)
    query_timeout: Optional[float] = None

    def __init__(self, location, echo: bool = False):
        # an engine of its own: its PostgreSQL connections keep the query timeout in their
        # session (see _query_connection); a given engine gets it per transaction
        self._own_engine = not isinstance(location, sa.engine.Engine)
        if isinstance(location, sa.engine.Engine):
            self.engine = location
        else:
            url = sa.engine.make_url(os.fspath(location))
            if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
                if not os.path.isfile(url.database):
                    raise StoreError(f"There is no SQLite database at {url.database!r}.")
            self.engine = create_engine(url, echo)
        self.dialect = self.engine.dialect.name
        if self.dialect == "sqlite":
            sa.event.listen(self.engine, "connect", _register_regexp)
        self.t = SimpleNamespace(
            run=b.Run.__table__,
            host=b.Host.__table__,
            experiment=b.Experiment.__table__,
            metric=b.Metric.__table__,
            chunk=b.MetricChunk.__table__,
            output_chunk=b.OutputChunk.__table__,
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
        self.translator = SqlTranslator(self.dialect, self.t, self._has_output_chunks)
        self._metric_cache = {}  # (run_id, name) -> (key, steps, stamps, values)
        self._reduced_cache = {}  # (run_id, name, key, max_points or None) -> SQL-side result
        try:
            with self.engine.connect():
                pass
        except sa.exc.DBAPIError as e:
            raise StoreError(f"Cannot connect to {self.url}: {describe(e)}") from None
        self._has_tables = None

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def __repr__(self):
        return f"SqlStore({self.url!r})"

    def close(self) -> None:
        self.engine.dispose()
        if self._query_engine is not None:
            self._query_engine.dispose()

    _query_engine = None

    def _query_pool(self):
        """The engine of ``_query_connection``: on PostgreSQL, when the store made its engine
        itself, a second one on the same URL whose connections keep the query timeout in
        their session (``store.engine``'s connections keep the server's default)."""
        if not (self._own_engine and self.dialect == "postgresql"):
            return self.engine
        if self._query_engine is None:
            self._query_engine = create_engine(self.engine.url)
        return self._query_engine

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

    def _has_mainfile(self) -> bool:
        # added columns of the experiment table: asked again until they are there
        if not getattr(self, "_mainfile", False):
            try:
                columns = {c["name"] for c in sa.inspect(self.engine).get_columns("experiment")}
            except sa.exc.NoSuchTableError:
                columns = ()
            self._mainfile = "mainfile" in columns
        return self._mainfile

    def _has_output_chunks(self) -> bool:
        # asked again until it is there (an observer of this version may add it any time)
        if not getattr(self, "_output_chunks", False):
            self._output_chunks = sa.inspect(self.engine).has_table("output_chunk")
        return self._output_chunks

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
            *[run[c] for c in TIME_COLUMNS],
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
        if self._has_mainfile():
            cols += [ex.mainfile.label("e_mainfile"), ex.base_dir_full.label("e_base_dir_full")]
        else:
            cols += [sa.null().label("e_mainfile"), sa.null().label("e_base_dir_full")]
        return cols  # captured_out is read apart (see _records)

    def _select_stmt(self, full=False):
        return sa.select(*self._columns(full)).select_from(self._from())

    def _records(self, conn, stmt, full=False) -> list:
        rows = conn.execute(stmt).all()
        if not rows:
            return []
        run_ids = [r.run_id for r in rows]
        experiments, artifacts, resources = read_parts(
            conn, self.t, run_ids, {r.experiment_id for r in rows}
        )
        outputs = read_outputs(conn, run_ids, chunks=self._has_output_chunks()) if full else None
        with gc_paused():
            return [self._record(r, experiments, artifacts, resources, outputs) for r in rows]

    def _record(self, r, experiments, artifacts, resources, outputs) -> dict:
        if r.result_json is not None:
            result = safe_restore(json.loads(r.result_json), "result")
        else:
            result = r.result
        experiment = {"name": r.e_name, "base_dir": r.e_base_dir_full or r.e_base_dir}
        if r.e_mainfile is not None:
            experiment["mainfile"] = r.e_mainfile
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
                meta.update((k, v) for k, v in extra.items() if k not in META_COLUMNS)
        if r.comment:
            meta["comment"] = r.comment
        if r.priority:
            meta["priority"] = r.priority
        record = {"_id": public_id(r.run_id), "experiment": experiment, "command": r.command}
        if record["command"] is None:
            del record["command"]
        record["host"] = host
        for name in TIME_COLUMNS:
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
        if outputs is not None:
            record["captured_out"] = outputs.get(r.run_id) or ""
        if r.fail_trace is not None:
            record["fail_trace"] = _split_trace(r.fail_trace)
        return record

    def get(self, run_id) -> dict:
        if self._tables_exist():
            with self._read_connection() as conn:
                stmt = self._select_stmt(full=True).where(self.t.run.c.run_id == run_key(run_id))
                records = self._records(conn, stmt, full=True)
            if records:
                return records[0]
        raise RunNotFoundError(f"There is no run {run_id!r} in {self.url}")

    def _require_run(self, conn, run_id) -> str:
        key = run_key(run_id)
        found = None
        if self._tables_exist():
            found = conn.execute(
                sa.select(self.t.run.c.run_id).where(self.t.run.c.run_id == key)
            ).first()
        if found is None:
            raise RunNotFoundError(f"There is no run {run_id!r} in {self.url}")
        return key

    # ------------------------------------------------------------------ querying
    def _read_connection(self, engine=None):
        """A connection for reads: on PostgreSQL, with a connection of the store's own engine,
        each statement is its own transaction (no BEGIN and ROLLBACK to wait for)."""
        conn = (engine or self.engine).connect()
        if self._own_engine and self.dialect == "postgresql":
            conn.execution_options(isolation_level="AUTOCOMMIT")
        return conn

    @contextlib.contextmanager
    def _query_connection(self):
        """A connection to run a query on. PostgreSQL matches regular expressions itself, so
        there each statement is stopped after ``query_timeout`` seconds, and being stopped is
        a QueryError, not a Python fallback. When the store made its engine, the connections
        of its query engine (``_query_pool``) keep the limit in their session (``SET
        statement_timeout``, sent again only when the limit changes) and run each statement
        as its own transaction: a query is one round trip. With an engine given by the
        caller, the limit is set for the query's transaction only (``SET LOCAL``)."""
        limit = self.query_timeout if self.query_timeout is not None else q.QUERY_TIMEOUT
        ms = max(1, int(limit * 1000)) if limit else 0
        with self._read_connection(self._query_pool()) as conn:
            if self.dialect == "postgresql" and self._own_engine:
                info = conn.connection.info
                if info.get(_SESSION_TIMEOUT) != ms:
                    conn.execute(sa.text(f"SET statement_timeout = {ms}"))
                    info[_SESSION_TIMEOUT] = ms
            elif self.dialect == "postgresql" and ms:
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
                return [public_id(r[0]) for r in conn.execute(stmt)]
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
        """The artifact ``name``; of a name listed more than once, the last one added."""
        a = self.t.artifact.c
        with self.engine.connect() as conn:
            key = self._require_run(conn, run_id)
            row = conn.execute(
                sa.select(a.content)
                .where(a.run_id == key, a.filename == name)
                .order_by(a.artifact_id.desc())
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


# ---------------------------------------------------------------------- helpers
def _sqlite_regexp(pattern, value):
    """``regexp(pattern, value)`` for SQLite: an RE2 search, in time linear in the value
    (Python's ``re`` could backtrack for minutes holding the GIL; no code is run)."""
    if not isinstance(value, str) or not isinstance(pattern, str):
        return 0
    return 1 if q.regex_searcher(pattern)(value) else 0


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


def _register_regexp(dbapi_connection, connection_record):
    dbapi_connection.create_function("regexp", 2, _sqlite_regexp, deterministic=True)


def _uses_metrics(node, sort) -> bool:
    return q.any_field(node, lambda f: f.metric is not None) or any(f.metric for f, _ in sort)


def _mentions(node, root) -> bool:
    return q.any_field(node, lambda f: f.root == root)
