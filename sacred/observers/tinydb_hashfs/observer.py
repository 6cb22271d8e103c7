"""TinyDbObserver: runs in a TinyDB file, files in a HashFS folder.

``path/metadata.json`` holds one entry per run in the table ``runs`` (the keys of a
MongoObserver document; datetimes, arrays, frames and file handles are stored through
the serializers of ``bases``) and ``path/hashfs/`` holds sources, resources and artifacts
under their md5. The tables are read and written by ``tables`` (metadata.json itself, kept
in memory between events, as TinyDB would write it; or through TinyDB for another storage).
tinydb, tinydb-serialization and hashfs are imported when an observer or reader is built
(``pip install "sacred[tinydb]"``).
"""

import contextlib
import importlib
import os
import uuid
import warnings

from sacred.__about__ import __version__
from sacred.observers.base import RunObserver
from sacred.observers.checkpoints import is_checkpoint

__all__ = ("TinyDbObserver", "load_bases")


def load_bases():
    """The module ``bases`` (which imports tinydb, tinydb-serialization and hashfs), or an
    ImportError that names the extra to install."""
    try:  # imported here: ``bases`` imports the optional libraries at its top
        bases = importlib.import_module("sacred.observers.tinydb_hashfs.bases")
    except ImportError as e:
        raise ImportError(
            "The TinyDB observer needs tinydb, tinydb-serialization and hashfs: "
            'pip install "sacred[tinydb]"'
        ) from e
    return bases


class TinyDbObserver(RunObserver):
    """Stores each run as an entry of the ``runs`` table of ``path/metadata.json``."""

    VERSION = f"TinyDbObserver-{__version__}"

    @classmethod
    def create(cls, path="./runs_db", overwrite=None):
        warnings.warn(
            "TinyDbObserver.create(...) is deprecated. Please use TinyDbObserver(...) instead.",
            DeprecationWarning,
            stacklevel=1,  # Sacred's module, as the original: hidden by default filters
        )
        return cls(path, overwrite)

    def __init__(self, path="./runs_db", overwrite=None):
        bases = load_bases()
        root_dir = os.path.abspath(path)
        os.makedirs(root_dir, exist_ok=True)
        db, fs = bases.get_db_file_manager(root_dir)
        self._initialize(db, fs, overwrite, root_dir)

    @classmethod
    def create_from(cls, db, fs, overwrite=None, root=None):
        self = cls.__new__(cls)
        self._initialize(db, fs, overwrite, root)
        return self

    def _initialize(self, db, fs, overwrite, root):
        from sacred.observers.tinydb_hashfs import tables

        self.db = db
        self.runs = db.table("runs")
        self.fs = fs
        self.overwrite = overwrite
        self.run_entry = {}
        self.db_run_id = None
        self.root = root
        json_file = _json_file(db)
        # the file itself when it is TinyDB's JSON file as get_db_file_manager makes it
        # (much faster, see ``tables``), else through TinyDB
        self._tables = tables.TinyTables(db) if json_file is None else tables.FileTables(*json_file)
        folder = root or _folder_of(db)
        if folder is not None:
            from sacred.observers.tinydb_hashfs.lock import folder_lock

            self._lock = folder_lock(folder)
        else:  # a TinyDB without a file (create_from with another storage): nothing to lock
            self._lock = contextlib.nullcontext()

    @property
    def store_location(self):
        """Where ``sacred.store.open_store`` reads what this observer writes."""
        folder = self.root or _folder_of(self.db)
        return None if folder is None else f"tinydb://{folder}"

    # ------------------------------------------------------------ storing
    def save(self):
        """Insert the entry on the first save, update that document afterwards (each under
        the folder's lock, see ``lock``)."""
        with self._lock:
            if self.db_run_id is None:
                self.db_run_id = self._tables.insert_run(self.run_entry)
            else:  # keeping the ``meta`` keys others added (tags, notes, update_meta)
                self._tables.update_run(self.db_run_id, self.run_entry)
            self.runs.clear_cache()  # its queries may have been answered before the write

    def _store_file(self, filename, address=None):
        """Put ``filename`` into the HashFS (unless there); return (id, open handle).

        Called under the folder's lock, in the hold of the save that refers to the file: a
        replaced checkpoint's file is removed under that lock when no entry refers to it
        (``_forget_file``). ``address``: where the file was put before the lock was taken
        (a large file takes a while); put again if it has gone since."""
        if address is None or not os.path.isfile(address.abspath):
            address = self.fs.put(filename)
        handle = load_bases().BufferedReaderWrapper(open(address.abspath, "rb"))
        return address.id, handle

    def _forget_file(self, file_id):
        """Remove the HashFS file ``file_id`` unless an entry of the folder refers to it (the
        HashFS holds each content once, for every run). Called under the folder's lock."""
        folder = self.root or _folder_of(self.db)
        if folder is None or not isinstance(file_id, str):
            return  # entries it cannot read: the file stays
        try:
            with open(os.path.join(folder, "metadata.json"), encoding="utf-8") as f:
                if file_id in f.read():  # an entry's file id, or a file handle's tag
                    return
        except OSError:
            return
        path = self.fs.realpath(file_id)
        hashfs = os.path.join(os.path.abspath(self.fs.root), "")
        if path and os.path.abspath(path).startswith(hashfs):
            with contextlib.suppress(OSError):
                os.remove(path)  # its empty folders stay (a put may be making them)

    def save_sources(self, ex_info):
        base_dir = ex_info["base_dir"]
        source_info = []
        for source_name, md5 in ex_info["sources"]:
            address = self.fs.get(md5)
            if address is None:
                file_id, handle = self._store_file(os.path.join(base_dir, source_name))
            else:
                file_id = address.id
                handle = load_bases().BufferedReaderWrapper(open(address.abspath, "rb"))
            source_info.append([source_name, file_id, handle])
        return source_info

    # ------------------------------------------------------------ events
    def queued_event(self, ex_info, command, host_info, queue_time, config, meta_info, _id):
        """Store a QUEUED entry (beyond Sacred 0.8.7, which raises NotImplementedError):
        experiment (sources saved), command, host, config and meta; no start time."""
        if self.overwrite is not None:
            raise RuntimeError("Can't overwrite with QUEUED run.")
        with self._lock:
            return self._queue(ex_info, command, host_info, config, meta_info, _id)

    def _queue(self, ex_info, command, host_info, config, meta_info, _id):
        self.db_run_id = None
        self._tables.start_metrics()
        experiment = dict(ex_info)
        experiment["sources"] = self.save_sources(ex_info)
        self.run_entry = {
            "_id": uuid.uuid4().hex if _id is None else _id,
            "experiment": experiment,
            "format": self.VERSION,
            "command": command,
            "host": dict(host_info),
            "config": config,
            "meta": meta_info,
            "status": "QUEUED",
        }
        self.save()
        return self.run_entry["_id"]

    def continued_event(self, ex_info, command, host_info, start_time, config, meta_info, _id):
        """Continue the entry ``_id`` (see ``RunObserver.continued_event``): it becomes
        RUNNING again, keeping its output, metrics, files and info; new metric points go on
        after the stored ones. Without such an entry, a ``started_event`` with that id."""
        from sacred.observers.tinydb_hashfs.tables import same_id

        with self._lock:
            doc_id, old = self._tables.find_run(lambda v: same_id(v, _id))
            if old is None:
                return self.started_event(
                    ex_info, command, host_info, start_time, config, meta_info, _id
                )
            self.db_run_id = doc_id
            experiment = dict(ex_info)
            experiment["sources"] = self.save_sources(ex_info)
            entry = {k: v for k, v in old.items() if k not in ("stop_time", "fail_trace")}
            entry.update(
                experiment=experiment,
                command=command,
                host=dict(host_info),
                config=config,
                meta=meta_info,
                status="RUNNING",
                heartbeat=start_time,
            )
            if entry.get("start_time") is None:
                entry["start_time"] = start_time
            for key, empty in (("resources", []), ("artifacts", []), ("info", {})):
                if not isinstance(entry.get(key), type(empty)):
                    entry[key] = empty
            entry.setdefault("captured_out", "")
            self.run_entry = entry
            self._tables.update_run(self.db_run_id, entry, replace=True)
            self.runs.clear_cache()
            # new points are added to the stored entry of each metric
            self._tables.start_metrics(old["_id"])
            return old["_id"]

    def started_event(self, ex_info, command, host_info, start_time, config, meta_info, _id):
        with self._lock:
            return self._start(ex_info, command, host_info, start_time, config, meta_info, _id)

    def _start(self, ex_info, command, host_info, start_time, config, meta_info, _id):
        self.db_run_id = None
        self._tables.start_metrics()
        if self.overwrite is not None:
            overwrite = self.overwrite
            doc_id, _ = self._tables.find_run(lambda v: v == overwrite)
            if doc_id is None:
                raise RuntimeError(f"Couldn't find run to overwrite with _id='{self.overwrite}'")
            self.db_run_id = doc_id
            _id = self.overwrite
            self.overwrite = None  # only once
            self._tables.start_metrics(_id, remove=True)  # the run starts afresh
        experiment = dict(ex_info)
        experiment["sources"] = self.save_sources(ex_info)
        self.run_entry = {
            "_id": uuid.uuid4().hex if _id is None else _id,
            "experiment": experiment,
            "format": self.VERSION,
            "command": command,
            "host": dict(host_info),
            "start_time": start_time,
            "config": config,
            "meta": meta_info,
            "status": "RUNNING",
            "resources": [],
            "artifacts": [],
            "captured_out": "",
            "info": {},
            "heartbeat": None,
        }
        self.save()
        return self.run_entry["_id"]

    def heartbeat_event(self, info, captured_out, beat_time, result):
        self.run_entry["info"] = info
        self.run_entry["captured_out"] = captured_out
        self.run_entry["heartbeat"] = beat_time
        self.run_entry["result"] = result
        self.save()

    def completed_event(self, stop_time, result):
        self.run_entry["stop_time"] = stop_time
        self.run_entry["result"] = result
        self.run_entry["status"] = "COMPLETED"
        self.save()

    def interrupted_event(self, interrupt_time, status):
        self.run_entry["stop_time"] = interrupt_time
        self.run_entry["status"] = status
        self.save()

    def failed_event(self, fail_time, fail_trace):
        self.run_entry["stop_time"] = fail_time
        self.run_entry["status"] = "FAILED"
        self.run_entry["fail_trace"] = fail_trace
        self.save()

    def resource_event(self, filename):
        address = self.fs.put(filename)
        with self._lock:
            file_id, handle = self._store_file(filename, address)
            if [filename, file_id] not in [r[:2] for r in self.run_entry["resources"]]:
                self.run_entry["resources"].append([filename, file_id, handle])
                self.save()
            else:
                handle.close()

    def artifact_event(self, name, filename, metadata=None, content_type=None):
        """Add the artifact to the entry; a checkpoint whose name the entry lists already
        replaces the last artifact of that name, and its old file is removed unless an
        entry still refers to it."""
        address = self.fs.put(filename)
        with self._lock:
            file_id, handle = self._store_file(filename, address)
            artifacts = self.run_entry["artifacts"]
            entry = [name, filename, file_id, handle]
            names = [a[0] for a in artifacts]
            if is_checkpoint(metadata) and name in names:
                index = len(names) - 1 - names[::-1].index(name)
                old, artifacts[index] = artifacts[index], entry
                self.save()
                if len(old) > 3 and hasattr(old[3], "close"):
                    old[3].close()
                if old[2] != file_id:
                    self._forget_file(old[2])
            else:
                artifacts.append(entry)
                self.save()

    def log_metrics(self, metrics_by_name, info):
        """Append the new points to one entry per metric in the table ``metrics``:
        ``{run_id, name, steps, values, timestamps}`` (not in the original Sacred; the
        ``runs`` entries are unchanged, so readers of the original format are not affected).
        """
        with self._lock:
            self._tables.add_points(self.run_entry["_id"], metrics_by_name)

    def __eq__(self, other):
        if isinstance(other, TinyDbObserver):
            return self.runs.all() == other.runs.all()
        return False

    __hash__ = RunObserver.__hash__


def _json_file(db):
    """``(path, serializers)`` of a TinyDB whose storage is tinydb-serialization's
    middleware on a writable ``JSONStorage`` with json's default layout, else None."""
    from tinydb.storages import JSONStorage
    from tinydb_serialization import SerializationMiddleware

    middleware = getattr(db, "storage", None)
    if not isinstance(middleware, SerializationMiddleware):
        return None
    storage = getattr(middleware, "storage", None)
    if type(storage) is not JSONStorage or storage.kwargs or "+" not in storage._mode:
        return None
    return os.path.abspath(storage._handle.name), middleware._serializers


def _folder_of(db):
    """The folder of a TinyDB's JSON file (through its middleware), or None."""
    storage = getattr(db, "storage", None)
    for _ in range(3):
        handle = getattr(storage, "_handle", None)
        if handle is not None and getattr(handle, "name", None):
            return os.path.dirname(os.path.abspath(handle.name))
        storage = getattr(storage, "storage", None)
    return None
