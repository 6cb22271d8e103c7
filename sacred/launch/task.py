"""The worker side of launchers: rebuild a run from a plain dict and run it into a store.

``run_task(spec)`` is a top-level function, so every engine pickles it by reference; the
spec is plain data::

    {"script": "exp.py",          # path of the experiment's script
     "experiment": None,          # its name, when the script defines several
     "command": None,             # None: the main command
     "config_updates": {"lr": 0.1},
     "store": "sqlite:///runs.db",  # any store location (see sacred.store.location)
     "meta_info": {"sweep": {...}},
     "options": {}}               # command-line options, e.g. {"--capture": "sys"}

It returns ``{"run_id", "status", "result", "pid", "host"}``. A run that fails returns
status FAILED (the sweep goes on); a script that cannot be loaded raises ``ScriptError``.

While the run runs in a process's main thread, SIGTERM (and SIGINT) interrupt it: the run
ends INTERRUPTED, then the handler that was there before gets the signal (Ray's SIGTERM
handler exits its worker, the default one ends the process, submitit's logs the signal and
the task returns; Python's SIGINT handler raises KeyboardInterrupt). A second signal while
the interrupted run is being recorded waits until it is recorded.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
from typing import Any

__all__ = ("run_task", "queue_task", "make_spec")

_KEYS = ("script", "experiment", "command", "config_updates", "store", "meta_info", "options")


def make_spec(
    script, store, config_updates=None, command=None, experiment=None, meta_info=None, options=None
) -> dict:
    """A spec for ``run_task`` (the script's path made absolute)."""
    return {
        "script": os.path.abspath(os.fspath(script)),
        "experiment": experiment,
        "command": command,
        "config_updates": dict(config_updates or {}),
        "store": store,
        "meta_info": dict(meta_info or {}),
        "options": dict(options or {}),
    }


def _outcome_observer():
    from sacred.observers.base import RunObserver

    class Outcome(RunObserver):
        """A last observer: it learns the run's id and how it ended, and makes sure the
        record's ``meta`` holds the task's meta keys (``sweep``...): observers that keep
        only the original's meta keys (the SqlObserver) get them through ``update_meta``."""

        priority = -(10**9)  # after the store's observer, which gives the id

        def __init__(self):
            self.run_id = None
            self.status = None
            self.add_meta = None  # (store location, meta keys) to add with update_meta

        def _add_meta(self, run_id):
            if self.add_meta is not None:
                _ensure_meta(self.add_meta[0], run_id, self.add_meta[1])

        def queued_event(self, *args, _id=None, **kwargs):
            self.run_id, self.status = _id, "QUEUED"
            self._add_meta(_id)

        def started_event(self, *args, _id=None, **kwargs):
            self.run_id, self.status = _id, "RUNNING"
            self._add_meta(_id)

        def continued_event(self, *args, _id=None, **kwargs):
            self.run_id, self.status = _id, "RUNNING"
            self._add_meta(_id)
            return _id

        def completed_event(self, *args, **kwargs):
            self.status = "COMPLETED"

        def interrupted_event(self, *args, status="INTERRUPTED", **kwargs):
            self.status = status

        def failed_event(self, *args, **kwargs):
            self.status = "FAILED"

    return Outcome()


def _ensure_meta(store, run_id, meta_info) -> None:
    if not meta_info or run_id is None:
        return
    import logging
    import time

    from sacred.store import open_store

    for attempt in range(3):  # several processes may add the SQL meta column at once
        try:
            with open_store(store) as reader:
                reader.update_meta(run_id, meta_info)
            return
        except Exception as e:
            if attempt == 2:
                logging.getLogger("sacred.launch").warning(
                    "Could not add %s to the meta of run %s: %s", sorted(meta_info), run_id, e
                )
            time.sleep(0.05 * (attempt + 1))


def _keeps_only_original_meta(observer) -> bool:
    """The SqlObserver writes only the original's meta keys (command, comment, priority)."""
    return type(observer).__module__.startswith("sacred.observers.sql")


class _Terminated(KeyboardInterrupt):
    """SIGTERM arrived during the run: it ends INTERRUPTED."""

    STATUS = "INTERRUPTED"


def _json_safe(value: Any) -> Any:
    try:
        json.dumps(value, allow_nan=True)
        return value
    except (TypeError, ValueError):
        return repr(value)


def _run(spec: dict, queue: bool, outcome) -> dict:
    from sacred.launch.script import load_experiment, run_in_store
    from sacred.store.location import open_observer

    unknown = set(spec) - set(_KEYS)
    if unknown:
        raise ValueError(f"Unknown key(s) in a task spec: {', '.join(sorted(unknown))}")
    experiment = load_experiment(spec["script"], spec.get("experiment"))
    options = dict(spec.get("options") or {})
    if queue:
        options["--queue"] = True
    store = spec["store"]
    observer = store if hasattr(store, "started_event") else open_observer(store)
    if isinstance(store, str) and _keeps_only_original_meta(observer):
        outcome.add_meta = (store, spec.get("meta_info"))
    run = None
    error = None
    try:
        run = run_in_store(
            experiment,
            store,
            command=spec.get("command"),
            config_updates=spec.get("config_updates") or {},
            meta_info=spec.get("meta_info") or {},
            options=options,
            observers=[observer, outcome],
        )
    except KeyboardInterrupt:
        raise
    except BaseException as e:  # noqa: B036 (a run calling sys.exit failed too)
        if outcome.status is None:  # never started: the config or the store is wrong
            raise
        error = e
    return _report(outcome, run, error)


def _report(outcome, run=None, error=None) -> dict:
    return {
        "run_id": run._id if run is not None else outcome.run_id,
        "status": outcome.status,
        "result": _json_safe(run.result) if run is not None else None,
        "error": error
        if error is None or isinstance(error, str)
        else f"{type(error).__name__}: {error}",
        "pid": os.getpid(),
        "host": socket.gethostname(),
    }


def run_task(spec: dict) -> dict:
    """Run one command of an experiment into a store; ``{"run_id", "status", ...}``."""
    outcome = _outcome_observer()
    if threading.current_thread() is not threading.main_thread():
        return _run(spec, False, outcome)
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    handled = [sig for sig, handler in previous.items() if handler != signal.SIG_IGN]
    received = []

    def on_signal(signum, frame):
        received.append(signum)
        if len(received) == 1:  # later ones wait until the run is recorded (replayed below)
            raise _Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()

    for sig in handled:
        signal.signal(sig, on_signal)
    try:
        return _run(spec, False, outcome)
    except KeyboardInterrupt:
        if not received:
            raise  # the run's own KeyboardInterrupt
    finally:
        for sig in handled:
            signal.signal(sig, previous[sig])
    # the run was recorded INTERRUPTED: now the earlier handlers get the signals
    for signum in dict.fromkeys(received):
        handler = previous[signum]
        if callable(handler):
            handler(signum, None)  # Python's SIGINT handler raises KeyboardInterrupt
        elif handler in (signal.SIG_DFL, None):
            os.kill(os.getpid(), signum)
    return _report(outcome, error=signal.Signals(received[0]).name)


def queue_task(spec: dict):
    """Store the run as QUEUED (the ``-q`` path) for workers; returns its id."""
    return _run(spec, True, _outcome_observer())["run_id"]
