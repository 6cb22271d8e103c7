"""Applying a journal (``sacred.observers.journal``) to an S3 or Google Cloud Storage store.

The S3 and GCS observers keep the whole state of a run in memory and write its objects
whole (run.json, config.json, info.json, metrics.json, cout.txt), so their journal holds the
whole run: the start, every resource and artifact (with a copy of the file unless it was
uploaded already: ``"uploaded": true``), the metrics so far (``"whole": true``), the last
heartbeat and the end, each line with the number its event got when it happened. Applying it
rebuilds the run and writes its objects whole: nothing can be written twice, points
included.

Progress is kept in a small object ``<basedir>/.journal/<journal id>.json``,
``{"run": id, "seq": last event applied}``, which readers never list (they read the run
folders ``<basedir>/<digits>/`` only). It is written before a new run's folder is claimed,
so a sync that stopped there finds the run again; a journal whose events are all applied
is not written again.
"""

import json
import os

from sacred.observers.journal import JournalError, same_start
from sacred.observers.object_store.layout import iso
from sacred.observers.object_store.layout import join as s3_join

__all__ = ("ObjectJournal",)

_MAX_ID_ATTEMPTS = 1000


class ObjectJournal:
    """Applies the events of one journal through ``observer`` (an ``ObjectStoreObserver``)."""

    def __init__(self, observer):
        self.obs = observer

    def _marker_key(self, journal_id) -> str:
        return s3_join(self.obs.basedir, ".journal", f"{journal_id}.json")

    def _read_marker(self, journal_id) -> dict:
        key = self._marker_key(journal_id)
        if not self.obs._store_exists(key):
            return {}
        data, _version = self.obs._bucket.read(key)
        try:
            marker = json.loads(data)
        except ValueError:
            return {}
        return marker if isinstance(marker, dict) else {}

    def _write_marker(self, journal_id, run_id, seq):
        data = json.dumps({"journal": journal_id, "run": run_id, "seq": seq}).encode("utf-8")
        self.obs._store_put(self._marker_key(journal_id), data, "application/json")

    def _run_json(self, run_id):
        key = s3_join(self.obs.basedir, str(run_id), "run.json")
        if not self.obs._store_exists(key):
            return None
        data, _version = self.obs._bucket.read(key)
        try:
            return json.loads(data)
        except ValueError:
            return {}

    # ------------------------------------------------------------ applying
    def apply(self, events):
        """``(run id, applied, already there)``."""
        first = events[0]
        if first.event != "started_event":
            raise JournalError(f"event {first.seq} comes before the run's started_event")
        obs = self.obs
        obs._reach_bucket()
        marker = self._read_marker(first.journal)
        done = marker.get("seq", -1) if isinstance(marker.get("seq"), int) else -1
        fresh = [e for e in events if e.seq > done]
        run_id = marker.get("run")
        if not fresh and run_id is not None and self._run_json(run_id) is not None:
            return run_id, 0, len(events)
        kwargs = dict(first.kwargs)
        copies = {k[len("source:") :]: v for k, v in first.files.items() if k.startswith("source:")}
        if first.extra.get("continued"):
            return self._apply_continued(events, kwargs, copies, done, fresh)
        candidate = run_id
        if candidate is None:
            candidate = first.run if first.run is not None else kwargs.get("_id")
        if candidate is not None:
            stored = self._run_json(candidate)
            if stored is not None and not same_start(
                stored.get("start_time"), kwargs["start_time"]
            ):
                candidate = None  # another run has this id (another store): a new id
            elif stored is not None:
                run_id = candidate
        self._begin(kwargs, copies)
        if run_id is None or self._run_json(run_id) is None:
            run_id = self._claim(first.journal, candidate, done)
        else:
            obs.dir = s3_join(obs.basedir, str(run_id))
            obs._started["_id"] = run_id
            obs._run_version = "unknown"  # run.json is there: keep the meta others gave it
        for e in events[1:]:
            self._fold(e, e.seq <= done)
        for name in ("run.json", "config.json", "cout.txt", "info.json", "metrics.json"):
            if name == "info.json" and not obs.info:
                continue
            if name == "metrics.json" and not obs._metrics_marked:
                continue
            obs._mark(name)
        obs._flush(final=True)
        if obs._pending:
            raise JournalError("the store did not take everything; sync again")
        self._write_marker(first.journal, run_id, events[-1].seq)
        return run_id, len(fresh), len(events) - len(fresh)

    def _apply_continued(self, events, kwargs, copies, done, fresh):
        """A continued run (see ``object_store.continued``): its events are folded into the
        record the store holds under its id (a new record with that id if there is none)."""
        first, obs = events[0], self.obs
        run_id = first.run if first.run is not None else kwargs.get("_id")
        if run_id is None:
            raise JournalError("the journal of a continued run names no run id")
        self._begin(kwargs, copies)
        obs._continued = True
        obs._started["_id"] = run_id
        obs.dir = s3_join(obs.basedir, str(run_id))
        heard = False
        for e in events[1:]:
            self._fold(e, e.seq <= done)
            heard = heard or e.event == "heartbeat_event"
        stored = obs._read_stored(run_id)
        if stored is not None:
            obs.adopt_stored(stored, have_output=heard)
        else:
            self._write_marker(first.journal, run_id, done)
            obs._upload_state("run.json")
        for name in ("run.json", "config.json", "cout.txt", "info.json", "metrics.json"):
            if (name != "info.json" or obs.info) and (
                name != "metrics.json" or obs._metrics_marked
            ):
                obs._mark(name)
        obs._flush(final=True)
        if obs._pending:
            raise JournalError("the store did not take everything; sync again")
        self._write_marker(first.journal, run_id, events[-1].seq)
        return run_id, len(fresh), len(events) - len(fresh)

    def _begin(self, kwargs, copies):
        """The run's state in the observer, as its start made it (nothing uploaded yet)."""
        obs = self.obs
        obs._reset_run()
        obs.fallback_file = None
        obs._journal = None
        ex_info = kwargs["ex_info"]
        obs.run_entry = {
            "experiment": dict(ex_info),
            "command": kwargs["command"],
            "host": dict(kwargs["host_info"]),
            "start_time": iso(kwargs["start_time"]),
            "meta": kwargs["meta_info"],
            "status": "RUNNING",
            "resources": [],
            "artifacts": [],
            "heartbeat": None,
        }
        obs._own_meta = tuple(kwargs["meta_info"] or ())
        obs.config = kwargs["config"]
        obs.info = {}
        obs.cout = ""
        obs.saved_metrics = {}
        obs._started = dict(kwargs)
        obs.run_entry["experiment"]["sources"] = obs._save_sources(ex_info, copies)

    def _claim(self, journal_id, candidate, done):
        """A new run folder (``candidate`` if free), named in the marker before it is taken."""
        obs = self.obs
        base = obs.basedir.rstrip("/") + "/" if obs.basedir else ""
        for _ in range(_MAX_ID_ATTEMPTS):
            run_id = candidate
            if run_id is None:
                subdirs = obs._store_subdirs(base)
                run_id = max((int(d) for d in subdirs if d.isdigit()), default=0) + 1
            self._write_marker(journal_id, run_id, done)
            obs.dir = s3_join(obs.basedir, str(run_id))
            obs._started["_id"] = run_id
            if not obs._dir_exists(obs.dir) and obs._upload_state("run.json", if_absent=True):
                return run_id
            candidate = None
        raise JournalError("no free run id found")

    def _fold(self, e, applied_before):
        """Add event ``e`` to the run's state (its file is uploaded unless it is there)."""
        obs, kwargs = self.obs, e.kwargs
        there = applied_before or bool(e.extra.get("uploaded"))
        if e.event == "resource_event":
            source = e.files.get("filename")
            if source is None and not os.path.exists(kwargs["filename"]):
                raise JournalError(f"the resource {kwargs['filename']} is gone and not kept")
            obs._add_resource(kwargs["filename"], source=source, seq=e.seq, flush=False)
            self._skip_if_there(obs._resources[-1], there)
        elif e.event == "artifact_event":
            obs._add_artifact(
                kwargs["name"],
                kwargs["filename"],
                kwargs.get("metadata"),
                kwargs.get("content_type"),
                source=e.files.get("filename"),
                seq=e.seq,
                flush=False,
            )
            self._skip_if_there(obs._artifacts[-1], there)
        elif e.event == "log_metrics":
            metrics = kwargs.get("metrics_by_name") or {}
            if e.extra.get("whole"):
                obs.saved_metrics = {}
            for name, metric in metrics.items():
                stored = obs.saved_metrics.setdefault(
                    name, {"steps": [], "timestamps": [], "values": []}
                )
                stored["steps"].extend(metric.get("steps", ()))
                stored["values"].extend(metric.get("values", ()))
                stored["timestamps"].extend(iso(t) for t in metric.get("timestamps", ()))
            obs._metrics_marked = True
        elif e.event == "heartbeat_event":
            obs.info = kwargs["info"]
            obs.cout = kwargs["captured_out"]
            obs.run_entry["heartbeat"] = iso(kwargs["beat_time"])
            obs.run_entry["result"] = kwargs["result"]
        elif e.event == "completed_event":
            obs.run_entry["stop_time"] = iso(kwargs["stop_time"])
            obs.run_entry["result"] = kwargs["result"]
            obs.run_entry["status"] = "COMPLETED"
        elif e.event == "interrupted_event":
            obs.run_entry["stop_time"] = iso(kwargs["interrupt_time"])
            obs.run_entry["status"] = kwargs["status"]
        elif e.event == "failed_event":
            obs.run_entry["stop_time"] = iso(kwargs["fail_time"])
            obs.run_entry["status"] = "FAILED"
            obs.run_entry["fail_trace"] = kwargs["fail_trace"]

    def _skip_if_there(self, record, there):
        """Drop the pending upload of a file the store has already."""
        obs = self.obs
        for key, item in list(obs._pending.items()):
            if item[0] == "file" and item[3] is record:
                if there and obs._store_exists(key):
                    del obs._pending[key]
                elif not os.path.exists(item[1]):
                    raise JournalError(f"{key}: the file {item[1]} is gone and not kept")
