"""QueueObserver: deliver the events of a run to another observer from a background thread.

The started event is forwarded at once (its id is needed); every later event is put on a
queue that a worker thread empties every ``interval`` seconds, retrying a failing event every
``retry_interval`` seconds, in order. A terminal event (completed, interrupted, failed) wakes
the worker and waits for the queue to drain, but never longer than ``join_timeout`` seconds.
Metrics are queued one event per metric (``WrappedEvent("log_metrics", [name, values, info],
{})``); an ordinary covered observer gets them as ``log_metrics({name: values}, info)``.

Beyond the original, nothing is lost when the backend stays away: whatever was not delivered
when ``join`` gives up is written to a JSON-lines file (see ``write_event_file``) whose path a
WARNING names, and ``replay(path, observer)`` delivers it later::

    from sacred.observers import MongoObserver
    from sacred.observers.queue import replay
    replay("sacred_failures/sacred_queue_fail_7_x1y2.jsonl", MongoObserver(url="db:27017"))

File format: one JSON object per line, ``{"event": name, "kwargs": flatten(kwargs)}``. The
first line is the run's ``started_event`` with ``"delivered": true`` (the backend has the
run already). Artifact files are copied next to the file (``<stem>_files/``) and the
``filename`` argument points at the copy, so later changes of the original do not matter.
An event that was being delivered when ``join`` gave up is written too; if the backend got it
after all, replaying applies it twice.
"""

import inspect
import json
import logging
import os
import queue
import shutil
import tempfile
import threading
import time
from collections import namedtuple

from sacred.observers.base import RunObserver

__all__ = ("QueueObserver", "WrappedEvent", "replay", "write_event_file", "DEFAULT_JOIN_TIMEOUT")

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


def write_event_file(records, directory, prefix) -> str:
    """Write ``records`` (``(event name, kwargs)`` pairs) as JSON lines; return the path.

    The first record may carry a third item, a dict merged into its line (e.g.
    ``{"delivered": True}``). Artifact files are copied into ``<stem>_files/``.
    """

    directory = os.path.abspath(directory or DEFAULT_FAILURE_DIR)
    os.makedirs(directory, exist_ok=True)
    fd, path = tempfile.mkstemp(suffix=".jsonl", prefix=prefix, dir=directory)
    files_dir = path[: -len(".jsonl")] + "_files"
    try:
        _write_records(fd, records, files_dir)
    except BaseException:
        os.remove(path)
        raise
    return path


def _write_records(fd, records, files_dir):
    from sacred.serializer import flatten

    with os.fdopen(fd, "w", encoding="utf-8") as f:
        for i, record in enumerate(records):
            name, kwargs = record[0], dict(record[1])
            if name == "artifact_event" and kwargs.get("filename"):
                os.makedirs(files_dir, exist_ok=True)
                copy = os.path.join(files_dir, f"{i}_{os.path.basename(kwargs['filename'])}")
                try:
                    shutil.copyfile(kwargs["filename"], copy)
                    kwargs["filename"] = copy
                except OSError as e:  # keep the original path: it may still exist later
                    logger.warning("Could not copy artifact %s: %s", kwargs["filename"], e)
            line = {"event": name, "kwargs": flatten(kwargs)}
            if len(record) > 2:
                line.update(record[2])
            f.write(json.dumps(line) + "\n")


def read_event_file(path):
    """The records of an event file: a list of dicts with ``event`` and restored ``kwargs``."""
    from sacred.safe_restore import safe_restore

    records = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                record = json.loads(line)
                record["kwargs"] = safe_restore(record["kwargs"], "kwargs")
                records.append(record)
    return records


def _accepts(method, parameter) -> bool:
    try:
        return parameter in inspect.signature(method).parameters
    except (TypeError, ValueError):
        return True


def replay(path, observer) -> int:
    """Deliver the events stored in ``path`` to ``observer``; return how many were delivered.

    A started event marked ``delivered`` is given to ``observer.resume_event(...)`` when the
    observer has one (it attaches to the run the backend already holds, e.g.
    ``MongoObserver``), else to ``started_event``. The other events are called in order.
    """
    count = 0
    for record in read_event_file(path):
        name, kwargs = record["event"], record["kwargs"]
        if (
            name == "started_event"
            and record.get("delivered")
            and hasattr(observer, "resume_event")
        ):
            observer.resume_event(**kwargs)
        elif name == "log_metrics" and not _accepts(observer.log_metrics, "metrics_by_name"):
            for metric_name, values in kwargs["metrics_by_name"].items():  # per-metric signature
                observer.log_metrics(metric_name, values, kwargs["info"])
        else:
            getattr(observer, name)(**kwargs)
        count += 1
    observer.join()
    return count


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
        self._current = None  # the event being delivered
        self._start_kwargs = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._abandon = threading.Event()
        self._finished = False
        self.failure_file = None  # where undelivered events went, if anywhere

    # ------------------------------------------------------------ events
    def queued_event(self, *args, **kwargs):
        # forwarded at once: the queued run's id comes from the covered observer
        return self._covered_observer.queued_event(*args, **kwargs)

    def started_event(self, *args, **kwargs):
        self._queue = queue.Queue()
        self._wake.clear()
        self._stop.clear()
        self._abandon.clear()
        self._finished = False
        _id = self._covered_observer.started_event(*args, **kwargs)
        self._start_kwargs = _event_kwargs(WrappedEvent("started_event", args, kwargs))
        self._start_kwargs["_id"] = _id
        self._worker = threading.Thread(target=self._run, name="sacred-queue-observer", daemon=True)
        self._worker.start()
        return _id

    def heartbeat_event(self, *args, **kwargs):
        self._drop_queued_heartbeats()  # a newer beat makes older undelivered ones moot
        self._put("heartbeat_event", args, kwargs)

    def resource_event(self, *args, **kwargs):
        self._put("resource_event", args, kwargs)

    def artifact_event(self, *args, **kwargs):
        self._put("artifact_event", args, kwargs)

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
    def _put(self, name, args, kwargs):
        if self._queue is None:
            raise RuntimeError(f"QueueObserver got {name} before the run started.")
        self._queue.put(WrappedEvent(name, args, kwargs))

    def _drop_queued_heartbeats(self):
        q = self._queue
        if q is None:
            return
        with q.mutex:
            kept = [e for e in q.queue if e.name != "heartbeat_event"]
            dropped = len(q.queue) - len(kept)
            if dropped:
                q.queue.clear()
                q.queue.extend(kept)
                q.unfinished_tasks -= dropped

    def _run(self):
        while True:
            self._wake.wait(self._interval)
            self._wake.clear()
            self._deliver_queued()
            if self._stop.is_set() or self._abandon.is_set():
                return

    def _deliver_queued(self):
        while not self._abandon.is_set():
            try:
                event = self._queue.get_nowait()
            except queue.Empty:
                return
            self._current = event
            if not self._deliver(event):
                return  # abandoned: join() writes the event and the rest to a file
            self._current = None
            self._queue.task_done()

    def _deliver(self, event) -> bool:
        failures = 0
        while True:
            try:
                self._call(event)
                if failures:
                    logger.info("%s delivered after %d failed attempts.", event.name, failures)
                return True
            except Exception as e:
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
        if event.name == "log_metrics" and _accepts(covered.log_metrics, "metrics_by_name"):
            # an ordinary observer: give it the usual {name: values} mapping
            metric_name, values, info = event.args
            covered.log_metrics({metric_name: values}, info)
        else:
            getattr(covered, event.name)(*event.args, **event.kwargs)

    def join(self):
        """Deliver what is queued, waiting at most ``join_timeout`` seconds.

        What could not be delivered in time is written to a file named in a WARNING
        (``self.failure_file``); ``replay`` delivers it later.
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
        pending = [self._current] if self._current is not None else []
        while True:
            try:
                event = q.get_nowait()
            except queue.Empty:
                break
            if event is not self._current:
                pending.append(event)
        self._write_failure_file(pending)

    def _write_failure_file(self, events):
        records = [("started_event", self._start_kwargs, {"delivered": True})]
        records += [(e.name, _event_kwargs(e)) for e in events]
        run_id = self._start_kwargs.get("_id")
        try:
            path = write_event_file(records, self.failure_dir, f"sacred_queue_fail_{run_id}_")
        except Exception as e:
            logger.error(
                "%d events for %r could not be delivered and not be saved either: %s",
                len(events),
                self._covered_observer,
                e,
            )
            return
        self.failure_file = path
        logger.warning(
            "%d events could not be delivered to %r within %s s. They are saved in %s; "
            "deliver them later with sacred.observers.queue.replay(%r, observer).",
            len(events),
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
