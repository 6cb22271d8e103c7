"""The SqlObserver's journal: the events it could not write into the database, kept in the one
journal format (``sacred.observers.journal``), and applying a journal to a database.

The journal is a file ``sacred_sql_<id>_<time>_<journal>.jsonl`` in the observer's
``failure_dir`` (named in a WARNING), with copies of the artifact and resource files in the
folder ``<file>_files`` beside it (they may be gone by the time the database is back).
``sacred sync`` (``sacred.observers.journal.sync``) writes it into the database through an
observer, ``apply``.

Idempotency: every event of a run attempt has its number (``seq``) from the moment it
happens, and the database keeps one row ``journal_event(journal_id, seq, run_id)`` for each
event it has, written in the transaction that wrote the event (live or by a sync). A sync
skips the events the table names, so a journal applies once however often it is synced.
A run that ended with nothing journaled has its rows deleted with its last event.
"""

import logging
import os
import time

from sacred.observers import journal as _journal
from sacred.observers.checkpoints import is_checkpoint

__all__ = ("EventJournal", "apply", "replay")

logger = logging.getLogger("sacred.observers.sql")  # the observer's logger

_FILE_EVENTS = ("artifact_event", "resource_event")
_START_EVENTS = ("started_event", "continued_event")
_COMPACT_AT = 1 << 20  # characters of replaced lines before a journal may be rewritten


class EventJournal:
    """The journal part of the SqlObserver (a mixin): uses its ``failure_dir``, ``run_id``,
    ``url``, ``_pending`` events ``(event, kwargs, seq)``, ``_journal`` and
    ``_start_kwargs``.

    While the database is away, each event that could not be written is appended to the
    journal at once (so a process killed then leaves a journal up to its last event), and
    stays pending for the next try: with the next event after a first failure (a blip),
    then after 1, 2, 4, ... up to ``outage_retry_interval`` seconds (the database is away:
    events meanwhile only go to the journal). A newer
    heartbeat (or checkpoint of a name) replaces a pending one; its line stays in the file
    until the journal is rewritten (when such lines outweigh the rest, and at the run's
    end) and is recorded in the database with the next write, so a sync never applies it
    after the newer one. When the run's last event reaches the database, a journal that
    holds nothing the database lacks is removed.
    """

    #: the longest wait, in seconds, between tries of a database that is away
    outage_retry_interval = 30.0

    def _new_journal(self, run_id):
        name = "new" if run_id is None else run_id
        self._journal = _journal.Journal(self.failure_dir, f"sacred_sql_{name}_", self.url)
        self._journaled = set()  # seqs of pending events the file holds
        self._only = []  # events only the journal has (the database refused them)
        self._dropped = []  # seqs in the file of events a newer one replaced
        self._stale = 0  # characters of those lines
        self._failures = 0  # tries that failed in a row
        self._retry_at = 0.0  # time.monotonic() of the next try
        self._unwritable = False  # the journal could not be written (said once)

    # ------------------------------------------------------------ tries while away
    def _retry_later(self):
        self._failures += 1
        wait = 0.0 if self._failures == 1 else 2.0 ** (self._failures - 2)
        self._retry_at = time.monotonic() + min(wait, self.outage_retry_interval)

    def _backing_off(self) -> bool:
        return self._outage and bool(self._pending) and time.monotonic() < self._retry_at

    def _reachable(self):
        self._failures = 0

    def _drop(self, older):
        """Pending events ``older`` are replaced by a newer one."""
        for op in older:
            if op[2] in self._journaled:
                self._journaled.discard(op[2])
                self._dropped.append(op[2])
                self._stale += len(str(op[1].get("captured_out") or "")) + 200
        self._pending = [op for op in self._pending if op not in older]

    def _record_dropped(self, session):
        """The database gets the newer event: the replaced ones in the file are done."""
        if self.run_id is not None:
            for seq in self._dropped:
                self._record(session, self._journal.id, seq, self.run_id)

    def _dropped_recorded(self):
        if self.run_id is not None:
            self._dropped = []

    # ------------------------------------------------------------ the file
    def _keep_files(self):
        """Copy the files of unwritten artifact/resource events: they may be gone later."""
        for event, kwargs, _seq in self._pending:
            if event not in _FILE_EVENTS or "stored_copy" in kwargs:
                continue
            try:
                kwargs["stored_copy"] = self._journal.keep(kwargs["filename"])
            except OSError as e:
                logger.warning("SqlObserver: cannot keep a copy of %s: %s", kwargs["filename"], e)

    def _forget_copy(self, kwargs):
        if self._journal is not None:
            self._journal.forget(kwargs.get("stored_copy"))

    def _lines(self, ops, with_start):
        """The journal lines of ``ops``, after the run's (delivered) start if
        ``with_start`` and ``ops`` do not start with it."""
        journal = self._journal
        lines = []
        if with_start and (not ops or ops[0][0] not in _START_EVENTS):
            # the database has the run: the journal starts with it all the same
            lines.append(
                journal.line(
                    "started_event",
                    self._start_kwargs,
                    seq=0,
                    run=self.run_id,
                    delivered=True,
                    continued=self._continued or None,
                )
            )
        for event, kwargs, seq in ops:
            copy = kwargs.get("stored_copy")
            kwargs = {k: v for k, v in kwargs.items() if k != "stored_copy"}
            continued = event == "continued_event" or None  # applied as a continuation
            lines.append(
                journal.line(
                    "started_event" if continued else event,
                    kwargs,
                    seq=seq,
                    run=self.run_id,
                    files={"filename": copy},
                    continued=continued,
                )
            )
        return lines

    def _append(self, ops) -> bool:
        """Append ``ops`` to the journal (their files copied first); False if it cannot be
        written."""
        pending, self._pending = self._pending, list(ops)
        try:
            self._keep_files()
        finally:
            self._pending = pending
        first = not self._journal.written
        try:
            path = self._journal.write(self._lines(ops, first))
        except OSError as e:
            if self._unwritable:
                return False
            self._unwritable = True
            logger.error(
                "SqlObserver: %d event(s) of run %s could not be written to %s, nor to the "
                "journal in %s: %s",
                len(ops),
                self.run_id,
                self.url,
                self.failure_dir,
                e,
            )
            return False
        self._journaled.update(seq for _, _, seq in ops)
        if first:
            logger.warning(
                "SqlObserver: the events of run %s that %s does not get are kept in %s "
                "(if the run dies before the database is back: sacred sync %s)",
                self.run_id,
                self.url,
                path,
                path,
            )
        return True

    def _journal_pending(self):
        """Append the pending events the journal does not hold yet (the database is away);
        rewrite it when replaced lines outweigh the rest."""
        ops = [op for op in self._pending if op[2] not in self._journaled]
        if ops and self._append(ops) and self._stale > _COMPACT_AT:
            try:
                size = os.path.getsize(self._journal.path)
            except OSError:
                return
            if 2 * self._stale > size:
                self._rewrite()

    def _rewrite(self):
        """The journal anew: the run's start, the events only it has and those pending."""
        ops = sorted(self._only + self._pending, key=lambda op: op[2])
        try:
            path = self._journal.rewrite(self._lines(ops, True))
        except OSError as e:
            logger.error(
                "SqlObserver: cannot rewrite the journal of run %s in %s (%d event(s) the "
                "database lacks): %s",
                self.run_id,
                self.failure_dir,
                len(ops),
                e,
            )
            return None
        self._journaled = {seq for _, _, seq in self._pending}
        self._stale = 0
        return path

    def _spool(self, ops):
        """``ops`` (``(event, kwargs, seq)``) go to the journal only (the database refused
        them, or never got the run's start); say where it is."""
        if not ops:
            return
        self._only.extend(ops)
        new = [op for op in ops if op[2] not in self._journaled]
        if (not new or self._append(new)) and self._journal.path:
            self._announce(len(ops), self._journal.path)

    def _journal_the_rest(self):
        """At the run's end: the events the database did not get stay in the journal alone;
        a journal with nothing the database lacks is removed."""
        if self._pending:
            count = len(self._pending)
            self._keep_files()
            path = self._rewrite()
            self._pending = []
            if path is not None:
                self._announce(count, path)
        elif self._journal is not None and self._journal.written and not self._only:
            path = self._journal.path
            self._journal.remove()
            logger.info(
                "SqlObserver: %s has all events of run %s; removed %s", self.url, self.run_id, path
            )
            try:
                session = self.session()
                try:
                    self._forget_journal(session)
                    session.commit()
                except BaseException:
                    self._rollback(session)
                    raise
            except Exception as e:  # (rows of a removed journal are never read)
                logger.debug("SqlObserver: journal rows of run %s stay: %s", self.run_id, e)

    def _announce(self, count, path):
        logger.warning(
            "SqlObserver: %d event(s) of run %s could not be written to %s and are kept in "
            "%s; write them into the database with: sacred sync %s",
            count,
            self.run_id,
            self.url,
            path,
            path,
        )


def apply(observer, events, epoch_seconds):
    """Apply ``events`` (of one journal, read by ``sacred.observers.journal``) to the
    observer's database in one transaction, skipping those ``journal_event`` names; returns
    ``(run id, applied, already there)``. ``epoch_seconds`` turns metric timestamps into the
    epoch seconds the observer writes."""
    from sqlalchemy import select

    # lazy: imports SQLAlchemy
    from sacred.observers.sql.schema import JournalEvent, Run

    table, runs = JournalEvent.__table__, Run.__table__
    journal_id = events[0].journal
    observer._create_tables()
    with observer.lock:
        observer._reset()
        observer.run_id = None
        session = observer.session()
        try:
            rows = session.execute(
                select(table.c.seq, table.c.run_id).where(table.c.journal_id == journal_id)
            ).all()
            done = {seq for seq, _ in rows}
            run_id = rows[0][1] if rows else None
            if run_id is not None and not _exists(session, runs, run_id):
                # the run was deleted since: the journal makes it anew
                session.execute(table.delete().where(table.c.journal_id == journal_id))
                done, run_id = set(), None
            observer.run_id = run_id
            applied = skipped = 0
            for e in events:
                if e.seq in done:
                    skipped += 1
                    continue
                if e.event == "started_event":
                    new = _start(observer, session, runs, e)
                elif observer.run_id is None and not _attach(observer, session, runs, e):
                    raise _journal.JournalError(f"event {e.seq} comes before the run's start")
                else:
                    if (
                        e.run is not None
                        and str(e.run) != observer.run_id
                        and e.extra.get("legacy")
                    ):
                        _attach(observer, session, runs, e)  # an older file of several runs
                    getattr(observer, "_apply_" + e.event)(session, **_arguments(e, epoch_seconds))
                    new = True
                session.execute(
                    table.insert().values(journal_id=journal_id, seq=e.seq, run_id=observer.run_id)
                )
                applied, skipped = applied + new, skipped + (not new)
            session.commit()
        except BaseException:
            observer._rollback(session)
            raise
        finally:
            run_id = observer.run_id
            observer._reset()
    return run_id, applied, skipped


def _attach(observer, session, runs, e) -> bool:
    """A journal without its start (a fallback file of an older version) names the run."""
    if e.run is None or not _exists(session, runs, str(e.run)):
        return False
    observer.run_id = str(e.run)
    return True


def _exists(session, runs, run_id) -> bool:
    from sqlalchemy import select

    return session.execute(select(runs.c.run_id).where(runs.c.run_id == run_id)).first() is not None


def _start(observer, session, runs, e) -> bool:
    """Find the journal's run (False) or create it (True); a start marked ``continued``
    continues the run of its id (True)."""
    from sqlalchemy import select

    kwargs = dict(e.kwargs)
    candidate = e.run if e.run is not None else kwargs.get("_id")
    if e.extra.get("continued") and candidate is not None:
        # a run that continued a run of the database (sacred.continuation): that run
        if e.extra.get("delivered") and _exists(session, runs, str(candidate)):
            observer.run_id = str(candidate)
            return False
        observer._apply_continued_event(session, **dict(kwargs, _id=candidate))
        return True
    if candidate is not None:
        found = session.execute(
            select(runs.c.run_id, runs.c.start_time).where(runs.c.run_id == str(candidate))
        ).first()
        if found is not None:
            if _journal.same_start(found.start_time, kwargs.get("start_time")):
                observer.run_id = found.run_id
                return False
            candidate = None  # another run has this id (another database): a new id
    observer._apply_started_event(session, **dict(kwargs, _id=candidate))
    return True


def _arguments(e, epoch_seconds) -> dict:
    """The keyword arguments of ``_apply_<event>`` for a journal event (journals of other
    writers, e.g. a QueueObserver's, carry every argument of the observer event)."""
    kwargs = dict(e.kwargs)
    if e.event == "artifact_event":
        checkpoint = is_checkpoint(kwargs.get("metadata"))
        return {
            "name": kwargs["name"],
            "filename": kwargs["filename"],
            "stored_copy": e.files.get("filename"),
            "replace": bool(kwargs.get("replace")) or checkpoint,
        }
    if e.event == "resource_event":
        return {"filename": kwargs["filename"], "stored_copy": e.files.get("filename")}
    if e.event == "log_metrics":
        metrics = {
            name: {
                "steps": list(series.get("steps", ())),
                "values": list(series.get("values", ())),
                "timestamps": epoch_seconds(list(series.get("timestamps", ()))),
            }
            for name, series in (kwargs.get("metrics_by_name") or {}).items()
        }
        return {"metrics_by_name": metrics}
    return kwargs


def replay(observer, path) -> int:
    """Apply the journal ``path`` with ``observer``; returns the number of events applied
    (``sacred.observers.journal.sync``)."""
    return _journal.sync(path, observer).applied
