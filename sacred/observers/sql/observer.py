"""SqlObserver: runs stored in a SQL database through SQLAlchemy (tables in ``schema``).

Beyond the original, which wrote a run once at its end and dropped the metrics:

* every heartbeat writes ``info``, ``heartbeat`` and the intermediate ``result`` while the
  run goes on, and the output it added as one row of the added ``output_chunk`` table:
  ``run.captured_out`` is rewritten with the whole output on a doubling schedule (up to a
  limit, ``output_fold_limit``) and when the run ends (see ``output``), so a beat costs
  what it adds, not what is stored;
* metrics go to the added ``metric`` table, in bulk (one row per measurement), and a
  packed copy of each batch to ``metric_chunk`` (read by ``SqlStore`` for long metrics);
* a result of any type is kept in the added column ``run.result_json``;
* reliability: a database that cannot be reached never fails a started run, at its start
  or later (a queued run fails with an ``ObserverError`` naming the backend and the URL,
  password masked): the events that could not be written are kept in order, appended to
  the run's journal in ``failure_dir`` as they fail (named in a WARNING; the format of
  ``sacred.observers.journal``, see ``journal``, with copies of the artifact and resource
  files) and retried with later events on a backoff (``journal.EventJournal``), and for up
  to ``retry_timeout`` seconds when the run ends. ``sacred sync JOURNAL [URL]`` writes what
  is left into the database, each event once (``replay_failed_events(path, url)`` too).

SQLAlchemy is imported when an observer is built, never by ``import sacred`` nor by
``from sacred.observers import SqlObserver``: so SQLAlchemy, and ``schema`` which imports
it, are imported inside the methods that use them.
"""

import itertools
import json
import logging
import os
import random
import threading
import time
import warnings

from sacred.observers.base import RunObserver
from sacred.observers.checkpoints import is_checkpoint, replace_copy
from sacred.observers.journal import sync as _journal_sync
from sacred.observers.sql import journal, output, tables
from sacred.observers.sql.continued import ContinuedRun, meta_columns
from sacred.observers.sql.engine import describe, is_transient, shared_engine
from sacred.observers.sql.event_writes import RunEventWrites
from sacred.observers.sql.rows import epoch_seconds
from sacred.serializer import flatten
from sacred.utils import ObserverError

__all__ = ("SqlObserver", "DEFAULT_SQL_PRIORITY", "replay_failed_events")

DEFAULT_SQL_PRIORITY = 40

logger = logging.getLogger("sacred.observers.sql")

_FINAL_EVENTS = ("completed_event", "interrupted_event", "failed_event")
_START_EVENTS = ("started_event", "continued_event")


class SqlObserver(journal.EventJournal, ContinuedRun, RunEventWrites, RunObserver):
    """Stores runs in a SQL database: ``SqlObserver("sqlite:///runs.db")``."""

    #: characters up to which ``run.captured_out`` is rewritten with the whole output while
    #: a run goes on (beyond: at its end); None: by database, see ``sql.output``
    output_fold_limit = None
    #: False: the path before ``output_chunk`` (``captured_out = coalesce(captured_out, '')
    #: + new`` at every beat), kept for the comparison in bench/bench_sql_output.py
    _output_chunks = True

    @classmethod
    def create(cls, url, echo=False, priority=DEFAULT_SQL_PRIORITY):
        warnings.warn(
            "SqlObserver.create(...) is deprecated. Please use SqlObserver(...) instead.",
            DeprecationWarning,
            stacklevel=1,  # attributed to sacred, so Python hides it as the original's
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
        # first: says how to install SQLAlchemy if missing; one engine per URL and process
        engine = shared_engine(url, echo)
        from sqlalchemy.orm import scoped_session, sessionmaker

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
        self._pending = []  # (event, kwargs, seq) not written yet, in order
        self._cout_db = None  # the captured output in the database (_output_chunks False)
        self._output = None  # an output.OutputState: what is known of the stored output
        self._output_next = None  # (state, text of the beat) staged by the open transaction
        self._outage = False
        self._journal = None  # the run's journal (written when events cannot be)
        self._start_kwargs = None  # the arguments of started_event, for the journal
        self._next_seq = 1  # event numbers in the journal (the start is 0)
        self._continued = False  # the run continues a run of the database (continued_event)

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
        start = {
            "ex_info": ex_info,
            "command": command,
            "host_info": host_info,
            "start_time": start_time,
            "config": config,
            "meta_info": meta_info,
            "_id": _id,
        }
        return self._add_event(
            ex_info, command, host_info, config, meta_info, _id, "RUNNING", start=start
        )

    def _add_event(self, ex_info, command, host_info, config, meta_info, _id, status, start=None):
        """Insert the run (queued, or started: ``start`` holds the started_event's arguments).

        A database that cannot be reached fails a queued run; a started run goes on, its
        start is written when the database is back, or kept in the journal.
        """
        with self.lock:
            self._reset()
            self.run_id = None
            self._new_journal(_id)
            kw = {} if start is None else {"start_time": start["start_time"]}
            try:
                self.run, new_id = self._on_tables(
                    lambda: self._insert_run(
                        ex_info,
                        command,
                        host_info,
                        config,
                        meta_info,
                        _id,
                        status,
                        journal_row=None if start is None else (self._journal.id, 0),
                        **kw,
                    )
                )
            except Exception as e:
                if not is_transient(e):
                    raise
                backend = self.engine.url.get_backend_name()
                if start is None:
                    raise ObserverError(
                        f"SqlObserver cannot reach the {backend} database at {self.url}: "
                        f"{describe(e)}"
                    ) from e
                self._start_kwargs = start
                self._keep_start("started_event", start, e)
                return _id
            # (not self.run.run_id: reading it after the commit would open a transaction
            # that holds a connection of the shared engine until the next event)
            self.run_id = str(new_id)
            if self._journal.path is None:
                self._journal.prefix = f"sacred_sql_{new_id}_"  # its name has the run's id
            if start is not None:
                self._start_kwargs = dict(start, _id=new_id)
            return new_id

    def _keep_start(self, event, start, error):
        """The database cannot take the run's start (``started_event`` or
        ``continued_event``): the run goes on, its events journaled and retried."""
        logger.warning(
            "SqlObserver: the %s database at %s is unreachable (%s); the run goes on "
            "and its events are kept and retried",
            self.engine.url.get_backend_name(),
            self.url,
            describe(error),
        )
        self._outage = True
        self._pending.append((event, start, 0))
        self._retry_later()
        self._journal_pending()

    def _on_tables(self, write):
        return tables.with_tables(self.engine, write)

    def _create_tables(self) -> bool:
        return tables.ensure_tables(self.engine)

    def _insert_run(
        self, ex_info, command, host_info, config, meta_info, _id, status, journal_row=None, **kw
    ):
        from sqlalchemy import exc

        new_id = 0
        for attempt in itertools.count():
            session = self.session()
            try:
                run, new_id = self._build_run(
                    session,
                    ex_info,
                    command,
                    host_info,
                    config,
                    meta_info,
                    _id,
                    new_id + 1,
                    status,
                    **kw,
                )
                if journal_row is not None:  # the start is event 0 of the run's journal
                    self._record(session, journal_row[0], journal_row[1], run.run_id)
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

    def _build_run(
        self, session, ex_info, command, host_info, config, meta_info, _id, floor, status, **kw
    ):
        """A new run in ``session`` (not committed): ``(Run, its id)``; the id is ``_id`` or
        the next free one from ``floor`` on."""
        # lazy: imports SQLAlchemy
        from sacred.observers.sql.schema import Experiment, Host, Run, _fit, next_run_id

        # the new experiment and host join the session with the run: no flush before
        with session.no_autoflush:
            experiment = Experiment.get_or_create(ex_info, session)
            host = Host.get_or_create(host_info, session)
            new_id = _id if _id is not None else next_run_id(session, floor)
            # chunks a SqlStore of an older version left when it deleted a run
            output.forget_chunks(session, str(new_id))
        run = Run(
            run_id=str(new_id),
            config=json.dumps(flatten(config)),
            command=_fit(command, Run.command),
            priority=meta_info.get("priority", 0),
            comment=meta_info.get("comment", ""),
            # the other meta keys (meta.parent, meta.sweep, ...), as a continued run keeps them
            meta_json=meta_columns(meta_info)["meta_json"],
            experiment=experiment,
            host=host,
            status=status,
            **kw,
        )
        session.add(run)
        return run, new_id

    def _apply_started_event(
        self, session, ex_info, command, host_info, start_time, config, meta_info, _id
    ):
        """The start the database could not take when it happened (or of a journal)."""
        self.run, new_id = self._build_run(
            session,
            ex_info,
            command,
            host_info,
            config,
            meta_info,
            _id,
            1,
            "RUNNING",
            start_time=start_time,
        )
        session.flush()
        self.run_id = self.run.run_id
        if self._journal is not None and self._journal.path is None:
            self._journal.prefix = f"sacred_sql_{new_id}_"
        if self._start_kwargs is not None:
            self._start_kwargs["_id"] = new_id

    def _forget_journal(self, session):
        """The run ended and nothing of it is in a journal: its rows are not needed."""
        from sacred.observers.sql.schema import JournalEvent  # lazy: imports SQLAlchemy

        table = JournalEvent.__table__
        session.execute(table.delete().where(table.c.journal_id == self._journal.id))

    def _record(self, session, journal_id, seq, run_id):
        """The database has event ``seq`` of the journal ``journal_id`` (see ``journal``)."""
        from sacred.observers.sql.schema import JournalEvent  # lazy: imports SQLAlchemy

        session.execute(
            JournalEvent.__table__.insert().values(journal_id=journal_id, seq=seq, run_id=run_id)
        )

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

    def final_heartbeat_event(self, info, captured_out, beat_time, result):
        # kept until the final event, which follows at once: both in one transaction
        self._submit(
            "heartbeat_event",
            {"info": info, "captured_out": captured_out, "beat_time": beat_time, "result": result},
            write=False,
        )

    def log_metrics(self, metrics_by_name, info):
        if not metrics_by_name:
            return
        metrics = {
            name: {
                "steps": series["steps"],
                "values": series["values"],
                "timestamps": epoch_seconds(series["timestamps"]),
            }
            for name, series in metrics_by_name.items()
        }
        self._submit("log_metrics", {"metrics_by_name": metrics})

    def resource_event(self, filename):
        self._submit("resource_event", {"filename": filename})

    def artifact_event(self, name, filename, metadata=None, content_type=None):
        kwargs = {"name": name, "filename": filename}
        if is_checkpoint(metadata):
            kwargs["replace"] = True  # Run.save_checkpoint: it replaces the one of its name
        self._submit("artifact_event", kwargs)

    def completed_event(self, stop_time, result):
        self._submit("completed_event", {"stop_time": stop_time, "result": result})

    def interrupted_event(self, interrupt_time, status):
        from sacred.observers.sql.schema import STATUSES  # lazy: imports SQLAlchemy

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
    def _submit(self, event, kwargs, write=True):
        with self.lock:
            if self._journal is None or self._start_kwargs is None:
                return  # no run started (or only queued)
            if event == "heartbeat_event":  # a heartbeat replaces an unwritten older one
                self._drop([op for op in self._pending if op[0] == event])
            elif kwargs.get("replace"):  # so does a checkpoint, of its name
                older = [op for op in self._pending if _same_checkpoint(op, kwargs)]
                copies = [op[1]["stored_copy"] for op in older if op[1].get("stored_copy")]
                if copies:  # the newest takes over the kept copy (a journal counts its copies)
                    kwargs["stored_copy"] = replace_copy(copies[-1], kwargs["filename"])
                self._drop(older)
            self._pending.append((event, kwargs, self._next_seq))
            self._next_seq += 1
            if not write:
                return  # written with the next event (or at join)
            if self._flush() and event not in _FINAL_EVENTS:
                return
            if event in _FINAL_EVENTS:
                self._finish()

    def _flush(self, force=False) -> bool:
        """Write the pending events in order; False if the database is unreachable (or
        was at the last try, less than the backoff ago: unless ``force``)."""
        if not force and self._backing_off():
            self._journal_pending()
            return False
        together = True
        while self._pending:
            event, kwargs, seq = self._pending[0]
            if self.run_id is None and event not in _START_EVENTS:
                self._pending.pop(0)  # the start could not be written: only the journal can
                self._spool([(event, kwargs, seq)])
                continue
            ops = self._pending[:1]
            if together and event == "heartbeat_event" and self._pending[1:2]:
                if self._pending[1][0] in _FINAL_EVENTS:  # the last beat and the end: together
                    ops = self._pending[:2]
            try:
                self._write(ops)
            except Exception as e:
                if is_transient(e):
                    if not self._outage:
                        logger.warning(
                            "SqlObserver: the database at %s is unreachable (%s); "
                            "events of run %s are kept and retried",
                            self.url,
                            describe(e),
                            self.run_id,
                        )
                        self._outage = True
                    self._retry_later()
                    self._journal_pending()
                    return False
                if len(ops) > 1:  # find which one the database refuses: one at a time
                    together = False
                    continue
                logger.warning(
                    "SqlObserver: %s of run %s cannot be written to %s: %s",
                    event,
                    self.run_id,
                    self.url,
                    describe(e),
                )
                self._pending.pop(0)
                self._spool([(event, kwargs, seq)])
                continue
            for _event, written, _seq in ops:
                self._pending.pop(0)
                self._forget_copy(written)
            if self._outage:
                logger.info("SqlObserver: the database at %s is reachable again", self.url)
                self._outage = False
                self._reachable()
        return True

    def _finish(self):
        """At the end of a run: retry for up to retry_timeout, then keep the rest in a file."""
        deadline = time.monotonic() + self.retry_timeout
        while not self._flush(force=True) and time.monotonic() < deadline:
            time.sleep(max(0.0, min(self.retry_interval, deadline - time.monotonic())))
        self._journal_the_rest()

    def _write(self, ops):
        """Apply events ``(event, kwargs, seq)`` in one transaction, with their rows in
        ``journal_event``; a run that ends with nothing journaled has its rows removed."""
        if any(op[0] in _START_EVENTS for op in ops):
            # the database may have been away since before the start
            return self._on_tables(lambda: self._write_ops(ops))
        return self._write_ops(ops)

    def _write_ops(self, ops):
        session = self.session()
        # the run ends with nothing journaled: its journal_event rows go, none are added
        ending = not self._journal.written and any(op[0] in _FINAL_EVENTS for op in ops)
        try:
            for event, kwargs, seq in ops:
                getattr(self, "_apply_" + event)(session, **kwargs)
                if not ending:
                    self._record(session, self._journal.id, seq, self.run_id)
            if ending:
                self._forget_journal(session)
            self._record_dropped(session)
            session.commit()
        except BaseException:
            self._cout_db = None  # unknown after a failure: the next beat sends all of it
            self._cout_next = None
            self._output = self._output_next = None
            self._rollback(session)
            raise
        self._dropped_recorded()
        if self._cout_next is not None:
            self._cout_db, self._cout_next = self._cout_next, None
        if self._output_next is not None:  # (its text is not kept: see output's docstring)
            self._output, self._output_next = self._output_next[0], None

    _cout_next = None

    # ------------------------------------------------------------ journal
    def journal_location(self):
        """``(location, options)`` of the database, as a journal records it."""
        return self.url, {}

    @classmethod
    def for_journal(cls, location, **options):
        """An observer that writes a journal into the database at ``location``."""
        return cls(location, **options)

    def apply_journal(self, events):
        """Apply journal events to this database, each once (see ``sql.journal``);
        returns ``(run id, applied, already there)``."""
        return journal.apply(self, events, epoch_seconds)

    # ------------------------------------------------------------ reading
    def query(self, _id):
        """The stored run as a dict (``Run.to_json()``, with the whole output), or None if
        there is none."""
        from sacred.observers.sql.schema import Run  # lazy: imports SQLAlchemy

        with self.lock:
            session = self.session()
            try:
                run = session.query(Run).filter_by(run_id=str(_id)).first()
                if run is None:
                    return None
                doc = run.to_json()
                texts = output.read_outputs(
                    session.connection(), [run.run_id], chunks=self._has_output_table()
                )
                doc["captured_out"] = texts.get(run.run_id)
                return doc
            finally:
                session.commit()

    def _has_output_table(self) -> bool:
        # a database of the original or an older version has none until a run is started
        if not getattr(self, "_output_table", False):
            from sqlalchemy import inspect

            self._output_table = inspect(self.engine).has_table("output_chunk")
        return self._output_table

    def query_metrics(self, _id):
        """``{name: {"steps": [...], "values": [...], "timestamps": [datetime...]}}``."""
        from sqlalchemy import select

        from sacred.observers.sql.schema import Metric  # lazy: imports SQLAlchemy

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


def _same_checkpoint(op, kwargs) -> bool:
    event, pending, _seq = op
    return (
        event == "artifact_event" and pending.get("replace") and pending["name"] == kwargs["name"]
    )


def replay_failed_events(path, url=None, *, engine=None, session=None):
    """Write the journal ``path`` (see the WARNING that named it) into the database; returns
    the number of events applied (those the database has already are skipped).

    Give the database as ``url`` (the journal holds the URL with its password masked), or
    as an SQLAlchemy ``engine`` (and optionally a ``session``); neither: the journal's own.
    The same as ``sacred sync PATH [URL]`` (``sacred.observers.journal.sync``).
    """
    if url is None and engine is None:
        return _journal_sync(path).applied
    if engine is None:
        observer = SqlObserver(url)
    else:
        from sqlalchemy.orm import scoped_session, sessionmaker

        session = session or scoped_session(sessionmaker(bind=engine))
        observer = SqlObserver.create_from(engine, session)
    return journal.replay(observer, path)
