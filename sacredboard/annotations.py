"""Tags and notes of a run, kept in its record under ``meta.tags`` and ``meta.notes``.

``RunStore`` has no write method for this yet. A store that offers
``update_meta(run_id, updates)`` is used as is; for a FileStorageObserver folder the
``meta`` of ``run.json`` is rewritten atomically here (the format's owner should take this
over). Note that the FileStorageObserver rewrites ``run.json`` of a RUNNING run on each
heartbeat, so edits of runs that are still running can be overwritten.
"""

from __future__ import annotations

import json
import os

__all__ = ("AnnotationError", "clean_annotations", "save_annotations")

MAX_TAGS = 50
MAX_TAG_LENGTH = 100
MAX_NOTES_LENGTH = 100_000


class AnnotationError(ValueError):
    pass


def clean_annotations(body) -> dict:
    """``{"tags": [...], "notes": "..."}`` checked; only the keys given are returned."""
    if not isinstance(body, dict):
        raise AnnotationError('send a JSON object like {"tags": ["a"], "notes": "text"}')
    unknown = set(body) - {"tags", "notes"}
    if unknown:
        raise AnnotationError(f"unknown key {sorted(unknown)[0]!r}; only tags and notes can be set")
    updates = {}
    if "tags" in body:
        tags = body["tags"]
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise AnnotationError("tags must be a list of strings")
        cleaned = []
        for tag in tags:
            tag = tag.strip()
            if not tag:
                continue
            if len(tag) > MAX_TAG_LENGTH:
                raise AnnotationError(f"a tag has at most {MAX_TAG_LENGTH} characters")
            if tag not in cleaned:
                cleaned.append(tag)
        if len(cleaned) > MAX_TAGS:
            raise AnnotationError(f"a run has at most {MAX_TAGS} tags")
        updates["tags"] = cleaned
    if "notes" in body:
        notes = body["notes"]
        if not isinstance(notes, str):
            raise AnnotationError("notes must be a string")
        if len(notes) > MAX_NOTES_LENGTH:
            raise AnnotationError(f"notes have at most {MAX_NOTES_LENGTH} characters")
        updates["notes"] = notes
    return updates


def save_annotations(store, run_id, updates: dict) -> None:
    """Write ``updates`` (from ``clean_annotations``) into the run's ``meta``."""
    record = store.get(run_id)  # raises RunNotFoundError for unknown runs
    if hasattr(store, "update_meta"):
        store.update_meta(record["_id"], updates)
        return
    basedir = getattr(store, "basedir", None)
    if getattr(store, "scheme", "") == "file" and basedir:
        _save_in_run_json(basedir, record["_id"], updates)
        return
    raise AnnotationError(
        f"{type(store).__name__} cannot store tags and notes yet (it has no update_meta method)"
    )


def _save_in_run_json(basedir: str, run_id, updates: dict) -> None:
    name = str(int(run_id))  # run folders are numbers: no path can be smuggled in
    path = os.path.join(basedir, name, "run.json")
    with open(path, encoding="utf-8") as f:
        run = json.load(f)
    meta = run.get("meta")
    if not isinstance(meta, dict):
        meta = run["meta"] = {}
    meta.update(updates)
    tmp = f"{path}.{os.getpid()}.sacredboard.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(run, f, sort_keys=True, indent=2)
    os.replace(tmp, path)
