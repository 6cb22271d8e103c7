"""Continue an existing record: a queued run run by a worker, or a stopped run resumed.

A new run gets a new record. A ``Continuation`` makes a run write into a record the store
already holds instead, under the same id:

* a **queued** run (``-q``, ``sacred queue``, Labwatch's ``enqueue_suggestion``) claimed by a
  worker: the QUEUED record becomes RUNNING, as the MongoObserver's ``overwrite`` does;
* a **resumed** run (``sacred resume``, ``ex.run(resume=...)``): a FAILED, INTERRUPTED or
  dead run becomes RUNNING again with its config and seed; its output goes on after a marker
  line, its metrics go on from their last steps (``run.last_step(name)``), its artifacts stay,
  and ``meta.segments`` lists each execution (start, stop, status).

The run announces itself with ``continued_event`` instead of ``started_event``
(``RunObserver.continued_event``); every built-in observer implements it, and one that
cannot raises ``CannotContinueError`` before anything runs.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Optional

from sacred.utils import SacredError

__all__ = (
    "Continuation",
    "ContinuationError",
    "RESUMABLE",
    "segments_of",
    "close_segment",
    "output_marker",
)

#: statuses a run can be resumed from without --force (and a RUNNING run whose heartbeat is old)
RESUMABLE = ("FAILED", "INTERRUPTED", "TIMEOUT")


class ContinuationError(SacredError):
    """A record cannot be continued (not found, still alive, config changed, ...)."""

    def __init__(self, message):
        super().__init__(message, print_traceback=False)


def _utcnow():
    return _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)


def _iso(value) -> Optional[str]:
    if isinstance(value, _dt.datetime):
        return value.isoformat()
    return value if isinstance(value, str) else None


def output_marker(segment: int, when: _dt.datetime) -> str:
    """The line written between the output of two segments of a resumed run."""
    return f"--- resumed (segment {segment}) at {when.isoformat(sep=' ', timespec='seconds')} ---\n"


def segments_of(record: dict) -> list:
    """Every execution segment of a run, ``[{"start", "stop", "status"}, ...]``.

    ``meta.segments`` holds them for a resumed run; the last one is open while the run
    runs, and is closed here from the record's ``stop_time`` and ``status``. A run never
    resumed has one segment, made from its start and stop.
    """
    meta = record.get("meta") if isinstance(record.get("meta"), dict) else {}
    stored = meta.get("segments")
    if not isinstance(stored, list) or not stored:
        if record.get("start_time") is None:
            return []
        stored = [{"start": _iso(record.get("start_time")), "stop": None, "status": None}]
    segments = [dict(s) for s in stored if isinstance(s, dict)]
    if segments and segments[-1].get("stop") is None:
        last = segments[-1]
        status = record.get("status")
        if status in ("RUNNING", "QUEUED"):
            from sacred.store.base import RunStore

            status = RunStore.live_state(record)
            if status == "PROBABLY_DEAD":  # it died: it stopped with its last heartbeat
                last["stop"] = _iso(record.get("heartbeat") or record.get("start_time"))
        else:
            last["stop"] = _iso(record.get("stop_time"))
        last["status"] = status
    return segments


def close_segment(run) -> None:
    """Write the end of a resumed run's last segment into ``meta.segments`` of the stores
    of its observers (the end events carry no meta)."""
    segments = run.meta_info.get("segments")
    if not isinstance(segments, list) or not segments or run.stop_time is None:
        return
    segments[-1] = dict(segments[-1], stop=run.stop_time.isoformat(), status=run.status)
    from sacred.store import open_store

    for observer in run.observers:
        location = getattr(observer, "store_location", None)
        if location is None:
            continue
        try:
            with open_store(location) as store:
                store.update_meta(run._id, {"segments": segments})
        except Exception as e:  # noqa: BLE001 (readers close it from the record anyway)
            run.run_logger.debug("Could not close the segment in %r: %s", observer, e)


class Continuation:
    """What a run needs to continue the record ``run_id`` (build one with ``queued`` or
    ``resume``, then ``apply`` it to a created run before starting it)."""

    def __init__(self, run_id, record: dict, kind: str, last_steps=None, meta_updates=None):
        self.run_id = run_id
        self.record = record
        self.kind = kind  # "queued" or "resume"
        self.last_steps = dict(last_steps or {})
        self.meta_updates = dict(meta_updates or {})
        self.beat_interval = None  # seconds, if the heartbeat must come at least this often

    # ------------------------------------------------------------ building
    @classmethod
    def queued(cls, record: dict, meta_updates: Optional[dict] = None) -> "Continuation":
        """Run a QUEUED record (claimed by the caller) under its id."""
        return cls(record["_id"], record, "queued", meta_updates=meta_updates)

    @classmethod
    def resume(
        cls,
        store: Any,
        run_id,
        force: bool = False,
        dead_after: Optional[float] = None,
    ) -> "Continuation":
        """Resume the run ``run_id`` of ``store`` (a ``RunStore`` or a location).

        Refused without ``force``: a COMPLETED run, a QUEUED one, and a RUNNING one whose
        heartbeat is fresh (it may still be alive somewhere).
        """
        from sacred.store import open_store  # lazy: the read side is only needed here
        from sacred.store.base import DEFAULT_DEAD_AFTER, RunNotFoundError, RunStore

        reader = store if isinstance(store, RunStore) else open_store(store)
        try:
            record = reader.get(run_id)
        except RunNotFoundError:
            raise ContinuationError(f"There is no run {run_id!r} to resume in {store}") from None
        state = RunStore.live_state(record, dead_after=dead_after or DEFAULT_DEAD_AFTER)
        if not force:
            if state == "RUNNING":
                raise ContinuationError(
                    f"Run {run_id} is still RUNNING (its heartbeat is fresh): it may be alive "
                    "on some machine; use --force (force=True) to resume it anyway"
                )
            if state not in RESUMABLE and state != "PROBABLY_DEAD":
                raise ContinuationError(
                    f"Run {run_id} is {state}: only FAILED, INTERRUPTED or dead runs are "
                    "resumed without --force (force=True)"
                )
        last_steps = {}
        for name, metric in reader.metrics(record["_id"]).items():
            steps = [s for s in metric["steps"] if isinstance(s, (int, float))]
            if steps:
                last_steps[name] = max(steps)
        return cls(record["_id"], record, "resume", last_steps=last_steps)

    # ------------------------------------------------------------ what the run uses
    @property
    def config(self) -> dict:
        """The recorded config (with its seed): the run's config updates."""
        config = self.record.get("config")
        return dict(config) if isinstance(config, dict) else {}

    @property
    def command(self) -> Optional[str]:
        meta = self.record.get("meta") if isinstance(self.record.get("meta"), dict) else {}
        return meta.get("command") or self.record.get("command")

    def check_updates(self, config_updates: Optional[dict], force: bool) -> None:
        """Refuse config updates of a resumed run (its config is the recorded one)."""
        if config_updates and not force:
            names = ", ".join(sorted(config_updates))
            raise ContinuationError(
                f"A resumed run keeps its recorded config: cannot change {names} "
                "(use --force / force=True to resume with changes)"
            )

    def apply(self, run) -> None:
        """Make ``run`` (created, not started) continue this record."""
        run._continuation = self
        run._id = self.run_id
        run.resumed = self.kind == "resume"
        if self.beat_interval is not None:
            run.beat_interval = min(run.beat_interval, self.beat_interval)
        run._metrics.continue_steps(self.last_steps)
        old_meta = self.record.get("meta") if isinstance(self.record.get("meta"), dict) else {}
        meta = {k: v for k, v in old_meta.items() if k not in run.meta_info}
        meta.update(run.meta_info)
        meta.update(self.meta_updates)
        if self.kind == "resume":
            now = _utcnow()
            segments = segments_of(self.record)
            if segments and segments[-1].get("stop") is None:  # forced: taken as dead
                last = self.record.get("heartbeat") or self.record.get("start_time")
                segments[-1].update(stop=_iso(last), status="PROBABLY_DEAD")
            trace = self.record.get("fail_trace")
            if segments and isinstance(trace, list) and trace:
                segments[-1]["error"] = str(trace[-1]).strip()  # the exception line
            segments.append({"start": now.isoformat(), "stop": None, "status": "RUNNING"})
            meta["segments"] = segments
            previous = self.record.get("captured_out") or ""
            if previous and not previous.endswith("\n"):
                previous += "\n"
            run.captured_out = previous + output_marker(len(segments), now)
            info = self.record.get("info")
            if isinstance(info, dict):
                run.info.update(info)
            run._resume_time = now
        run.meta_info.clear()
        run.meta_info.update(meta)
