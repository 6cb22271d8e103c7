"""The Run: one execution of a command, and the events it sends to the observers."""

import datetime
import heapq
import itertools
import os
import sys
import threading
import time
import traceback as tb

from sacred.settings import SETTINGS
from sacred.utils import (
    SacredInterrupt,
    join_paths,
    leave_signals_to_main_thread,
    without_surrogates,
)

__all__ = ("Run",)


def _utcnow():
    # naive UTC, like the deprecated datetime.utcnow()
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


class _HeartbeatScheduler:
    """One daemon thread that emits the periodic heartbeats of all running runs.

    Starting (and joining) a thread per run costs about half a millisecond, which is
    most of the overhead of a short observed run; the thread is started once instead.
    The final heartbeat of a run is emitted by the run itself when it stops.
    """

    def __init__(self):
        self._cond = threading.Condition()
        self._queue = []  # heap of (due time, sequence number, run)
        self._counter = itertools.count()
        self._thread = None

    def add(self, run, interval):
        with self._cond:
            heapq.heappush(self._queue, (time.monotonic() + interval, next(self._counter), run))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name="sacred-heartbeat", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def remove(self, run):
        """Forget a stopped run right away (the queue must not keep finished runs alive)."""
        with self._cond:
            queue = [entry for entry in self._queue if entry[2] is not run]
            if len(queue) != len(self._queue):
                heapq.heapify(queue)
                self._queue = queue
                self._cond.notify()

    def _next_due_run(self):
        with self._cond:
            while True:
                if not self._queue:
                    self._cond.wait()
                    continue
                due, _, run = self._queue[0]
                if run._beat_stopped:
                    heapq.heappop(self._queue)
                    continue
                delay = due - time.monotonic()
                if delay <= 0:
                    heapq.heappop(self._queue)
                    return run
                self._cond.wait(delay)

    def _loop(self):
        leave_signals_to_main_thread()
        while True:
            run = self._next_due_run()
            run._periodic_heartbeat()
            with self._cond:
                if not run._beat_stopped:
                    due = time.monotonic() + run.beat_interval
                    heapq.heappush(self._queue, (due, next(self._counter), run))


_HEARTBEATS = _HeartbeatScheduler()


def _descending_priority(observer):
    return -observer.priority


class Run:
    """One execution of a command: its config, state and results, and its observers."""

    def __init__(
        self,
        config,
        config_modifications,
        main_function,
        observers,
        root_logger,
        run_logger,
        experiment_info,
        host_info,
        pre_run_hooks,
        post_run_hooks,
        captured_out_filter=None,
    ):
        # lazy: keeps `from sacred import Experiment` light
        from sacred.metrics_logger import MetricsLogger

        # what the run was made from (see sacred.initialize.create_run)
        self.config = config
        self.config_modifications = config_modifications  # a ConfigSummary
        self.main_function = main_function
        self.observers = observers
        self.root_logger = root_logger
        self.run_logger = run_logger
        self.experiment_info = experiment_info
        self.host_info = host_info
        self.pre_run_hooks = pre_run_hooks
        self.post_run_hooks = post_run_hooks
        self.captured_out_filter = captured_out_filter  # str -> str, or None

        # switches, set by command-line options before the run starts
        self.debug = False
        self.pdb = False
        self.unobserved = False
        self.force = False  # no checks of suspicious config updates
        self.queue_only = False
        self.beat_interval = SETTINGS.DEFAULT_BEAT_INTERVAL  # seconds
        self.capture_mode = None  # None: decided when the run starts
        self.meta_info = {}
        self.resumed = False  # True: this run continues a stopped run (sacred.continuation)
        self._continuation = None  # a sacred.continuation.Continuation, or None
        self._parent_store = None  # where the parent run is, as the caller gave it

        # what happens while it runs
        self._id = None  # chosen by the first observer that returns one
        self.status = None  # QUEUED, RUNNING, COMPLETED, FAILED, INTERRUPTED, ...
        self.start_time = None  # naive UTC datetimes
        self.stop_time = None
        self.info = {}  # free-form, sent with every heartbeat
        self.captured_out = ""
        self.result = None
        self.fail_trace = None  # list of str

        self._heartbeat = None  # unused: beats come from _HEARTBEATS
        self._stop_heartbeat_event = None
        self._beat_pending = False  # the heartbeat was started: a final beat is due
        self._beat_stopped = False
        self._beat_lock = threading.Lock()  # one beat at a time
        self._output_file = None
        self._output_lock = threading.Lock()
        self._output_closed = False
        self._failed_observers = []
        self._start_failed = False  # an observer could not record the start
        self._metrics = MetricsLogger()
        # the thinnest possible call: the bound method of the metrics logger itself
        self.log_scalar = self._metrics.log_scalar_metric

    # ------------------------------------------------------------ public API
    def open_resource(self, filename, mode="r"):
        """``open`` a file after reporting it as a resource to the observers."""
        filename = os.path.abspath(filename)
        self._emit_resource_added(filename)
        return open(filename, mode)

    def add_resource(self, filename):
        """Report a file this run reads; observers store it as a resource."""
        filename = os.path.abspath(filename)
        self._emit_resource_added(filename)

    def add_artifact(self, filename, name=None, metadata=None, content_type=None):
        """Report a file this run produced; observers store it as an artifact."""
        filename = os.path.abspath(filename)
        name = os.path.basename(filename) if name is None else name
        if isinstance(name, str):  # (a file name that is not UTF-8: no store takes it)
            name = without_surrogates(name)
        self._emit_artifact_added(name, filename, metadata, content_type)

    def log_scalar(self, metric_name, value, step=None):
        """Record a value of a metric; observers get it with the next heartbeat.

        Without a step, the metric's previous step plus one is used (the first is 0).
        """
        self._metrics.log_scalar_metric(metric_name, value, step)

    def save_checkpoint(self, path_or_bytes, name="checkpoint"):
        """Store a checkpoint as the artifact ``name``, replacing the one saved before under
        that name (in every store), so that a resumed run finds the newest with
        ``open_checkpoint``. ``path_or_bytes``: a file's path, or the bytes themselves."""
        if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
            import tempfile

            with tempfile.TemporaryDirectory(prefix="sacred-checkpoint-") as folder:
                filename = os.path.join(folder, os.path.basename(name) or "checkpoint")
                with open(filename, "wb") as f:
                    f.write(path_or_bytes)
                self._emit_artifact_added(name, filename, {"checkpoint": True}, None)
        else:
            filename = os.path.abspath(os.fspath(path_or_bytes))
            self._emit_artifact_added(name, filename, {"checkpoint": True}, None)
        if self._beat_pending:
            # a heartbeat now: the metrics and output up to the checkpoint are stored with it,
            # so a run resumed from it finds them (not only what the last periodic beat sent)
            self._periodic_heartbeat()

    def open_checkpoint(self, name="checkpoint"):
        """The newest checkpoint saved as ``name`` by this run (or before it was resumed), as
        a binary file object from the store of the first observer that can be read back;
        None if there is none."""
        from sacred.store import open_store
        from sacred.store.base import RunNotFoundError, StoreError

        for observer in self.observers:
            location = getattr(observer, "store_location", None)
            if location is None or self._id is None:
                continue
            try:
                store = open_store(location)
                if name not in store.artifacts(self._id):
                    return None
                return store.open_artifact(self._id, name)
            except (RunNotFoundError, StoreError):
                return None
        return None

    def last_step(self, metric_name):
        """The last step of a metric: logged by this run, or recorded before it was resumed
        (so that resumed code can skip the work already done); None if there is none."""
        return self._metrics.last_step(metric_name)

    @property
    def parent(self):
        """The run this run builds on (``meta.parent``), read through ``sacred.store``:
        ``.config``, ``.result``, ``.metrics()``, ``.open_artifact(name)``; None if none."""
        parent = self.meta_info.get("parent")
        if not isinstance(parent, dict):
            return None
        from sacred.lineage import ParentRun  # lazy: opens a store

        # the location as given (with its credentials) beats the recorded one (without)
        return ParentRun(self._parent_store or parent["store"], parent["id"])

    def warn_if_unobserved(self):
        """Log a warning when nothing will record this run (unless that is intended)."""
        if not self.observers and not self.debug and not self.unobserved:
            self.run_logger.warning("No observers have been added to this run")

    def __call__(self, *args):
        """Start the run: notify the observers, call the command and return its result."""
        # lazy: keeps `from sacred import Experiment` light
        from sacred.randomness import set_global_seed
        from sacred.stdout_capturing import get_stdcapturer

        if self.start_time is not None:
            raise RuntimeError(
                f"A run can only be started once. (Last start was {self.start_time})"
            )

        # highest priority first; equal priorities keep their order
        self.observers = [] if self.unobserved else sorted(self.observers, key=_descending_priority)
        self.warn_if_unobserved()
        set_global_seed(self.config["seed"])

        # without observers nobody reads the output: capture nothing unless asked to
        mode = "no" if self.capture_mode is None and not self.observers else self.capture_mode
        capture_mode, capture_stdout = get_stdcapturer(mode)
        self.run_logger.debug('Using capture mode "%s"', capture_mode)

        if self.queue_only:
            self._emit_queued()
            self._wait_for_observers()
            return None
        try:
            with capture_stdout() as self._output_file:
                try:
                    self._emit_started()
                    self._start_heartbeat()
                    self._execute_pre_run_hooks()
                    self.result = self.main_function(*args)
                    self._execute_post_run_hooks()
                    if self.result is not None:
                        self.run_logger.info("Result: %s", self.result)
                    elapsed_time = self._stop_time()
                    self.run_logger.info("Completed after %s", elapsed_time)
                finally:
                    # collect the output while the capture is still open, also on failure
                    self._close_captured_output()
            self._stop_heartbeat()
            self._emit_completed(self.result)
        except (SacredInterrupt, KeyboardInterrupt) as e:
            self._stop_heartbeat()
            status = getattr(e, "STATUS", "INTERRUPTED")
            self._emit_interrupted(status)
            raise
        except BaseException:
            exc_type, exc_value, trace = sys.exc_info()
            self._stop_heartbeat()
            self._emit_failed(exc_type, exc_value, trace.tb_next)
            raise
        finally:
            self._warn_about_failed_observers()
            self._wait_for_observers()
            if self.resumed and not self._start_failed:
                from sacred.continuation import close_segment

                close_segment(self)

        return self.result

    # ------------------------------------------------------------ internals
    def _get_captured_output(self):
        """Read the new output (under the lock: the heartbeat thread reads too)."""
        with self._output_lock:
            self._read_captured_output()
            return self.captured_out

    def _read_captured_output(self):
        if self._output_file is None or self._output_closed:
            return
        text = self._output_file.get()
        if self.captured_out_filter is not None:
            self.captured_out = self.captured_out_filter(self.captured_out + text)
        elif text:
            # Detach the old text first: with no other reference left, CPython extends
            # the string in place instead of holding old and old + new at the same time.
            out = self.captured_out
            self.captured_out = ""
            out += text
            self.captured_out = out

    def _close_captured_output(self):
        with self._output_lock:
            self._read_captured_output()
            self._output_closed = True

    def _start_heartbeat(self):
        self.run_logger.debug("Starting Heartbeat")
        if self.beat_interval > 0:
            self._beat_pending = True
            if self.observers:  # without observers nobody listens to periodic beats
                _HEARTBEATS.add(self, self.beat_interval)

    def _periodic_heartbeat(self):
        with self._beat_lock:
            if self._beat_stopped:
                return
            try:
                self._emit_heartbeat()
            except Exception:
                self.run_logger.error("Heartbeat failed:\n%s", tb.format_exc())

    def _stop_heartbeat(self):
        self.run_logger.debug("Stopping Heartbeat")
        if not self._beat_pending:
            return
        self._beat_pending = False
        # wait (at most 2 s, like joining the original timer thread) for a running beat
        acquired = self._beat_lock.acquire(timeout=2)
        self._beat_stopped = True
        _HEARTBEATS.remove(self)
        try:
            self._emit_heartbeat(final=True)
        finally:
            if acquired:
                self._beat_lock.release()

    def _emit_queued(self):
        self.status = "QUEUED"
        self.meta_info["queue_time"] = queue_time = _utcnow()
        self.run_logger.info("Queuing-up command '%s'", self._command())
        self._announce("queued_event", queue_time=queue_time)
        if self._id is None:
            self.run_logger.info("Queued")
        else:
            self.run_logger.info('Queued-up run with ID "%s"', self._id)

    def _emit_started(self):
        self.status = "RUNNING"
        self.start_time = _utcnow()
        self.run_logger.info("Running command '%s'", self._command())
        if self._continuation is not None:
            # the record exists: it is continued (a claimed QUEUED run, or a resume)
            self._check_observers_can_continue()
            self._announce("continued_event", start_time=self.start_time)
            verb = "Resumed" if self.resumed else "Started"
            self.run_logger.info('%s run with ID "%s"', verb, self._id)
            return
        self._announce("started_event", start_time=self.start_time)
        if self._id is None:
            self.run_logger.info("Started")
        else:
            self.run_logger.info('Started run with ID "%s"', self._id)

    def _check_observers_can_continue(self):
        """Refuse before any record is touched if an observer cannot continue one."""
        from sacred.observers.base import CannotContinueError, RunObserver

        for observer in self.observers:
            method = getattr(type(observer), "continued_event", None)
            if method is None or method is RunObserver.continued_event:
                self._start_failed = True
                self.observers = []  # none of them holds anything of this start
                raise CannotContinueError.of(observer, self._id)

    def _command(self):
        return join_paths(self.main_function.prefix, self.main_function.signature.name)

    def _announce(self, event, **when):
        """Send a queued/started event; the first id an observer returns becomes the run's.

        Errors propagate on purpose: a run that an observer cannot record does not start.
        """
        announced = []
        try:
            for observer in self.observers:
                returned = getattr(observer, event)(
                    ex_info=self.experiment_info,
                    command=self._command(),
                    host_info=self.host_info,
                    config=self.config,
                    meta_info=self.meta_info,
                    _id=self._id,
                    **when,
                )
                announced.append(observer)
                if self._id is None:
                    self._id = returned
        except BaseException:
            # only the observers that hold a record of this run hear how it ended
            self._start_failed = True
            self.observers = announced
            raise

    def _emit_heartbeat(self, final=False):
        beat_time = _utcnow()
        captured_out = self._get_captured_output()
        drain = getattr(self._metrics, "drain_linearized", None)
        if drain is not None:
            metrics_by_name = drain()
        else:
            # lazy: keeps `from sacred import Experiment` light
            from sacred.metrics_logger import linearize_metrics

            metrics_by_name = linearize_metrics(self._metrics.get_last_metrics())
        for observer in self.observers:
            self._safe_call(
                observer, "log_metrics", metrics_by_name=metrics_by_name, info=self.info
            )
            # the last beat: an observer may write it with the final event (RunObserver)
            final_beat = final and hasattr(type(observer), "final_heartbeat_event")
            self._safe_call(
                observer,
                "final_heartbeat_event" if final_beat else "heartbeat_event",
                info=self.info,
                captured_out=captured_out,
                beat_time=beat_time,
                result=self.result,
            )

    def _stop_time(self):
        """Set ``stop_time``; returns the duration in whole seconds (for the log)."""
        self.stop_time = _utcnow()
        seconds = (self.stop_time - self.start_time).total_seconds()
        return datetime.timedelta(seconds=round(seconds))

    def _emit_completed(self, result):
        self.status = "COMPLETED"
        for observer in self.observers:
            self._final_call(observer, "completed_event", stop_time=self.stop_time, result=result)

    def _emit_interrupted(self, status):
        self.status = status
        elapsed_time = self._stop_time()
        self.run_logger.warning("Aborted after %s!", elapsed_time)
        for observer in self.observers:
            self._final_call(
                observer, "interrupted_event", interrupt_time=self.stop_time, status=status
            )

    def _emit_failed(self, exc_type, exc_value, trace):
        self.status = "FAILED"
        elapsed_time = self._stop_time()
        # a message may hold a name that is not UTF-8, which no store takes
        lines = tb.format_exception(exc_type, exc_value, trace)
        self.fail_trace = [without_surrogates(line) for line in lines]
        if self._start_failed and not self.observers:
            return  # it never started: the error itself says why (no "Failed after 0:00:00!")
        self.run_logger.error("Failed after %s!", elapsed_time)
        for observer in self.observers:
            self._final_call(
                observer, "failed_event", fail_time=self.stop_time, fail_trace=self.fail_trace
            )

    def _emit_resource_added(self, filename):
        for observer in self.observers:
            self._safe_call(observer, "resource_event", filename=filename)

    def _emit_artifact_added(self, name, filename, metadata, content_type):
        for observer in self.observers:
            self._safe_call(
                observer,
                "artifact_event",
                name=name,
                filename=filename,
                metadata=metadata,
                content_type=content_type,
            )

    def _safe_call(self, obs, method, **kwargs):
        """Call an observer during the run; after its first error it is left out."""
        if obs in self._failed_observers:
            return
        try:
            getattr(obs, method)(**kwargs)
        except Exception as e:
            self._failed_observers.append(obs)
            self.run_logger.warning("An error ocurred in the '%s' observer: %s", obs, e)

    def _final_call(self, observer, method, **kwargs):
        """Deliver an end-of-run event; an observer's error is logged, the others still get it."""
        try:
            getattr(observer, method)(**kwargs)
        except Exception:
            self.run_logger.error(tb.format_exc())

    def _wait_for_observers(self):
        """Let every observer finish its pending work (``join``)."""
        for observer in self.observers:
            self._safe_call(observer, "join")

    def _warn_about_failed_observers(self):
        for observer in self._failed_observers:
            self.run_logger.warning(
                "The observer '%s' failed at some point during the run.", observer
            )

    def _execute_pre_run_hooks(self):
        for hook in self.pre_run_hooks:
            hook()

    def _execute_post_run_hooks(self):
        for hook in self.post_run_hooks:
            hook()
