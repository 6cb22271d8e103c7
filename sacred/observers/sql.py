"""SqlObserver: runs stored in a SQL database through SQLAlchemy (tables in ``sql_bases``).

Beyond the original, which wrote a run once at its end and dropped the metrics:

* every heartbeat writes ``info``, ``captured_out`` (only the new text is sent when the
  output just grew), ``heartbeat`` and the intermediate ``result`` while the run goes on;
* metrics go to the added ``metric`` table, in bulk (one row per measurement), and a
  packed copy of each batch to ``metric_chunk`` (read by ``SqlStore`` for long metrics);
* a result of any type is kept in the added column ``run.result_json``;
* reliability: a database that cannot be reached when the run starts fails the run at
  once (``ObserverError`` naming the backend and the URL, password masked). A database
  that goes away later never fails the run: the events that could not be written are
  kept in order and retried with every later event, and for up to ``retry_timeout``
  seconds when the run ends. What still could not be written then is appended to a
  JSON-lines file in ``failure_dir`` (named in a WARNING), one
  ``{"event": ..., "kwargs": flatten(kwargs), "run_id": ..., "url": masked URL}`` a line,
  with copies of the artifact and resource files beside it. Write it into the database
  later with ``replay_failed_events(path, url)``.

SQLAlchemy is imported when an observer is built, never by ``import sacred``.
"""

import datetime
import importlib.util
import itertools
import json
import logging
import numbers
import os
import random
import shutil
import threading
import time
import warnings
from operator import sub

from sacred.observers.base import RunObserver
from sacred.observers.cli_options import sql_option  # noqa: F401 (defined once, there)
from sacred.safe_restore import safe_restore
from sacred.serializer import flatten
from sacred.utils import ObserverError

__all__ = (
    "SqlObserver",
    "sql_option",
    "DEFAULT_SQL_PRIORITY",
    "replay_failed_events",
    "backfill_metric_chunks",
)

DEFAULT_SQL_PRIORITY = 40

logger = logging.getLogger(__name__)

_EPOCH = datetime.datetime(1970, 1, 1)
_SQLITE_ROWS_PER_INSERT = 300  # 3 parameters a row + 2 stays below SQLite's old 999 limit
_FINAL_EVENTS = ("completed_event", "interrupted_event", "failed_event")


def _import_sqlalchemy():
    try:
        import sqlalchemy
    except ImportError as e:
        raise ImportError(
            'The SqlObserver needs SQLAlchemy. Install it with: pip install "sacred[sql]"'
        ) from e
    return sqlalchemy


def _has_module(name):
    return importlib.util.find_spec(name) is not None


def _create_engine(url, echo=False):
    sa = _import_sqlalchemy()
    url = sa.engine.make_url(url)
    # "postgresql://" means psycopg2 to SQLAlchemy; use psycopg 3 when only that is installed
    if url.drivername == "postgresql" and not _has_module("psycopg2") and _has_module("psycopg"):
        url = url.set(drivername="postgresql+psycopg")
    kwargs = {}
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        # one in-memory database shared by the main and the heartbeat thread
        kwargs = {"poolclass": sa.pool.StaticPool, "connect_args": {"check_same_thread": False}}
    return sa.create_engine(url, echo=echo, **kwargs)


def _is_transient(error) -> bool:
    """Whether retrying later may succeed (connection lost, server down, database locked)."""
    from sqlalchemy import exc

    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(
        error, (exc.OperationalError, exc.InterfaceError, exc.DisconnectionError, exc.TimeoutError)
    )


def _describe(error) -> str:
    """The driver's message, without SQLAlchemy's statement dump and help link."""
    orig = getattr(error, "orig", None)
    return str(orig if orig is not None else error).strip()


def _epoch_seconds(stamps):
    """Timestamps (naive UTC datetimes, aware datetimes or numbers) as float epoch seconds."""
    try:
        return list(
            map(datetime.timedelta.total_seconds, map(sub, stamps, itertools.repeat(_EPOCH)))
        )
    except TypeError:
        return [_one_epoch_second(t) for t in stamps]


def _one_epoch_second(t):
    if isinstance(t, datetime.datetime):
        return t.timestamp() if t.tzinfo is not None else (t - _EPOCH).total_seconds()
    return None if t is None else float(t)


def _result_columns(result):
    """``result`` (Float, numbers only, like the original) and ``result_json`` (any type)."""
    number = float(result) if isinstance(result, numbers.Real) else None
    as_json = None if result is None else json.dumps(flatten(result))
    return {"result": number, "result_json": as_json}


def _text(value):
    # PostgreSQL text cannot hold NUL characters
    if value and "\x00" in value:
        return value.replace("\x00", "\ufffd")
    return value


_sqlite_insert_sql = {}


def _sqlite_insert(dbapi_connection, run_id, name, steps, values, stamps):
    """Multi-row INSERTs on the raw sqlite3 connection: about 3x faster than executemany.
    Also writes their ``metric_chunk`` row (see ``sql_bases.MetricChunk``)."""
    from sacred.observers.sql_bases import pack_points

    n, size = len(steps), _SQLITE_ROWS_PER_INSERT
    if not n:
        return
    # step, value, timestamp of each row in one list: slice assignments copy in C
    # (three times faster than chaining the tuples of a zip)
    flat = [None] * (3 * n)
    flat[0::3], flat[1::3], flat[2::3] = steps, values, stamps
    cursor = dbapi_connection.cursor()
    head = [run_id, name]
    first_id = None
    try:
        for start in range(0, n, size):
            count = min(size, n - start)
            sql = _sqlite_insert_sql.get(count)
            if sql is None:
                rows = ",".join(
                    f"(?1,?2,?{3 * i + 3},?{3 * i + 4},?{3 * i + 5})" for i in range(count)
                )
                sql = f'INSERT INTO metric (run_id, name, step, value, "timestamp") VALUES {rows}'
                _sqlite_insert_sql[count] = sql
            cursor.execute(sql, head + flat[3 * start : 3 * (start + count)])
            if first_id is None:  # the rows of one INSERT get consecutive ids
                first_id = cursor.lastrowid - count + 1
        packed = pack_points(steps, values, stamps)
        cursor.execute(
            "INSERT INTO metric_chunk (run_id, name, first_id, last_id, count, first_step, "
            'steps, "values", timestamps) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
            (run_id, name, first_id, cursor.lastrowid, n, *packed.values()),
        )
    finally:
        cursor.close()


def _insert_points(connection, run_id, name, steps, values, stamps):
    """The ``metric`` rows and their ``metric_chunk`` row through SQLAlchemy (any database)."""
    import sqlalchemy as sa

    from sacred.observers.sql_bases import Metric, MetricChunk, pack_points

    if not len(steps):
        return
    m = Metric.__table__.c
    of_metric = sa.and_(m.run_id == run_id, m.name == name)
    before = connection.execute(sa.select(sa.func.max(m.metric_id)).where(of_metric)).scalar()
    rows = [
        {"run_id": run_id, "name": name, "step": s, "value": v, "timestamp": t}
        for s, v, t in zip(steps, values, stamps)
    ]
    connection.execute(Metric.__table__.insert(), rows)
    new = of_metric if before is None else sa.and_(of_metric, m.metric_id > before)
    first_id, last_id = connection.execute(
        sa.select(sa.func.min(m.metric_id), sa.func.max(m.metric_id)).where(new)
    ).one()
    connection.execute(
        MetricChunk.__table__.insert(),
        {
            "run_id": run_id,
            "name": name,
            "first_id": first_id,
            "last_id": last_id,
            "count": len(rows),
            **pack_points(steps, values, stamps),
        },
    )


def backfill_metric_chunks(url=None, *, engine=None, batch=100_000) -> int:
    """Pack the ``metric_chunk`` rows of the metrics that lack them (written before that
    table, or by an older observer), so that ``SqlStore`` reads them fast too.

    Give the database as ``url`` or as an SQLAlchemy ``engine``. A metric whose chunks do
    not cover its rows (first and last row id, number of rows) gets new ones, ``batch``
    points each; one transaction per metric, so it can run beside observers and be
    stopped and run again. Returns the number of metrics packed. The ``metric`` rows are
    not changed: they stay the truth.
    """
    sa = _import_sqlalchemy()
    from sacred.observers.sql_bases import Base, Metric, MetricChunk, pack_points, upgrade_schema

    own = engine is None
    engine = _create_engine(url) if own else engine
    try:
        Base.metadata.create_all(engine)
        upgrade_schema(engine)
        m, c = Metric.__table__.c, MetricChunk.__table__.c
        key = (m.run_id, m.name)
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(
                    *key, sa.func.count(), sa.func.min(m.metric_id), sa.func.max(m.metric_id)
                ).group_by(*key)
            ).all()
            chunks = conn.execute(
                sa.select(
                    c.run_id,
                    c.name,
                    sa.func.sum(c.count),
                    sa.func.min(c.first_id),
                    sa.func.max(c.last_id),
                ).group_by(c.run_id, c.name)
            ).all()
        covered = {(r, n): (count, first, last) for r, n, count, first, last in chunks}
        packed = 0
        for run_id, name, count, first, last in rows:
            if covered.get((run_id, name)) == (count, first, last):
                continue
            with engine.begin() as conn:
                conn.execute(
                    MetricChunk.__table__.delete().where(c.run_id == run_id, c.name == name)
                )
                after = first - 1
                while True:
                    part = conn.execute(
                        sa.select(
                            m.metric_id, m.step, m.value, sa.type_coerce(m.timestamp, sa.Float)
                        )
                        .where(m.run_id == run_id, m.name == name, m.metric_id > after)
                        .order_by(m.metric_id)
                        .limit(batch)
                    ).all()
                    if not part:
                        break
                    ids, steps, values, stamps = (list(x) for x in zip(*part))
                    conn.execute(
                        MetricChunk.__table__.insert(),
                        {
                            "run_id": run_id,
                            "name": name,
                            "first_id": ids[0],
                            "last_id": ids[-1],
                            "count": len(ids),
                            **pack_points(steps, values, stamps),
                        },
                    )
                    after = ids[-1]
            packed += 1
        return packed
    finally:
        if own:
            engine.dispose()


class SqlObserver(RunObserver):
    """Stores runs in a SQL database: ``SqlObserver("sqlite:///runs.db")``."""

    @classmethod
    def create(cls, url, echo=False, priority=DEFAULT_SQL_PRIORITY):
        warnings.warn(
            "SqlObserver.create(...) is deprecated. Please use SqlObserver(...) instead.",
            DeprecationWarning,
            stacklevel=2,
        )
        return cls(url, echo, priority)

    def __init__(
        self,
        url,
        echo=False,
        priority=DEFAULT_SQL_PRIORITY,
        *,
        failure_dir=None,
        retry_timeout=10.0,
        retry_interval=0.5,
    ):
        from sqlalchemy.orm import scoped_session, sessionmaker

        engine = _create_engine(url, echo)
        session = scoped_session(sessionmaker(bind=engine))
        self._initialize(engine, session, priority, failure_dir, retry_timeout, retry_interval)

    @classmethod
    def create_from(cls, engine, session, priority=DEFAULT_SQL_PRIORITY, **kwargs):
        """An observer on an existing engine and (scoped) session."""
        self = cls.__new__(cls)
        self._initialize(engine, session, priority, **kwargs)
        return self

    def _initialize(
        self,
        engine,
        session,
        priority=DEFAULT_SQL_PRIORITY,
        failure_dir=None,
        retry_timeout=10.0,
        retry_interval=0.5,
    ):
        self.engine = engine
        self.session = session
        self.priority = priority
        self.failure_dir = os.path.abspath(failure_dir or "sacred_failed_events")
        self.retry_timeout = retry_timeout
        self.retry_interval = retry_interval
        self.run = None
        self.run_id = None
        self.lock = threading.RLock()  # the heartbeat thread and the main thread both write
        self._reset()

    def _reset(self):
        self._pending = []  # (event, kwargs) not written yet, in order
        self._cout_db = None  # the captured output known to be in the database
        self._outage = False
        self._spool_path = None

    @property
    def url(self) -> str:
        """The database URL with the password masked."""
        return self.engine.url.render_as_string(hide_password=True)

    def __repr__(self):
        return f"SqlObserver({self.url!r})"

    def __eq__(self, other):
        if not isinstance(other, SqlObserver):
            return False
        return self.engine == other.engine and self.session == other.session

    def __hash__(self):
        return hash((self.engine, self.session))

    # ------------------------------------------------------------ start
    def queued_event(self, ex_info, command, host_info, queue_time, config, meta_info, _id):
        return self._add_event(ex_info, command, host_info, config, meta_info, _id, "QUEUED")

    def started_event(self, ex_info, command, host_info, start_time, config, meta_info, _id):
        return self._add_event(
            ex_info, command, host_info, config, meta_info, _id, "RUNNING", start_time=start_time
        )

    def _add_event(self, ex_info, command, host_info, config, meta_info, _id, status, **kwargs):
        with self.lock:
            self._reset()
            try:
                self._create_tables()
                self.run, new_id = self._insert_run(
                    ex_info, command, host_info, config, meta_info, _id, status, **kwargs
                )
            except Exception as e:
                if _is_transient(e):
                    backend = self.engine.url.get_backend_name()
                    raise ObserverError(
                        f"SqlObserver cannot reach the {backend} database at {self.url}: "
                        f"{_describe(e)}"
                    ) from e
                raise
            self.run_id = self.run.run_id
            return new_id

    def _create_tables(self):
        from sacred.observers.sql_bases import Base, upgrade_schema

        # Processes starting at once on an empty PostgreSQL database race to create the
        # tables and the enum type; the loser retries and then finds them.
        for attempt in range(6):
            try:
                Base.metadata.create_all(self.engine)
                upgrade_schema(self.engine)  # a database of the original SqlObserver
                return
            except Exception:
                if attempt == 5:
                    raise
                time.sleep(random.uniform(0.02, 0.1) * (attempt + 1))

    def _insert_run(self, ex_info, command, host_info, config, meta_info, _id, status, **kw):
        from sqlalchemy import exc

        from sacred.observers.sql_bases import Experiment, Host, Run, _fit, next_run_id

        new_id = 0
        for attempt in itertools.count():
            session = self.session()
            try:
                # the new experiment and host join the session with the run: no flush before
                with session.no_autoflush:
                    experiment = Experiment.get_or_create(ex_info, session)
                    host = Host.get_or_create(host_info, session)
                    new_id = _id if _id is not None else next_run_id(session, new_id + 1)
                run = Run(
                    run_id=str(new_id),
                    config=json.dumps(flatten(config)),
                    command=_fit(command, Run.command),
                    priority=meta_info.get("priority", 0),
                    comment=meta_info.get("comment", ""),
                    experiment=experiment,
                    host=host,
                    status=status,
                    **kw,
                )
                session.add(run)
                session.commit()
                return run, new_id
            except exc.IntegrityError:
                self._rollback(session)
                # another process took this id: take the next one (a given id is final)
                if _id is not None or attempt >= 100:
                    raise
                time.sleep(random.uniform(0, 0.005 * min(attempt + 1, 20)))
            except BaseException:
                self._rollback(session)
                raise

    def _rollback(self, session):
        try:
            session.rollback()
        except Exception:  # the connection is gone: start over with a new session
            self.session.remove()

    # ------------------------------------------------------------ events while running
    def heartbeat_event(self, info, captured_out, beat_time, result):
        self._submit(
            "heartbeat_event",
            {"info": info, "captured_out": captured_out, "beat_time": beat_time, "result": result},
        )

    def log_metrics(self, metrics_by_name, info):
        if not metrics_by_name:
            return
        metrics = {
            name: {
                "steps": series["steps"],
                "values": series["values"],
                "timestamps": _epoch_seconds(series["timestamps"]),
            }
            for name, series in metrics_by_name.items()
        }
        self._submit("log_metrics", {"metrics_by_name": metrics})

    def resource_event(self, filename):
        self._submit("resource_event", {"filename": filename})

    def artifact_event(self, name, filename, metadata=None, content_type=None):
        self._submit("artifact_event", {"name": name, "filename": filename})

    def completed_event(self, stop_time, result):
        self._submit("completed_event", {"stop_time": stop_time, "result": result})

    def interrupted_event(self, interrupt_time, status):
        from sacred.observers.sql_bases import STATUSES

        if status not in STATUSES:
            logger.warning(
                "SqlObserver: status %r is not one of %s; stored as INTERRUPTED",
                status,
                ", ".join(STATUSES),
            )
            status = "INTERRUPTED"
        self._submit("interrupted_event", {"interrupt_time": interrupt_time, "status": status})

    def failed_event(self, fail_time, fail_trace):
        self._submit("failed_event", {"fail_time": fail_time, "fail_trace": fail_trace})

    def join(self):
        with self.lock:
            if self._pending:
                self._finish()

    # ------------------------------------------------------------ writing, retrying, keeping
    def _submit(self, event, kwargs):
        with self.lock:
            if self.run_id is None:
                return
            if event == "heartbeat_event":  # a heartbeat replaces an unwritten older one
                self._pending = [op for op in self._pending if op[0] != event]
            self._pending.append((event, kwargs))
            if self._flush() and event not in _FINAL_EVENTS:
                return
            if event in _FINAL_EVENTS:
                self._finish()

    def _flush(self) -> bool:
        """Write the pending events in order; False if the database is unreachable."""
        while self._pending:
            event, kwargs = self._pending[0]
            try:
                self._write([(event, kwargs)])
            except Exception as e:
                if _is_transient(e):
                    if not self._outage:
                        logger.warning(
                            "SqlObserver: the database at %s is unreachable (%s); "
                            "events of run %s are kept and retried",
                            self.url,
                            _describe(e),
                            self.run_id,
                        )
                        self._outage = True
                    self._keep_files()
                    return False
                logger.warning(
                    "SqlObserver: %s of run %s cannot be written to %s: %s",
                    event,
                    self.run_id,
                    self.url,
                    _describe(e),
                )
                self._pending.pop(0)
                self._spool([(event, kwargs)])
                continue
            self._pending.pop(0)
            self._forget_copy(kwargs)
            if self._outage:
                logger.info("SqlObserver: the database at %s is reachable again", self.url)
                self._outage = False
        return True

    def _finish(self):
        """At the end of a run: retry for up to retry_timeout, then keep the rest in a file."""
        deadline = time.monotonic() + self.retry_timeout
        while not self._flush() and time.monotonic() < deadline:
            time.sleep(max(0.0, min(self.retry_interval, deadline - time.monotonic())))
        if self._pending:
            pending, self._pending = self._pending, []
            self._spool(pending)

    def _write(self, ops):
        """Apply events in one transaction."""
        session = self.session()
        try:
            for event, kwargs in ops:
                getattr(self, "_apply_" + event)(session, **kwargs)
            session.commit()
        except BaseException:
            self._cout_db = None  # unknown after a failure: the next beat sends all of it
            self._rollback(session)
            raise
        if self._cout_next is not None:
            self._cout_db, self._cout_next = self._cout_next, None

    _cout_next = None

    def _update_run(self, session, **values):
        from sacred.observers.sql_bases import Run

        table = Run.__table__
        session.execute(table.update().where(table.c.run_id == self.run_id).values(**values))

    def _apply_heartbeat_event(self, session, info, captured_out, beat_time, result):
        from sacred.observers.sql_bases import Run

        values = {"info": json.dumps(flatten(info)), "heartbeat": beat_time}
        values.update(_result_columns(result))
        captured_out = _text(captured_out)
        known = self._cout_db
        if known is None or not captured_out.startswith(known):
            values["captured_out"] = captured_out
        elif len(captured_out) > len(known):  # only the new text travels
            column = Run.__table__.c.captured_out
            from sqlalchemy import func

            values["captured_out"] = func.coalesce(column, "") + captured_out[len(known) :]
        self._update_run(session, **values)
        self._cout_next = captured_out

    def _apply_log_metrics(self, session, metrics_by_name):
        connection = session.connection()
        sqlite = connection.dialect.name == "sqlite"
        for name, series in metrics_by_name.items():
            # timestamps were made epoch seconds by log_metrics
            steps, values, stamps = series["steps"], series["values"], series["timestamps"]
            if sqlite:
                raw = connection.connection.dbapi_connection
                _sqlite_insert(raw, self.run_id, name, steps, values, stamps)
            else:
                _insert_points(connection, self.run_id, name, steps, values, stamps)

    def _apply_resource_event(self, session, filename, stored_copy=None):
        from sqlalchemy import select

        from sacred.observers.sql_bases import Resource
        from sacred.observers.sql_bases import run_resource_association as assoc

        resource = Resource.get_or_create(filename, session, path=stored_copy)
        session.add(resource)
        session.flush()
        linked = session.execute(
            select(assoc.c.run_id).where(
                assoc.c.run_id == self.run_id, assoc.c.resource_id == resource.resource_id
            )
        ).first()
        if linked is None:
            session.execute(
                assoc.insert().values(run_id=self.run_id, resource_id=resource.resource_id)
            )

    def _apply_artifact_event(self, session, name, filename, stored_copy=None):
        from sacred.observers.sql_bases import Artifact

        artifact = Artifact.create(name, stored_copy or filename)
        artifact.run_id = self.run_id
        session.add(artifact)

    def _apply_completed_event(self, session, stop_time, result):
        self._update_run(
            session, stop_time=stop_time, status="COMPLETED", **_result_columns(result)
        )

    def _apply_interrupted_event(self, session, interrupt_time, status):
        self._update_run(session, stop_time=interrupt_time, status=status)

    def _apply_failed_event(self, session, fail_time, fail_trace):
        self._update_run(
            session, stop_time=fail_time, status="FAILED", fail_trace=_text("\n".join(fail_trace))
        )

    # ------------------------------------------------------------ the local fallback file
    def _spool_file(self):
        if self._spool_path is None:
            stamp = datetime.datetime.now().strftime("%Y%m%dT%H%M%S")
            name = f"sacred_sql_{self.run_id}_{stamp}_{os.getpid()}.jsonl"
            os.makedirs(self.failure_dir, exist_ok=True)
            self._spool_path = os.path.join(self.failure_dir, name)
        return self._spool_path

    def _keep_files(self):
        """Copy the files of unwritten artifact/resource events: they may be gone later."""
        for event, kwargs in self._pending:
            if event not in ("artifact_event", "resource_event") or "stored_copy" in kwargs:
                continue
            folder = self._spool_file()[: -len(".jsonl")] + "_files"
            os.makedirs(folder, exist_ok=True)
            target = os.path.join(
                folder, f"{len(os.listdir(folder))}_{os.path.basename(kwargs['filename'])}"
            )
            try:
                shutil.copyfile(kwargs["filename"], target)
            except OSError as e:
                logger.warning("SqlObserver: cannot keep a copy of %s: %s", kwargs["filename"], e)
                continue
            kwargs["stored_copy"] = target

    def _forget_copy(self, kwargs):
        copy = kwargs.get("stored_copy")
        if copy and self._spool_path and copy.startswith(self.failure_dir):
            try:
                os.remove(copy)
            except OSError:
                pass

    def _spool(self, ops):
        if not ops:
            return
        self._keep_files_of(ops)
        path = self._spool_file()
        with open(path, "a", encoding="utf-8") as f:
            for event, kwargs in ops:
                record = {
                    "event": event,
                    "kwargs": flatten(kwargs),
                    "run_id": self.run_id,
                    "url": self.url,
                }
                f.write(json.dumps(record) + "\n")
        logger.warning(
            "SqlObserver: %d event(s) of run %s could not be written to %s and are kept in "
            "%s; write them into the database with "
            "sacred.observers.sql.replay_failed_events(%r, url)",
            len(ops),
            self.run_id,
            self.url,
            path,
            path,
        )

    def _keep_files_of(self, ops):
        pending, self._pending = self._pending, list(ops)
        try:
            self._keep_files()
        finally:
            self._pending = pending

    # ------------------------------------------------------------ reading
    def query(self, _id):
        """The stored run as a dict (``Run.to_json()``), or None if there is none."""
        from sacred.observers.sql_bases import Run

        with self.lock:
            session = self.session()
            try:
                run = session.query(Run).filter_by(run_id=str(_id)).first()
                return None if run is None else run.to_json()
            finally:
                session.commit()

    def query_metrics(self, _id):
        """``{name: {"steps": [...], "values": [...], "timestamps": [datetime...]}}``."""
        from sqlalchemy import select

        from sacred.observers.sql_bases import Metric

        with self.lock:
            session = self.session()
            try:
                rows = session.execute(
                    select(Metric.name, Metric.step, Metric.value, Metric.timestamp)
                    .where(Metric.run_id == str(_id))
                    .order_by(Metric.metric_id)
                ).all()
            finally:
                session.commit()
        metrics = {}
        for name, step, value, timestamp in rows:
            series = metrics.setdefault(name, {"steps": [], "values": [], "timestamps": []})
            series["steps"].append(step)
            series["values"].append(value)
            series["timestamps"].append(timestamp)
        return metrics


def replay_failed_events(path, url=None, *, engine=None, session=None):
    """Write the events kept in a fallback file (see the WARNING) into the database.

    Give the database as ``url`` (the file only holds the URL with its password masked),
    or as an SQLAlchemy ``engine`` (and optionally a ``session``). All events are written
    in one transaction; afterwards the file is renamed to ``<path>.replayed`` so that it is
    not written twice. Returns the number of events written.
    """
    if url is None and engine is None:
        raise ValueError("replay_failed_events needs the database url (or an engine)")
    if engine is None:
        observer = SqlObserver(url)
    else:
        from sqlalchemy.orm import scoped_session, sessionmaker

        session = session or scoped_session(sessionmaker(bind=engine))
        observer = SqlObserver.create_from(engine, session)
    with open(path, encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()]
    observer._create_tables()
    with observer.lock:
        db_session = observer.session()
        try:
            for record in records:
                observer.run_id = record["run_id"]
                observer._cout_db = None
                kwargs = safe_restore(record["kwargs"], "kwargs")
                getattr(observer, "_apply_" + record["event"])(db_session, **kwargs)
            db_session.commit()
        except BaseException:
            observer._rollback(db_session)
            raise
    os.replace(path, path + ".replayed")
    return len(records)
