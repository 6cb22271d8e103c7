"""FileStorageObserver: every run in its own numbered directory of JSON files.

Layout of ``basedir`` (the format of the original Sacred, which dashboards read)::

    basedir/_sources/<stem>_<md5><ext>
    basedir/_resources/<stem>_<md5><ext>
    basedir/<id>/run.json config.json cout.txt info.json metrics.json <artifacts>

Beyond the original: many processes may start runs in one folder at once (ids come from
an atomic ``os.mkdir``, JSON files are replaced atomically), a new id does not list the
folder (a hint in the user's cache directory, see ``_run_ids``), ``cout.txt`` only gets the new output appended, and ``metrics.json`` is kept
encoded in memory, so a heartbeat only encodes what is new (``info.json`` likewise re-encodes
only what changed, see ``_info_json``).

Others may add keys to ``meta`` of ``run.json`` while the run is running (Sacredboard's
tags and notes, through ``FileStore.update_meta``): before each write of ``run.json`` the
observer compares the file with its own last write (one ``stat``), and if someone else
replaced it, reads its ``meta`` and keeps the keys there that are not the run's own
``meta`` keys (a key removed there stays removed). The run's own keys are the observer's.
"""

import json
import os
import shutil
import threading
import warnings
from pathlib import Path

from sacred.dependencies import get_digest as _md5
from sacred.observers import _jsonio
from sacred.observers.base import RunObserver
from sacred.observers.file_storage import _metric_sidecar, _run_ids
from sacred.observers.file_storage._info_json import InfoEncoder
from sacred.serializer import flatten
from sacred.utils import SacredError

_scan_max_id = _run_ids.scan_max_id  # the original's way of finding the next id (bench/)

__all__ = ("FileStorageObserver", "DEFAULT_FILE_STORAGE_PRIORITY")

DEFAULT_FILE_STORAGE_PRIORITY = 20

_BLACKLIST = ("run.json", "config.json", "cout.txt", "metrics.json")
_METRIC_FIELDS = ("steps", "timestamps", "values")  # sorted, as sort_keys writes them


def _copy_atomic(src, dst) -> None:
    """Copy so that ``dst`` appears complete or not at all (others may copy the same file)."""
    tmp = f"{dst}.{os.getpid()}.{threading.get_ident()}.tmp"
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


class RunFolderError(SacredError):
    """The observer's folder cannot be made (a file in the way, no permission, ...)."""

    def __init__(self, message):
        super().__init__(message, print_traceback=False)


class FileStorageObserver(RunObserver):
    """Stores each run in ``basedir/<id>/`` as JSON files plus copies of sources and files."""

    VERSION = "FileStorageObserver-0.7.0"

    @classmethod
    def create(cls, *args, **kwargs):
        warnings.warn(
            "FileStorageObserver.create(...) is deprecated. "
            "Please use FileStorageObserver(...) instead.",
            DeprecationWarning,
            stacklevel=1,  # Sacred's module, as the original: hidden by default filters
        )
        return cls(*args, **kwargs)

    def __init__(
        self,
        basedir,
        resource_dir=None,
        source_dir=None,
        template=None,
        priority: int = DEFAULT_FILE_STORAGE_PRIORITY,
        copy_artifacts: bool = True,
        copy_sources: bool = True,
    ):
        basedir = str(basedir)
        resource_dir = resource_dir or os.path.join(basedir, "_resources")
        source_dir = source_dir or os.path.join(basedir, "_sources")
        if template is not None:
            if not os.path.exists(template):
                raise FileNotFoundError(f"Couldn't find template file '{template}'")
        else:
            template = os.path.join(basedir, "template.html")
            if not os.path.exists(template):
                template = None
        self.initialize(
            basedir,
            resource_dir,
            source_dir,
            template,
            priority,
            copy_artifacts,
            copy_sources,
        )

    @classmethod
    def create_from(cls, *args, **kwargs):
        """Build an observer from exactly the given directories (no defaults, no checks)."""
        self = cls.__new__(cls)
        self.initialize(*args, **kwargs)
        return self

    def initialize(
        self,
        basedir,
        resource_dir,
        source_dir,
        template,
        priority=DEFAULT_FILE_STORAGE_PRIORITY,
        copy_artifacts=True,
        copy_sources=True,
    ):
        self.basedir = str(basedir)
        self.resource_dir = resource_dir
        self.source_dir = source_dir
        self.template = template
        self.priority = priority
        self.copy_artifacts = copy_artifacts
        self.copy_sources = copy_sources
        self.dir = None
        self.run_entry = None
        self.config = None
        self.info = None
        self.cout = ""
        self.cout_write_cursor = 0
        # the heartbeat thread and the main thread (artifacts, resources) both send events
        self._lock = threading.RLock()
        self._metrics = None  # name -> {field: [encoded chunks]}, see log_metrics
        self._metrics_written = False
        self._run_json_key = None  # _jsonio.file_key of run.json as this observer last wrote it
        self._other_meta = {}  # meta keys others set in run.json (see module docstring)
        self._forget_info()

    # ------------------------------------------------------------ run directory
    def _make_dir(self, _id):
        try:
            os.makedirs(self.basedir, exist_ok=True)
        except OSError as e:
            raise RunFolderError(
                f"Cannot make the FileStorageObserver folder {self.basedir!r}: {e.strerror or e}"
            ) from None
        if _id is not None:
            os.mkdir(os.path.join(self.basedir, str(_id)))  # raises if it exists
            return _id
        return _run_ids.make_run_dir(self.basedir)

    def _make_run_dir(self, _id):
        run_id = self._make_dir(_id)
        self.dir = os.path.join(self.basedir, str(run_id))
        return run_id

    # ------------------------------------------------------------ events
    def queued_event(self, ex_info, command, host_info, queue_time, config, meta_info, _id):
        with self._lock:
            run_id = self._make_run_dir(_id)
            self.run_entry = {
                "experiment": dict(ex_info),
                "command": command,
                "host": dict(host_info),
                "meta": meta_info,
                "status": "QUEUED",
            }
            self.config = config
            self._forget_run_json()
            self.save_run_entry()
            self.save_json(self.config, "config.json")
            if self.copy_sources:
                for name, _ in ex_info["sources"]:
                    self.save_file(os.path.join(ex_info["base_dir"], name))
            return run_id

    def started_event(self, ex_info, command, host_info, start_time, config, meta_info, _id):
        with self._lock:
            run_id = self._make_run_dir(_id)
            experiment = dict(ex_info)
            experiment["sources"] = self.save_sources(ex_info)
            self.run_entry = {
                "experiment": experiment,
                "command": command,
                "host": dict(host_info),
                "start_time": start_time.isoformat(),
                "meta": meta_info,
                "status": "RUNNING",
                "resources": [],
                "artifacts": [],
                "heartbeat": None,
            }
            self.config = config
            self.info = {}
            self.cout = ""
            self.cout_write_cursor = 0
            self._metrics = None
            self._metrics_written = False
            self._forget_run_json()
            self._forget_info()
            self.save_run_entry()
            self.save_json(self.config, "config.json")
            self.save_cout()
            return run_id

    @property
    def store_location(self):
        """Where ``sacred.store.open_store`` reads what this observer writes."""
        return self.basedir

    def continued_event(self, ex_info, command, host_info, start_time, config, meta_info, _id):
        """Continue the run folder ``_id`` (see ``RunObserver.continued_event``)."""
        with self._lock:
            run_dir = os.path.join(self.basedir, str(_id))
            try:
                with open(os.path.join(run_dir, "run.json"), encoding="utf-8") as f:
                    old = json.load(f)
            except (OSError, ValueError):
                old = None
            if not isinstance(old, dict):
                return self.started_event(
                    ex_info, command, host_info, start_time, config, meta_info, _id
                )
            self.dir = run_dir
            experiment = dict(ex_info)
            experiment["sources"] = self.save_sources(ex_info)
            entry = {k: v for k, v in old.items() if k not in ("stop_time", "fail_trace")}
            entry.update(
                experiment=experiment,
                command=command,
                host=dict(host_info),
                meta=meta_info,
                status="RUNNING",
                heartbeat=None,
            )
            entry.setdefault("start_time", start_time.isoformat())
            entry.setdefault("resources", [])
            entry.setdefault("artifacts", [])
            self.run_entry = entry
            self.config = config
            self.info = {}
            try:  # the output so far stays; new output is appended after it
                with open(os.path.join(run_dir, "cout.txt"), "rb") as f:
                    self.cout = f.read().decode("utf-8", errors="replace")
            except OSError:
                self.cout = ""
            self.cout_write_cursor = len(self.cout)
            self._metrics = None  # metrics.json is read and added to by the next points
            self._metrics_written = False
            self._forget_run_json()
            self._forget_info()
            self.save_run_entry()
            self.save_json(self.config, "config.json")
            return _id

    def heartbeat_event(self, info, captured_out, beat_time, result):
        with self._lock:
            self.info = info
            self.run_entry["heartbeat"] = beat_time.isoformat()
            self.run_entry["result"] = result
            self.cout = captured_out
            self.save_cout()
            self.save_run_entry()
            if self.info:
                self.save_info()

    def completed_event(self, stop_time, result):
        with self._lock:
            self.run_entry["stop_time"] = stop_time.isoformat()
            self.run_entry["result"] = result
            self.run_entry["status"] = "COMPLETED"
            self.save_run_entry()
            self.render_template()

    def interrupted_event(self, interrupt_time, status):
        with self._lock:
            self.run_entry["stop_time"] = interrupt_time.isoformat()
            self.run_entry["status"] = status
            self.save_run_entry()
            self.render_template()

    def failed_event(self, fail_time, fail_trace):
        with self._lock:
            self.run_entry["stop_time"] = fail_time.isoformat()
            self.run_entry["status"] = "FAILED"
            self.run_entry["fail_trace"] = fail_trace
            self.save_run_entry()
            self.render_template()

    def resource_event(self, filename):
        with self._lock:
            filename = os.path.abspath(filename)
            store_path = self.find_or_save(filename, self.resource_dir)
            self.run_entry["resources"].append([filename, str(store_path)])
            self.save_run_entry()

    def artifact_event(self, name, filename, metadata=None, content_type=None):
        with self._lock:
            self.save_file(filename, name)
            # listed once per add, as the original does, except a checkpoint: it replaces
            if not (_is_checkpoint(metadata) and name in self.run_entry["artifacts"]):
                self.run_entry["artifacts"].append(name)
            self.save_run_entry()

    def log_metrics(self, metrics_by_name, info):
        """Merge the new points into metrics.json.

        The merged metrics stay in memory as encoded JSON chunks, so each call encodes only
        the new points; the file is read at most once (if it already exists). The new points
        are also appended to the binary sidecar (see _metric_sidecar), whose manifest is
        written after metrics.json, so that it never claims to match an older metrics.json.
        """
        with self._lock:
            if self._metrics is None:
                self._metrics = self._load_metrics()
                self._sidecar = _metric_sidecar.SidecarWriter(self.dir)
                self._new_points = 0
            self._new_points += sum(len(m["steps"]) for m in metrics_by_name.values())
            if not self._sidecar.active and self._new_points >= _metric_sidecar.MIN_POINTS:
                self._sidecar.start(self._metrics)  # with the points logged before this beat
            changed = False
            for name, metric in metrics_by_name.items():
                fields = self._metrics.setdefault(name, {f: [] for f in _METRIC_FIELDS})
                steps, values = metric["steps"], metric["values"]
                kinds = set(map(type, steps)), set(map(type, values))
                stamps, fixed = _jsonio.isoformat_items_fixed(metric["timestamps"], 3)
                for field, chunk in (
                    ("steps", _encode_values(steps, kinds[0])),
                    ("timestamps", stamps),
                    ("values", _encode_values(values, kinds[1])),
                ):
                    if chunk:
                        fields[field].append(chunk)
                        changed = True
                try:
                    self._sidecar.append(name, steps, fixed, values, kinds)
                except Exception:  # only a cache: it must never cost the run its metrics.json
                    self._sidecar.fail()
            if changed or not self._metrics_written:
                st = _jsonio.write_atomic(
                    os.path.join(self.dir, "metrics.json"), self._metrics_text()
                )
                self._metrics_written = True
                self._sidecar.commit(st)

    # ------------------------------------------------------------ helpers
    def _load_metrics(self):
        path = os.path.join(self.dir, "metrics.json")
        try:
            with open(path, encoding="utf-8") as f:
                saved = json.load(f)
        except (OSError, ValueError):
            return {}
        metrics = {}
        for name, metric in saved.items():
            metrics[name] = {
                field: [c.encode("ascii")]
                if (c := _jsonio.encode_items(metric.get(field, []), 3))
                else []
                for field in _METRIC_FIELDS
            }
        return metrics

    def _metrics_text(self):
        """metrics.json as a list of ASCII pieces (the chunks themselves: no big copy)."""
        if not self._metrics:
            return [b"{}"]
        sep = b",\n      "
        out = [b"{"]
        for i, name in enumerate(sorted(self._metrics)):
            out.append(("\n  " if i == 0 else ",\n  ") + _jsonio.quote(name) + ": {")
            fields = self._metrics[name]
            for j, field in enumerate(_METRIC_FIELDS):
                out.append(("\n    " if j == 0 else ",\n    ") + f'"{field}": ')
                chunks = fields[field]
                if chunks:
                    out.append(b"[\n      ")
                    for k, chunk in enumerate(chunks):
                        if k:
                            out.append(sep)
                        out.append(chunk)
                    out.append(b"\n    ]")
                else:
                    out.append(b"[]")
            out.append(b"\n  }")
        out.append(b"\n}")
        return [p.encode("ascii") if type(p) is str else p for p in out]

    def save_sources(self, ex_info):
        base_dir = ex_info["base_dir"]
        source_info = []
        for name, _ in ex_info["sources"]:
            abspath = os.path.join(base_dir, name)
            if self.copy_sources:
                store_path = self.find_or_save(abspath, self.source_dir)
                stored = os.path.relpath(str(store_path), self.basedir)
            else:
                stored = abspath
            source_info.append([name, stored])
        return source_info

    def find_or_save(self, filename, store_dir):
        """Copy ``filename`` to ``store_dir/<stem>_<md5><ext>`` unless there; return that path.

        A file inside ``basedir`` is not copied when ``copy_artifacts`` is False.
        """
        if not self.copy_artifacts:
            try:
                Path(filename).resolve().relative_to(Path(self.basedir).resolve())
                return filename
            except ValueError:
                pass
        os.makedirs(os.fspath(store_dir), exist_ok=True)
        stem, ext = os.path.splitext(os.path.basename(filename))
        store_path = Path(store_dir) / f"{stem}_{_md5(filename)}{ext}"
        if not store_path.exists():
            _copy_atomic(filename, store_path)
        return store_path

    def _forget_run_json(self):
        self._run_json_key = None
        self._other_meta = {}

    def save_run_entry(self):
        """Write ``run.json``, keeping the ``meta`` keys others set in it meanwhile."""
        path = os.path.join(self.dir, "run.json")
        if self._run_json_key is not None and _jsonio.file_key(path) != self._run_json_key:
            self._read_other_meta(path)
        entry = self.run_entry
        if self._other_meta:
            own = entry.get("meta") if isinstance(entry.get("meta"), dict) else {}
            others = {k: v for k, v in self._other_meta.items() if k not in own}
            entry = dict(entry, meta={**others, **own})
        self._run_json_key = _jsonio.stat_key(self.save_json(entry, "run.json"))

    def _read_other_meta(self, path):
        try:
            with open(path, encoding="utf-8") as f:
                meta = json.load(f).get("meta")
        except (OSError, ValueError, AttributeError):
            return  # gone or not JSON right now: keep what was known
        if isinstance(meta, dict):
            own = self.run_entry.get("meta")
            own = own if isinstance(own, dict) else {}
            self._other_meta = {k: v for k, v in meta.items() if k not in own}

    def _forget_info(self):
        self._info_encoder = InfoEncoder()
        self._info_written = None  # (text, stat_key) of this observer's last info.json

    def save_info(self):
        """Write ``info.json``; unchanged parts are not encoded again, nor an unchanged file."""
        try:
            text = self._info_encoder.encode(self.info)
        except _jsonio.NotPlain:
            text = _jsonio.dumps(flatten(self.info))
        path = os.path.join(self.dir, "info.json")
        if self._info_written is not None and self._info_written == (text, _jsonio.file_key(path)):
            return
        self._info_written = (text, _jsonio.stat_key(_jsonio.write_atomic(path, text)))

    def save_json(self, obj, filename):
        try:  # plain JSON is written as it is: flatten would return an identical copy
            text = _jsonio.dumps_plain(obj)
        except _jsonio.NotPlain:
            text = _jsonio.dumps(flatten(obj))
        return _jsonio.write_atomic(os.path.join(self.dir, filename), text)

    def save_file(self, filename, target_name=None):
        target_name = target_name or os.path.basename(filename)
        blacklist = [os.path.join(self.dir, x) for x in _BLACKLIST]
        dest_file = os.path.join(self.dir, target_name)
        if dest_file in blacklist:
            raise FileExistsError(
                "You are trying to overwrite a file necessary for the "
                f"FileStorageObserver. The list of blacklisted files is: {blacklist}"
            )
        try:
            shutil.copyfile(filename, dest_file)
        except shutil.SameFileError:
            pass

    def save_cout(self):
        # Only the part of captured_out that is new since the last save is appended.
        new = self.cout[self.cout_write_cursor :]
        with open(os.path.join(self.dir, "cout.txt"), "ab") as f:
            f.write(new.encode("utf-8"))
        self.cout_write_cursor = len(self.cout)

    def render_template(self):
        if not self.template:
            return
        try:
            from mako.template import Template
        except ImportError:  # mako is optional: no report then
            return
        report = Template(filename=self.template).render(
            run=self.run_entry, config=self.config, info=self.info, cout=self.cout, savedir=self.dir
        )
        ext = os.path.splitext(self.template)[1]
        with open(os.path.join(self.dir, "report" + ext), "w", encoding="utf-8") as f:
            f.write(report)

    def __eq__(self, other):
        if isinstance(other, FileStorageObserver):
            return self.basedir == other.basedir
        return False


_INT = {int}
_ITEM_SEP = ",\n" + "  " * 3


def _encode_values(values, kinds=None):
    """Encoded items (ASCII bytes) of a list of metric steps or values (flattened like the
    original).

    ``kinds`` is ``set(map(type, values))`` if the caller has it already.
    """
    if kinds is None:
        kinds = set(map(type, values))
    if not values:
        return b""
    if _jsonio._SCALARS.issuperset(kinds):
        if kinds == _INT and not _jsonio._fast():  # one % format beats a call per int
            return (_ITEM_SEP.join(["%d"] * len(values)) % tuple(values)).encode("ascii")
        return _jsonio.scalar_items_bytes(values, 3, kinds)
    if not _jsonio.is_plain(values):
        values = flatten(list(values))
    return _jsonio.encode_items(values, 3).encode("ascii")


def _is_checkpoint(metadata) -> bool:
    """An artifact saved by ``Run.save_checkpoint``: it replaces the one of its name."""
    return isinstance(metadata, dict) and metadata.get("checkpoint") is True
