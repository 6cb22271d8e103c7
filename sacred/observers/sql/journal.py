"""The SqlObserver's journal of failed events: the local file that keeps what could not be
written into the database, and writing it back later.

The file is a JSON-lines file in the observer's ``failure_dir`` (named in a WARNING), one
``{"event": ..., "kwargs": flatten(kwargs), "run_id": ..., "url": masked URL}`` a line, with
copies of the artifact and resource files in a ``<file>_files`` folder beside it (they may
be gone by the time the database is back). ``replay`` writes such a file into the database
through an observer (``sacred.observers.sql.replay_failed_events`` builds the observer).
"""

import datetime
import json
import logging
import os
import shutil

from sacred.safe_restore import safe_restore
from sacred.serializer import flatten

__all__ = ("EventJournal", "replay")

logger = logging.getLogger("sacred.observers.sql")  # the observer's logger


class EventJournal:
    """The fallback-file part of the SqlObserver (a mixin): uses its ``failure_dir``,
    ``run_id``, ``url``, ``_pending`` events and ``_spool_path``."""

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


def replay(observer, path) -> int:
    """Apply the events kept in the file ``path`` with ``observer`` in one transaction, then
    rename the file to ``<path>.replayed``; returns the number of events written."""
    with open(path, encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()]
    observer._create_tables()
    with observer.lock:
        db_session = observer.session()
        try:
            previous = None
            for record in records:
                if previous is None or record["run_id"] != previous["run_id"]:
                    # what is stored of this run's output is unknown: its first beat writes
                    # all of it, the next ones append chunks (one transaction for all)
                    observer._output = observer._output_next = None
                previous = record
                observer.run_id = record["run_id"]
                observer._cout_db = None
                kwargs = safe_restore(record["kwargs"], "kwargs")
                getattr(observer, "_apply_" + record["event"])(db_session, **kwargs)
            db_session.commit()
        except BaseException:
            observer._output = observer._output_next = None
            observer._rollback(db_session)
            raise
    os.replace(path, path + ".replayed")
    return len(records)
