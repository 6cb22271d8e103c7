"""``ObjectStoreObserver``: what the S3 and Google Cloud Storage observers share.

Runs are stored in the layout of the FileStorageObserver under ``basedir/<id>/`` (see
``layout``); a subclass only gives the ``Bucket`` to talk to (``self._bucket``, see
``bucket``). A store that goes away during a run never fails the run: what could not be
uploaded is kept in a local file that ``replay_fallback`` writes into the store later.
"""

import datetime
import json
import logging
import os
import posixpath
import shutil
import threading
import time

from sacred.dependencies import get_digest as _md5
from sacred.observers import _jsonio
from sacred.observers.base import RunObserver
from sacred.observers.object_store.layout import RUN_FILES as _RUN_FILES
from sacred.observers.object_store.layout import iso as _iso
from sacred.observers.object_store.layout import join as s3_join
from sacred.observers.object_store.layout import json_text as _json_text
from sacred.safe_restore import safe_restore
from sacred.serializer import flatten
from sacred.utils import ObserverError

# ====================================================================== the observer
#
# ``ObjectStoreObserver`` holds everything S3 and Google Cloud Storage share: the
# FileStorage layout under ``basedir/<id>/``, run ids, and what happens when the store goes
# away during a run. A subclass only gives the bucket to talk to (``self._bucket``).
#
# Reliability: the whole state of the run (run entry, config, info, output, metrics) lives
# in memory, and an event only marks which objects changed. Each event then uploads what is
# pending; a failed upload stays pending and is tried again by later events (no more often
# than every ``RETRY_INTERVAL`` seconds), and the end of the run keeps trying for up to
# ``FINAL_RETRY_SECONDS``. While something is pending, a self-contained record of the run is
# kept in a local JSON-lines file (its path is logged in a WARNING); ``replay_fallback``
# writes it into the store later. Once everything is uploaded the file is removed again.
#
# The meta of a run may be changed by a store (``ObjectStore.update_meta``: Sacredboard's tags
# and notes) while the run goes on. Before each write of run.json the observer compares the
# object's version with the one it wrote last; if another writer changed it, the observer
# takes that meta and keeps only its own keys (those it wrote at the start) over it. Its write
# is conditional on the version it saw, where the server supports conditional writes.

_MAX_ID_ATTEMPTS = 1000
_MAX_META_MERGES = 10

logger = logging.getLogger("sacred.observers.s3_observer")  # the name users configure


class ObjectStoreObserver(RunObserver):
    """Stores runs like ``FileStorageObserver`` does, as objects in a bucket."""

    STORE_NAME = "object store"  # used in messages
    FALLBACK_PREFIX = "sacred_fallback"
    RETRY_INTERVAL = 5.0  # seconds between upload attempts while the store is away
    FINAL_RETRY_SECONDS = 10.0  # how long the end of a run keeps trying
    DIR_EXISTS = "S3 dir at {} already exists"

    def _init_layout(self, bucket, basedir, resource_dir, source_dir, priority, failure_dir):
        self.bucket_id = bucket
        self.basedir = basedir
        self.resource_dir = resource_dir or s3_join(basedir, "_resources")
        self.source_dir = source_dir or s3_join(basedir, "_sources")
        self.priority = priority
        self.failure_dir = failure_dir
        self.dir = None
        self.run_entry = None
        self.config = None
        self.info = None
        self.cout = ""
        self.saved_metrics = {}
        self.fallback_file = None  # path of the local record while uploads are pending
        self._lock = threading.RLock()
        self._reset_run()

    def _reset_run(self):
        self._started = None  # the kwargs of started_event, for the fallback record
        self._resources = []  # [(filename, local copy or None)]
        self._artifacts = []  # [(kwargs, local copy or None)]
        self._beat = None
        self._end = None  # (event name, kwargs)
        self._pending = {}  # key -> ("state", filename) | ("file", path, content_type)
        self._retry_after = 0.0
        self._cout_uploaded = None
        self._metrics_marked = False
        self._source_copies = {}  # source name -> (path to read, copy in the fallback folder)
        self._run_version = None  # version of run.json as last written or seen here
        self._own_meta = ()  # the keys of meta the observer wrote at the start

    # ------------------------------------------------------------ store interface
    _bucket = None  # the Bucket, set by the subclass

    def _store_bucket_exists(self) -> bool:
        return self._bucket.bucket_exists()

    def _store_create_bucket(self) -> None:
        self._bucket.create_bucket()

    def _store_subdirs(self, prefix):
        """Names of the 'directories' directly below ``prefix`` (which ends with ``/``)."""
        return self._bucket.subdirs(prefix)

    def _store_exists(self, key_or_prefix, prefix=False) -> bool:
        if prefix:
            return self._bucket.prefix_exists(key_or_prefix)
        return self._bucket.exists(key_or_prefix)

    def _store_put(self, key, data: bytes, content_type, if_absent=False) -> bool:
        """Upload; with ``if_absent`` return False (writing nothing) if the key exists."""
        return self._bucket.put(key, data, content_type, if_absent=if_absent) is not None

    def _store_address(self) -> str:
        return self._bucket.address

    # ------------------------------------------------------------ run ids
    def _dir_exists(self, dir_key):
        return self._store_exists(dir_key + "/", prefix=True)

    def _claim_run_dir(self, _id, bucket_created, exist_ok=False):
        """Pick the run id, claim its directory by writing run.json, return the id."""
        if _id is not None:
            self.dir = s3_join(self.basedir, str(_id))
            if not exist_ok and self._dir_exists(self.dir):
                raise FileExistsError(self.DIR_EXISTS.format(self.dir))
            self._upload_state("run.json")
            return _id
        if bucket_created:
            candidate = 1
        else:
            subdirs = self._store_subdirs(self.basedir.rstrip("/") + "/" if self.basedir else "")
            candidate = max((int(d) for d in subdirs if d.isdigit()), default=0) + 1
        for _ in range(_MAX_ID_ATTEMPTS):
            self.dir = s3_join(self.basedir, str(candidate))
            # the conditional write is atomic: of several processes only one gets an id
            if not self._dir_exists(self.dir) and self._upload_state("run.json", if_absent=True):
                return candidate
            candidate += 1
        raise FileExistsError(self.DIR_EXISTS.format(self.dir))

    # ------------------------------------------------------------ events
    def queued_event(self, ex_info, command, host_info, queue_time, config, meta_info, _id):
        raise NotImplementedError(
            f"queued_event method is not implemented for {type(self).__name__}."
        )

    def started_event(self, ex_info, command, host_info, start_time, config, meta_info, _id):
        with self._lock:
            return self._start(
                dict(
                    ex_info=ex_info,
                    command=command,
                    host_info=host_info,
                    start_time=start_time,
                    config=config,
                    meta_info=meta_info,
                    _id=_id,
                )
            )

    def _start(self, kwargs, exist_ok=False, source_copies=None):
        """Everything here may fail the run: the store must be reachable at the start."""
        self._reset_run()
        self.fallback_file = None
        try:
            bucket_created = not self._store_bucket_exists()
            if bucket_created:
                self._store_create_bucket()
        except Exception as e:
            raise ConnectionError(
                f"{type(self).__name__} could not reach the bucket {self.bucket_id!r} at "
                f"{self._store_address()}: {e}"
            ) from e
        ex_info = kwargs["ex_info"]
        experiment = dict(ex_info)
        experiment["sources"] = self._save_sources(ex_info, source_copies)
        self.run_entry = {
            "experiment": experiment,
            "command": kwargs["command"],
            "host": dict(kwargs["host_info"]),
            "start_time": _iso(kwargs["start_time"]),
            "meta": kwargs["meta_info"],
            "status": "RUNNING",
            "resources": [],
            "artifacts": [],
            "heartbeat": None,
        }
        self._own_meta = tuple(kwargs["meta_info"] or ())
        self.config = kwargs["config"]
        self.info = {}
        self.cout = ""
        self.saved_metrics = {}
        run_id = self._claim_run_dir(kwargs["_id"], bucket_created, exist_ok)
        self._started = dict(kwargs, _id=run_id)
        self._upload_state("config.json")
        self._upload_state("cout.txt")
        return run_id

    def heartbeat_event(self, info, captured_out, beat_time, result):
        with self._lock:
            self.info = info
            self.run_entry["heartbeat"] = _iso(beat_time)
            self.run_entry["result"] = result
            self._beat = dict(info=info, captured_out=captured_out, beat_time=beat_time)
            self._beat["result"] = result
            if captured_out != self._cout_uploaded:
                self.cout = captured_out
                self._mark("cout.txt")
            self._mark("run.json")
            if info:
                self._mark("info.json")
            self._flush()

    def completed_event(self, stop_time, result):
        with self._lock:
            self.run_entry["stop_time"] = _iso(stop_time)
            self.run_entry["result"] = result
            self.run_entry["status"] = "COMPLETED"
            self._end = ("completed_event", dict(stop_time=stop_time, result=result))
            self._mark("run.json")
            self._flush(final=True)

    def interrupted_event(self, interrupt_time, status):
        with self._lock:
            self.run_entry["stop_time"] = _iso(interrupt_time)
            self.run_entry["status"] = status
            self._end = ("interrupted_event", dict(interrupt_time=interrupt_time, status=status))
            self._mark("run.json")
            self._flush(final=True)

    def failed_event(self, fail_time, fail_trace):
        with self._lock:
            self.run_entry["stop_time"] = _iso(fail_time)
            self.run_entry["status"] = "FAILED"
            self.run_entry["fail_trace"] = fail_trace
            self._end = ("failed_event", dict(fail_time=fail_time, fail_trace=fail_trace))
            self._mark("run.json")
            self._flush(final=True)

    def resource_event(self, filename):
        with self._lock:
            self._add_resource(filename)

    def _add_resource(self, filename, source=None):
        filename = os.path.abspath(filename)
        source = source or filename
        stem, ext = os.path.splitext(os.path.basename(filename))
        key = s3_join(self.resource_dir, f"{stem}_{_md5(source)}{ext}")
        entry = [filename, key]
        if entry not in self.run_entry["resources"]:
            self.run_entry["resources"].append(entry)
            self._resources.append([filename, None])
            self._pending[key] = ("file", source, None, self._resources[-1])
            self._mark("run.json")
        self._flush()

    def artifact_event(self, name, filename, metadata=None, content_type=None):
        with self._lock:
            self._add_artifact(name, filename, metadata, content_type)

    def _add_artifact(self, name, filename, metadata, content_type, source=None):
        if name in _RUN_FILES:
            raise FileExistsError(
                f"You are trying to overwrite a file necessary for the {type(self).__name__}. "
                f"The list of blacklisted files is: {list(_RUN_FILES)}"
            )
        kwargs = dict(name=name, filename=filename, metadata=metadata, content_type=content_type)
        self._artifacts.append([kwargs, None])
        self.run_entry["artifacts"].append(name)
        self._pending[s3_join(self.dir, name)] = (
            "file",
            source or filename,
            content_type,
            self._artifacts[-1],
        )
        self._mark("run.json")
        self._flush()

    def log_metrics(self, metrics_by_name, info):
        with self._lock:
            changed = not self._metrics_marked  # metrics.json is written even when empty
            self._metrics_marked = True
            for name, metric in metrics_by_name.items():
                stored = self.saved_metrics.setdefault(
                    name, {"steps": [], "timestamps": [], "values": []}
                )
                stored["steps"].extend(metric["steps"])
                stored["values"].extend(metric["values"])
                stored["timestamps"].extend(_iso(t) for t in metric["timestamps"])
                changed = changed or bool(metric["steps"])
            if changed:
                self._mark("metrics.json")
            # uploaded by the heartbeat that always follows

    def join(self):
        with self._lock:
            if self._pending:
                self._flush(final=True)

    # ------------------------------------------------------------ uploads
    def _save_sources(self, ex_info, copies=None):
        """Upload the sources (unless there); ``copies`` maps names to files to read instead."""
        base_dir = ex_info["base_dir"]
        source_info = []
        for name, _ in ex_info["sources"]:
            abspath = os.path.join(base_dir, name)
            path = (copies or {}).get(name, abspath)
            stem, ext = os.path.splitext(os.path.basename(abspath))
            key = s3_join(self.source_dir, f"{stem}_{_md5(path)}{ext}")
            if not self._store_exists(key):
                with open(path, "rb") as f:
                    self._store_put(key, f.read(), None)
            self._source_copies[name] = [path, None]
            source_info.append([name, posixpath.relpath(key, self.basedir or ".")])
        return source_info

    def _state_bytes(self, name):
        if name == "run.json":
            return _json_text(self.run_entry).encode("utf-8"), "text/json"
        if name == "config.json":
            return _json_text(self.config).encode("utf-8"), "text/json"
        if name == "info.json":
            return _json_text(self.info).encode("utf-8"), "text/json"
        if name == "metrics.json":
            return _json_text(self.saved_metrics).encode("utf-8"), "text/json"
        if name == "cout.txt":
            return self.cout.encode("utf-8"), "text/plain"
        raise KeyError(name)

    def _upload_state(self, name, if_absent=False):
        if name == "run.json":
            return self._upload_run_json(if_absent)
        data, content_type = self._state_bytes(name)
        if name == "cout.txt":
            self._cout_uploaded = self.cout
        return self._store_put(s3_join(self.dir, name), data, content_type, if_absent)

    def _upload_run_json(self, if_absent=False):
        """Write run.json, keeping what another writer changed in its meta (see the top)."""
        key = s3_join(self.dir, "run.json")
        for _ in range(_MAX_META_MERGES):
            expected = self._run_version
            if expected is not None and not if_absent:
                current = self._bucket.version(key)
                if current is None:  # removed meanwhile: written again as it is here
                    expected = None
                elif current != expected:
                    data, version = self._bucket.read(key, versioned=True)
                    self._adopt_meta(data)
                    expected = version or current
            data, content_type = self._state_bytes("run.json")
            version = self._bucket.put(
                key, data, content_type, if_absent=if_absent, if_version=expected
            )
            if version is not None:
                self._run_version = version
                return True
            if if_absent:
                return False
        raise ObserverError(f"run.json of {self.dir} changes all the time")

    def _adopt_meta(self, data: bytes):
        """Take the meta of the stored run.json ``data``, with the observer's own keys."""
        try:
            stored = json.loads(data)
        except ValueError:
            return
        meta = stored.get("meta") if isinstance(stored, dict) else None
        if not isinstance(meta, dict):
            return
        mine = self.run_entry.get("meta") or {}
        merged = {k: mine[k] for k in self._own_meta if k in mine}
        merged.update((k, v) for k, v in meta.items() if k not in self._own_meta)
        self.run_entry["meta"] = merged

    def _mark(self, name):
        key = s3_join(self.dir, name)
        self._pending.pop(key, None)  # re-insert: pending uploads keep the event order
        self._pending[key] = ("state", name)

    def _upload(self, key, item):
        if item[0] == "state":
            self._upload_state(item[1])
        else:
            _, path, content_type, record = item
            with open(path, "rb") as f:
                self._store_put(key, f.read(), content_type)

    def _flush(self, final=False):
        """Upload what is pending; keep a local record of what could not be uploaded."""
        if not self._pending:
            return
        deadline = time.monotonic() + (self.FINAL_RETRY_SECONDS if final else 0)
        while True:
            if final or time.monotonic() >= self._retry_after:
                self._try_uploads()
            if not self._pending or time.monotonic() >= deadline:
                break
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
        if self._pending:
            self._write_fallback()
        elif self.fallback_file is not None:
            self._remove_fallback()

    def _try_uploads(self):
        for key, item in list(self._pending.items()):
            try:
                self._upload(key, item)
            except Exception as e:
                self._retry_after = time.monotonic() + self.RETRY_INTERVAL
                logger.debug("%s: upload of %s failed: %s", type(self).__name__, key, e)
                self._keep_file_copies()
                return
            if self._pending.get(key) is item:
                del self._pending[key]

    # ------------------------------------------------------------ fallback record
    def _fallback_path(self):
        directory = os.path.abspath(self.failure_dir or self.FALLBACK_PREFIX)
        stamp = datetime.datetime.now().strftime("%Y%m%dT%H%M%S")
        run_id = self._started["_id"] if self._started else "unknown"
        name = f"{self.FALLBACK_PREFIX}_{run_id}_{stamp}_{os.getpid()}.jsonl"
        return os.path.join(directory, name)

    def _keep_file_copies(self):
        """Copy files whose upload is pending: the originals may be gone by replay time."""
        if self.fallback_file is None:
            self.fallback_file = self._fallback_path()
        files_dir = self.fallback_file + ".files"
        for record in self._source_copies.values():
            if record[1] is None:  # sources may change before the replay: keep them as run
                os.makedirs(files_dir, exist_ok=True)
                record[1] = os.path.join(files_dir, f"source_{len(os.listdir(files_dir))}")
                shutil.copyfile(record[0], record[1])
        for key, item in self._pending.items():
            if item[0] != "file" or item[3][1] is not None:
                continue
            os.makedirs(files_dir, exist_ok=True)
            copy = os.path.join(
                files_dir, f"{len(os.listdir(files_dir))}_{posixpath.basename(key)}"
            )
            shutil.copyfile(item[1], copy)
            item[3][1] = copy
            self._pending[key] = ("file", copy, item[2], item[3])

    def _fallback_records(self):
        sources = {name: copy for name, (_, copy) in self._source_copies.items()}
        yield {"event": "started_event", "kwargs": self._started, "sources": sources}
        for filename, copy in self._resources:
            yield {"event": "resource_event", "kwargs": {"filename": filename}, "file": copy}
        for kwargs, copy in self._artifacts:
            yield {"event": "artifact_event", "kwargs": kwargs, "file": copy}
        if self.saved_metrics:
            yield {
                "event": "log_metrics",
                "kwargs": {"metrics_by_name": self.saved_metrics, "info": {}},
            }
        if self._beat is not None:
            yield {"event": "heartbeat_event", "kwargs": self._beat}
        if self._end is not None:
            yield {"event": self._end[0], "kwargs": self._end[1]}

    def _write_fallback(self):
        first = self.fallback_file is None or not os.path.exists(self.fallback_file)
        self._keep_file_copies()
        os.makedirs(os.path.dirname(self.fallback_file), exist_ok=True)
        lines = []
        for record in self._fallback_records():
            record = dict(record, kwargs=flatten(record["kwargs"]))
            if record.get("file", 1) is None:
                del record["file"]
            lines.append(json.dumps(record) + "\n")
        _jsonio.write_atomic(self.fallback_file, lines)
        if first:
            logger.warning(
                "%s could not upload to %s (bucket %r); the run is kept in %s until it can: "
                "replay it with sacred.observers.s3_observer.replay_fallback(path, observer)",
                type(self).__name__,
                self._store_address(),
                self.bucket_id,
                self.fallback_file,
            )

    def _remove_fallback(self):
        path, self.fallback_file = self.fallback_file, None
        if os.path.exists(path):
            os.remove(path)
            shutil.rmtree(path + ".files", ignore_errors=True)
            logger.warning(
                "%s reached %s again and uploaded everything; removed %s",
                type(self).__name__,
                self._store_address(),
                path,
            )

    def __eq__(self, other):
        if isinstance(other, ObjectStoreObserver):
            return self.bucket_id == other.bucket_id and self.basedir == other.basedir
        return False

    def __hash__(self):
        return hash((self.bucket_id, self.basedir))


def replay_fallback(path, observer) -> object:
    """Write a run kept in a fallback file (see the WARNING that named it) into a store.

    ``observer`` is an ``S3Observer`` or ``GoogleCloudStorageObserver`` for the bucket and
    ``basedir`` to write to (usually built like the one of the run). The record holds the
    whole run, so it can be replayed into an empty store; objects already uploaded are
    overwritten with the same content. Returns the run id. Raises ``ObserverError`` if the
    store still cannot take everything (a new fallback file is then named in a warning).
    """
    with open(path, encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()]
    run_id = None
    with observer._lock:
        for record in records:
            event, kwargs = record["event"], safe_restore(record["kwargs"], "kwargs")
            source = record.get("file")
            if event == "started_event":
                copies = record.get("sources")
                run_id = observer._start(kwargs, exist_ok=True, source_copies=copies)
            elif event == "resource_event":
                observer._add_resource(kwargs["filename"], source=source)
            elif event == "artifact_event":
                observer._add_artifact(source=source, **kwargs)
            else:
                getattr(observer, event)(**kwargs)
        observer._flush(final=True)
        if observer._pending:
            raise ObserverError(
                f"Could not replay {path} completely; the rest is in {observer.fallback_file}"
            )
    return run_id
