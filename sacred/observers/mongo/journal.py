"""Applying a journal (``sacred.observers.journal``) to MongoDB, each event once.

Progress is kept in the collection ``journal`` (``<prefix>_journal`` beside
``<prefix>_runs``), one small document per journal, which the original's tools (Omniboard,
Sacredboard, scripts reading ``runs``, ``metrics`` and GridFS) never look at::

    {_id: journal id, run_id: the run it went to, seq: the last event applied,
     doing: the event being applied, counts: {metric: points before it}}

Events up to ``seq`` are skipped. MongoDB has no transaction over several documents, so an
event that was being applied when a sync stopped (``doing``) is checked before it is applied
again: a run found under the claimed id with the journal's start time is the journal's run
(the start of a run that continued a stored run, marked ``continued``, continues that run);
an artifact already listed with the same content is there; metric points are appended after
the points the metric held before the event (the line's ``counts``, written by the observer
that kept the journal, or ``doing.counts``): points beyond those are there already. So a
metric point is never written twice, even when the observer's last write before the outage
reached the database without an answer.
"""

import hashlib

from sacred.dependencies import get_digest
from sacred.observers.journal import JournalError, same_start

__all__ = ("MongoJournal", "journal_collection")


def journal_collection(runs):
    """The progress collection beside the runs collection ``runs``."""
    name = runs.name
    name = name[: -len("runs")] + "journal" if name.endswith("runs") else f"{name}_journal"
    return runs.database[name]


class MongoJournal:
    """Applies the events of one journal through ``observer`` (a ``MongoObserver``)."""

    def __init__(self, observer):
        self.obs = observer
        self.progress = journal_collection(observer.runs)
        self.run_id = None
        self.points = {}  # metric -> points the database holds for the run
        self.touched = set()  # metrics written by this sync
        self.attached = False  # the run was in the database before this sync

    def apply(self, events):
        """``(run id, applied, already there)``: apply ``events`` of one journal in order."""
        journal_id = events[0].journal
        state = self.progress.find_one({"_id": journal_id}) or {}
        done = state.get("seq", -1)
        doing = state.get("doing")
        self.run_id = state.get("run_id")
        applied = skipped = 0
        attached = False
        for e in events:
            if e.event != "started_event" and not attached:
                raise JournalError(f"event {e.seq} comes before the run's started_event")
            if e.seq <= done:
                skipped += 1
                if e.event == "started_event":
                    self._attach(e.kwargs, self.run_id)
                    attached = True
                continue
            recovering = doing == e.seq or bool(e.extra.get("uncertain"))
            if e.event == "started_event":
                created = self._start(e, state.get("run_id") if doing == e.seq else None)
                attached = True
                new = created
            else:
                new = self._apply(e, recovering, state.get("counts") if doing == e.seq else None)
            self.progress.update_one(
                {"_id": journal_id},
                {
                    "$set": {"seq": e.seq, "run_id": self.run_id},
                    "$unset": {"doing": "", "counts": ""},
                },
                upsert=True,
            )
            if new:
                applied += 1
            else:
                skipped += 1
        self._ensure_refs()
        return self.run_id, applied, skipped

    # ------------------------------------------------------------ the run
    def _attach(self, kwargs, run_id):
        self.obs.attach_event(**dict(kwargs, _id=run_id))
        self.run_id = self.obs.run_entry["_id"]
        self.attached = True

    def _start(self, e, claimed) -> bool:
        """Find or create the run of the journal; True if it was created."""
        kwargs = dict(e.kwargs)
        if e.extra.get("continued") and claimed is None:
            # the run continued a stored run (sacred.continuation): that run, if it is there
            candidate = e.run if e.run is not None else kwargs.get("_id")
            doc = None if candidate is None else self.obs.runs.find_one({"_id": candidate})
            if doc is not None:
                if e.extra.get("delivered"):
                    self._attach(kwargs, candidate)
                    return False
                copies = {
                    k[len("source:") :]: v for k, v in e.files.items() if k.startswith("source:")
                }
                self.obs._continue(doc, dict(kwargs, _id=candidate), copies or None)
                self.run_id = candidate
                self.attached = True
                return True
        if claimed is not None:
            candidate = claimed  # a sync that stopped had chosen this id
        elif e.extra.get("delivered") or e.run is not None:
            candidate = e.run if e.run is not None else kwargs.get("_id")
        else:
            candidate = kwargs.get("_id")  # an id the run asked for (--id), or None
        if candidate is not None:
            doc = self.obs.runs.find_one({"_id": candidate}, {"start_time": 1})
            if doc is not None:
                if same_start(doc.get("start_time"), kwargs.get("start_time")):
                    self._attach(kwargs, candidate)
                    return False
                candidate = None  # another run has this id (another store): a new id
        copies = {k[len("source:") :]: v for k, v in e.files.items() if k.startswith("source:")}
        self._create(e, kwargs, copies, candidate)
        return True

    def _create(self, e, kwargs, copies, candidate):
        import pymongo
        import pymongo.errors

        runs = self.obs.runs
        for _ in range(1000):
            run_id = candidate
            if run_id is None:
                last = list(
                    runs.find({"_id": {"$type": "number"}}, {"_id": 1})
                    .sort("_id", pymongo.DESCENDING)
                    .limit(1)
                )
                run_id = int(last[0]["_id"]) + 1 if last else 1
            self.progress.update_one(
                {"_id": e.journal},
                {"$set": {"run_id": run_id, "doing": e.seq}, "$setOnInsert": {"seq": -1}},
                upsert=True,
            )
            try:
                self.obs._start(dict(kwargs, _id=run_id), source_copies=copies, journaled=True)
            except pymongo.errors.DuplicateKeyError:
                candidate = None
                continue
            self.run_id = run_id
            return
        raise JournalError("no free run id found")

    # ------------------------------------------------------------ the other events
    def _apply(self, e, recovering, doing_counts) -> bool:
        """Apply one event; False if it turned out to be there already."""
        obs, kwargs = self.obs, e.kwargs
        document = obs._document
        if e.event == "heartbeat_event":
            document.set_info(kwargs["info"], obs._metric_docs.refs)
            obs.run_entry["captured_out"] = kwargs["captured_out"]
            document.set("heartbeat", kwargs["beat_time"])
            document.set_flat("result", kwargs["result"])
        elif e.event == "completed_event":
            document.set("stop_time", kwargs["stop_time"])
            document.set_flat("result", kwargs["result"])
            document.set("status", "COMPLETED")
        elif e.event == "interrupted_event":
            document.set("stop_time", kwargs["interrupt_time"])
            document.set("status", kwargs["status"])
        elif e.event == "failed_event":
            document.set("stop_time", kwargs["fail_time"])
            document.set("status", "FAILED")
            document.set("fail_trace", kwargs["fail_trace"])
        elif e.event == "resource_event":
            obs._store_resource(e.file(), kwargs["filename"])  # listed once by its name
        elif e.event == "artifact_event":
            if recovering and self._has_artifact(kwargs["name"], e.file()):
                return False
            self._mark_doing(e)
            obs._store_artifact(
                kwargs["name"], e.file(), kwargs.get("metadata"), kwargs.get("content_type")
            )
        elif e.event == "log_metrics":
            if not self._log_metrics(e, doing_counts):
                return False
        obs._flush_run()
        return True

    def _mark_doing(self, e, counts=None):
        fields = {"doing": e.seq}
        if counts is not None:
            fields["counts"] = counts
        self.progress.update_one({"_id": e.journal}, {"$set": fields}, upsert=True)

    def _has_artifact(self, name, path) -> bool:
        listed = [a for a in self.obs.run_entry.get("artifacts", []) if a.get("name") == name]
        if not listed:
            return False
        digest = get_digest(path)
        for artifact in listed:
            try:
                data = self.obs.fs.get(artifact["file_id"]).read()
            except Exception:
                continue
            if hashlib.md5(data).hexdigest() == digest:
                return True
        return False

    def _held(self, name) -> int:
        if name not in self.points:
            self.points[name] = self.obs._metric_docs.count_points(self.run_id, name)
        return self.points[name]

    def _log_metrics(self, e, doing_counts) -> bool:
        """Append the points the metrics do not hold yet; False if they hold them all.

        ``base``: the points each metric held before this event, in this database: from a
        sync of this event that stopped (``doing_counts``), else from the line's ``counts``
        when the run was there before the sync (its observer's last write may have arrived
        without an answer), else what the metric holds now."""
        obs = self.obs
        series_of = e.kwargs.get("metrics_by_name") or {}
        if isinstance(doing_counts, dict):
            base = {name: doing_counts.get(name, self._held(name)) for name in series_of}
        else:
            line = e.extra.get("counts") if self.attached else None
            line = line if isinstance(line, dict) else {}
            base = {}
            for name, series in series_of.items():
                held, before = self._held(name), line.get(name)
                n = len(series.get("steps", ()))
                arrived = 0 if before is None else min(max(held - int(before), 0), n)
                base[name] = held - arrived
            self._mark_doing(e, base)
        docs = obs._metric_docs
        info = obs.run_entry.setdefault("info", {})
        refs_before = len(docs.refs)
        wrote = False
        for name, series in series_of.items():
            n = len(series.get("steps", ()))
            there = min(max(self._held(name) - base[name], 0), n)
            if there >= n:
                continue
            part = {f: list(series.get(f, ()))[there:] for f in ("steps", "values", "timestamps")}
            docs.push(self.run_id, name, part, info, obs.METRIC_DOCUMENT_BUDGET)
            self.points[name] = self._held(name) + n - there
            self.touched.add(name)
            wrote = True
        if len(docs.refs) != refs_before:
            obs._document.dirty.add("info")
        return wrote

    def _ensure_refs(self):
        """Every metric written has its reference in ``info["metrics"]`` (a sync that stopped
        between a metric's first document and the run document may have left it out)."""
        obs = self.obs
        if not self.touched or obs.run_entry is None:
            return
        info = obs.run_entry.setdefault("info", {})
        refs = info.setdefault("metrics", []) if isinstance(info, dict) else None
        if refs is None:
            return
        known = {r.get("name") for r in refs if isinstance(r, dict)}
        added = False
        for name in sorted(self.touched - known):
            doc = obs.metrics.find_one(
                {"run_id": self.run_id, "name": name, "part": {"$exists": False}}, {"_id": 1}
            )
            if doc is not None:
                refs.append({"name": name, "id": str(doc["_id"])})
                added = True
        if added:
            obs._document.dirty.add("info")
            obs._flush_run()
