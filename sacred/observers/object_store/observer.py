"""``ObjectStoreObserver``: what the S3 and Google Cloud Storage observers share.

Runs are stored in the layout of the FileStorageObserver under ``basedir/<id>/`` (see
``layout``); a subclass only gives the ``Bucket`` to talk to (``self._bucket``, see
``bucket``). A store that cannot be reached, at the start or later, never fails the run:
what could not be uploaded is kept in a journal (``sacred.observers.journal``) that
``sacred sync`` writes into the store later (``object_store.journal`` applies it).
"""

import json
import logging
import os
import posixpath
import threading
import time

from sacred.dependencies import get_digest as _md5
from sacred.observers import journal as _journal
from sacred.observers.base import RunObserver
from sacred.observers.checkpoints import is_checkpoint, replace_copy
from sacred.observers.object_store.continued import ContinuedRuns
from sacred.observers.object_store.layout import RUN_FILES as _RUN_FILES
from sacred.observers.object_store.layout import iso as _iso
from sacred.observers.object_store.layout import join as s3_join
from sacred.observers.object_store.layout import json_text as _json_text
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
# ``FINAL_RETRY_SECONDS``. A store that cannot be reached at the start does not fail the
# run either: the run's directory is claimed (and its sources uploaded) once the store is
# back. While something is pending, the journal holds the whole run, every event with the
# number it got when it happened (its path is logged in a WARNING); ``sacred sync`` writes
# it into the store later. Once everything is uploaded the journal is removed again.
#
# The meta of a run may be changed by a store (``ObjectStore.update_meta``: Sacredboard's tags
# and notes) while the run goes on. Before each write of run.json the observer compares the
# object's version with the one it wrote last; if another writer changed it, the observer
# takes that meta and keeps only its own keys (those it wrote at the start) over it. Its write
# is conditional on the version it saw, where the server supports conditional writes.

_MAX_ID_ATTEMPTS = 1000
_MAX_META_MERGES = 10

logger = logging.getLogger("sacred.observers.s3_observer")  # the name users configure


class ObjectStoreObserver(ContinuedRuns, RunObserver):
    """Stores runs like ``FileStorageObserver`` does, as objects in a bucket (queued runs
    and continued records: see ``continued``)."""

    STORE_NAME = "object store"  # used in messages
    SCHEME = "object"  # of its locations: s3, gs
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
        self.fallback_file = None  # path of the journal while uploads are pending
        self._lock = threading.RLock()
        self._journal = None
        self._journaling = True  # False for an observer that applies a journal (sync)
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
        self._claimed = True  # False while the store has not got the run yet
        self._continued = False  # True: the run continues a stored record (see continued)
        self._next_seq = 1  # event numbers (the start is 0)
        self._beat_seq = self._end_seq = self._metrics_seq = None

    # ------------------------------------------------------------ store interface
    _bucket = None  # the Bucket, set by the subclass

    def _store_bucket_exists(self) -> bool:
        return self._bucket.bucket_exists()

    def _store_create_bucket(self) -> bool:
        return self._bucket.create_bucket()

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

    def _begin_run(self, kwargs, heartbeat):
        """Fresh state and a RUNNING entry for a started (or continued) event's ``kwargs``."""
        self._reset_run()
        self.fallback_file = None
        self._journal = None
        self.run_entry = {
            "experiment": dict(kwargs["ex_info"]),
            "command": kwargs["command"],
            "host": dict(kwargs["host_info"]),
            "start_time": _iso(kwargs["start_time"]),
            "meta": kwargs["meta_info"],
            "status": "RUNNING",
            "resources": [],
            "artifacts": [],
            "heartbeat": heartbeat,
        }
        self._own_meta = tuple(kwargs["meta_info"] or ())
        self.config = kwargs["config"]

    def _start(self, kwargs, exist_ok=False, source_copies=None):
        """Start the run. A store that cannot be reached does not fail the run: the run's
        directory is claimed when the store is back (``_claim_late``), or by ``sacred sync``.
        """
        self._begin_run(kwargs, heartbeat=None)
        ex_info = kwargs["ex_info"]
        self.info = {}
        self.cout = ""
        self.saved_metrics = {}
        self._started = dict(kwargs)
        self.dir = None
        try:
            bucket_created = self._reach_bucket()
            self.run_entry["experiment"]["sources"] = self._save_sources(ex_info, source_copies)
            run_id = self._claim_run_dir(kwargs["_id"], bucket_created, exist_ok)
        except Exception as e:
            if not self._journaling or isinstance(e, FileExistsError):
                raise
            self._claimed = False
            self._retry_after = time.monotonic() + self.RETRY_INTERVAL
            self.run_entry["experiment"]["sources"] = self._source_keys(ex_info, source_copies)
            reason = str(e) if isinstance(e, ConnectionError) else f"{type(e).__name__}: {e}"
            logger.warning(
                "%s; the run goes on and is kept in a journal until the store is back.", reason
            )
            self._write_fallback()
            return kwargs["_id"]
        self._started["_id"] = run_id
        self._upload_state("config.json")
        self._upload_state("cout.txt")
        return run_id

    def _reach_bucket(self) -> bool:
        """Make sure the bucket exists; True if it was created."""
        try:
            bucket_created = not self._store_bucket_exists() and self._store_create_bucket()
        except Exception as e:
            if isinstance(e, ConnectionError) and str(e).startswith(type(self).__name__):
                raise
            raise ConnectionError(
                f"{type(self).__name__} could not reach the bucket {self.bucket_id!r} at "
                f"{self._store_address()}: {e}"
            ) from e
        return bucket_created

    def _claim_late(self):
        """The store is back: claim the run's directory, then upload everything."""
        ex_info = self._started["ex_info"]
        copies = {name: record[1] or record[0] for name, record in self._source_copies.items()}
        bucket_created = self._reach_bucket()
        self.run_entry["experiment"]["sources"] = self._save_sources(ex_info, copies)
        run_id = self._started["_id"]
        stored = self._read_stored(run_id) if self._continued and not bucket_created else None
        if stored is not None:  # a continued run: folded into its stored record
            self.dir = s3_join(self.basedir, str(run_id))
            self.adopt_stored(stored)
        else:
            run_id = self._claim_run_dir(run_id, bucket_created, exist_ok=self._continued)
        self._started["_id"] = run_id
        self._claimed = True
        for record in self._artifacts:
            kwargs = record[0]
            key = s3_join(self.dir, kwargs["name"])
            source = record[1] or kwargs["filename"]
            self._pending[key] = ("file", source, kwargs.get("content_type"), record)
        for name in ("config.json", "cout.txt", "info.json", "metrics.json", "run.json"):
            if name != "info.json" or self.info:
                if name != "metrics.json" or self._metrics_marked:
                    self._mark(name)

    def heartbeat_event(self, info, captured_out, beat_time, result):
        with self._lock:
            self.info = info
            self.run_entry["heartbeat"] = _iso(beat_time)
            self.run_entry["result"] = result
            self._beat = dict(info=info, captured_out=captured_out, beat_time=beat_time)
            self._beat["result"] = result
            self._beat_seq = self._seq()
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
            self._end_seq = self._seq()
            self._end = ("completed_event", dict(stop_time=stop_time, result=result))
            self._mark("run.json")
            self._flush(final=True)

    def interrupted_event(self, interrupt_time, status):
        with self._lock:
            self.run_entry["stop_time"] = _iso(interrupt_time)
            self.run_entry["status"] = status
            self._end_seq = self._seq()
            self._end = ("interrupted_event", dict(interrupt_time=interrupt_time, status=status))
            self._mark("run.json")
            self._flush(final=True)

    def failed_event(self, fail_time, fail_trace):
        with self._lock:
            self.run_entry["stop_time"] = _iso(fail_time)
            self.run_entry["status"] = "FAILED"
            self.run_entry["fail_trace"] = fail_trace
            self._end_seq = self._seq()
            self._end = ("failed_event", dict(fail_time=fail_time, fail_trace=fail_trace))
            self._mark("run.json")
            self._flush(final=True)

    def resource_event(self, filename):
        with self._lock:
            self._add_resource(filename)

    def _add_resource(self, filename, source=None, seq=None, flush=True):
        filename = os.path.abspath(filename)
        source = source or filename
        stem, ext = os.path.splitext(os.path.basename(filename))
        key = s3_join(self.resource_dir, f"{stem}_{_md5(source)}{ext}")
        entry = [filename, key]
        if entry not in self.run_entry["resources"]:
            self.run_entry["resources"].append(entry)
            self._resources.append([filename, None, self._seq() if seq is None else seq])
            self._pending[key] = ("file", source, None, self._resources[-1])
            self._mark("run.json")
        if flush:
            self._flush()

    def artifact_event(self, name, filename, metadata=None, content_type=None):
        with self._lock:
            self._add_artifact(name, filename, metadata, content_type)

    def _add_artifact(
        self, name, filename, metadata, content_type, source=None, seq=None, flush=True
    ):
        if name in _RUN_FILES:
            raise FileExistsError(
                f"You are trying to overwrite a file necessary for the {type(self).__name__}. "
                f"The list of blacklisted files is: {list(_RUN_FILES)}"
            )
        kwargs = dict(name=name, filename=filename, metadata=metadata, content_type=content_type)
        record = [kwargs, source, self._seq() if seq is None else seq]
        if is_checkpoint(metadata) and name in self.run_entry["artifacts"]:
            # replaces the object of its name, and the event of the artifact it replaces
            old = [r for r in self._artifacts if r[0]["name"] == name][-1:]
            self._artifacts = [r for r in self._artifacts if not (old and r is old[0])]
            if old and old[0][1] and not source and self._journaling:
                record[1] = replace_copy(old[0][1], filename)  # the journal's copy
        else:
            self.run_entry["artifacts"].append(name)
        self._artifacts.append(record)
        if self._claimed:
            path = record[1] or filename
            self._pending[s3_join(self.dir, name)] = ("file", path, content_type, record)
        self._mark("run.json")
        if flush:
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
                self._metrics_seq = self._seq()
            # uploaded by the heartbeat that always follows

    def join(self):
        with self._lock:
            if self._pending or not self._claimed:
                self._flush(final=True)

    def _seq(self) -> int:
        seq = self._next_seq
        self._next_seq += 1
        return seq

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

    def _source_keys(self, ex_info, copies=None):
        """The source entries of run.json, computed without the store (uploaded later)."""
        source_info = []
        for name, _ in ex_info["sources"]:
            abspath = os.path.join(ex_info["base_dir"], name)
            path = (copies or {}).get(name, abspath)
            stem, ext = os.path.splitext(os.path.basename(abspath))
            key = s3_join(self.source_dir, f"{stem}_{_md5(path)}{ext}")
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
        if not self._claimed:
            return  # everything is marked once the run's directory is claimed
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
        """Upload what is pending; keep a journal of the run while something could not be."""
        if not self._pending and self._claimed:
            return
        deadline = time.monotonic() + (self.FINAL_RETRY_SECONDS if final else 0)
        while True:
            if final or time.monotonic() >= self._retry_after:
                if not self._claimed:
                    self._try_claim()
                if self._claimed:
                    self._try_uploads()
            if (self._claimed and not self._pending) or time.monotonic() >= deadline:
                break
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
        if self._pending or not self._claimed:
            self._write_fallback()
        elif self.fallback_file is not None:
            self._remove_fallback()

    def _try_claim(self):
        try:
            self._claim_late()
        except Exception as e:
            if not self._journaling:
                raise
            self._retry_after = time.monotonic() + self.RETRY_INTERVAL
            logger.debug("%s: the store is still away: %s", type(self).__name__, e)

    def _try_uploads(self):
        for key, item in list(self._pending.items()):
            try:
                self._upload(key, item)
            except Exception as e:
                if not self._journaling:
                    raise
                self._retry_after = time.monotonic() + self.RETRY_INTERVAL
                logger.debug("%s: upload of %s failed: %s", type(self).__name__, key, e)
                self._keep_file_copies()
                return
            if self._pending.get(key) is item:
                del self._pending[key]

    # ------------------------------------------------------------ journal
    def journal_location(self):
        """``(location, options)`` of the store, as a journal records it."""
        basedir = self.basedir.strip("/")
        return f"{self.SCHEME}://{self.bucket_id}/{basedir}", self._journal_options()

    def _journal_options(self) -> dict:
        return {}

    def _journal_of_run(self) -> _journal.Journal:
        if self._journal is None:
            known = self._started and (self._claimed or self._continued)
            run_id = self._started["_id"] if known else "new"
            store, options = self.journal_location()
            self._journal = _journal.Journal(
                os.path.abspath(self.failure_dir or self.FALLBACK_PREFIX),
                f"{self.FALLBACK_PREFIX}_{run_id}_",
                store,
                options,
            )
        return self._journal

    def _keep_file_copies(self):
        """Copy files whose upload is pending: the originals may be gone by sync time."""
        journal = self._journal_of_run()
        self.fallback_file = journal._file_path()
        for record in self._source_copies.values():
            if record[1] is None:  # sources may change before the sync: keep them as run
                record[1] = journal.keep(record[0])
        for key, item in self._pending.items():
            if item[0] != "file" or item[3][1] is not None:
                continue
            copy = journal.keep(item[1])
            item[3][1] = copy
            self._pending[key] = ("file", copy, item[2], item[3])
        if not self._claimed:
            for record in self._resources + self._artifacts:
                if record[1] is None:
                    source = record[0] if isinstance(record[0], str) else record[0]["filename"]
                    record[1] = journal.keep(source)

    def _journal_lines(self):
        """The whole run as journal lines, each event with the number it got (a line is the
        same in every version of the journal, so a sync in between stays right)."""
        journal = self._journal_of_run()
        claimed = self._claimed
        run_id = self._started["_id"] if claimed or self._continued else None
        pending = {id(item[3]) for item in self._pending.values() if item[0] == "file"}
        sources = {f"source:{name}": copy for name, (_, copy) in self._source_copies.items()}
        lines = [
            journal.line(
                "started_event",
                self._started,
                seq=0,
                run=run_id,
                files=sources,
                delivered=claimed or None,
                continued=self._continued or None,
            )
        ]
        for record in self._resources:
            uploaded = claimed and id(record) not in pending
            lines.append(
                journal.line(
                    "resource_event",
                    {"filename": record[0]},
                    seq=record[2],
                    run=run_id,
                    files={"filename": record[1]},
                    uploaded=uploaded or None,
                )
            )
        for record in self._artifacts:
            uploaded = claimed and id(record) not in pending
            lines.append(
                journal.line(
                    "artifact_event",
                    record[0],
                    seq=record[2],
                    run=run_id,
                    files={"filename": record[1]},
                    uploaded=uploaded or None,
                )
            )
        if self._metrics_seq is not None:
            # the metrics so far, whole (metrics.json is written whole)
            lines.append(
                journal.line(
                    "log_metrics",
                    {"metrics_by_name": self.saved_metrics, "info": {}},
                    seq=self._metrics_seq,
                    run=run_id,
                    whole=True,
                )
            )
        if self._beat is not None:
            lines.append(
                journal.line("heartbeat_event", self._beat, seq=self._beat_seq, run=run_id)
            )
        if self._end is not None:
            lines.append(journal.line(self._end[0], self._end[1], seq=self._end_seq, run=run_id))
        lines.sort(key=lambda line: line["seq"])
        return lines

    def _write_fallback(self):
        if not self._journaling:
            return
        first = self.fallback_file is None or not os.path.exists(self.fallback_file)
        try:
            self._keep_file_copies()
            self.fallback_file = self._journal_of_run().rewrite(self._journal_lines())
        except OSError as e:
            logger.error("%s: the journal cannot be written: %s", type(self).__name__, e)
            return
        if first:
            logger.warning(
                "%s could not upload to %s (bucket %r); the run is kept in the journal %s "
                "until it can; write it into the store later with: sacred sync %s",
                type(self).__name__,
                self._store_address(),
                self.bucket_id,
                self.fallback_file,
                self.fallback_file,
            )

    def _remove_fallback(self):
        path, self.fallback_file = self.fallback_file, None
        if self._journal is not None:
            self._journal.remove()
        if path and not os.path.exists(path):
            logger.warning(
                "%s reached %s again and uploaded everything; removed %s",
                type(self).__name__,
                self._store_address(),
                path,
            )

    @classmethod
    def for_journal(cls, location, **options):
        """An observer for ``<scheme>://bucket/basedir`` that writes a journal into it."""
        scheme = f"{cls.SCHEME}://"
        text = str(location)
        if not text.startswith(scheme):
            raise ValueError(f"not a {scheme} location: {text}")
        bucket, _, basedir = text[len(scheme) :].partition("/")
        observer = cls(bucket, basedir.strip("/"), **options)
        observer._journaling = False
        return observer

    def apply_journal(self, events):
        """Apply journal events to this store (see ``object_store.journal``); returns
        ``(run id, applied, already there)``."""
        from sacred.observers.object_store.journal import ObjectJournal  # it uses this class

        with self._lock:
            journaling, self._journaling = self._journaling, False
            try:
                return ObjectJournal(self).apply(events)
            finally:
                self._journaling = journaling

    def __eq__(self, other):
        if isinstance(other, ObjectStoreObserver):
            return self.bucket_id == other.bucket_id and self.basedir == other.basedir
        return False

    def __hash__(self):
        return hash((self.bucket_id, self.basedir))


def replay_fallback(path, observer) -> object:
    """Write the journal ``path`` into the store of ``observer`` (an ``S3Observer`` or
    ``GoogleCloudStorageObserver``); returns the run id. The same as
    ``sacred.observers.journal.sync(path, observer)``; raises ``JournalError`` if the store
    cannot take everything (syncing again finishes the job)."""
    return _journal.sync(path, observer).run
