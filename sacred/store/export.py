"""``sacred export``: copying runs from one store into another, all or nothing.

``copy_runs(src, dst)`` copies the runs (records, metrics, artifacts, sources and
resources) through the destination's ``import_run``; ``open_destination(location)`` opens
the destination, creating it first as its observer would (a folder, an SQLite file, a
TinyDB folder). A bucket (S3, GCS) is never created: a missing one is a one-line error
that names it, and a new prefix in an existing bucket is an empty store.

A copy keeps its run's id where the destination can hold it. Where it cannot (``--new-ids``,
a TinyDB id of 32 hex digits in a FileStorageObserver folder or an SQL table, whose
``run_id`` holds 24 characters), the destination numbers the copy itself, and the copy's
``meta.exported_from = {"store": <source location>, "id": <id there>}`` says where it
came from.
"""

from __future__ import annotations

import os
import warnings
from typing import Optional

from sacred.store import OutsideStoreError, RunNotFoundError, StoreError, open_store
from sacred.store.location import looks_like_file_storage, open_observer, scheme_of

__all__ = ("copy_runs", "open_destination", "describe")


def open_destination(location, prefix: Optional[str] = None):
    """The store at ``location`` for writing, created if it does not exist yet: a folder
    (with its parents), an SQLite file, or a TinyDB folder (``tinydb://path``, made by the
    TinyDbObserver). An S3/GCS bucket must exist (any prefix in it is fine)."""
    kwargs = {"prefix": prefix} if prefix else {}
    if isinstance(location, (str, os.PathLike)):
        location = os.fspath(location)
        scheme = scheme_of(location)
        if scheme == "file" and "://" not in location and not os.path.exists(location):
            os.makedirs(location)
        elif scheme == "sqlite":
            _create_sqlite_file(location)
        elif scheme == "tinydb":
            _create_tinydb(location)
    return open_store(location, **kwargs)


def _create_sqlite_file(url: str) -> None:
    """An export into a new SQLite file creates it (an empty file is an empty database)."""
    path = url.split(":///", 1)[1] if ":///" in url else ""
    if not path or path == ":memory:" or os.path.exists(path):
        return
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise StoreError(f"Cannot create the SQLite database {path!r}: no folder {folder!r}.")
    open(path, "ab").close()


def _create_tinydb(location: str) -> None:
    """A new TinyDB folder, as the TinyDbObserver makes it (the folder and its parents,
    an empty ``metadata.json``); a FileStorageObserver folder is not turned into one."""
    path = location.split("://", 1)[1] if "://" in location else location
    if os.path.isfile(os.path.join(path, "metadata.json")):
        return
    if os.path.exists(path) and not os.path.isdir(path):
        raise StoreError(f"Cannot create a TinyDB folder at {path!r}: it is a file.")
    if os.path.isdir(path) and looks_like_file_storage(path):
        raise StoreError(
            f"{path!r} is a FileStorageObserver folder: export into it as {path} "
            "(without tinydb://), or into another folder"
        )
    observer = open_observer(location)
    db = getattr(observer, "db", None)
    if db is not None:
        db.close()


def describe(store) -> str:
    """A store's location as a user would write it (for ``meta.exported_from``)."""
    location = getattr(store, "location", None)
    if isinstance(location, str):
        return location
    if type(store).__name__ == "TinyDbStore":
        return f"tinydb://{store.root}"
    for attr in ("basedir", "url"):
        value = getattr(store, attr, None)
        if isinstance(value, str):
            return value
    return repr(store)


def copy_runs(src, dst, query=None, new_ids=False, dst_name=None, src_name=None) -> list:
    """Copy the matching runs of store ``src`` into ``dst``; returns ``[(old_id, new_id)]``.

    All or nothing: ids that ``dst`` already holds are refused before anything is written
    (unless ``new_ids``), and if a copy fails midway the runs copied so far are deleted
    from ``dst`` again before the error is raised.

    A copy whose id is not its run's id (``new_ids``, or an id the destination cannot
    hold, which it replaces by one of its own) records where it came from in
    ``meta.exported_from = {"store": src_name, "id": old_id}`` (``src_name`` defaults to
    the source's location).

    A file the source refuses to read (one a run lists outside the source store's folders,
    see ``FileStore``) is not copied, with a warning; one whose stored copy is gone is
    left out. The records keep their references to both.
    """
    run_ids = src.find_ids(query)
    if not new_ids:
        existing = {str(i) for i in dst.find_ids()}
        taken = [i for i in run_ids if str(i) in existing]
        if taken:
            shown = ", ".join(str(i) for i in taken[:10]) + (", ..." if len(taken) > 10 else "")
            which = f"Run {shown} is" if len(taken) == 1 else f"Runs {shown} are"
            raise StoreError(
                f"{which} already in {dst_name or 'the destination'}; nothing was copied. "
                "Copy under new ids with --new-ids (new_ids=True)."
            )
    origin = src_name or describe(src)
    copied = []
    try:
        for run_id in run_ids:
            record = src.get(run_id)
            artifacts = _read_all(src.open_artifact, run_id, src.artifacts(run_id), "artifact")
            sources = _read_all(src.open_source, run_id, src.sources(run_id), "source")
            resources = _read_all(src.open_resource, run_id, src.resources(run_id), "resource")
            new = dst.import_run(
                record,
                metrics=src.metrics(run_id),
                artifacts=artifacts,
                sources=sources,
                resources=resources,
                new_id=new_ids,
            )
            copied.append((run_id, new))
            if str(new) != str(run_id):
                dst.update_meta(new, {"exported_from": {"store": origin, "id": run_id}})
    except BaseException:
        _undo(dst, copied)
        raise
    return copied


def _undo(dst, copied) -> None:
    """Delete the runs an interrupted export copied, newest first."""
    for old, new in reversed(copied):
        try:
            dst.delete(new)
        except Exception as e:  # keep undoing the others; say which one stays
            warnings.warn(
                f"run {old} was copied as {new} and could not be removed: {e}", stacklevel=3
            )


def _read_all(opener, run_id, names, kind) -> dict:
    contents = {}
    for name in names:
        try:
            with opener(run_id, name) as f:
                contents[name] = f.read()
        except OutsideStoreError as e:  # the message names the run and the file
            warnings.warn(f"{e}; not copied", stacklevel=3)
        except RunNotFoundError as e:  # listed, yet not there
            warnings.warn(f"run {run_id}: {kind} {name!r} is not copied: {e}", stacklevel=3)
        except OSError:  # the stored copy is gone: the record keeps its reference
            continue
    return contents
