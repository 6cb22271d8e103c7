"""QueueObserver: deliver the events of a run to another observer from a background thread.

The started event is forwarded at once (its id is needed); every later event is put on a
queue that a worker thread empties every ``interval`` seconds, retrying a failing event every
``retry_interval`` seconds, in order. A terminal event (completed, interrupted, failed) wakes
the worker and waits for the queue to drain, but never longer than ``join_timeout`` seconds.
Metrics are queued one event per metric (``WrappedEvent("log_metrics", [name, values, info],
{})``); an ordinary covered observer gets them as ``log_metrics({name: values}, info)``.

Beyond the original, nothing is lost when the backend stays away, and the run never fails
for it: a started event the covered observer refuses is queued and retried like the others,
and whatever was not delivered when ``join`` gives up is written to a journal (see
``sacred.observers.journal``) in ``failure_dir`` (default ``./sacred_failures``), whose path
a WARNING names. ``sacred sync JOURNAL`` (or ``sacred.observers.journal.sync(path,
observer)``) delivers it later. The journal's first line is the run's ``started_event``
(``"delivered": true`` when the backend has the run already); artifact and resource files
are copied beside it. Every event has its sequence number from the moment it is queued, so
a backend that records event identity (SQL, MongoDB, S3/GCS) applies the event that was
being delivered when ``join`` gave up once, whether it arrived or not; for MongoDB the
metric lines also carry how many points each metric had (``counts``).

``replay(path, observer)``, ``write_event_file`` and ``read_event_file`` remain as thin
wrappers over the journal.
"""

import inspect
import logging
import os
import queue
import threading
import time
from collections import namedtuple

from sacred.observers import journal as _journal
from sacred.observers.base import RunObserver
from sacred.utils import leave_signals_to_main_thread

__all__ = (
    "QueueObserver",
    "WrappedEvent",
    "replay",
    "write_event_file",
    "read_event_file",
    "DEFAULT_JOIN_TIMEOUT",
)

logger = logging.getLogger(__name__)

WrappedEvent = namedtuple("WrappedEvent", "name args kwargs")

DEFAULT_JOIN_TIMEOUT = 30.0
DEFAULT_FAILURE_DIR = "sacred_failures"

# positional argument names of the events, to turn queued events into keyword records
_EVENT_ARGS = {
    name: [p for p in inspect.signature(getattr(RunObserver, name)).parameters if p != "self"]
    for name in (
        "queued_event",
        "started_event",
        "continued_event",
        "heartbeat_event",
        "completed_event",
        "interrupted_event",
        "failed_event",
        "resource_event",
        "artifact_event",
        "log_metrics",
    )
}


def _event_kwargs(event: WrappedEvent) -> dict:
    """The keyword arguments of an event (the per-metric log_metrics event included)."""
    if event.name == "log_metrics" and len(event.args) == 3:  # (name, values, info)
        metric_name, values, _info = event.args
        return {"metrics_by_name": {metric_name: values}, "info": {}}
    kwargs = dict(zip(_EVENT_ARGS.get(event.name, ()), event.args))
    kwargs.update(event.kwargs)
    return kwargs


def write_event_file(records, directory, prefix, store=None, options=None) -> str:
    """Write ``records`` (``(event name, kwargs)`` pairs, the first may carry a third item:
    a dict of further fields such as ``{"delivered": True}``) as a new journal; returns its
    path. Artifact and resource files are copied beside it."""
    journal = _journal.Journal(directory or DEFAULT_FAILURE_DIR, prefix, store, options)
    lines = []
    for record in records:
        name, kwargs = record[0], dict(record[1])
        extra = dict(record[2]) if len(record) > 2 else {}
        lines.append(journal.line(name, kwargs, files=_keep_files(journal, name, kwargs), **extra))
    return journal.write(lines)


def _keep_files(journal, name, kwargs):
    """``{"filename": copy}`` for an artifact or resource event (nothing if it cannot be
    copied: the original path stays, it may still exist later)."""
    if name not in ("artifact_event", "resource_event") or not kwargs.get("filename"):
        return None
    if journal.path and os.path.dirname(kwargs["filename"]) == journal.files_dir:
        return {"filename": kwargs["filename"]}  # copied when it was queued
    try:
        return {"filename": journal.keep(kwargs["filename"])}
    except OSError as e:
        logger.warning("Could not keep a copy of %s: %s", kwargs["filename"], e)
        return None


def read_event_file(path):
    """The records of a journal: dicts with ``event``, restored ``kwargs`` (``filename``
    pointing at the kept copy), ``seq`` and the line's further fields."""
    records = []
    for e in _journal.read_journal(path):
        kwargs = dict(e.kwargs)
        if e.files.get("filename"):
            kwargs["filename"] = e.files["filename"]
        records.append({**e.extra, "event": e.event, "kwargs": kwargs, "seq": e.seq, "run": e.run})
    return records


def _accepts(method, parameter) -> bool:
    try:
        return parameter in inspect.signature(method).parameters
    except (TypeError, ValueError):
        return True


def replay(path, observer) -> int:
    """Deliver the journal ``path`` to ``observer``; returns how many events it applied
    (``sacred.observers.journal.sync``: an observer that records event identity skips
    what it has already)."""
    return _journal.sync(path, observer).applied


class QueueObserver(RunObserver):
    """Wraps an observer and hands it the events from a background thread (see module doc)."""

    def __init__(
        self,
        covered_observer,
        interval: float = 20.0,
        retry_interval: float = 10.0,
        join_timeout: float = DEFAULT_JOIN_TIMEOUT,
        failure_dir=None,
    ):
        self._covered_observer = covered_observer
        self._interval = interval
        self._retry_interval = retry_interval
        self.join_timeout = join_timeout
        self.failure_dir = failure_dir
        self._queue = None
        self._worker = None
        self._current = None  # the (seq, event) being delivered
        self._start_kwargs = None
        self._start_delivered = False
        self._journal = None
        self._failing = False  # the last delivery failed: artifacts are copied when queued
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._abandon = threading.Event()
        self._finished = False
        self.failure_file = None  # the journal of undelivered events, if any
        self._continued = False  # the run continues an existing record (continued_event)

    # ------------------------------------------------------------ events
    def queued_event(self, *args, **kwargs):
        # forwarded at once: the queued run's id comes from the covered observer
        return self._covered_observer.queued_event(*args, **kwargs)

    def _reset(self, start_kwargs):
        self._queue = queue.Queue()
        self._wake.clear()
        self._stop.clear()
        self._abandon.clear()
        self._finished = False
        self.failure_file = None
        self._start_kwargs = start_kwargs
        self._journal = self._new_journal()

    def continued_event(self, *args, **kwargs):
        # forwarded at once, and not queued if it fails: the record must be continued
        # before the run goes on (a journal would start a second record instead)
        start_kwargs = _event_kwargs(WrappedEvent("continued_event", args, kwargs))
        _id = self._covered_observer.continued_event(**start_kwargs)
        self._reset(start_kwargs)
        self._continued = True
        self._journal.next_seq()
        self._start_delivered = True
        self._start_kwargs["_id"] = _id
        self._journal.run = _id
        self._worker = threading.Thread(target=self._run, name="sacred-queue-observer", daemon=True)
        self._worker.start()
        return _id

    @property
    def store_location(self):
        return getattr(self._covered_observer, "store_location", None)

    def started_event(self, *args, **kwargs):
        self._reset(_event_kwargs(WrappedEvent("started_event", args, kwargs)))
        self._continued = False
        seq = self._journal.next_seq()
        try:
            _id = self._covered_observer.started_event(*args, **kwargs)
            self._start_delivered = True
        except Exception as e:  # the backend is away: the worker tries again, in order
            logger.warning(
                "Starting the run in %r failed (%s: %s); the run goes on and its events are "
                "queued.",
                self._covered_observer,
                type(e).__name__,
                e,
            )
            self._start_delivered = False
            self._failing = True
            self._queue.put((seq, WrappedEvent("started_event", (), dict(self._start_kwargs))))
            _id = self._start_kwargs.get("_id")
        self._start_kwargs["_id"] = _id
        self._journal.run = _id if self._start_delivered else None
        self._worker = threading.Thread(target=self._run, name="sacred-queue-observer", daemon=True)
        self._worker.start()
        return _id

    def heartbeat_event(self, *args, **kwargs):
        self._drop_queued_heartbeats()  # a newer beat makes older undelivered ones moot
        self._put("heartbeat_event", args, kwargs)

    def resource_event(self, *args, **kwargs):
        self._put("resource_event", args, kwargs)

    def artifact_event(self, *args, **kwargs):
        kwargs = _event_kwargs(WrappedEvent("artifact_event", args, kwargs))
        if self._failing and kwargs.get("filename"):
            # delivery may be far away: keep the file as it is now
            try:
                kwargs["filename"] = self._journal.keep(kwargs["filename"])
            except OSError as e:
                logger.warning("Could not keep a copy of %s: %s", kwargs["filename"], e)
        self._put("artifact_event", (), kwargs)

    def log_metrics(self, metrics_by_name, info):
        for metric_name, metric_values in metrics_by_name.items():
            self._put("log_metrics", [metric_name, metric_values, info], {})

    def completed_event(self, *args, **kwargs):
        self._put("completed_event", args, kwargs)
        self.join()

    def interrupted_event(self, *args, **kwargs):
        self._put("interrupted_event", args, kwargs)
        self.join()

    def failed_event(self, *args, **kwargs):
        self._put("failed_event", args, kwargs)
        self.join()

    # ------------------------------------------------------------ queue
    def _new_journal(self):
        where = getattr(self._covered_observer, "journal_location", None)
        store, options = (where() if callable(where) else None) or (None, None)
        run_id = self._start_kwargs.get("_id")
        return _journal.Journal(
            self.failure_dir or DEFAULT_FAILURE_DIR,
            f"sacred_queue_fail_{run_id if run_id is not None else 'new'}_",
            store,
            options,
        )

    def _put(self, name, args, kwargs):
        if self._queue is None:
            raise RuntimeError(f"QueueObserver got {name} before the run started.")
        self._queue.put((self._journal.next_seq(), WrappedEvent(name, args, kwargs)))

    def _drop_queued_heartbeats(self):
        q = self._queue
        if q is None:
            return
        with q.mutex:
            kept = [item for item in q.queue if item[1].name != "heartbeat_event"]
            dropped = len(q.queue) - len(kept)
            if dropped:
                q.queue.clear()
                q.queue.extend(kept)
                q.unfinished_tasks -= dropped

    def _run(self):
        leave_signals_to_main_thread()
        while True:
            self._wake.wait(self._interval)
            self._wake.clear()
            self._deliver_queued()
            if self._stop.is_set() or self._abandon.is_set():
                return

    def _deliver_queued(self):
        while not self._abandon.is_set():
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            self._current = item
            if not self._deliver(item[1]):
                return  # abandoned: join() writes the event and the rest to the journal
            if item[1].name == "artifact_event":
                self._journal.forget(item[1].kwargs.get("filename"))  # a copy, if one was made
            self._current = None
            self._queue.task_done()

    def _deliver(self, event) -> bool:
        failures = 0
        while True:
            try:
                self._call(event)
                self._failing = False
                if failures:
                    logger.info("%s delivered after %d failed attempts.", event.name, failures)
                return True
            except Exception as e:
                self._failing = True
                failures += 1
                if failures == 1:
                    logger.warning(
                        "Delivering %s to %r failed (%s: %s); retrying every %s s.",
                        event.name,
                        self._covered_observer,
                        type(e).__name__,
                        e,
                        self._retry_interval,
                    )
            if self._abandon.wait(self._retry_interval):
                return False

    def _call(self, event):
        covered = self._covered_observer
        if event.name == "started_event":
            _id = covered.started_event(**event.kwargs)
            self._start_kwargs["_id"] = _id
            self._journal.run = _id
            self._start_delivered = True
        elif event.name == "log_metrics" and _accepts(covered.log_metrics, "metrics_by_name"):
            # an ordinary observer: give it the usual {name: values} mapping
            metric_name, values, info = event.args
            covered.log_metrics({metric_name: values}, info)
        else:
            getattr(covered, event.name)(*event.args, **event.kwargs)

    def join(self):
        """Deliver what is queued, waiting at most ``join_timeout`` seconds.

        What could not be delivered in time goes to a journal named in a WARNING
        (``self.failure_file``); ``sacred sync`` delivers it later.
        """
        if self._queue is None or self._finished:
            return
        self._finished = True
        q = self._queue
        self._wake.set()
        deadline = time.monotonic() + self.join_timeout
        with q.all_tasks_done:
            while q.unfinished_tasks:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                q.all_tasks_done.wait(remaining)
            delivered = not q.unfinished_tasks
        self._stop.set()
        self._wake.set()
        if delivered:
            self._worker.join(timeout=10)
            return
        self._abandon.set()
        self._worker.join(timeout=1)
        current = self._current
        pending = [current] if current is not None else []
        while True:
            try:
                item = q.get_nowait()
            except queue.Empty:
                break
            if item is not current:
                pending.append(item)
        self._write_journal(pending, current)

    def _journal_lines(self, pending, current):
        journal = self._journal
        lines = []
        if not pending or pending[0][1].name != "started_event":
            extra = {"continued": True} if self._continued else {}
            lines.append(
                journal.line("started_event", self._start_kwargs, seq=0, delivered=True, **extra)
            )
        counts = None
        count_of = getattr(self._covered_observer, "journal_counts", None)
        if callable(count_of):
            try:
                counts = dict(count_of())
            except Exception:  # counts are a help, not a need
                counts = None
        for item in pending:
            seq, event = item
            kwargs = _event_kwargs(event)
            extra = {"uncertain": True} if item is current else {}
            if event.name == "log_metrics" and counts is not None:
                base = {}
                for name, values in kwargs["metrics_by_name"].items():
                    base[name] = counts.get(name, 0)
                    counts[name] = base[name] + len(values.get("steps", ()))
                extra["counts"] = base
            files = _keep_files(journal, event.name, kwargs)
            lines.append(journal.line(event.name, kwargs, seq=seq, files=files, **extra))
        return lines

    def _write_journal(self, pending, current):
        try:
            path = self._journal.write(self._journal_lines(pending, current))
        except Exception as e:
            logger.error(
                "%d events for %r could not be delivered and not be saved either: %s",
                len(pending),
                self._covered_observer,
                e,
            )
            return
        self.failure_file = path
        logger.warning(
            "%d events could not be delivered to %r within %s s. They are kept in the "
            "journal %s; deliver them later with: sacred sync %s",
            len(pending),
            self._covered_observer,
            self.join_timeout,
            path,
            path,
        )

    # ------------------------------------------------------------ forwarding
    def __getattr__(self, item):
        covered = self.__dict__.get("_covered_observer")
        if covered is None:
            raise AttributeError(item)
        return getattr(covered, item)

    def __eq__(self, other):
        return self._covered_observer == other

    def __hash__(self):
        return hash(id(self))
