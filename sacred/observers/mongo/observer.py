"""MongoObserver: runs as documents in MongoDB, files in GridFS, metrics in their own collection.

Layout (the format of the original Sacred, which Omniboard, Sacredboard and scripts read):

* ``<prefix>runs``: one document per run with integer ``_id`` (max existing id + 1; a
  concurrent insert of the same id raises DuplicateKeyError and the id is chosen again)::

      {_id, experiment, format: "MongoObserver-0.7.0", command, host, start_time, config,
       meta, status, resources: [[filename, md5]], artifacts: [{name, file_id}],
       captured_out, info, heartbeat, result, stop_time, fail_trace}

* ``<prefix>metrics``: one document per metric, ``{_id, name, run_id, steps, values,
  timestamps}``, referenced from ``info["metrics"] = [{"name", "id": str(_id)}]``.
* GridFS (``fs.files``/``fs.chunks``): sources (``filename`` = absolute path, plus their
  ``md5``), resources (same), artifacts (``filename = "artifact://<runs>/<id>/<name>"``).

Beyond the original, a run never fails because a document would pass MongoDB's 16 MB limit:
large fields move to GridFS (``sacred.observers.mongo.overflow``) and long metrics continue
in further documents (``sacred.observers.mongo.metrics``). ``read_run(runs, run_id)`` and
``read_metrics(metrics, run_id)`` return everything whole.

Heartbeats send what changed only (``sacred.observers.mongo.document``).

Reliability: a MongoDB that cannot be reached, at the start or later, never fails the run;
what could not be written is kept in a journal (``sacred.observers.journal``), up to date
during the outage, that ``sacred sync JOURNAL`` writes into the database later; an unreachable
server is noticed within seconds, not pymongo's 30 (see ``sacred.observers.mongo.failure``).
Storing files: ``sacred.observers.mongo.files``.

The observer holds one object per concern and hands each what it needs:

* ``FieldOverflow`` (the run document's size, fields moved to GridFS) and ``RunDocument``
  (the fields changed since the last write, and writing them), made for each run;
* ``MetricDocuments`` (points waiting to be written, metric documents), made for each run;
* ``GridFsFiles`` (sources, resources, artifacts) and ``PendingFiles`` (those not stored yet);
* ``Outage`` (when to try again) and ``FailureJournal`` (what a failure file needs);
  the writes that may fail are the ``OutageHandling`` mixin's (``failure``).

They share a ``Collections`` (runs, metrics, GridFS): ``observer.runs``, ``.metrics`` and
``.fs`` read and replace its members.
"""

import sys
import threading
import warnings

from sacred.observers.base import RunObserver
from sacred.observers.checkpoints import is_checkpoint
from sacred.observers.mongo.connect import masked_url, shown_url
from sacred.observers.mongo.continued import ContinuedRun
from sacred.observers.mongo.document import RunDocument
from sacred.observers.mongo.driver import (
    Collections,
    _import_mongo,
    backend_errors,
    ignore_errors,
    without_surrogates_in,
)
from sacred.observers.mongo.failure import FailureJournal, Outage, OutageHandling
from sacred.observers.mongo.files import GridFsFiles, PendingFiles, detect_content_type
from sacred.observers.mongo.metrics import MetricDocuments
from sacred.observers.mongo.overflow import FieldOverflow
from sacred.serializer import flatten
from sacred.utils import ObserverError

__all__ = ("MongoObserver", "DEFAULT_MONGO_PRIORITY")

DEFAULT_MONGO_PRIORITY = 30

_RESERVED = (
    "fs.files",
    "fs.chunks",
    "_properties",
    "system.indexes",
    "search_space",
    "search_spaces",
)


class MongoObserver(ContinuedRun, OutageHandling, RunObserver):
    """Stores runs in MongoDB (see the module docstring for the layout)."""

    COLLECTION_NAME_BLACKLIST = set(_RESERVED)
    VERSION = "MongoObserver-0.7.0"
    DOCUMENT_BUDGET = 15 * 1024 * 1024  # the run document stays below this (limit: 16 MiB)
    METRIC_DOCUMENT_BUDGET = 15 * 1024 * 1024
    retry_delay = 1.0  # seconds between final-save attempts after a connection error
    retry_interval = 10.0  # after an error, events only update memory for this long
    final_save_timeout = 120.0  # the final save gives up after this many seconds
    final_wait_when_down = 1.0  # ... or this long if the server was down before it (one try)
    probe_timeout = 1.0  # seconds a ping waits for a server known to be down
    _contact_timeout = None  # seconds the first contact waits (None: the client's setting)
    _raise_errors = False  # QueueCompatibleMongoObserver: errors go to the queue

    @classmethod
    def create(cls, *args, **kwargs):
        warnings.warn(
            "MongoObserver.create(...) is deprecated. Please use MongoObserver(...) instead.",
            DeprecationWarning,
            stacklevel=1,  # attributed to sacred, so Python hides it as the original's
        )
        return cls(*args, **kwargs)

    def __init__(
        self,
        url=None,
        db_name: str = "sacred",
        collection: str = "runs",
        collection_prefix: str = "",
        overwrite=None,
        priority: int = DEFAULT_MONGO_PRIORITY,
        client=None,
        failure_dir=None,
        **kwargs,
    ):
        pymongo, gridfs = _import_mongo()
        contact = None  # a client of the caller's keeps its own server selection timeout
        if client is not None:
            if not _is_mongo_client(client, pymongo):
                raise ValueError(
                    f"client needs to be a pymongo.MongoClient, but is {type(client)} instead"
                )
            if url is not None:
                raise ValueError("Cannot pass both a client and a url.")
        else:
            from sacred.observers.mongo.connect import first_contact_timeout
            from sacred.store.base import StoreError

            try:
                contact = first_contact_timeout(url, kwargs)
            except StoreError as e:  # a bad SACRED_MONGO_TIMEOUT
                raise ValueError(str(e)) from None
            client = pymongo.MongoClient(url, **kwargs)

        if collection != "runs":
            if collection_prefix != "":
                raise ValueError("Cannot pass both collection and a collection prefix.")
            warnings.warn(
                "Argument collection is deprecated. Please use collection_prefix instead.",
                DeprecationWarning,
                stacklevel=2,
            )
            runs_name, metrics_name = collection, "metrics"
        else:
            prefix = f"{collection_prefix}_" if collection_prefix else ""
            runs_name, metrics_name = f"{prefix}runs", f"{prefix}metrics"
        for name in (runs_name, metrics_name):
            if name in MongoObserver.COLLECTION_NAME_BLACKLIST:
                raise KeyError(f'Collection name "{name}" is reserved. Please use a different one.')
        self._url = url
        database = client[db_name]
        self.initialize(
            database[runs_name],
            gridfs.GridFS(database),
            overwrite=overwrite,
            metrics_collection=database[metrics_name],
            failure_dir=failure_dir,
            priority=priority,
        )
        self._contact_timeout = contact

    @classmethod
    def create_from(cls, *args, **kwargs):
        self = cls.__new__(cls)
        self.initialize(*args, **kwargs)
        return self

    _url = None

    def initialize(
        self,
        runs_collection,
        fs,
        overwrite=None,
        metrics_collection=None,
        failure_dir=None,
        priority=DEFAULT_MONGO_PRIORITY,
    ):
        metrics = (
            metrics_collection
            if metrics_collection is not None
            else runs_collection.database["metrics"]
        )
        self._where = Collections(runs_collection, metrics, fs)
        self._files = GridFsFiles(self._where)
        self.priority = priority
        self.failure_dir = failure_dir
        if isinstance(overwrite, (int, str)):
            overwrite = int(overwrite)
            run = runs_collection.find_one({"_id": overwrite})
            if run is None:
                raise RuntimeError(f"Couldn't find run to overwrite with _id='{overwrite}'")
            overwrite = run
        self.overwrite = overwrite
        self._lock = threading.RLock()
        self._begin(None)

    # ------------------------------------------------------------ where it writes
    @property
    def runs(self):
        return self._where.runs

    @runs.setter
    def runs(self, collection):
        self._where.runs = collection

    @property
    def metrics(self):
        return self._where.metrics

    @metrics.setter
    def metrics(self, collection):
        self._where.metrics = collection

    @property
    def fs(self):
        return self._where.fs

    @fs.setter
    def fs(self, fs):
        self._where.fs = fs

    @property
    def saved_metrics(self):
        """``{name: [id of its last document, part, estimated bytes]}`` of the current run."""
        return self._metric_docs.saved

    @saved_metrics.setter
    def saved_metrics(self, saved):
        self._metric_docs.saved = saved

    def _begin(self, entry, moved=None, fresh=True, metric_refs=None):
        """Make ``entry`` the run document, with fresh parts for it.

        ``moved``, ``metric_refs``: the run's overflow map and metric references when it
        is resumed; ``fresh``: the database holds no metric documents of it yet.
        """
        # metric documents belong to one run: an observer that serves several runs (a
        # notebook's habit) must not append a new run's points to the last run's documents
        self.run_entry = entry
        self._overflow = FieldOverflow(self._where, entry, moved)
        self._document = RunDocument(self._where, entry, self._overflow)
        self._metric_docs = MetricDocuments(self._where, fresh, metric_refs)
        self._pending_files = PendingFiles()
        self._outage = Outage()
        self._journal = FailureJournal(self.journal_location)
        self._source_copies = None
        self._last_file_event = None  # the last file stored for the queue (no repeats)
        self._inserted = entry is not None  # False while MongoDB has not got the run yet
        self._continuing = False  # a continued run waiting for MongoDB (see continued)

    # ------------------------------------------------------------ events
    def queued_event(self, ex_info, command, host_info, queue_time, config, meta_info, _id):
        if self.overwrite is not None:
            raise RuntimeError("Can't overwrite with QUEUED run.")
        with self._lock:
            entry = {
                "experiment": dict(ex_info),
                "command": command,
                "host": dict(host_info),
                "config": flatten(config),
                "meta": meta_info,
                "status": "QUEUED",
            }
            if _id is not None:
                entry["_id"] = _id
            self._begin(entry)
            try:
                entry["experiment"]["sources"] = self.save_sources(ex_info)
            except backend_errors() as e:
                raise self._start_error(e) from e
            self.insert()
            return entry["_id"]

    def started_event(self, ex_info, command, host_info, start_time, config, meta_info, _id):
        kwargs = _start_kwargs(ex_info, command, host_info, start_time, config, meta_info, _id)
        with self._lock:
            return self._start(kwargs)

    def _start(self, kwargs, source_copies=None, journaled=False):
        """Start the run of ``started_event(**kwargs)``. If MongoDB cannot be reached the run
        goes on: the observer keeps it and inserts it when MongoDB is back, or leaves it in
        the journal (a ``QueueCompatibleMongoObserver`` raises, for its queue to retry).
        ``source_copies`` maps source names to the files to store (a journal's copies);
        ``journaled``: errors are raised as they are (``sacred sync``)."""
        if self.overwrite is None:
            entry = {"_id": kwargs["_id"]}
        else:
            if self.run_entry is not None:
                raise RuntimeError("Cannot overwrite more than once!")
            entry = self.overwrite
            for old in entry.pop("overflow", {}).values():
                ignore_errors(self.fs.delete, old)
        self._begin(entry, fresh=self.overwrite is None)
        ex_info = kwargs["ex_info"]
        entry.update(
            {
                "experiment": dict(ex_info),
                "format": self.VERSION,
                "command": kwargs["command"],
                "host": dict(kwargs["host_info"]),
                "start_time": kwargs["start_time"],
                "config": flatten(kwargs["config"]),
                "meta": kwargs["meta_info"],
                "status": "RUNNING",
                "resources": [],
                "artifacts": [],
                "captured_out": "",
                "info": {},
                "heartbeat": None,
            }
        )
        self._journal.start_kwargs = dict(kwargs)
        self._source_copies = source_copies
        try:
            if not journaled:
                self._check_server()
            entry["experiment"]["sources"] = self.save_sources(ex_info, source_copies)
            self._overflow.measure()
            if self.overwrite is None:
                self._insert()
            else:
                self._document.needs_full_save = True
                self._document.dirty.add("meta")  # the overwritten run's meta goes whole
                self._flush_run(upsert=True)
        except backend_errors() as e:
            if journaled:
                raise
            if self._raise_errors:
                raise self._start_error(e) from e
            self._inserted = False
            self._document.unsynced()
            self._failed(e)
            return entry.get("_id")
        self._inserted = True
        self._document.output_synced = ""
        self._journal.start_kwargs["_id"] = entry["_id"]
        return entry["_id"]

    def _insert_late(self):
        """Insert the run that MongoDB could not take at the start: its id is claimed with
        a small document, then everything is written (fields too large move to GridFS)."""
        entry = self.run_entry
        ex_info = self._journal.start_kwargs["ex_info"]
        entry["experiment"]["sources"] = self.save_sources(ex_info, self._source_copies)
        claim = {k: v for k, v in entry.items() if k not in ("captured_out", "info", "overflow")}
        claim["resources"], claim["artifacts"] = [], []
        saved, self.run_entry = self.run_entry, claim
        try:
            self._insert()
        finally:
            self.run_entry = saved
        entry["_id"] = claim["_id"]
        self._inserted = True
        self._journal.start_kwargs["_id"] = entry["_id"]
        self._document.needs_full_save = True
        self._document.dirty.update(("resources", "artifacts"))

    def attach_event(self, ex_info, command, host_info, start_time, config, meta_info, _id):
        """Attach to the run ``_id`` the database already holds (used by ``replay``).

        If the database does not have it, this is a ``started_event`` with that id.
        """
        with self._lock:
            doc = self.runs.find_one({"_id": _id})
            if doc is None:
                kwargs = _start_kwargs(
                    ex_info, command, host_info, start_time, config, meta_info, _id
                )
                return self._start(kwargs, journaled=True)
            moved = dict(doc.pop("overflow", {}))
            refs = list(doc.get("info", {}).get("metrics", []))
            self._begin(doc, moved=moved, fresh=False, metric_refs=refs)
            self._overflow.measure()
            # the output is rewritten whole with the next heartbeat (output_synced is None)
            self._journal.start_kwargs = _start_kwargs(
                ex_info, command, host_info, start_time, config, meta_info, _id
            )
            return _id

    def heartbeat_event(self, info, captured_out, beat_time, result):
        with self._lock:
            self._journal.last_beat = {
                "info": info,
                "captured_out": captured_out,
                "beat_time": beat_time,
                "result": result,
            }
            self._document.set_info(info, self._metric_docs.refs)
            self.run_entry["captured_out"] = captured_out
            self._document.set("heartbeat", beat_time)
            self._document.set_flat("result", result)
            self.save()

    def completed_event(self, stop_time, result):
        with self._lock:
            if self.run_entry is None:
                return
            self._document.set("stop_time", stop_time)
            self._document.set_flat("result", result)
            self._document.set("status", "COMPLETED")
            self._final("completed_event", {"stop_time": stop_time, "result": result}, 10)

    def interrupted_event(self, interrupt_time, status):
        with self._lock:
            if self.run_entry is None:
                return
            self._document.set("stop_time", interrupt_time)
            self._document.set("status", status)
            kwargs = {"interrupt_time": interrupt_time, "status": status}
            self._final("interrupted_event", kwargs, 3)

    def failed_event(self, fail_time, fail_trace):
        with self._lock:
            if self.run_entry is None:
                return
            self._document.set("stop_time", fail_time)
            self._document.set("status", "FAILED")
            self._document.set("fail_trace", fail_trace)
            kwargs = {"fail_time": fail_time, "fail_trace": fail_trace}
            self._final("failed_event", kwargs, 1)

    def resource_event(self, filename):
        with self._lock:
            if self._raise_errors:  # the queue retries the whole event
                if self._last_file_event != ("resource", filename):
                    self._store_resource(filename)
                    self._last_file_event = ("resource", filename)
                self.save()
                return
            self._pending_files.add_resource(filename, self._spool(filename))
            self.save()

    def artifact_event(self, name, filename, metadata=None, content_type=None):
        with self._lock:
            if content_type is None:
                content_type = detect_content_type(filename)
            args = (name, filename, metadata, content_type)
            if self._raise_errors:  # the queue retries the whole event
                if self._last_file_event != ("artifact", args):
                    self._store_artifact(*args)
                    self._last_file_event = ("artifact", args)
                self.save()
                return
            if is_checkpoint(metadata):  # replaces a waiting one of its name
                self._pending_files.add_checkpoint(*args, self._spool)
            else:
                self._pending_files.add_artifact(*args, self._spool(filename))
            self.save()

    def log_metrics(self, metrics_by_name, info):
        """Append the new points of each metric to its document (see module docstring)."""
        if not metrics_by_name:
            return
        with self._lock:
            docs = self._metric_docs
            if self._journal.keeps_metrics():  # an outage: the points go to the journal now
                at = {}
                for name in metrics_by_name:
                    known = docs.known_count(name)
                    queued = docs.pending.get(name)
                    at[name] = (
                        known + len(queued["steps"]) if known is not None and queued else known
                    )
                self._journal.add_metrics(metrics_by_name, at)
            docs.add(metrics_by_name, info)
            self.save(run_document=False)

    # ------------------------------------------------------------ writing
    def save_sources(self, ex_info, copies=None):
        return self._files.save_sources(ex_info, copies)

    def _store_resource(self, filename, name=None):
        self._document.add_resource(self._files.store_resource(filename, name))

    def _store_artifact(self, name, filename, metadata, content_type):
        run_id = self.run_entry["_id"]
        artifact = self._files.store_artifact(run_id, name, filename, metadata, content_type)
        # a checkpoint (Run.save_checkpoint) replaces the artifact of its name
        self._document.add_artifact(artifact, replace=is_checkpoint(metadata))

    def insert(self):
        """Insert ``run_entry``, choosing the next free integer id if it has none."""
        import pymongo.errors

        try:
            self._insert()
        except (pymongo.errors.InvalidDocument, pymongo.errors.DuplicateKeyError):
            raise
        except pymongo.errors.PyMongoError as e:
            raise self._start_error(e) from e

    def _insert(self):
        """``insert`` raising the driver's errors as they are."""
        import pymongo
        import pymongo.errors

        autoinc_key = self.run_entry.get("_id") is None
        for _ in range(10_000):
            if autoinc_key:
                last = list(
                    self.runs.find({"_id": {"$type": "number"}}, {"_id": 1})
                    .sort("_id", pymongo.DESCENDING)
                    .limit(1)
                )
                self.run_entry["_id"] = int(last[0]["_id"]) + 1 if last else 1
            try:
                self.runs.insert_one(self.run_entry)
                return
            except UnicodeEncodeError:  # a name that is not UTF-8: U+FFFD in its place
                clean = without_surrogates_in(self.run_entry)
                self.run_entry.clear()  # (the same dict: the run's document parts hold it)
                self.run_entry.update(clean)
            except pymongo.errors.InvalidDocument as e:
                raise ObserverError(
                    f"Run contained an unserializable entry. (most likely in the info)\n{e}"
                ) from e
            except pymongo.errors.DuplicateKeyError:
                if not autoinc_key:
                    raise
        raise ObserverError("MongoObserver could not find a free run id.")

    def save(self, run_document=True):
        """Write what changed; on a database error keep it for the next event."""
        if self._raise_errors:
            self._try(self._flush_run)
            return
        if self._outage.waiting():
            if run_document:  # a heartbeat or a file: the journal holds it now
                self._keep_journal()
            return
        # after an outage everything is written (the journal goes once nothing is missing)
        full = run_document or not self._inserted or self._outage.active
        self._try(self._sync if full else self._sync_metrics)

    def _sync(self, upsert=False):
        if not self._inserted:
            self._continue_late() if self._continuing else self._insert_late()
        self._pending_files.store(self._store_resource, self._store_artifact)
        refs = len(self._metric_docs.refs)
        self._sync_metrics()
        if len(self._metric_docs.refs) != refs:  # first documents of metrics: reference them
            self._document.set_info(self.run_entry.get("info") or {}, self._metric_docs.refs)
        self._flush_run(upsert)

    def _sync_metrics(self):
        self._metric_docs.write_pending(self.run_entry["_id"], self.METRIC_DOCUMENT_BUDGET)

    def _flush_run(self, upsert=False):
        self._document.flush(upsert, self.DOCUMENT_BUDGET)

    # ------------------------------------------------------------ journal
    def journal_location(self):
        """``(location, options)`` of the database, as a journal records it (password
        masked): ``("mongodb://host:port/db", {"db_name": ..., "prefix": ...})``."""
        database = self.runs.database
        options = {"db_name": database.name}
        runs_name = self.runs.name
        if runs_name != "runs":
            if runs_name.endswith("_runs") and self.metrics.name == runs_name[:-4] + "metrics":
                options["prefix"] = runs_name[: -len("_runs")]
            else:
                options["collection"] = runs_name
        return masked_url(self._url, database), options

    def journal_counts(self) -> dict:
        """``{metric: points MongoDB is known to hold}`` of the current run (for a queue's
        journal)."""
        docs = self._metric_docs
        return {name: docs.known_count(name) for name in docs.counts}

    @classmethod
    def for_journal(cls, location, db_name=None, prefix="", collection=None, **kwargs):
        """An observer that writes a journal into ``location`` (a ``mongodb://`` URL, whose
        database wins over ``db_name``, or a pymongo/mongomock client or database)."""
        from urllib.parse import urlsplit

        names = {"collection_prefix": prefix} if collection is None else {"collection": collection}
        if isinstance(location, str):
            db_name = urlsplit(location).path.lstrip("/") or db_name or "sacred"
            return cls(url=location, db_name=db_name, **names, **kwargs)
        if any(c.__name__ == "Database" for c in type(location).__mro__):
            db_name, location = location.name, location.client  # a database
        if type(location).__module__.startswith("mongomock"):
            import mongomock.gridfs

            mongomock.gridfs.enable_gridfs_integration()
        return cls(client=location, db_name=db_name or "sacred", **names)

    def apply_journal(self, events):
        """Apply journal events to this database, each once (see ``mongo.journal``);
        returns ``(run id, applied, already there)``."""
        from sacred.observers.journal import JournalError
        from sacred.observers.mongo.connect import _reason
        from sacred.observers.mongo.journal import MongoJournal  # it uses this class

        try:  # an unreachable server: a short wait and one line, as for the readers
            self._check_server()
        except backend_errors() as e:
            where = self._shown_location()
            raise JournalError(f"Cannot reach MongoDB at {where}: {_reason(e)}") from None
        with self._lock:
            return MongoJournal(self).apply(events)

    # ------------------------------------------------------------ misc
    def _shown_location(self):
        """The database, as messages name it: ``mongodb://host:port/db`` (no password)."""
        try:
            return shown_url(self.journal_location()[0])
        except Exception:
            return self._address()

    def _start_error(self, e):
        return ObserverError(
            f"MongoObserver could not store the run in MongoDB at {self._address()}: "
            f"{type(e).__name__}: {e}"
        )

    def _address(self):
        if self._url:
            return self._url
        try:
            client = self.runs.database.client
        except Exception:
            return "<unknown address>"
        try:
            nodes = sorted(client.topology_description.server_descriptions())
            return ",".join(f"{h}:{p}" for h, p in nodes)
        except Exception:
            return repr(client)

    def __eq__(self, other):
        if isinstance(other, MongoObserver):
            return self.runs == other.runs
        return False

    def __hash__(self):
        return hash(id(self))

    def __repr__(self):
        try:
            return f"MongoObserver({self.runs.database.name}.{self.runs.name})"
        except Exception:
            return "MongoObserver()"


def _is_mongo_client(client, pymongo) -> bool:
    if isinstance(client, pymongo.MongoClient):
        return True
    mongomock = sys.modules.get("mongomock")  # mongomock's client stands in for tests
    return mongomock is not None and isinstance(client, mongomock.MongoClient)


def _start_kwargs(ex_info, command, host_info, start_time, config, meta_info, _id) -> dict:
    """The arguments of the run's ``started_event``, kept for the failure file."""
    return {
        "ex_info": ex_info,
        "command": command,
        "host_info": host_info,
        "start_time": start_time,
        "config": config,
        "meta_info": meta_info,
        "_id": _id,
    }
