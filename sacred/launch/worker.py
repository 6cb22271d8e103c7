"""Queue workers: claim QUEUED runs of a store and run each under its queued id.

    worker = Worker("postgresql://db/runs", max_runs=10, idle_exit=60)
    worker.serve()

A claim is taken with ``RunStore.claim(run_id, attempt, worker)``, which exactly one caller
wins (see each backend). It is a lease: the run's heartbeat (every ``lease / 4`` seconds)
keeps it. When a worker dies (kill -9, a lost machine), its run's heartbeat stops; once it is
older than the lease, another worker claims the next attempt and resumes the run under the
same id (its output and metrics so far are kept, see ``sacred.continuation``), up to
``retries`` times. ``meta.claims`` lists every attempt. Clocks of the machines must agree
to well within the lease.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import signal
import socket
import threading
import time
from typing import Callable, Optional

__all__ = ("Worker", "DEFAULT_LEASE")

DEFAULT_LEASE = 60.0  # seconds without a heartbeat after which a claim lapses
_PASSED_OPTIONS = ("--capture", "--loglevel", "--force", "--enforce_clean", "--name")
_SCAN_LIMIT = 200  # queued runs looked at per scan (oldest first)

logger = logging.getLogger("sacred.worker")


def _utcnow():
    return _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Worker:
    """Runs the QUEUED runs of ``store`` (a location), one at a time, in this process."""

    def __init__(
        self,
        store,
        script: Optional[str] = None,
        max_runs: Optional[int] = None,
        idle_exit: Optional[float] = None,
        retries: int = 0,
        lease: float = DEFAULT_LEASE,
        poll: float = 1.0,
        query: Optional[str] = None,
        name: Optional[str] = None,
        say: Callable[[str], None] = print,
    ):
        from sacred.store import open_store

        if retries < 0 or (max_runs is not None and max_runs < 1) or lease <= 0 or poll <= 0:
            raise ValueError("retries must be >= 0, max_runs >= 1, lease and poll > 0")
        self.location = store
        self.store = open_store(store)
        self.script = script
        self.max_runs = max_runs
        self.idle_exit = idle_exit
        self.retries = retries
        self.lease = lease
        self.poll = poll
        self.query = query
        self.name = name or worker_name()
        self.say = say
        self.finished = []  # (run id, status) of the runs this worker ran
        self._stop = threading.Event()
        self._lapsed_scan = float("-inf")  # time.monotonic() of the last scan for dead workers

    # ------------------------------------------------------------ the loop
    def serve(self) -> list:
        """Claim and run until ``max_runs`` ran or the queue stayed empty ``idle_exit``
        seconds (forever without either); returns ``[(run id, status), ...]``."""
        idle_since = time.monotonic()
        previous = signal.getsignal(signal.SIGTERM) if _main_thread() else None
        if previous is not None:
            signal.signal(signal.SIGTERM, self._terminate)
        try:
            while not self._stop.is_set():
                if self.max_runs is not None and len(self.finished) >= self.max_runs:
                    break
                claimed = self.claim_next()
                if claimed is None:
                    if (
                        self.idle_exit is not None
                        and time.monotonic() - idle_since >= self.idle_exit
                    ):
                        break
                    self._stop.wait(self.poll)
                    continue
                self.finished.append(self.execute(*claimed))
                idle_since = time.monotonic()
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
        return self.finished

    def stop(self) -> None:
        """Stop after the current run."""
        self._stop.set()

    def _terminate(self, signum, frame):
        self.stop()
        raise KeyboardInterrupt  # the current run ends INTERRUPTED, and is not lost

    # ------------------------------------------------------------ claiming
    def claim_next(self):
        """``(record, attempt, claims)`` of a run this worker now holds, or None."""
        for run_id, queued in self._candidates():
            claimed = self._try_first(run_id) if queued else None
            if claimed is None:
                claimed = self._try(run_id)
            if claimed is not None:
                return claimed
        return None

    def _candidates(self) -> list:
        """``(run id, queued)`` pairs: QUEUED runs (oldest first), then, at most every
        lease/4 seconds, runs a worker took that stopped beating (the worker died)."""
        query = "status == 'QUEUED'"
        if self.query:
            query = f"({query}) and ({self.query})"
        found = [(i, True) for i in self.store.find_ids(query, sort="_id", limit=_SCAN_LIMIT)]
        now = time.monotonic()
        if now - self._lapsed_scan >= self.lease / 4:
            self._lapsed_scan = now
            running = self.store.summaries("status == 'RUNNING'", fields=["meta", "heartbeat"])
            for record in running:
                meta = record.get("meta") if isinstance(record.get("meta"), dict) else {}
                if meta.get("claims") and self._lapsed(
                    record.get("heartbeat") or record.get("start_time")
                ):
                    found.append((record["_id"], False))
        return found

    def _lapsed(self, when) -> bool:
        if not isinstance(when, _dt.datetime):
            return False  # unknown: never taken away
        return (_utcnow() - when).total_seconds() > self.lease

    def _try_first(self, run_id):
        """The first claim of a QUEUED run, without reading its claims first (the common
        case: one statement); None if it was taken before."""
        at = _utcnow()
        if not self.store.claim(run_id, 1, self.name):
            return None
        record = self.store.get(run_id)
        if record.get("status") != "QUEUED":
            return None
        return record, 1, [{"attempt": 1, "worker": self.name, "at": at}]

    def _try(self, run_id):
        claims = self.store.claims(run_id)
        if claims and not self._lapsed(claims[-1]["at"]):
            return None  # another worker holds it (or just took it)
        attempt = claims[-1]["attempt"] + 1 if claims else 1
        if attempt > self.retries + 1:
            self._give_up(run_id, claims)
            return None
        if not self.store.claim(run_id, attempt, self.name):
            return None  # another worker was faster
        record = self.store.get(run_id)
        if record.get("status") not in ("QUEUED", "RUNNING"):
            return None  # finished meanwhile (a late heartbeat of a slow worker)
        if record.get("status") == "RUNNING" and not self._lapsed(
            record.get("heartbeat") or record.get("start_time")
        ):
            return None  # its worker is beating again: it keeps the run (our claim stays unused)
        if attempt > 1:
            self.say(
                f"Run {run_id}: the lease of {claims[-1]['worker']} ran out; attempt {attempt}"
            )
        return record, attempt, self.store.claims(run_id)

    def _give_up(self, run_id, claims):
        record = self.store.get(run_id)
        meta = record.get("meta") if isinstance(record.get("meta"), dict) else {}
        if meta.get("gave_up"):
            return
        note = {"at": _utcnow().isoformat(), "attempts": len(claims)}
        try:
            self.store.update_meta(run_id, {"gave_up": note})
        except Exception as e:  # noqa: BLE001 (a note only)
            logger.warning("Could not note on run %s that its retries ran out: %s", run_id, e)
        self.say(f"Run {run_id}: its worker died {len(claims)} time(s); not retried (--retries)")

    # ------------------------------------------------------------ running
    def execute(self, record: dict, attempt: int, claims: list):
        """Run the claimed ``record`` under its id; returns ``(run id, status)``."""
        from sacred.continuation import Continuation
        from sacred.launch.script import load_experiment, run_in_store

        run_id = record["_id"]
        meta_claims = [
            {"attempt": c["attempt"], "worker": c["worker"], "at": _iso(c["at"])} for c in claims
        ]
        if attempt == 1 and record.get("status") == "QUEUED":
            continuation = Continuation.queued(record, meta_updates={"claims": meta_claims})
        else:  # the previous worker died: go on from where it stopped
            continuation = Continuation.resume(self.store, run_id, force=True)
            continuation.meta_updates["claims"] = meta_claims
        continuation.beat_interval = max(0.05, self.lease / 4)
        experiment = record.get("experiment") or {}
        script = self.script or _recorded_script(experiment)
        meta = record.get("meta") if isinstance(record.get("meta"), dict) else {}
        options = {k: v for k, v in (meta.get("options") or {}).items() if k in _PASSED_OPTIONS}
        self.say(f"Run {run_id}: {continuation.command} of {script} (attempt {attempt})")
        try:
            ex = load_experiment(script, prefer=experiment.get("name"))
            run = run_in_store(
                ex,
                self.location,
                command=continuation.command,
                config_updates=continuation.config,
                options=options,
                continuation=continuation,
            )
            status = run.status
        except KeyboardInterrupt:
            self.stop()
            status = "INTERRUPTED"
        except Exception as e:  # noqa: BLE001 (the run's failure is recorded; go on)
            status = "FAILED"
            self.say(f"Run {run_id}: FAILED ({type(e).__name__}: {e})")
            if not _recorded_failure(self.store, run_id):
                self._note_failure(run_id, e)
        self.say(f"Run {run_id}: {status}")
        return run_id, status

    def _note_failure(self, run_id, error):
        """The run failed before it started (script missing, config error): say so in its
        record, else the queue would offer it again after the lease."""
        try:
            self.store.update_meta(
                run_id, {"worker_error": f"{type(error).__name__}: {error}"[:2000]}
            )
        except Exception:  # noqa: BLE001
            pass


def _recorded_failure(store, run_id) -> bool:
    try:
        return store.get(run_id).get("status") != "QUEUED"
    except Exception:  # noqa: BLE001
        return False


def _recorded_script(experiment: dict) -> str:
    from sacred.launch.script import ScriptError

    base_dir, mainfile = experiment.get("base_dir"), experiment.get("mainfile")
    if not base_dir or not mainfile:
        raise ScriptError("The queued run does not record its script: give --script")
    return os.path.join(base_dir, mainfile)


def _iso(value):
    return value.isoformat() if isinstance(value, _dt.datetime) else value


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()
