"""Worker claims on runs of a FileStorageObserver folder.

Claim number ``n`` of run ``7`` is the file ``7/.claims/<n>.json``, created with
``O_CREAT | O_EXCL``: of all workers asking for it, exactly one creates it (also on NFS
v3+ and most shared filesystems). The file holds the worker's name and the time.
"""

from __future__ import annotations

import datetime as _dt
import json
import os

__all__ = ("FileStoreClaims",)

CLAIMS_DIR = ".claims"


class FileStoreClaims:
    """The ``claim``/``claims`` part of ``FileStore`` (needs ``_name`` and ``_run_dir``)."""

    def _claims_dir(self, run_id) -> str:
        return os.path.join(self._run_dir(self._name(run_id)), CLAIMS_DIR)

    def claim(self, run_id, attempt: int, worker: str) -> bool:
        folder = self._claims_dir(run_id)
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, f"{int(attempt)}.json")
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        now = _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"attempt": int(attempt), "worker": worker, "at": now.isoformat()}, f)
        return True

    def claims(self, run_id) -> list:
        folder = self._claims_dir(run_id)
        try:
            names = os.listdir(folder)
        except FileNotFoundError:
            return []
        found = []
        for name in names:
            stem = name[: -len(".json")] if name.endswith(".json") else ""
            if not stem.isdigit():
                continue
            try:
                with open(os.path.join(folder, name), encoding="utf-8") as f:
                    data = json.load(f)
                at = _dt.datetime.fromisoformat(data["at"])
                worker = str(data.get("worker", ""))
            except (OSError, ValueError, KeyError, TypeError):
                # being written right now (or damaged): it still counts as taken
                at, worker = None, ""
            found.append({"attempt": int(stem), "worker": worker, "at": at})
        return sorted(found, key=lambda c: c["attempt"])
