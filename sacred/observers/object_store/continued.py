"""Queued runs and continued records of the S3 and Google Cloud Storage observers.

``queued_event`` stores a QUEUED run (Sacred 0.8.7 raises NotImplementedError; the newest
upstream Sacred stores it for S3): ``run.json`` with experiment (sources uploaded), command,
host, meta and ``"status": "QUEUED"``, and ``config.json``. The store must be reachable: a
queued run that no store holds would never run.

``continued_event`` (see ``RunObserver.continued_event``) makes the run ``<basedir>/<id>/``
RUNNING again: its ``run.json`` keeps its start time, resources and artifacts (new ones are
added after them), loses ``stop_time`` and ``fail_trace``; ``cout.txt``, ``metrics.json`` and
``info.json`` stay as they are until the run adds to them (the heartbeats carry the whole
output, old text first, and new metric points are appended to the stored ones).

A store that cannot be reached does not fail a continued run either: it goes on as a started
one does, kept in a journal marked ``"continued": true``. Once the store is back, during the
run or at ``sacred sync``, the stored record is read and what the run made is folded into
it (``adopt_stored``): points of a metric logged before the continued segment started come
from the store, those logged since from the run, so applying it twice changes nothing.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import time

from sacred.observers.object_store.bucket import MissingObject
from sacred.observers.object_store.layout import iso as _iso
from sacred.observers.object_store.layout import join as s3_join

__all__ = ("ContinuedRuns", "merge_metrics")

logger = logging.getLogger("sacred.observers.s3_observer")  # the observers' logger
_FIELDS = ("steps", "timestamps", "values")


class ContinuedRuns:
    """The ``queued_event``/``continued_event`` part of ``ObjectStoreObserver``."""

    def queued_event(self, ex_info, command, host_info, queue_time, config, meta_info, _id):
        with self._lock:
            self._reset_run()
            self.fallback_file = None
            self._journal = None
            self.run_entry = {
                "experiment": dict(ex_info),
                "command": command,
                "host": dict(host_info),
                "meta": meta_info,
                "status": "QUEUED",
            }
            self._own_meta = tuple(meta_info or ())
            self.config = config
            self.info = {}
            self.cout = ""
            self.saved_metrics = {}
            self.dir = None
            bucket_created = self._reach_bucket()
            self.run_entry["experiment"]["sources"] = self._save_sources(ex_info)
            run_id = self._claim_run_dir(_id, bucket_created)
            self._upload_state("config.json")
            return run_id

    def continued_event(self, ex_info, command, host_info, start_time, config, meta_info, _id):
        kwargs = dict(
            ex_info=ex_info,
            command=command,
            host_info=host_info,
            start_time=start_time,
            config=config,
            meta_info=meta_info,
            _id=_id,
        )
        with self._lock:
            return self._continue(kwargs)

    def _continue(self, kwargs):
        self._begin_run(kwargs, heartbeat=_iso(kwargs["start_time"]))
        ex_info = kwargs["ex_info"]
        self.info = {}
        self.cout = ""
        self.saved_metrics = {}
        self._started = dict(kwargs)
        self._continued = True
        self.dir = None
        try:
            bucket_created = self._reach_bucket()
            self.run_entry["experiment"]["sources"] = self._save_sources(ex_info)
            stored = None if bucket_created else self._read_stored(kwargs["_id"])
        except Exception as e:
            if not self._journaling:
                raise
            self._claimed = False
            self._retry_after = time.monotonic() + self.RETRY_INTERVAL
            self.run_entry["experiment"]["sources"] = self._source_keys(ex_info)
            reason = str(e) if isinstance(e, ConnectionError) else f"{type(e).__name__}: {e}"
            logger.warning(
                "%s; the continued run %s goes on and is kept in a journal until the store "
                "is back.",
                reason,
                kwargs["_id"],
            )
            self._write_fallback()
            return kwargs["_id"]
        if stored is None:  # no such record: a new run with that id
            self._continued = False
            return self._start(kwargs, exist_ok=True)
        self.dir = s3_join(self.basedir, str(kwargs["_id"]))
        self.adopt_stored(stored)
        self._mark("run.json")
        self._mark("config.json")
        self._flush()
        return kwargs["_id"]

    # ------------------------------------------------------------ the stored record
    def _read_stored(self, run_id):
        """``{"run", "version", "cout", "metrics", "info"}`` of the stored run ``run_id``,
        or None if it has no run.json."""
        prefix = s3_join(self.basedir, str(run_id))
        try:
            data, version = self._bucket.read(s3_join(prefix, "run.json"), versioned=True)
        except MissingObject:
            return None

        def read(name, default):
            try:
                text = self._bucket.read(s3_join(prefix, name))[0]
            except MissingObject:
                return default
            if name == "cout.txt":
                return text.decode("utf-8", errors="replace")
            try:
                value = json.loads(text)
            except ValueError:
                return default
            return value if isinstance(value, type(default)) else default

        run = _parsed(data)
        return {
            "run": run,
            "version": version,
            "cout": read("cout.txt", ""),
            "metrics": read("metrics.json", {}),
            "info": read("info.json", {}),
        }

    def adopt_stored(self, stored, have_output=None):
        """Fold the run's state (what it made since it continued) into the ``stored``
        record (see ``_read_stored``): the state becomes the whole record."""
        old = stored["run"]
        mine = self.run_entry
        since = self._started["start_time"] if self._started else mine.get("start_time")
        entry = {k: v for k, v in old.items() if k not in ("stop_time", "fail_trace")}
        entry.update(
            (k, v) for k, v in mine.items() if k not in ("start_time", "resources", "artifacts")
        )
        entry["start_time"] = old.get("start_time") or mine.get("start_time")
        resources = [r for r in old.get("resources") or [] if isinstance(r, list)]
        entry["resources"] = resources + [r for r in mine["resources"] if r not in resources]
        artifacts = [a for a in old.get("artifacts") or [] if isinstance(a, str)]
        entry["artifacts"] = artifacts + [a for a in mine["artifacts"] if a not in artifacts]
        self.run_entry = entry
        self.saved_metrics = merge_metrics(stored["metrics"], self.saved_metrics, since)
        self._metrics_marked = self._metrics_marked or bool(self.saved_metrics)
        if not self.info:
            self.info = stored["info"]
        if not (self._beat is not None if have_output is None else have_output):
            self.cout = stored["cout"]
        self._cout_uploaded = stored["cout"]
        self._run_version = stored["version"] or "unknown"


def _parsed(data) -> dict:
    try:
        run = json.loads(data)
    except ValueError:
        return {}
    return run if isinstance(run, dict) else {}


def _time(value):
    if isinstance(value, _dt.datetime):
        return value.replace(tzinfo=None)
    try:
        return _dt.datetime.fromisoformat(str(value)).replace(tzinfo=None)
    except ValueError:
        return None


def merge_metrics(stored, mine, since) -> dict:
    """The metrics of a continued run: of each metric, the ``stored`` points logged before
    ``since`` (the start of the continued segment), then the points of ``mine`` logged
    since. A metric only one side has is taken whole from it."""
    since = _time(since)
    stored = {
        name: m
        for name, m in (stored or {}).items()
        if isinstance(m, dict) and all(isinstance(m.get(f), list) for f in _FIELDS)
    }
    merged = {}
    for name in list(stored) + [n for n in mine if n not in stored]:
        old, new = stored.get(name), mine.get(name)
        if not new or not new["steps"] or since is None:
            merged[name] = _copy(old if old is not None else new)
            continue
        if old is None:
            merged[name] = _copy(new)
            continue
        # a time that cannot be read is kept on both sides
        before = [
            i for i, t in enumerate(old["timestamps"]) if _time(t) is None or _time(t) < since
        ]
        after = [i for i, t in enumerate(new["timestamps"]) if not (_time(t) or since) < since]
        merged[name] = {
            f: [old[f][i] for i in before] + [new[f][i] for i in after] for f in _FIELDS
        }
    return merged


def _copy(metric) -> dict:
    return {f: list(metric[f]) for f in _FIELDS}
