"""Reliability of the MongoObserver: database errors never fail the run.

A MongoDB that cannot be reached when the run starts, or that goes away later, does not stop
the run: the observer keeps what it could not write (copies of the files included), retries
with the next event, and tries the final save up to 10 (completed) / 3 (interrupted) /
1 (failed) times. What still could not be written goes to a journal in ``failure_dir``
(default ``./sacred_failures``), ``sacred_mongo_fail_<id>_<time>_<journal>.jsonl`` (see
``sacred.observers.journal``), with the run document beside it as ``.pickle`` (like the
original's failure file); a WARNING names them. ``sacred sync JOURNAL`` writes the journal
into MongoDB (``sacred.observers.mongo.journal`` applies it).

``Outage`` tells when to try again and warns once per outage; ``FailureJournal`` keeps what
the journal needs and writes it.
"""

import logging
import os
import pickle
import time

from sacred.observers import journal as _journal

__all__ = ("Outage", "FailureJournal", "replay_failure_file", "DEFAULT_FAILURE_DIR")

# the messages keep the logger of the public module
logger = logging.getLogger("sacred.observers.mongo")

DEFAULT_FAILURE_DIR = "sacred_failures"


class Outage:
    """Whether MongoDB is failing: after an error, events only update memory until
    ``retry_after``; the first error and the recovery are logged once each."""

    def __init__(self):
        self.active = False
        self.retry_after = 0.0  # time.monotonic() before which no write is tried

    def waiting(self) -> bool:
        return time.monotonic() < self.retry_after

    def failed(self, error, retry_interval, address):
        """A write failed with ``error``; ``address()`` names the server for the warning."""
        self.retry_after = time.monotonic() + retry_interval
        if not self.active:
            self.active = True
            logger.warning(
                "MongoObserver: writing to MongoDB at %s failed (%s: %s). The run goes on; "
                "the observer keeps the data and tries again.",
                address(),
                type(error).__name__,
                error,
            )

    def succeeded(self):
        if self.active:
            self.active = False
            logger.warning("MongoObserver: MongoDB is reachable again; the run is up to date.")


class FailureJournal:
    """What the journal of one run needs, and writing it.

    ``start_kwargs`` are the arguments of the run's ``started_event`` (None until the run
    started), ``last_beat`` those of its last heartbeat. ``location()`` gives the store and
    options the journal records; ``directory`` is given at each call (the observer's
    ``failure_dir``; None means ``./sacred_failures``).
    """

    def __init__(self, location=None):
        self.start_kwargs = None
        self.continued = False  # the run continues a stored run (continued_event)
        self.last_beat = None
        self._location = location
        self._journal = None

    def journal(self, directory, run_id) -> _journal.Journal:
        if self._journal is None:
            store, options = (self._location() if self._location else None) or (None, None)
            self._journal = _journal.Journal(
                directory or DEFAULT_FAILURE_DIR,
                f"sacred_mongo_fail_{'new' if run_id is None else run_id}_",
                store,
                options,
            )
        return self._journal

    def spool(self, filename, directory, run_id):
        """A private copy of ``filename`` beside the run's journal."""
        return self.journal(directory, run_id).keep(filename)

    def write(self, directory, run_entry, inserted, file_events, metrics, event, kwargs) -> str:
        """Write the journal and ``run_entry`` (``.pickle``); returns the journal's path.

        ``inserted``: MongoDB has the run; ``file_events`` are the ``(event, kwargs, copy)``
        of files not stored yet, ``metrics`` the points not written yet with the counts the
        database held before them (``{name: points}``, None where unknown), ``event`` and
        ``kwargs`` the final event.
        """
        run_id = run_entry.get("_id") if inserted else None
        journal = self.journal(directory, run_id)
        journal.run = run_id
        start = dict(self.start_kwargs, _id=run_id if inserted else self.start_kwargs["_id"])
        files = None if inserted else _keep_sources(journal, start["ex_info"])
        lines = [
            journal.line(
                "started_event",
                start,
                files=files,
                delivered=inserted or None,
                continued=self.continued or None,
            )
        ]
        for name, event_kwargs, copy in file_events:
            if copy is None:
                try:
                    copy = journal.keep(event_kwargs["filename"])
                except OSError as e:
                    logger.warning("Could not keep a copy of %s: %s", event_kwargs["filename"], e)
            lines.append(journal.line(name, event_kwargs, files={"filename": copy}))
        pending, counts = metrics
        if pending:
            known = {k: v for k, v in counts.items() if v is not None}
            lines.append(
                journal.line(
                    "log_metrics",
                    {"metrics_by_name": pending, "info": {}},
                    counts=known or None,
                )
            )
        if self.last_beat is not None:
            lines.append(journal.line("heartbeat_event", self.last_beat))
        lines.append(journal.line(event, kwargs))
        path = journal.write(lines)
        pickle_path = path[: -len(".jsonl")] + ".pickle"
        with open(pickle_path, "wb") as f:
            pickle.dump(run_entry, f)
        logger.warning(
            "Warning: saving to MongoDB failed! Stored experiment entry in %s and the events "
            "in the journal %s; write them to MongoDB later with: sacred sync %s",
            pickle_path,
            path,
            path,
        )
        return path


def _keep_sources(journal, ex_info) -> dict:
    """``{"source:<name>": copy}`` of the experiment's sources (as they are now)."""
    files = {}
    for name, _md5 in ex_info.get("sources", ()):
        try:
            files[f"source:{name}"] = journal.keep(os.path.join(ex_info["base_dir"], name))
        except OSError as e:
            logger.warning("Could not keep a copy of the source %s: %s", name, e)
    return files


def replay_failure_file(path, observer):
    """Write the journal ``path`` with ``observer`` (a MongoObserver for the database the
    run belongs to, or another one); returns the number of events applied. The same as
    ``sacred.observers.journal.sync(path, observer)``."""
    return _journal.sync(path, observer).applied
