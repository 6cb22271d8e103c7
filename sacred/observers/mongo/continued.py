"""The MongoObserver continuing a run the database already holds (``continued_event``): a
QUEUED run a worker claimed, or a stopped run resumed (``sacred.continuation``).

The run document is updated in place: ``experiment`` (its sources saved), ``format``,
``command``, ``host``, ``config``, ``meta`` (as the run gives it: the Run merged the old meta
in), ``status`` RUNNING, ``heartbeat`` the new start, ``start_time`` kept if the run had one;
``stop_time`` and ``fail_trace`` are removed. ``captured_out``, ``info``, ``resources``,
``artifacts``, the metric documents and the fields moved to GridFS stay: the next
heartbeats carry the whole output, old text first, and the observer knows the old text is
stored (``RunDocument.output_synced``), so they append to it; new metric points go after
the stored ones (``MetricDocuments`` continues a run's last documents, as when a journal is
replayed onto a run, ``attach_event``); new artifacts and resources are added to the lists.

Without such a document, this is a ``started_event`` with that id. A MongoDB that cannot be
reached does not fail the run (a ``QueueCompatibleMongoObserver`` raises, as at a start):
the observer keeps the run and continues the document when MongoDB is back, or writes the
journal, whose ``started_event`` line is marked ``continued`` so that ``sacred sync``
continues the run of that id too.

``store_location`` is a ``MongoStore`` on the observer's database and collections.
"""

from sacred.observers.mongo.document import RunDocument
from sacred.observers.mongo.driver import backend_errors, ignore_errors
from sacred.observers.mongo.overflow import FieldOverflow
from sacred.serializer import flatten

__all__ = ("ContinuedRun",)

_DROPPED = ("stop_time", "fail_trace")  # fields of the stopped run that a continuation drops


class ContinuedRun:
    """The ``continued_event`` part of the MongoObserver (a mixin)."""

    _continuing = False  # True while a continued run waits for MongoDB to continue it

    @property
    def store_location(self):
        """A ``MongoStore`` reading what this observer writes (same client, database and
        collections); ``sacred.store.open_store`` takes it as it is."""
        store = getattr(self, "_store_location", None)
        if store is None or store.runs != self.runs:
            from sacred.observers.mongo.store import MongoStore  # lazy: the read side

            store = MongoStore(self.runs.database, runs_collection=self.runs.name)
            store.metrics_collection = self.metrics
            self._store_location = store
        return store

    def continued_event(self, ex_info, command, host_info, start_time, config, meta_info, _id):
        """Continue the run ``_id`` (see ``RunObserver.continued_event`` and the module)."""
        kwargs = {
            "ex_info": ex_info,
            "command": command,
            "host_info": host_info,
            "start_time": start_time,
            "config": config,
            "meta_info": meta_info,
            "_id": _id,
        }
        with self._lock:
            self._continuing = False
            try:
                self._check_server()
                doc = self.runs.find_one({"_id": _id})
            except backend_errors() as e:
                if self._raise_errors:
                    raise self._start_error(e) from e
                return self._continue_later(kwargs, e)
            if doc is None:
                return self._start(kwargs)
            try:
                self._continue(doc, kwargs)
            except backend_errors() as e:
                if self._raise_errors:
                    raise self._start_error(e) from e
                self._document.unsynced()
                self._failed(e)
            return _id

    def _continue(self, doc, kwargs, source_copies=None):
        """Make the stored ``doc`` the run's document again and write the continuation
        (``source_copies``: a journal's copies of the sources, by name)."""
        moved = dict(doc.pop("overflow", None) or {})
        text = doc.get("captured_out") or ""
        if "captured_out" in moved:  # the document holds a stand-in: the whole text
            text = self.fs.get(moved["captured_out"]).read().decode("utf-8", "surrogatepass")
        info = doc.get("info") if isinstance(doc.get("info"), dict) else {}
        refs = [r for r in info.get("metrics", []) if isinstance(r, dict)]
        self._begin(doc, moved=moved, fresh=False, metric_refs=refs)
        self._source_copies = source_copies
        self._drop_stopped_fields(doc["_id"])
        self._set_continued_fields(kwargs, doc)
        stored = isinstance(doc.get("captured_out"), str)
        doc["captured_out"] = text
        document = self._document
        if not stored:  # (a queued run has none): appending needs a text to append to
            document.dirty.add("captured_out")
        document.output_synced = text  # the next heartbeats append to it
        document.output_bytes = len(text.encode("utf-8", "surrogatepass"))
        self._overflow.measure()
        self._flush_run()
        self._inserted = True
        self._journal.start_kwargs = dict(kwargs, start_time=doc["start_time"])
        self._journal.continued = True

    def _set_continued_fields(self, kwargs, entry):
        ex_info = kwargs["ex_info"]
        experiment = dict(ex_info)
        experiment["sources"] = self.save_sources(ex_info, self._source_copies)
        document = self._document
        for field, value in (
            ("experiment", experiment),
            ("format", self.VERSION),
            ("command", kwargs["command"]),
            ("host", dict(kwargs["host_info"])),
            ("config", flatten(kwargs["config"])),
            ("meta", kwargs["meta_info"]),
            ("status", "RUNNING"),
            ("heartbeat", kwargs["start_time"]),
        ):
            document.set(field, value)
        if entry.get("start_time") is None:
            document.set("start_time", kwargs["start_time"])
        for field, empty in (("resources", []), ("artifacts", []), ("info", {})):
            if not isinstance(entry.get(field), type(empty)):
                document.set(field, empty)

    def _drop_stopped_fields(self, run_id):
        """Remove ``stop_time`` and ``fail_trace`` (and a fail trace moved to GridFS)."""
        entry = self.run_entry
        unset = {f: "" for f in _DROPPED if f in entry}
        old_trace = self._overflow.moved.pop("fail_trace", None)
        if old_trace is not None:
            unset["overflow.fail_trace"] = ""
        for field in _DROPPED:
            entry.pop(field, None)
            self._overflow.sizes.pop(field, None)
            self._document.dirty.discard(field)
        if unset:
            self.runs.update_one({"_id": run_id}, {"$unset": unset})
        if old_trace is not None:
            ignore_errors(self.fs.delete, old_trace)

    def _continue_later(self, kwargs, error):
        """MongoDB is away at the continuation: the run goes on, kept in memory; the
        document is continued when MongoDB is back (``_continue_late``), or journaled."""
        entry = {"_id": kwargs["_id"], "resources": [], "artifacts": [], "info": {}}
        self._begin(entry, fresh=False)
        self._set_continued_fields_offline(kwargs)
        self._journal.start_kwargs = dict(kwargs)
        self._journal.continued = True
        self._inserted = False
        self._continuing = True
        self._document.unsynced()
        self._failed(error)
        return kwargs["_id"]

    def _set_continued_fields_offline(self, kwargs):
        entry = self.run_entry
        entry.update(
            experiment=dict(kwargs["ex_info"]),
            format=self.VERSION,
            command=kwargs["command"],
            host=dict(kwargs["host_info"]),
            config=flatten(kwargs["config"]),
            meta=kwargs["meta_info"],
            status="RUNNING",
            heartbeat=kwargs["start_time"],
            captured_out="",
        )

    def _continue_late(self):
        """MongoDB is back: continue the stored document with what the run did meanwhile
        (or insert the run, if the database has no such document)."""
        entry = self.run_entry
        doc = self.runs.find_one({"_id": entry["_id"]})
        if doc is None:
            entry.setdefault("start_time", self._journal.start_kwargs["start_time"])
            self._continuing = False
            return self._insert_late()
        moved = dict(doc.pop("overflow", None) or {})
        old_trace = moved.pop("fail_trace", None)
        unset = {f: "" for f in _DROPPED if f in doc and f not in entry}
        if old_trace is not None:
            unset["overflow.fail_trace"] = ""
        if unset:
            self.runs.update_one({"_id": entry["_id"]}, {"$unset": unset})
        if old_trace is not None:
            ignore_errors(self.fs.delete, old_trace)
        entry["start_time"] = doc.get("start_time") or self._journal.start_kwargs["start_time"]
        ex_info = self._journal.start_kwargs["ex_info"]
        entry["experiment"]["sources"] = self.save_sources(ex_info, self._source_copies)
        resources = [list(r) for r in doc.get("resources") or []]
        resources += [r for r in entry["resources"] if list(r) not in resources]
        entry["resources"] = resources
        entry["artifacts"] = list(doc.get("artifacts") or []) + entry["artifacts"]
        info = doc.get("info") if isinstance(doc.get("info"), dict) else {}
        for ref in info.get("metrics", []):
            if isinstance(ref, dict) and ref not in self._metric_docs.refs:
                self._metric_docs.refs.append(ref)
        # the document's parts, for the document as it is stored (the output: written whole)
        self._overflow = FieldOverflow(self._where, entry, moved)
        self._document = RunDocument(self._where, entry, self._overflow)
        self._document.needs_full_save = True
        self._document.dirty.add("meta")
        self._overflow.measure()
        self._continuing = False
        self._inserted = True
        self._journal.start_kwargs["start_time"] = entry["start_time"]
