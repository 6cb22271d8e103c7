"""The writing part of ``FileStore``: ``delete``, ``update_meta`` and ``import_run``.

Each writes the way the FileStorageObserver does (files replaced atomically, ``run.json``
last), so that a running observer and other readers only ever see complete files, and none
of them writes or removes a file outside the store (see ``paths``).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import shutil
import warnings

from sacred.observers import _jsonio
from sacred.observers.file_storage import _metric_sidecar
from sacred.observers.file_storage.layout import DATE_KEYS, RUN_FILES, read_json, remove_file
from sacred.observers.file_storage.paths import join_stored, resolve_inside
from sacred.store.base import OutsideStoreError, RunNotFoundError, StoreError, merge_meta

__all__ = ("FileStoreWrites",)


class FileStoreWrites:
    """Writes of ``FileStore`` (a mixin: it uses the store's index, records and files)."""

    def delete(self, run_id) -> None:
        with self._lock:  # Sacredboard serves requests in threads
            self._delete(run_id)

    def _delete(self, run_id) -> None:
        name = self._name(run_id)
        self.refresh()
        index = self._index
        row = index.rows.get(name)
        record = index.record(row)[0] if row is not None else None
        if record is None:
            record = self._read_record(name, captured_out=False)
        others = [index.record(r)[0] for n, r in index.rows.items() if n != name]
        folder = self._run_dir(name)
        if os.path.islink(folder):  # only the link is the store's: what it points to stays
            warnings.warn(
                f"Run {run_id!r}: its folder is a symbolic link; removed the link only",
                stacklevel=3,
            )
            os.unlink(folder)
        else:
            shutil.rmtree(folder)  # removes the symbolic links in it, never their targets
        # the copies of sources and resources only this run uses, if they lie inside
        # _sources and _resources (a listed file elsewhere is left alone, with a warning)
        used = {self._owned_source(p) for d in others for p in _stored_sources(d)}
        for stored in _stored_sources(record):
            self._remove_copy(lambda s=stored: self._owned_source(s, run_id), used)
        used = {self._owned_resource(r) for d in others for r in _stored_resources(d)}
        for stored in _stored_resources(record):
            self._remove_copy(lambda s=stored: self._owned_resource(s, run_id), used)
        remove_file(self._cache_path(name))
        if row is not None:
            index.remove(name)
        self._save_index()

    def _owned_source(self, stored, run_id=None):
        """The resolved path of the copy in ``_sources`` a source entry of ``run_id`` names:
        OutsideStoreError for a file elsewhere (None for another run's entry)."""
        where = f"source copy {stored!r} of run {run_id!r}"
        try:
            return resolve_inside(
                join_stored(self.basedir, stored), self._sources_dir, where, "the store's _sources"
            )
        except RunNotFoundError:
            if run_id is not None:
                raise
            return None

    def _owned_resource(self, stored, run_id=None):
        """The same for a resource entry's copy in ``_resources``."""
        try:
            where = f"resource copy {stored!r} of run {run_id!r}"
            return os.path.realpath(self._resource_path(stored, where))
        except RunNotFoundError:
            if run_id is not None:
                raise
            return None

    @staticmethod
    def _remove_copy(resolve, used) -> None:
        try:
            path = resolve()
        except OutsideStoreError as e:
            warnings.warn(f"{e}; left alone", stacklevel=4)
            return
        except RunNotFoundError:
            return
        if path not in used:
            remove_file(path)

    def update_meta(self, run_id, updates: dict) -> dict:
        """Merge ``updates`` into ``meta`` of ``run.json`` (replaced atomically).

        A running FileStorageObserver notices the change before its next write of
        ``run.json`` and keeps the keys set here (see ``FileStorageObserver``). Should the
        observer replace the file between the read and the write here, the write is done
        again on the observer's version, so no event of the run is undone.
        """
        name = self._name(run_id)
        path = os.path.join(self._run_dir(name), "run.json")
        for _ in range(20):
            before = _jsonio.file_key(path)
            try:
                run = read_json(path)
            except FileNotFoundError:
                raise RunNotFoundError(
                    f"Run {run_id!r} in {self.basedir} has no run.json"
                ) from None
            except ValueError as e:
                raise StoreError(f"Run {run_id!r} in {self.basedir} cannot be read: {e}") from None
            if not isinstance(run, dict):
                raise StoreError(f"Run {run_id!r} in {self.basedir}: run.json is no object")
            meta = merge_meta(run.get("meta"), updates)
            run["meta"] = meta
            text = _dumps(run)
            if _jsonio.file_key(path) == before:  # else the observer wrote meanwhile: read again
                _jsonio.write_atomic(path, text)
                break
        else:
            raise StoreError(f"run.json of run {run_id!r} changes all the time; try again")
        with self._lock:
            if self._index is not None and name in self._index.rows:
                new = self._read_entry(name, self._entries[name])
                if new is not None:
                    self._set_entry(name, new)  # saved with the next refresh
        return meta

    def _new_run_dir(self) -> str:
        candidate = max((int(n) for n in self._run_names()), default=0) + 1
        for _ in range(1000):
            try:
                os.mkdir(self._run_dir(str(candidate)))
                return str(candidate)
            except FileExistsError:
                candidate += 1
        raise StoreError(f"Could not create a new run folder in {self.basedir}")

    def import_run(
        self, record, metrics=None, artifacts=None, sources=None, resources=None, new_id=False
    ):
        """Write a run in the FileStorageObserver format; returns its id (an int).

        An artifact whose name would put it outside the run's folder (``../x``, an
        absolute path) or onto one of the run's own files is not written (with a warning).
        """
        artifacts = _writable_artifacts(artifacts or {})
        wanted = record.get("_id")
        if new_id or wanted is None or not str(wanted).isdigit():
            name = self._new_run_dir()
        else:
            name = str(int(str(wanted)))
            try:
                os.mkdir(self._run_dir(name))
            except FileExistsError:
                raise StoreError(
                    f"Run {name} already exists in {self.basedir}; import it under a new id "
                    "instead (new_id=True, or --new-ids on the command line)."
                ) from None
        folder = self._run_dir(name)
        run = {
            k: v for k, v in record.items() if k not in ("_id", "config", "info", "captured_out")
        }
        for key in DATE_KEYS:
            if isinstance(run.get(key), _dt.datetime):
                run[key] = run[key].isoformat()
        names = [a["name"] if isinstance(a, dict) else a for a in run.get("artifacts") or []]
        run["artifacts"] = names + [n for n in artifacts or {} if n not in names]
        experiment = dict(run.get("experiment") or {})
        if sources is not None and isinstance(experiment.get("sources"), list):
            new_sources = []
            for src_name, stored in experiment["sources"]:
                if src_name in sources:
                    stored = os.path.relpath(
                        self._store_file(sources[src_name], src_name, "_sources"), self.basedir
                    )
                new_sources.append([src_name, stored])
            experiment["sources"] = new_sources
            run["experiment"] = experiment
        if resources is not None and run.get("resources"):
            run["resources"] = [
                [fn, self._store_file(resources[fn], fn, "_resources") if fn in resources else ref]
                for fn, ref in run["resources"]
            ]
        _jsonio.write_atomic(os.path.join(folder, "config.json"), _dumps(record.get("config", {})))
        if record.get("info"):
            _jsonio.write_atomic(os.path.join(folder, "info.json"), _dumps(record["info"]))
        with open(os.path.join(folder, "cout.txt"), "wb") as f:
            f.write((record.get("captured_out") or "").encode("utf-8"))
        if metrics is not None:
            out = {}
            for metric_name, m in metrics.items():
                out[metric_name] = {
                    "steps": _as_list(m["steps"]),
                    "timestamps": [
                        t.isoformat() if hasattr(t, "isoformat") else t
                        for t in _as_list(m["timestamps"])
                    ],
                    "values": _as_list(m["values"]),
                }
            st = _jsonio.write_atomic(os.path.join(folder, "metrics.json"), _dumps(out))
            _write_sidecar(folder, out, st)
        for art_name, content in artifacts.items():
            path = os.path.join(folder, art_name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            resolve_inside(path, folder, f"artifact {art_name!r}", "the run's folder")
            with open(path, "wb") as f:
                f.write(content)
        # run.json last: a reader that sees it sees a complete run
        _jsonio.write_atomic(os.path.join(folder, "run.json"), _dumps(run))
        return int(name)

    def _store_file(self, content: bytes, filename: str, subdir: str) -> str:
        stem, ext = os.path.splitext(os.path.basename(filename))
        target_dir = os.path.join(self.basedir, subdir)
        os.makedirs(target_dir, exist_ok=True)
        target = os.path.join(target_dir, f"{stem}_{_md5_bytes(content)}{ext}")
        if not os.path.exists(target):
            tmp = f"{target}.{os.getpid()}.tmp"
            with open(tmp, "wb") as f:
                f.write(content)
            os.replace(tmp, target)
        return target


# ---------------------------------------------------------------------- helpers
def _md5_bytes(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def _write_sidecar(folder, metrics, metrics_json_stat) -> None:
    """The binary sidecar the observer would have written for these metrics."""
    if sum(len(m["steps"]) for m in metrics.values()) < _metric_sidecar.MIN_POINTS:
        return
    writer = _metric_sidecar.SidecarWriter(folder)
    writer.start({})
    for name, m in metrics.items():
        fixed = _metric_sidecar.fixed_from_strings(m["timestamps"])
        writer.append(name, m["steps"], fixed, m["values"])
    writer.commit(metrics_json_stat)


def _dumps(obj) -> str:
    try:
        return _jsonio.dumps(obj)
    except TypeError:
        return json.dumps(obj, sort_keys=True, indent=2, default=str)


def _as_list(seq):
    if hasattr(seq, "dtype") and seq.dtype.kind == "M":  # numpy datetimes
        return seq.astype("datetime64[us]").tolist()
    return seq.tolist() if hasattr(seq, "tolist") else list(seq)


def _stored_sources(doc) -> list:
    sources = (doc.get("experiment") or {}).get("sources") or []
    if not isinstance(sources, list):
        return []
    return [s[1] for s in sources if isinstance(s, list) and len(s) == 2 and isinstance(s[1], str)]


def _stored_resources(doc) -> list:
    resources = doc.get("resources") or []
    if not isinstance(resources, list):
        return []
    return [r[1] for r in resources if isinstance(r, list) and len(r) == 2]


_OWN_FILES = frozenset(RUN_FILES) | {"cout.txt", _metric_sidecar.DIRNAME}


def _writable_artifacts(artifacts) -> dict:
    """The artifacts ``import_run`` may write into a new run folder (see there)."""
    out = {}
    for name, content in artifacts.items():
        ok = isinstance(name, str) and name and "\0" not in name
        parts = os.path.normpath(name).split(os.sep) if ok else []
        if not ok or os.path.isabs(name) or ".." in parts or parts[0] in _OWN_FILES | {"."}:
            warnings.warn(
                f"Artifact {name!r} is not written: it would not be a file of its own inside "
                "the run's folder",
                stacklevel=3,
            )
            continue
        out[name] = content
    return out
