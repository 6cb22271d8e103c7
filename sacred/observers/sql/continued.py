"""The SqlObserver continuing a run the database already holds (``continued_event``): a
QUEUED run a worker claimed, or a stopped run resumed (``sacred.continuation``).

The row of ``run`` is updated in place, in one transaction: experiment (its sources saved),
host, command, config, ``comment``/``priority`` and the other meta keys (``run.meta_json``:
the Run merged the old meta into ``meta_info`` already), status RUNNING, ``heartbeat`` the
new start, ``start_time`` kept if the run had one, ``stop_time`` and ``fail_trace`` cleared.
The captured output, ``metric`` rows, artifacts, resources and info stay: the next heartbeats
carry the whole output, old text first, so the observer starts from the output the database
holds (``output.stored_state``: the doubling schedule of ``output_chunk`` goes on from
there); new metric rows, artifacts and resource links are added after the old ones.

Without such a row, this is a ``started_event`` with that id. A database that cannot be
reached does not fail the run, as for a started run: the continuation is kept and retried
with the next events, and goes to the run's journal if it never gets through (a
``started_event`` line marked ``continued``, which ``sacred sync`` applies as a
continuation of the existing run).

SQLAlchemy, and ``schema`` which imports it, are imported inside the methods.
"""

import json
import logging

from sacred.observers.sql import output
from sacred.observers.sql.engine import is_transient
from sacred.serializer import flatten

__all__ = ("ContinuedRun", "meta_columns")

logger = logging.getLogger("sacred.observers.sql")  # the observer's logger

_OWN_COLUMNS = ("command", "comment", "priority")  # meta keys with a run column of their own
# meta keys the SqlObserver does not keep in meta_json
_NOT_KEPT = ("queue_time",)


def meta_columns(meta_info) -> dict:
    """The run columns of a run's meta: ``comment``, ``priority`` and ``meta_json`` (the
    other keys but ``command`` and ``queue_time``, with the command line's ``options``,
    ``named_configs`` and ``config_updates``: a JSON object; NULL when there is none)."""
    meta = meta_info if isinstance(meta_info, dict) else {}
    extra = {k: v for k, v in meta.items() if k not in _OWN_COLUMNS + _NOT_KEPT}
    priority = meta.get("priority", 0)
    if not isinstance(priority, (int, float)) or isinstance(priority, bool):
        priority = 0
    return {
        "comment": meta.get("comment", ""),
        "priority": priority,
        "meta_json": json.dumps(flatten(extra), default=str) if extra else None,
    }


class ContinuedRun:
    """The ``continued_event`` part of the SqlObserver (a mixin): uses its ``lock``,
    ``engine``, ``session``, journal, ``_pending`` events and ``_write``."""

    @property
    def store_location(self):
        """What ``sacred.store.open_store`` reads this observer's database from: its URL
        (with the password), or a ``SqlStore`` on the same engine for an in-memory SQLite."""
        url = self.engine.url
        if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
            from sacred.observers.sql.store import SqlStore  # lazy: imports SQLAlchemy

            return SqlStore(self.engine)
        return url.render_as_string(hide_password=False)

    def continued_event(self, ex_info, command, host_info, start_time, config, meta_info, _id):
        """Continue the run ``_id`` (see ``RunObserver.continued_event`` and the module)."""
        start = {
            "ex_info": ex_info,
            "command": command,
            "host_info": host_info,
            "start_time": start_time,
            "config": config,
            "meta_info": meta_info,
            "_id": _id,
        }
        with self.lock:
            self._reset()
            self.run_id = None
            self._new_journal(_id)
            self._start_kwargs = dict(start)
            self._continued = True
            try:
                self._write([("continued_event", start, 0)])
            except Exception as e:
                if not is_transient(e):
                    raise
                self._keep_start("continued_event", start, e)
                return _id
            return self._start_kwargs["_id"]

    def _apply_continued_event(
        self, session, ex_info, command, host_info, start_time, config, meta_info, _id
    ):
        """Continue the run ``_id`` in ``session`` (or start it, if there is none)."""
        import sqlalchemy as sa

        from sacred.observers.sql.schema import Experiment, Host, Run, _fit  # lazy

        key = None if _id is None else str(_id)
        stored = None if key is None else output.stored_state(session, key)
        if stored is None:
            return self._apply_started_event(
                session, ex_info, command, host_info, start_time, config, meta_info, _id
            )
        with session.no_autoflush:
            experiment = Experiment.get_or_create(ex_info, session)
            host = Host.get_or_create(host_info, session)
        if experiment.experiment_id is None or host.host_id is None:
            session.add_all([experiment, host])
            session.flush()
        run = Run.__table__
        update = (
            run.update()
            .where(run.c.run_id == key)
            .values(
                experiment_id=experiment.experiment_id,
                host_id=host.host_id,
                command=_fit(command, Run.command),
                config=json.dumps(flatten(config)),
                status="RUNNING",
                start_time=sa.func.coalesce(run.c.start_time, start_time),
                heartbeat=start_time,
                stop_time=None,
                fail_trace=None,
                **meta_columns(meta_info),
            )
        )
        connection = session.connection()
        if connection.dialect.update_returning:
            first_start = connection.execute(update.returning(run.c.start_time)).scalar()
        else:
            connection.execute(update)
            first_start = connection.execute(
                sa.select(run.c.start_time).where(run.c.run_id == key)
            ).scalar()
        self.run = None
        self.run_id = key
        state, text = stored
        if state.length > state.folded:  # chunks of a run that died: folded now
            state = output.fold(session, key, state)
        self._output_next = (state, None)
        self._cout_next = text  # (the path without output_chunk)
        if self._journal is not None and self._journal.path is None:
            self._journal.prefix = f"sacred_sql_{key}_"
        if self._start_kwargs is not None:
            # a journal names the run's own start time: ``sacred sync`` finds the run by it
            self._start_kwargs = dict(self._start_kwargs, start_time=first_start, _id=_id)
