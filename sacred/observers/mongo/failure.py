"""Reliability of the MongoObserver: database errors never fail the run.

A MongoDB that cannot be reached when the run starts, or that goes away later, does not stop
the run: the observer keeps what it could not write (copies of the files included) and keeps
the journal (``sacred.observers.journal``) in ``failure_dir`` (default ``./sacred_failures``),
``sacred_mongo_fail_<id>_<time>_<journal>.jsonl``, up to date: it is rewritten (atomically)
when a write fails and at each heartbeat and file event during the outage (metric points get
their journal line once, when logged), so a process killed mid-outage leaves a journal
holding everything up to its last heartbeat. ONE warning
per outage names the server and the journal. When MongoDB is back the observer writes
everything and removes the journal; if it is still away when the run ends, the final save
tries up to 10 (completed) / 3 (interrupted) / 1 (failed) times and the journal gets the
final event, with the run document beside it as ``.pickle`` (like the original's failure
file). ``sacred sync JOURNAL`` writes the journal into MongoDB later
(``sacred.observers.mongo.journal`` applies it).

Waiting: pymongo waits 30 s for a server before an operation fails. The observer checks the
server with a ``ping`` first when pymongo knows no writable one: the first contact waits
``SACRED_MONGO_TIMEOUT`` seconds (5 by default; unless the URL sets
``serverSelectionTimeoutMS``), and once the server is known to be down, writes are tried at
most every ``retry_interval`` seconds, each after a ping of ``probe_timeout`` seconds, and
the final save gives up after ``final_wait_when_down`` seconds.

``Outage`` tells when to try again and warns once per outage; ``FailureJournal`` keeps what
the journal needs and writes it; ``OutageHandling`` is the observer's part that uses them.
"""

import json
import logging
import os
import pickle
import time

from sacred.observers import journal as _journal
from sacred.observers.mongo.connect import _reason
from sacred.observers.mongo.driver import backend_errors

__all__ = (
    "Outage",
    "OutageHandling",
    "FailureJournal",
    "check_server",
    "replay_failure_file",
    "warn_saved",
    "DEFAULT_FAILURE_DIR",
)

# the messages keep the logger of the public module
logger = logging.getLogger("sacred.observers.mongo")

DEFAULT_FAILURE_DIR = "sacred_failures"


class Outage:
    """Whether MongoDB is failing: after an error, events only update memory (and the
    journal) until ``retry_after``; the first error and the recovery are logged once each."""

    def __init__(self):
        self.active = False
        self.retry_after = 0.0  # time.monotonic() before which no write is tried
        self.announced = None  # the journal the warning of this outage named

    def waiting(self) -> bool:
        return time.monotonic() < self.retry_after

    def failed(self, error, retry_interval, address, journal=None):
        """A write failed with ``error``; ``address()`` names the server, ``journal`` is the
        path of the journal that holds the run now (None if it could not be written)."""
        self.retry_after = time.monotonic() + retry_interval
        if self.active:
            return
        self.active = True
        self.announced = journal
        if journal is None:
            kept = "the observer keeps the data and tries again"
        else:
            kept = (
                f"journaled in {journal} until MongoDB is back "
                f"(if it is not: sacred sync {journal})"
            )
        logger.warning(
            "MongoObserver: writing to MongoDB at %s failed (%s: %s); the run goes on, %s",
            address(),
            type(error).__name__,
            _reason(error),
            kept,
        )

    def succeeded(self):
        if self.active:
            self.active = False
            self.announced = None
            logger.warning("MongoObserver: MongoDB is reachable again; the run is up to date.")


def check_server(runs, seconds, known_down):
    """Raise the driver's error soon when the server of the collection ``runs`` does not
    answer, instead of at each operation after pymongo's serverSelectionTimeoutMS: a ping
    when pymongo knows no writable server or the server is ``known_down``, waiting
    ``seconds`` (None: the client's own setting). Only for pymongo's clients (not mongomock)."""
    try:
        client = runs.database.client
    except Exception:
        return
    # by the module: tests replace pymongo.MongoClient with functions
    if type(client).__module__.split(".")[0] != "pymongo":
        return
    if not hasattr(client, "topology_description"):
        return
    if not known_down and client.topology_description.has_writable_server():
        return
    import pymongo

    if seconds is None:
        client.admin.command("ping")
        return
    with pymongo.timeout(seconds):
        client.admin.command("ping")


class OutageHandling:
    """The MongoObserver's writes that may fail (a mixin): ``_try`` a write, and on an error
    ``_failed`` (the journal, the warning); ``final_save`` and ``_final`` at the run's end."""

    def _try(self, func):
        """``func()``; True when it worked. A database error is kept for a later retry
        (raised for the queue of a QueueCompatibleMongoObserver)."""
        try:
            self._check_server()
            func()
        except backend_errors() as e:
            self._document.unsynced()
            if self._raise_errors:
                raise
            self._failed(e)
            return False
        if self._outage.active:
            self._outage.succeeded()
            self._journal.discard()
        return True

    def _failed(self, error):
        """A write failed: the run goes on, and what MongoDB lacks is kept in the journal."""
        self._pending_files.keep_copies(lambda source: self._spool(source, True))
        path = self._keep_journal()
        self._outage.failed(error, self.retry_interval, self._shown_location, path)

    def _keep_journal(self):
        """Write the journal as the run is now; its path (None if it cannot be written)."""
        if self._journal.start_kwargs is None:
            return None  # no run yet
        try:
            return self._write_journal()
        except OSError as e:
            if not self._journal.unwritable:  # said once, not at every heartbeat
                self._journal.unwritable = True
                logger.error("MongoObserver: the journal cannot be written: %s", e)
            return None

    def _write_journal(self, event=None, kwargs=None):
        docs = self._metric_docs
        counts = {name: docs.known_count(name) for name in docs.pending}
        return self._journal.write(
            self.failure_dir,
            self.run_entry,
            self._inserted,
            self._pending_files.events(),
            (docs.pending, counts),
            event,
            kwargs,
        )

    def _check_server(self):
        """A short ping first when pymongo knows no writable server (see ``failure``)."""
        down = self._outage.active
        check_server(self.runs, self.probe_timeout if down else self._contact_timeout, down)

    def final_save(self, attempts):
        """Write everything, trying ``attempts`` times; True when it worked."""
        down = self._outage.active  # known to be down: no long wait for it
        deadline = time.monotonic() + (
            self.final_wait_when_down if down else self.final_save_timeout
        )
        for i in range(attempts):
            self._outage.retry_after = 0.0
            if self._try(lambda: self._sync(upsert=True)):
                return True
            if i < attempts - 1 and time.monotonic() < deadline:
                time.sleep(self.retry_delay)
            else:
                break
        return False

    def _final(self, event, kwargs, attempts):
        if self._journal.start_kwargs is None:
            return  # the start failed (and failed the run): there is no run to save
        if self.final_save(attempts):
            return
        try:
            self.failure_file = self._write_journal(event, kwargs)
        except OSError as e:
            logger.error(
                "MongoObserver: the run is lost: MongoDB at %s cannot be reached and the "
                "journal cannot be written: %s",
                self._shown_location(),
                e,
            )
            return
        if self.failure_file != self._outage.announced:  # else the warning named it already
            warn_saved(self.failure_file)

    def _spool(self, filename, force=False):
        """A private copy of a file whose storing may have to wait (None when not needed)."""
        if not (self._outage.active or force):
            return None
        return self._journal.spool(filename, self.failure_dir, self.run_entry.get("_id"))


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
        self._start_seq = None  # the started_event's number, the same in every writing
        self._sources = None  # copies of the sources of a run MongoDB never got
        self._file_seqs = {}  # a file event's copy -> its number
        self._metric_lines = None  # (seq, JSON text) of the points not written, as logged
        self.unwritable = False  # writing the journal failed (and was reported)

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

    def write(self, directory, run_entry, inserted, file_events, metrics, event=None, kwargs=None):
        """Write the journal of the run as it is now (replacing what the file held); returns
        its path. With the final ``event`` and its ``kwargs``, ``run_entry`` goes beside it
        as ``.pickle``.

        ``inserted``: MongoDB has the run; ``file_events`` are the ``(event, kwargs, copy)``
        of files not stored yet, ``metrics`` the points not written yet with the counts the
        database held before them (``{name: points}``, None where unknown).

        The start and the file events keep their sequence numbers from one writing to the
        next; the metrics, heartbeat and final lines get new ones (applying them again is
        harmless: the metric line's ``counts`` tell which points a store has).
        """
        run_id = run_entry.get("_id") if inserted else None
        journal = self.journal(directory, run_id)
        journal.run = run_id
        if self._start_seq is None:
            self._start_seq = journal.next_seq()
        start = dict(self.start_kwargs, _id=run_id if inserted else self.start_kwargs["_id"])
        files = None
        if not inserted:
            if self._sources is None:
                self._sources = _keep_sources(journal, start["ex_info"])
            files = self._sources
        lines = [
            journal.line(
                "started_event",
                start,
                seq=self._start_seq,
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
            key = copy or (name, repr(event_kwargs))
            if key not in self._file_seqs:
                self._file_seqs[key] = journal.next_seq()
            lines.append(
                journal.line(name, event_kwargs, seq=self._file_seqs[key], files={"filename": copy})
            )
        if self._metric_lines is None:  # the first writing: the points not written so far
            self._metric_lines = []
            self.add_metrics(*metrics)
        if self.last_beat is not None:
            lines.append(journal.line("heartbeat_event", self.last_beat))
        if event is not None:
            lines.append(journal.line(event, kwargs))
        ordered = sorted([(r["seq"], r) for r in lines] + self._metric_lines, key=lambda x: x[0])
        path = journal.rewrite([record for _, record in ordered])
        if event is not None:
            with open(path[: -len(".jsonl")] + ".pickle", "wb") as f:
                pickle.dump(run_entry, f)
        return path

    def keeps_metrics(self) -> bool:
        """Whether new metric points go to the journal as they are logged (``add_metrics``)."""
        return self._metric_lines is not None

    def add_metrics(self, metrics_by_name, at):
        """A journal line of metric points MongoDB has not got, made once (its JSON is
        reused by every writing, so that a heartbeat costs only the new points); ``at``:
        the points of each metric before them (None where unknown), its ``counts``."""
        if not metrics_by_name:
            return
        known = {k: v for k, v in at.items() if v is not None}
        record = self._journal.line(
            "log_metrics", {"metrics_by_name": metrics_by_name, "info": {}}, counts=known or None
        )
        self._metric_lines.append((record["seq"], json.dumps(record, allow_nan=True)))

    def discard(self):
        """MongoDB has everything: remove the journal and its copies."""
        if self._journal is not None:
            self._journal.remove()
        self._journal, self._start_seq, self._sources, self._file_seqs = None, None, None, {}
        self._metric_lines = None


def warn_saved(path):
    """The warning of a final save that failed (when no warning named the journal yet)."""
    pickle_path = path[: -len(".jsonl")] + ".pickle"
    logger.warning(
        "Warning: saving to MongoDB failed! Stored experiment entry in %s and the events "
        "in the journal %s; write them to MongoDB later with: sacred sync %s",
        pickle_path,
        path,
        path,
    )


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
