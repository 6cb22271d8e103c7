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

* When the run document would grow past ``DOCUMENT_BUDGET`` bytes, its largest fields among
  ``captured_out``, ``info``, ``result``, ``config`` and ``fail_trace`` move to GridFS, one
  after the other until it fits. ``run["overflow"][field]`` holds the id of the GridFS file
  with the whole value: UTF-8 text for ``captured_out`` (file name
  ``captured_out://<runs>/<id>``; later output is appended to its chunks), JSON for the
  others (``<field>://<runs>/<id>``). The field in the document keeps a short stand-in:
  a notice plus the last characters for ``captured_out``, ``{"metrics": [...]}`` for
  ``info`` (so dashboards still find the metrics), ``None``/``{}``/``[notice]`` otherwise.
* A metric document holds at most ``METRIC_DOCUMENT_BUDGET`` bytes; later points go to
  continuation documents ``{_id, name, run_id, part: 1, 2, ..., steps, values, timestamps}``.

``read_run(runs, run_id)`` and ``read_metrics(metrics, run_id)`` return everything whole.

Heartbeats send what changed only: a ``$set`` of the changed fields, and new captured output
as an append (``$concat`` in an update pipeline; a full ``$set`` when an output filter
rewrote earlier text or the server is older than 4.2). ``meta`` is written whole only
when the run starts; after a database error, the full save sets the run's own meta keys
one by one, so keys others added (``MongoStore.update_meta``) are never overwritten.

Reliability: a MongoDB that cannot be reached at the start fails the run (``ObserverError``
naming the address). Later errors never fail the run: the observer keeps what it could not
write (file copies included), retries with the next event, and tries the final save up to
10 (completed) / 3 (interrupted) / 1 (failed) times. What still could not be written goes to
``failure_dir`` (default ``./sacred_failures``) as ``sacred_mongo_fail_<id>_XXXX.pickle``
(the run document, like the original) and ``.jsonl`` (the events, see
``sacred.observers.queue``); a WARNING names them. Replay the events with
``replay_failure_file(path, MongoObserver(...))``.
"""

import logging
import os
import pickle
import shutil
import sys
import tempfile
import threading
import time
import warnings

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

logger = logging.getLogger(__name__)

DEFAULT_MONGO_PRIORITY = 30


_RESERVED = (
    "fs.files",
    "fs.chunks",
    "_properties",
    "system.indexes",
    "search_space",
    "search_spaces",
)
_MOVABLE = ("captured_out", "info", "result", "config", "fail_trace")
_CHUNK = 255 * 1024  # GridFS chunk size of the appendable output file
_TAIL = 10_000  # characters of output kept in the document once it moved to GridFS
_POINT_BYTES = 51  # BSON bytes of one metric point (3 array items with keys up to 7 digits)
_NUMBER_TYPES = frozenset((int, float, bool))
_TOO_LARGE_CODES = (10334, 17419, 17420)


def _import_mongo():
    try:
        import gridfs
        import pymongo
    except ImportError as e:  # pragma: no cover - pymongo is in the mongo extra
        raise ImportError('The MongoObserver needs pymongo: pip install "sacred[mongo]"') from e
    return pymongo, gridfs


def _backend_errors():
    """The exceptions that mean "MongoDB did not take it" (retry later)."""
    import gridfs.errors
    import pymongo.errors

    return (pymongo.errors.PyMongoError, gridfs.errors.GridFSError, OSError)


def _meta_sets(meta) -> dict:
    """``$set`` of the run's own meta keys one by one, so that keys others added to
    ``meta`` (Sacredboard's tags and notes, ``MongoStore.update_meta``) are kept."""
    if not isinstance(meta, dict):
        return {"meta": meta}
    if not all(isinstance(k, str) and k and "." not in k and k[0] != "$" for k in meta):
        return {"meta": meta}
    return {f"meta.{k}": v for k, v in meta.items()}


def force_valid_bson_key(key) -> str:
    """A key MongoDB accepts: ``str(key)``, a leading ``$`` becomes ``@``, dots become commas."""
    key = str(key)
    if key.startswith("$"):
        key = "@" + key[1:]
    return key.replace(".", ",")


def _bson_ok(value) -> bool:
    import bson

    try:
        bson.encode({"v": value})
        return True
    except (bson.errors.InvalidDocument, OverflowError, TypeError, ValueError):
        return False


def force_bson_encodeable(obj):
    """A copy of ``obj`` that BSON can store: bad keys fixed, unencodable values as ``str``.

    Numpy arrays are kept as they are.
    """
    if isinstance(obj, dict):
        return {force_valid_bson_key(k): force_bson_encodeable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [force_bson_encodeable(v) for v in obj]
    np = sys.modules.get("numpy")
    if np is not None and isinstance(obj, np.ndarray):
        return obj
    return obj if _bson_ok(obj) else str(obj)


_mime_types = None


def mimetype_detector(filename):
    """The content type of ``filename`` from ``sacred/data/mime.types`` (None if unknown)."""
    global _mime_types
    import mimetypes

    if _mime_types is None:
        path = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "mime.types")
        _mime_types = mimetypes.MimeTypes(filenames=[path])
    mime, encoding = _mime_types.guess_type(os.fspath(filename), strict=False)
    if encoding is not None:  # compressed: the content is the compressed stream
        return {
            "gzip": "application/gzip",
            "bzip2": "application/x-bzip2",
            "xz": "application/x-xz",
            "compress": "application/x-compress",
            "br": "application/x-brotli",
        }.get(encoding, mime)
    return mime


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _bson_size(value) -> int:
    import bson

    try:
        return len(bson.encode({"v": value}))
    except Exception:
        return len(repr(value))


def _points_bytes(steps, values) -> int:
    extra = 0
    if not set(map(type, values)) <= _NUMBER_TYPES:
        extra = sum(len(str(v)) + 5 for v in values)
    if not set(map(type, steps)) <= _NUMBER_TYPES:
        extra += sum(len(str(s)) + 5 for s in steps)
    return len(steps) * _POINT_BYTES + extra


def _too_large(error) -> bool:
    import pymongo.errors

    if isinstance(error, pymongo.errors.DocumentTooLarge):
        return True
    code = getattr(error, "code", None)
    return code in _TOO_LARGE_CODES or "too large" in str(error).lower()


def _part(items, start, end):
    if start == 0 and end == len(items):
        return items if isinstance(items, list) else list(items)
    return list(items[start:end])


def _fit(steps, values, start, room):
    """``(end, bytes)``: how many points from ``start`` fit into ``room`` bytes."""
    end = min(len(steps), start + max(room, 0) // _POINT_BYTES)
    if end <= start:
        return start, 0
    size = _points_bytes(_part(steps, start, end), _part(values, start, end))
    while size > room and end > start + 1:  # long strings among the values
        end = start + (end - start) // 2
        size = _points_bytes(_part(steps, start, end), _part(values, start, end))
    return (end, size) if size <= room else (start, 0)


class _AppendableFile:
    """A GridFS file that grows by writing its chunks directly (readers use plain GridFS)."""

    def __init__(self, database, fs, file_id, filename):
        self.chunks = database["fs.chunks"]
        self.files = database["fs.files"]
        self.fs = fs
        self.id = file_id
        self.filename = filename
        self.length = None  # bytes stored; None: unknown, rewrite it
        self.tail = b""  # the last, partial chunk

    def write(self, data: bytes):
        self.length = None
        self.fs.delete(self.id)
        self.fs.put(
            data,
            _id=self.id,
            filename=self.filename,
            content_type="text/plain; charset=utf-8",
            chunkSize=_CHUNK,
        )
        self.length = len(data)
        self.tail = data[len(data) - len(data) % _CHUNK :]

    def append(self, data: bytes):
        from bson import Binary

        if not data:
            return
        length, n = self.length, self.length // _CHUNK
        self.length = None  # unknown until all of it is written
        buf = self.tail + data
        pieces = [buf[i : i + _CHUNK] for i in range(0, len(buf), _CHUNK)]
        first = {"files_id": self.id, "n": n, "data": Binary(pieces[0])}
        if self.tail:
            self.chunks.replace_one({"files_id": self.id, "n": n}, first, upsert=True)
        else:
            self.chunks.insert_one(first)
        if len(pieces) > 1:
            self.chunks.insert_many(
                [
                    {"files_id": self.id, "n": n + i, "data": Binary(p)}
                    for i, p in enumerate(pieces[1:], 1)
                ]
            )
        self.files.update_one({"_id": self.id}, {"$set": {"length": length + len(data)}})
        self.length = length + len(data)
        self.tail = pieces[-1] if len(pieces[-1]) < _CHUNK else b""


class MongoObserver(RunObserver):
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
        self.saved_metrics = {}  # metric name -> [doc id, part, estimated bytes]
        self._lock = threading.RLock()
        self._reset()

    def _reset(self):
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
            self._start_kwargs = {
                "ex_info": ex_info,
                "command": command,
                "host_info": host_info,
                "start_time": start_time,
                "config": config,
                "meta_info": meta_info,
                "_id": self.run_entry["_id"],
            }
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
            self._start_kwargs = {
                "ex_info": ex_info,
                "command": command,
                "host_info": host_info,
                "start_time": start_time,
                "config": config,
                "meta_info": meta_info,
                "_id": _id,
            }
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

    # ------------------------------------------------------------ state
    def _measure(self):
        for field in _MOVABLE:
            if field in self.run_entry:
                self._sizes[field] = _bson_size(self.run_entry[field])
        self._sizes["_rest"] = _bson_size(
            {k: v for k, v in self.run_entry.items() if k not in _MOVABLE}
        )

    def _set(self, field, value):
        self.run_entry[field] = value
        self._dirty.add(field)

    def _set_flat(self, field, value):
        flat = flatten(value)
        if field not in self.run_entry or flat != self.run_entry[field]:
            self._set(field, flat)

    def _set_info(self, info):
        flat = flatten(info)
        if self._metric_refs:  # references made by log_metrics are never lost
            refs = flat.setdefault("metrics", [])
            if isinstance(refs, list):
                for ref in self._metric_refs:
                    if ref not in refs:
                        refs.append(ref)
        if flat != self.run_entry.get("info"):
            self._set("info", flat)

    # ------------------------------------------------------------ saving
    def save(self, run_document=True):
        """Write what changed; on a database error keep it for the next event."""
        if self._raise_errors:
            self._try(self._flush_run)
            return
        if time.monotonic() < self._retry_after:
            return
        self._try(self._sync if run_document else self._sync_metrics)

    def _try(self, func):
        try:
            func()
        except _backend_errors() as e:
            self._needs_full_save = True
            self._cout_synced = None
            if self._cout_file is not None:
                self._cout_file.length = None
            if self._raise_errors:
                raise
            self._on_error(e)
            return False
        if self._outage:
            self._outage = False
            logger.warning("MongoObserver: MongoDB is reachable again; the run is up to date.")
        return True

    def _on_error(self, e):
        for i, (kind, args) in enumerate(self._pending_files):
            if args[-1] is None:  # keep the file's content as it is now
                source = args[0] if kind == "resource" else args[1]
                try:
                    self._pending_files[i] = (kind, (*args[:-1], self._spool(source, True)))
                except OSError:
                    pass
        self._retry_after = time.monotonic() + self.retry_interval
        if not self._outage:
            self._outage = True
            logger.warning(
                "MongoObserver: writing to MongoDB at %s failed (%s: %s). The run goes on; "
                "the observer keeps the data and tries again.",
                self._address(),
                type(e).__name__,
                e,
            )

    def _sync(self, upsert=False):
        self._sync_files()
        self._sync_metrics()
        self._flush_run(upsert)

    def _sync_files(self):
        while self._pending_files:
            kind, args = self._pending_files[0]
            if kind == "resource":
                self._store_resource(args[1] or args[0], name=args[0])
            else:
                name, filename, metadata, content_type, copy = args
                self._store_artifact(name, copy or filename, metadata, content_type)
            self._pending_files.pop(0)
            if args[-1]:
                self._ignore_errors(os.remove, args[-1])

    def _sync_metrics(self):
        info = self._info
        for name in list(self._pending_metrics):
            self._push_metric(name, self._pending_metrics[name], info)
            del self._pending_metrics[name]

    def _flush_run(self, upsert=False):
        """One update with the changed fields of the run document."""
        entry = self.run_entry
        full = self._needs_full_save
        if full:  # meta: see below
            self._dirty.update(k for k in entry if k not in ("_id", "meta"))
        cout = entry.get("captured_out")
        append = None
        if cout is not None and cout is not self._cout_synced:
            old = self._cout_synced
            if old is not None and len(cout) >= len(old) and cout.startswith(old):
                append = cout[len(old) :] or None
                if append:
                    self._cout_bytes += len(_utf8(append))
            else:
                self._cout_bytes = len(_utf8(cout))
                self._dirty.add("captured_out")
                if self._cout_file is not None:
                    self._cout_file.length = None
        for field in self._dirty:
            if field in _MOVABLE and field != "captured_out":
                self._sizes[field] = _bson_size(entry[field])
        if "captured_out" not in self._overflow:
            self._sizes["captured_out"] = self._cout_bytes
        if self._dirty & {"artifacts", "resources"}:
            self._sizes["_rest"] = _bson_size({k: v for k, v in entry.items() if k not in _MOVABLE})
        self._move_oversized()

        sets = {}
        for field in self._dirty - {"_id", "captured_out"}:
            if field in self._overflow:
                sets.update(self._write_overflow(field))
            else:
                sets[field] = entry[field]
        if full and "meta" not in self._dirty:
            sets.update(_meta_sets(entry.get("meta")))
        full_cout = "captured_out" in self._dirty
        if "captured_out" in self._overflow:
            if full_cout or append is not None:
                sets.update(self._write_overflow("captured_out", None if full_cout else append))
            append = None
        elif full_cout:
            sets["captured_out"] = cout
            append = None
        if not sets and append is None:
            self._dirty.clear()
            self._needs_full_save = False
            return
        self._update(sets, append, upsert)
        self._dirty.clear()
        self._needs_full_save = False
        self._cout_synced = cout

    def _update(self, sets, append, upsert):
        import pymongo.errors

        query = {"_id": self.run_entry["_id"]}
        for attempt in range(2):
            try:
                if append is not None and self._pipeline_ok:
                    stage = {k: {"$literal": v} for k, v in sets.items()}
                    stage["captured_out"] = {"$concat": ["$captured_out", append]}
                    self.runs.update_one(query, [{"$set": stage}], upsert=upsert)
                else:
                    if append is not None:
                        sets["captured_out"] = self.run_entry["captured_out"]
                    self.runs.update_one(query, {"$set": sets}, upsert=upsert)
                return
            except pymongo.errors.OperationFailure as e:
                if append is not None and self._pipeline_ok and not _too_large(e):
                    self._pipeline_ok = False  # a server older than 4.2
                    continue
                raise
            except pymongo.errors.InvalidDocument as e:
                if attempt or _too_large(e):
                    raise
                print(
                    "Warning: Some of the entries of the run were not BSON-serializable!\n "
                    "They have been altered such that they can be stored, but you should fix "
                    "your experiment!Most likely it is either the 'info' or the 'result'.",
                    file=sys.stderr,
                )
                for key in sets:
                    sets[key] = force_bson_encodeable(sets[key])
                    if "." not in key:
                        self.run_entry[key] = sets[key]

    def _move_oversized(self):
        def total():
            return sum(self._sizes.values())

        while total() > self.DOCUMENT_BUDGET:
            inline = [f for f in _MOVABLE if f not in self._overflow and f in self._sizes]
            if not inline:
                return
            field = max(inline, key=lambda f: self._sizes[f])
            self._overflow[field] = None  # a GridFS file is written below
            self._dirty.add(field)
            self._sizes[field] = _bson_size(self._stand_in(field))
            if field == "captured_out":
                self._cout_file = self._make_cout_file(None)

    def _stand_in(self, field):
        """What a field moved to GridFS keeps in the run document."""
        value = self.run_entry.get(field)
        if field == "captured_out":
            return "x" * (len(value[-_TAIL:]) + 300)  # the notice and the tail
        if field == "info":
            return {"metrics": value["metrics"]} if "metrics" in value else {}
        if field == "config":
            return {}
        if field == "fail_trace":
            name = f"{field}://{self.runs.name}/{self.run_entry['_id']}"
            return [f"[too large: see GridFS file {name}]"]
        return None

    def _make_cout_file(self, file_id):
        from bson import ObjectId

        filename = f"captured_out://{self.runs.name}/{self.run_entry['_id']}"
        return _AppendableFile(self.runs.database, self.fs, file_id or ObjectId(), filename)

    def _write_overflow(self, field, append=None):
        """Store a moved field in GridFS; return the document fields to set."""
        entry = self.run_entry
        if field == "captured_out":
            out = entry["captured_out"]
            f = self._cout_file
            if append is not None and f.length is not None:
                f.append(_utf8(append))
            else:
                f.write(_utf8(out))
            self._overflow[field] = f.id
            notice = (
                f"[The output is too large for the run document. The whole output is in "
                f"GridFS file {f.filename!r} (run['overflow']['captured_out']). "
                f"Its last {_TAIL} characters:]\n"
            )
            return {"captured_out": notice + out[-_TAIL:], "overflow.captured_out": f.id}
        import json

        old = self._overflow.get(field)
        value = entry[field]
        file_id = self.fs.put(
            _utf8(json.dumps(value, default=str)),
            filename=f"{field}://{self.runs.name}/{entry['_id']}",
            content_type="application/json",
        )
        self._overflow[field] = file_id
        if old is not None:
            self._ignore_errors(self.fs.delete, old)
        stand_in = self._stand_in(field)
        self._sizes[field] = _bson_size(stand_in)
        return {field: stand_in, f"overflow.{field}": file_id}

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

    def final_save(self, attempts):
        """Write everything, trying ``attempts`` times; True when it worked."""
        deadline = time.monotonic() + self.final_save_timeout
        for i in range(attempts):
            self._retry_after = 0.0
            if self._try(lambda: self._sync(upsert=True)):
                return True
            if i < attempts - 1 and time.monotonic() < deadline:
                time.sleep(self.retry_delay)
            else:
                break
        return False

    def _final(self, event, kwargs, attempts):
        if self._start_kwargs is None:
            return  # the start failed (and failed the run): there is no run to save
        if self.final_save(attempts):
            return
        self._write_failure_files(event, kwargs)

    def _write_failure_files(self, event, kwargs):
        from sacred.observers.queue import write_event_file

        run_id = self.run_entry.get("_id")
        directory = os.path.abspath(self.failure_dir or "sacred_failures")
        prefix = f"sacred_mongo_fail_{run_id}_"
        records = [("started_event", self._start_kwargs, {"delivered": True})]
        for kind, args in self._pending_files:
            if kind == "resource":
                # the original path: the name under which the resource is known
                records.append(("resource_event", {"filename": args[0]}))
            else:
                name, filename, metadata, content_type, copy = args
                records.append(
                    (
                        "artifact_event",
                        {
                            "name": name,
                            "filename": copy or filename,
                            "metadata": metadata,
                            "content_type": content_type,
                        },
                    )
                )
        if self._pending_metrics:
            records.append(("log_metrics", {"metrics_by_name": self._pending_metrics, "info": {}}))
        if self._last_beat is not None:
            records.append(("heartbeat_event", self._last_beat))
        records.append((event, kwargs))
        path = write_event_file(records, directory, prefix)
        pickle_path = path[: -len(".jsonl")] + ".pickle"
        with open(pickle_path, "wb") as f:
            pickle.dump(self.run_entry, f)
        logger.warning(
            "Warning: saving to MongoDB failed! Stored experiment entry in %s and the events "
            "in %s; write them to MongoDB later with "
            "sacred.observers.mongo.replay_failure_file(%r, MongoObserver(...)).",
            pickle_path,
            path,
            path,
        )
        self.failure_file = path

    # ------------------------------------------------------------ files
    def save_sources(self, ex_info):
        from sacred.dependencies import get_digest

        base_dir = ex_info["base_dir"]
        source_info = []
        for source_name, md5 in ex_info["sources"]:
            abs_path = os.path.join(base_dir, source_name)
            file = self.fs.find_one({"filename": abs_path, "md5": md5})
            if file:
                _id = file._id
            else:
                md5 = md5 or get_digest(abs_path)
                with open(abs_path, "rb") as f:
                    _id = self.fs.put(f, filename=abs_path, md5=md5)
            source_info.append([source_name, _id])
        return source_info

    def _store_resource(self, filename, name=None):
        from sacred.dependencies import get_digest

        name = name or filename
        md5hash = get_digest(filename)
        if not self.fs.exists(filename=name, md5=md5hash):
            with open(filename, "rb") as f:
                self.fs.put(f, filename=name, md5=md5hash)
        resource = [name, md5hash]
        if resource not in [list(r) for r in self.run_entry["resources"]]:
            self.run_entry["resources"].append(resource)
            self._dirty.add("resources")

    def _store_artifact(self, name, filename, metadata, content_type):
        db_filename = f"artifact://{self.runs.name}/{self.run_entry['_id']}/{name}"
        with open(filename, "rb") as f:
            file_id = self.fs.put(
                f, filename=db_filename, metadata=metadata, content_type=content_type
            )
        self.run_entry["artifacts"].append({"name": name, "file_id": file_id})
        self._dirty.add("artifacts")

    def _spool(self, filename, force=False):
        """A private copy of a file whose storing may have to wait (None when not needed)."""
        if not (self._outage or force):
            return None
        if self._spool_dir is None:
            directory = os.path.abspath(self.failure_dir or "sacred_failures")
            os.makedirs(directory, exist_ok=True)
            self._spool_dir = tempfile.mkdtemp(
                prefix=f"sacred_mongo_files_{self.run_entry.get('_id')}_", dir=directory
            )
        copy = os.path.join(
            self._spool_dir, f"{len(os.listdir(self._spool_dir))}_{os.path.basename(filename)}"
        )
        shutil.copyfile(filename, copy)
        return copy

    @staticmethod
    def _try_to_detect_content_type(filename):
        mime_type = mimetype_detector(filename)
        if mime_type is not None:
            print(f"Added {mime_type} as content-type of artifact {filename}.")
        else:
            print(f"Failed to detect content-type automatically for artifact {filename}.")
        return mime_type

    # ------------------------------------------------------------ metrics
    def _push_metric(self, name, metric, info):
        """Append the points of one metric, starting continuation documents when full."""
        steps, values, stamps = metric["steps"], metric["values"], metric["timestamps"]
        n = len(steps)
        if n == 0:
            return
        run_id = self.run_entry["_id"]
        budget = self.METRIC_DOCUMENT_BUDGET
        state = self.saved_metrics.get(name)
        if state is None:
            state = self._find_metric_document(name, run_id)
        start = 0
        while start < n:
            room = budget - state[2] if state is not None else 0
            end, size = _fit(steps, values, start, room)
            if end > start:  # append to the current document
                self.metrics.update_one(
                    {"_id": state[0]},
                    {
                        "$push": {
                            "steps": {"$each": _part(steps, start, end)},
                            "values": {"$each": _part(values, start, end)},
                            "timestamps": {"$each": _part(stamps, start, end)},
                        }
                    },
                )
                state = [state[0], state[1], state[2] + size]
            else:  # a new document: the first one, or a continuation
                end, size = _fit(steps, values, start, budget)
                end = max(end, start + 1)  # a single huge point still goes somewhere
                part = 0 if state is None else state[1] + 1
                doc = {"name": name, "run_id": run_id}
                if part:
                    doc["part"] = part
                doc["steps"] = _part(steps, start, end)
                doc["values"] = _part(values, start, end)
                doc["timestamps"] = _part(stamps, start, end)
                doc_id = self.metrics.insert_one(doc).inserted_id
                state = [doc_id, part, size]
                if part == 0:
                    ref = {"name": name, "id": str(doc_id)}
                    self._metric_refs.append(ref)
                    if info is not None:
                        info.setdefault("metrics", []).append(dict(ref))
            self.saved_metrics[name] = state
            start = end

    def _find_metric_document(self, name, run_id):
        """The last document of a metric the database already has (overwrite, replay)."""
        import pymongo

        if self._fresh_run:
            return None
        docs = list(
            self.metrics.find({"run_id": run_id, "name": name}, {"steps": 1, "part": 1})
            .sort("part", pymongo.DESCENDING)
            .limit(1)
        )
        if not docs:
            return None
        doc = docs[0]
        return [doc["_id"], doc.get("part", 0), len(doc.get("steps", [])) * _POINT_BYTES]

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


# ---------------------------------------------------------------- reading
def read_run(runs_collection, run_id, fs=None):
    """The run document with every field that moved to GridFS read back whole."""
    import json

    doc = runs_collection.find_one({"_id": run_id})
    if doc is None or not doc.get("overflow"):
        return doc
    if fs is None:
        _, gridfs = _import_mongo()
        fs = gridfs.GridFS(runs_collection.database)
    for field, file_id in doc["overflow"].items():
        data = fs.get(file_id).read().decode("utf-8", "surrogatepass")
        doc[field] = data if field == "captured_out" else json.loads(data)
    return doc


def read_metrics(metrics_collection, run_id):
    """``{name: {"steps", "values", "timestamps"}}`` of a run, continuation parts joined."""
    docs = sorted(
        metrics_collection.find({"run_id": run_id}),
        key=lambda d: (d["name"], d.get("part", 0)),
    )
    result = {}
    for doc in docs:
        metric = result.setdefault(doc["name"], {"steps": [], "values": [], "timestamps": []})
        for field in ("steps", "values", "timestamps"):
            metric[field].extend(doc.get(field, []))
    return result


def replay_failure_file(path, observer):
    """Write the events of a ``sacred_mongo_fail_*.jsonl`` file with ``observer``.

    ``observer`` is a MongoObserver for the database the run belongs to; the run is looked
    up by its id and completed. Returns the number of events replayed.
    """
    from sacred.observers.queue import replay

    return replay(path, observer)
