"""Tags and notes of a run, kept in its record under ``meta.tags`` and ``meta.notes``.

They are written with ``RunStore.update_meta``, so they work on every store that can be
written (folder, SQL, MongoDB, TinyDB), also while the run is still running: the
observers keep meta keys that others set. Clearing the tags or the notes removes the key.
"""

from __future__ import annotations

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


def save_annotations(store, run_id, updates: dict) -> dict:
    """Write ``updates`` (from ``clean_annotations``) into the run's ``meta``; returns it.

    No tags or empty notes remove the key. Raises ``RunNotFoundError`` for unknown runs.
    """
    return store.update_meta(run_id, {k: v or None for k, v in updates.items()})
