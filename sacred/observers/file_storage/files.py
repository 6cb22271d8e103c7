"""The files part of ``FileStore``: a run's artifacts, and the copies of its sources and resources.

Every file a run lists (in run.json, which anyone who can write to the folder can craft) is
resolved, symbolic links included, and read or removed only if it lies inside the run's
folder (artifacts), ``_sources`` (sources) or ``_resources`` (resources): see ``paths``.
"""

from __future__ import annotations

import os

from sacred.observers.file_storage.paths import join_stored, resolve_inside
from sacred.store.base import OutsideStoreError, RunNotFoundError

__all__ = ("FileStoreFiles",)


class FileStoreFiles:
    """File access of ``FileStore`` (a mixin: it uses the store's run names and records)."""

    def _artifact_path(self, run_id, name) -> str:
        folder = self._run_dir(self._name(run_id))
        if not isinstance(name, str) or name not in self.artifacts(run_id):
            raise RunNotFoundError(f"Run {run_id!r} has no artifact {name!r}")
        where = f"artifact {name!r} of run {run_id!r}"
        return resolve_inside(join_stored(folder, name), folder, where, "the run's folder")

    def open_artifact(self, run_id, name):
        return open(self._artifact_path(run_id, name), "rb")

    def _source_path(self, run_id, name) -> str:
        record = self.get(run_id)
        sources = record.get("experiment", {}).get("sources", [])
        if isinstance(sources, dict) and "py/tuple" in sources:  # queued runs
            sources = sources["py/tuple"]
        where = f"source {name!r} of run {run_id!r}"
        for entry in sources:
            if isinstance(entry, dict):
                entry = entry.get("py/tuple", [])
            if entry and entry[0] == name:
                if record.get("status") == "QUEUED":  # copied into the run folder
                    folder = self._run_dir(self._name(run_id))
                    path = join_stored(folder, os.path.basename(str(name)))
                    return resolve_inside(path, folder, where, "the run's folder")
                stored = entry[1] if len(entry) > 1 else None
                return resolve_inside(
                    join_stored(self.basedir, stored),
                    self._sources_dir,
                    where,
                    "the store's _sources",
                )
        raise RunNotFoundError(f"Run {run_id!r} has no source {name!r}")

    @property
    def _sources_dir(self) -> str:
        return os.path.join(self.basedir, "_sources")

    @property
    def _resources_dir(self) -> str:
        return os.path.join(self.basedir, "_resources")

    def sources(self, run_id) -> list:
        sources = self.get(run_id).get("experiment", {}).get("sources", [])
        if isinstance(sources, dict):
            sources = sources.get("py/tuple", [])
        return [(s.get("py/tuple", [None])[0] if isinstance(s, dict) else s[0]) for s in sources]

    def open_source(self, run_id, name):
        return open(self._source_path(run_id, name), "rb")

    def _resource_path(self, stored, where="a resource") -> str:
        """Where a resource copy is: as recorded, else by its name in ``_resources``, and
        only inside ``_resources`` (the resolved path; OutsideStoreError else)."""
        root = self._resources_dir
        if not isinstance(stored, str):
            raise RunNotFoundError(f"{where} has no stored copy")
        by_name = os.path.join(root, os.path.basename(stored))
        refused = None
        for candidate in ([stored] if os.path.isabs(stored) else []) + [by_name]:
            if os.path.lexists(candidate):
                try:
                    return resolve_inside(candidate, root, where, "the store's _resources")
                except OutsideStoreError as e:
                    refused = e
        if refused is not None:
            raise refused
        return by_name  # gone: opening it says so

    def open_resource(self, run_id, name):
        for entry in self.get(run_id).get("resources") or []:
            if entry[0] == name:
                where = f"resource {name!r} of run {run_id!r}"
                return open(self._resource_path(entry[1], where), "rb")
        raise RunNotFoundError(f"Run {run_id!r} has no resource {name!r}")
