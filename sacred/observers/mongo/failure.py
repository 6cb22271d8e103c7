"""Reliability of the MongoObserver: database errors after the start never fail the run.

The observer keeps what it could not write (file copies included), retries with the next
event, and tries the final save up to 10 (completed) / 3 (interrupted) / 1 (failed) times.
What still could not be written goes to ``failure_dir`` (default ``./sacred_failures``) as
``sacred_mongo_fail_<id>_XXXX.pickle`` (the run document, like the original) and ``.jsonl``
(the events, see ``sacred.observers.queue``); a WARNING names them. Replay the events with
``sacred.observers.mongo.replay_failure_file(path, MongoObserver(...))``.

``Outage`` tells when to try again and warns once per outage; ``FailureJournal`` keeps what
a failure file needs and writes it.
"""

import logging
import os
import pickle
import shutil
import tempfile
import time

from sacred.observers.queue import replay, write_event_file

# the messages keep the logger of the public module
logger = logging.getLogger("sacred.observers.mongo")


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
    """What the failure files of one run need, and writing them.

    ``start_kwargs`` are the arguments of the run's ``started_event`` (None until the run
    started), ``last_beat`` those of its last heartbeat. ``directory`` is given at each call
    (the observer's ``failure_dir``; None means ``./sacred_failures``).
    """

    def __init__(self):
        self.start_kwargs = None
        self.last_beat = None
        self._spool_dir = None

    def spool(self, filename, directory, run_id):
        """A private copy of ``filename`` in a folder of the run under ``directory``."""
        if self._spool_dir is None:
            directory = os.path.abspath(directory or "sacred_failures")
            os.makedirs(directory, exist_ok=True)
            self._spool_dir = tempfile.mkdtemp(
                prefix=f"sacred_mongo_files_{run_id}_", dir=directory
            )
        copy = os.path.join(
            self._spool_dir, f"{len(os.listdir(self._spool_dir))}_{os.path.basename(filename)}"
        )
        shutil.copyfile(filename, copy)
        return copy

    def write(self, directory, run_entry, file_events, pending_metrics, event, kwargs) -> str:
        """Write the run's events (``.jsonl``) and ``run_entry`` (``.pickle``); returns the
        path of the events, which ``replay_failure_file`` takes.

        ``file_events`` are the ``(event, kwargs)`` of files not stored yet,
        ``pending_metrics`` the points not written yet, ``event``/``kwargs`` the final event.
        """
        run_id = run_entry.get("_id")
        directory = os.path.abspath(directory or "sacred_failures")
        prefix = f"sacred_mongo_fail_{run_id}_"
        records = [("started_event", self.start_kwargs, {"delivered": True})]
        records.extend(file_events)
        if pending_metrics:
            records.append(("log_metrics", {"metrics_by_name": pending_metrics, "info": {}}))
        if self.last_beat is not None:
            records.append(("heartbeat_event", self.last_beat))
        records.append((event, kwargs))
        path = write_event_file(records, directory, prefix)
        pickle_path = path[: -len(".jsonl")] + ".pickle"
        with open(pickle_path, "wb") as f:
            pickle.dump(run_entry, f)
        logger.warning(
            "Warning: saving to MongoDB failed! Stored experiment entry in %s and the events "
            "in %s; write them to MongoDB later with "
            "sacred.observers.mongo.replay_failure_file(%r, MongoObserver(...)).",
            pickle_path,
            path,
            path,
        )
        return path


def replay_failure_file(path, observer):
    """Write the events of a ``sacred_mongo_fail_*.jsonl`` file with ``observer``.

    ``observer`` is a MongoObserver for the database the run belongs to; the run is looked
    up by its id and completed. Returns the number of events replayed.
    """
    return replay(path, observer)
