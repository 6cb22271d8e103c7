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
large fields move to GridFS and long metrics continue in further documents (see
``sacred.observers._mongo_overflow``). ``read_run(runs, run_id)`` and
``read_metrics(metrics, run_id)`` return everything whole.

Heartbeats send what changed only (see ``sacred.observers._mongo_sync``).

Reliability: a MongoDB that cannot be reached at the start fails the run (``ObserverError``
naming the address). Later errors never fail the run; what could not be written ends up in
failure files that ``replay_failure_file(path, MongoObserver(...))`` writes later (see
``sacred.observers._mongo_failure``). Storing files: ``sacred.observers._mongo_files``.
"""

import sys
import threading
import warnings

from sacred.observers._mongo_bson import (
    _import_mongo,
    force_bson_encodeable,
    force_valid_bson_key,
)
from sacred.observers._mongo_failure import _backend_errors, _MongoReliability, replay_failure_file
from sacred.observers._mongo_files import _MongoFiles, mimetype_detector
from sacred.observers._mongo_overflow import (
    _MongoOverflow,
    read_metrics,
    read_run,
)
from sacred.observers._mongo_sync import _MongoSync
from sacred.observers.base import RunObserver
from sacred.observers.cli_options import get_pattern, mongo_db_option, parse_mongo_db_arg  # noqa: F401
from sacred.observers.queue import QueueObserver
from sacred.serializer import flatten
from sacred.utils import ObserverError

__all__ = (
    "MongoObserver",
    "QueuedMongoObserver",
    "QueueCompatibleMongoObserver",
    "mongo_db_option",
    "parse_mongo_db_arg",
    "get_pattern",
    "force_valid_bson_key",
    "force_bson_encodeable",
    "mimetype_detector",
    "read_run",
    "read_metrics",
    "replay_failure_file",
    "DEFAULT_MONGO_PRIORITY",
)

DEFAULT_MONGO_PRIORITY = 30

_RESERVED = (
    "fs.files",
    "fs.chunks",
    "_properties",
    "system.indexes",
    "search_space",
    "search_spaces",
)


class MongoObserver(_MongoSync, _MongoReliability, _MongoOverflow, _MongoFiles, RunObserver):
    """Stores runs in MongoDB (see the module docstring for the layout)."""

    COLLECTION_NAME_BLACKLIST = set(_RESERVED)
    VERSION = "MongoObserver-0.7.0"
    DOCUMENT_BUDGET = 15 * 1024 * 1024  # the run document stays below this (limit: 16 MiB)
    METRIC_DOCUMENT_BUDGET = 15 * 1024 * 1024
    retry_delay = 1.0  # seconds between final-save attempts after a connection error
    retry_interval = 10.0  # after an error, events only update memory for this long
    final_save_timeout = 120.0  # the final save gives up after this many seconds
    _raise_errors = False  # QueueCompatibleMongoObserver: errors go to the queue

    @classmethod
    def create(cls, *args, **kwargs):
        warnings.warn(
            "MongoObserver.create(...) is deprecated. Please use MongoObserver(...) instead.",
            DeprecationWarning,
            stacklevel=2,
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
        if client is not None:
            if not _is_mongo_client(client, pymongo):
                raise ValueError(
                    f"client needs to be a pymongo.MongoClient, but is {type(client)} instead"
                )
            if url is not None:
                raise ValueError("Cannot pass both a client and a url.")
        else:
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
        self.runs = runs_collection
        self.metrics = (
            metrics_collection
            if metrics_collection is not None
            else runs_collection.database["metrics"]
        )
        self.fs = fs
        self.priority = priority
        self.failure_dir = failure_dir
        if isinstance(overwrite, (int, str)):
            overwrite = int(overwrite)
            run = runs_collection.find_one({"_id": overwrite})
            if run is None:
                raise RuntimeError(f"Couldn't find run to overwrite with _id='{overwrite}'")
            overwrite = run
        self.overwrite = overwrite
        self.run_entry = None
        self._lock = threading.RLock()
        self._reset()

    def _reset(self):
        # metric documents belong to one run: an observer that serves several runs (a
        # notebook's habit) must not append a new run's points to the last run's documents
        self.saved_metrics = {}  # metric name -> [doc id, part, estimated bytes]
        self._dirty = set()  # fields of run_entry not yet in the database
        self._sizes = {}  # field -> BSON bytes (the stand-in's for moved fields)
        self._overflow = {}  # moved field -> GridFS file id
        self._cout_synced = None  # the captured_out the database has (None: unknown)
        self._cout_bytes = 0
        self._cout_file = None  # _AppendableFile once the output moved to GridFS
        self._pending_files = []  # (kind, args) of resources/artifacts not yet stored
        self._pending_metrics = {}  # name -> {"steps", "values", "timestamps"}
        self._metric_refs = []  # the info["metrics"] entries this observer created
        self._start_kwargs = None
        self._last_beat = None  # kwargs of the last heartbeat (for the failure file)
        self._retry_after = 0.0
        self._outage = False
        self._needs_full_save = False
        self._pipeline_ok = True
        self._spool_dir = None
        self._fresh_run = True  # no metric documents exist yet for this run
        self._last_file_event = None
        self._info = None
        self._owned = set()  # pending metric names whose lists are private copies

    # ------------------------------------------------------------ events
    def queued_event(self, ex_info, command, host_info, queue_time, config, meta_info, _id):
        if self.overwrite is not None:
            raise RuntimeError("Can't overwrite with QUEUED run.")
        with self._lock:
            self._reset()
            self.run_entry = {
                "experiment": dict(ex_info),
                "command": command,
                "host": dict(host_info),
                "config": flatten(config),
                "meta": meta_info,
                "status": "QUEUED",
            }
            if _id is not None:
                self.run_entry["_id"] = _id
            try:
                self.run_entry["experiment"]["sources"] = self.save_sources(ex_info)
            except _backend_errors() as e:
                raise ObserverError(
                    f"MongoObserver could not store the run in MongoDB at {self._address()}: "
                    f"{type(e).__name__}: {e}"
                ) from e
            self.insert()
            return self.run_entry["_id"]

    def started_event(self, ex_info, command, host_info, start_time, config, meta_info, _id):
        with self._lock:
            if self.overwrite is None:
                self._reset()
                self.run_entry = {"_id": _id}
            else:
                if self.run_entry is not None:
                    raise RuntimeError("Cannot overwrite more than once!")
                self._reset()
                self.run_entry = self.overwrite
                for old in self.overwrite.pop("overflow", {}).values():
                    self._ignore_errors(self.fs.delete, old)
            self.run_entry.update(
                {
                    "experiment": dict(ex_info),
                    "format": self.VERSION,
                    "command": command,
                    "host": dict(host_info),
                    "start_time": start_time,
                    "config": flatten(config),
                    "meta": meta_info,
                    "status": "RUNNING",
                    "resources": [],
                    "artifacts": [],
                    "captured_out": "",
                    "info": {},
                    "heartbeat": None,
                }
            )
            self._fresh_run = self.overwrite is None
            try:
                self.run_entry["experiment"]["sources"] = self.save_sources(ex_info)
                self._measure()
                if self.overwrite is None:
                    self.insert()
                else:
                    self._needs_full_save = True
                    self._dirty.add("meta")  # the overwritten run's meta goes whole
                    self._flush_run(upsert=True)
            except _backend_errors() as e:
                raise ObserverError(
                    f"MongoObserver could not store the run in MongoDB at {self._address()}: "
                    f"{type(e).__name__}: {e}"
                ) from e
            self._cout_synced = ""
            self._start_kwargs = _start_kwargs(
                ex_info, command, host_info, start_time, config, meta_info, self.run_entry["_id"]
            )
            return self.run_entry["_id"]

    def resume_event(self, ex_info, command, host_info, start_time, config, meta_info, _id):
        """Attach to the run ``_id`` the database already holds (used by ``replay``).

        If the database does not have it, this is a ``started_event`` with that id.
        """
        with self._lock:
            doc = self.runs.find_one({"_id": _id})
            if doc is None:
                return self.started_event(
                    ex_info, command, host_info, start_time, config, meta_info, _id
                )
            self._reset()
            self._fresh_run = False
            self.run_entry = doc
            self._overflow = dict(doc.pop("overflow", {}))
            self._metric_refs = list(doc.get("info", {}).get("metrics", []))
            self._measure()
            if "captured_out" in self._overflow:
                self._cout_file = self._make_cout_file(self._overflow["captured_out"])
            self._cout_synced = None  # rewritten whole with the next heartbeat
            self._start_kwargs = _start_kwargs(
                ex_info, command, host_info, start_time, config, meta_info, _id
            )
            return _id

    def heartbeat_event(self, info, captured_out, beat_time, result):
        with self._lock:
            self._last_beat = {
                "info": info,
                "captured_out": captured_out,
                "beat_time": beat_time,
                "result": result,
            }
            self._set_info(info)
            self.run_entry["captured_out"] = captured_out
            self._set("heartbeat", beat_time)
            self._set_flat("result", result)
            self.save()

    def completed_event(self, stop_time, result):
        with self._lock:
            if self.run_entry is None:
                return
            self._set("stop_time", stop_time)
            self._set_flat("result", result)
            self._set("status", "COMPLETED")
            self._final("completed_event", {"stop_time": stop_time, "result": result}, 10)

    def interrupted_event(self, interrupt_time, status):
        with self._lock:
            if self.run_entry is None:
                return
            self._set("stop_time", interrupt_time)
            self._set("status", status)
            kwargs = {"interrupt_time": interrupt_time, "status": status}
            self._final("interrupted_event", kwargs, 3)

    def failed_event(self, fail_time, fail_trace):
        with self._lock:
            if self.run_entry is None:
                return
            self._set("stop_time", fail_time)
            self._set("status", "FAILED")
            self._set("fail_trace", fail_trace)
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
            self._pending_files.append(("resource", (filename, self._spool(filename))))
            self.save()

    def artifact_event(self, name, filename, metadata=None, content_type=None):
        with self._lock:
            if content_type is None:
                content_type = self._try_to_detect_content_type(filename)
            args = (name, filename, metadata, content_type)
            if self._raise_errors:  # the queue retries the whole event
                if self._last_file_event != ("artifact", args):
                    self._store_artifact(*args)
                    self._last_file_event = ("artifact", args)
                self.save()
                return
            self._pending_files.append(("artifact", (*args, self._spool(filename))))
            self.save()

    def log_metrics(self, metrics_by_name, info):
        """Append the new points of each metric to its document (see module docstring)."""
        if not metrics_by_name:
            return
        with self._lock:
            pending = self._pending_metrics
            for name, metric in metrics_by_name.items():
                queued = pending.get(name)
                if queued is None:  # the lists are shared with other observers: no changes
                    pending[name] = {f: metric[f] for f in ("steps", "values", "timestamps")}
                    continue
                if name not in self._owned:
                    self._owned.add(name)
                    for field in ("steps", "values", "timestamps"):
                        queued[field] = list(queued[field])
                for field in ("steps", "values", "timestamps"):
                    queued[field].extend(metric[field])
            self._info = info
            self.save(run_document=False)

    def insert(self):
        """Insert ``run_entry``, choosing the next free integer id if it has none."""
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
            except pymongo.errors.InvalidDocument as e:
                raise ObserverError(
                    f"Run contained an unserializable entry. (most likely in the info)\n{e}"
                ) from e
            except pymongo.errors.DuplicateKeyError:
                if not autoinc_key:
                    raise
            except pymongo.errors.PyMongoError as e:
                raise ObserverError(
                    f"MongoObserver could not store the run in MongoDB at {self._address()}: "
                    f"{type(e).__name__}: {e}"
                ) from e
        raise ObserverError("MongoObserver could not find a free run id.")

    # ------------------------------------------------------------ misc
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

    @staticmethod
    def _ignore_errors(func, *args):
        try:
            func(*args)
        except Exception:
            pass

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


class QueueCompatibleMongoObserver(MongoObserver):
    """A MongoObserver for ``QueueObserver``: errors are raised so the queue retries."""

    _raise_errors = True

    def log_metrics(self, metric_name, metrics_values, info):
        """Append the points of one metric (the queue splits log_metrics per metric)."""
        with self._lock:
            self._push_metric(metric_name, metrics_values, info)

    def final_save(self, attempts=1):
        try:
            self._try(lambda: self._flush_run(upsert=True))
            return True
        except _backend_errors() as e:
            raise ObserverError(f"Warning: saving to MongoDB failed! ({e})") from e

    def _final(self, event, kwargs, attempts):
        self.final_save(attempts)


class QueuedMongoObserver(QueueObserver):
    """A ``QueueObserver`` around a ``QueueCompatibleMongoObserver`` (same arguments)."""

    @classmethod
    def create(cls, *args, **kwargs):
        warnings.warn(
            "QueuedMongoObserver.create(...) is deprecated. "
            "Please use QueuedMongoObserver(...) instead.",
            DeprecationWarning,
            stacklevel=2,
        )
        return cls(*args, **kwargs)

    def __init__(
        self,
        interval: float = 20.0,
        retry_interval: float = 10.0,
        url=None,
        db_name: str = "sacred",
        collection: str = "runs",
        overwrite=None,
        priority: int = DEFAULT_MONGO_PRIORITY,
        client=None,
        **kwargs,
    ):
        queue_kwargs = {k: kwargs.pop(k) for k in ("join_timeout", "failure_dir") if k in kwargs}
        super().__init__(
            QueueCompatibleMongoObserver(
                url=url,
                db_name=db_name,
                collection=collection,
                overwrite=overwrite,
                priority=priority,
                client=client,
                **kwargs,
            ),
            interval=interval,
            retry_interval=retry_interval,
            **queue_kwargs,
        )


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
