"""The source files a run recorded: their digests, laid out again, or compared with a copy.

A run's record lists its sources as ``experiment.sources = [[name, x], ...]``: ``name`` is the
path relative to the experiment's ``base_dir``; ``x`` is the md5 digest (SQL, TinyDB), the
stored copy's path ``_sources/<stem>_<md5><ext>`` (folders, S3, GCS), or the GridFS id of the
copy, whose metadata holds the md5 (MongoDB). ``experiment.mainfile`` names the script (SQL
records lack it: the one source that creates an ``Experiment`` is taken then).

Names come from a store, which may not be trusted: an absolute name, or one that leaves the
folder it is laid out in, is refused.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from pathlib import PurePosixPath
from typing import Optional

from sacred.utils import SacredError

__all__ = (
    "SourceError",
    "SourceChange",
    "Layout",
    "recorded_sources",
    "lay_out",
    "working_copy",
    "source_changes",
)

_MD5 = re.compile(r"[0-9a-f]{32}")
_STORED_COPY = re.compile(r"_([0-9a-f]{32})(?:\.[^./\\]*)?$")  # _sources/helper_<md5>.py
_DEFINES_EXPERIMENT = re.compile(rb"\bExperiment\s*\(")


class SourceError(SacredError):
    """The recorded sources cannot be laid out or do not match their digests."""

    def __init__(self, message):
        super().__init__(message, print_traceback=False)


@dataclasses.dataclass
class SourceChange:
    """A recorded source that differs in the working copy: ``changed`` or ``missing``."""

    name: str
    status: str
    recorded: Optional[str]  # the recorded md5
    current: Optional[str] = None  # the md5 of the working copy's file (None: missing)


@dataclasses.dataclass
class Layout:
    """Recorded sources written below ``root``; ``base`` stands for the run's ``base_dir``."""

    root: str
    base: str
    mainfile: str  # absolute path of the script
    files: dict  # name -> absolute path


def _clean_name(name, run_id) -> str:
    """A source name as a relative POSIX path, or a SourceError for one that is absolute."""
    if not isinstance(name, str) or not name or "\0" in name:
        raise SourceError(f"Run {run_id!r} records a source with an invalid name: {name!r}")
    text = name.replace("\\", "/")  # recorded on Windows
    if text.startswith("/") or re.match(r"^[A-Za-z]:", text):
        raise SourceError(f"Refused: run {run_id!r} names a source by an absolute path: {name!r}")
    return str(PurePosixPath(os.path.normpath(text).replace("\\", "/")))


def _entries(record) -> list:
    experiment = record.get("experiment") or {}
    entries = []
    for entry in experiment.get("sources") or []:
        if isinstance(entry, (list, tuple)) and len(entry) == 2:
            entries.append((entry[0], entry[1]))
        else:
            raise SourceError(f"Run {record.get('_id')!r} records a malformed source: {entry!r}")
    return entries


def _digest_in_entry(value) -> Optional[str]:
    """The md5 an entry's second item holds (a digest or a stored copy's name), else None."""
    if not isinstance(value, str):
        return None
    if _MD5.fullmatch(value):
        return value
    found = _STORED_COPY.search(value)
    return found.group(1) if found else None


def _digest_of_copy(fileobj) -> Optional[str]:
    """The md5 kept beside a stored copy (GridFS metadata), else None."""
    meta = getattr(fileobj, "_file", None)
    digest = meta.get("md5") if isinstance(meta, dict) else None
    return digest if isinstance(digest, str) and _MD5.fullmatch(digest) else None


def recorded_sources(store, record) -> dict:
    """``{name: md5}`` of a run's recorded sources (the md5 of the stored copy when the
    record does not say)."""
    run_id = record.get("_id")
    digests = {}
    for name, value in _entries(record):
        digest = _digest_in_entry(value)
        if digest is None:
            with store.open_source(run_id, name) as f:
                digest = _digest_of_copy(f)
                if digest is None:
                    digest = hashlib.md5(f.read()).hexdigest()
        digests[_clean_name(name, run_id)] = digest
    return digests


def _base_folder(root, names, base_dir) -> str:
    """Where ``base_dir`` goes below ``root`` so that names with leading ``..`` stay inside."""
    depth = 0
    for name in names:
        parts = PurePosixPath(name).parts
        ups = next((i for i, p in enumerate(parts) if p != ".."), len(parts))
        depth = max(depth, ups)
    tail = PurePosixPath(str(base_dir or "").replace("\\", "/")).parts[1:] if depth else ()
    tail = list(tail[-depth:]) if depth else []
    tail = ["_"] * (depth - len(tail)) + tail
    return os.path.join(root, *tail) if tail else root


def _inside(path, folder) -> bool:
    path, folder = os.path.normpath(path), os.path.normpath(folder)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _pick_mainfile(record, contents: dict, script: Optional[str]) -> str:
    """The name of the source to run: ``script`` (a source name), the recorded mainfile, or
    the one source that creates an ``Experiment``."""
    run_id = record.get("_id")
    if script is not None:
        name = _clean_name(script, run_id)
        if name not in contents:
            raise SourceError(
                f"{script!r} is no recorded source of run {run_id!r} "
                f"(recorded: {', '.join(sorted(contents)) or 'none'})"
            )
        return name
    mainfile = (record.get("experiment") or {}).get("mainfile")
    if mainfile:
        name = _clean_name(mainfile, run_id)
        if name in contents:
            return name
    found = [
        n for n, data in contents.items() if n.endswith(".py") and _DEFINES_EXPERIMENT.search(data)
    ]
    if len(found) > 1:  # several scripts: the one named like the experiment
        named = (record.get("experiment") or {}).get("name")
        found = [n for n in found if PurePosixPath(n).stem == named] or found
    if len(found) == 1:
        return found[0]
    if not found:
        raise SourceError(
            f"Run {run_id!r} records no main file, and none of its sources creates an "
            "Experiment: name the script with --script"
        )
    raise SourceError(
        f"Run {run_id!r} records no main file, and several sources create an Experiment "
        f"({', '.join(sorted(found))}): name one with --script"
    )


def lay_out(store, record, root: str, script: Optional[str] = None) -> Layout:
    """Write the run's stored source copies below ``root`` in their recorded layout.

    Each copy's md5 is checked against the record: a mismatch is a one-line SourceError
    naming the file. Returns the Layout (``mainfile`` is the script to run).
    """
    run_id = record.get("_id")
    entries = [(_clean_name(name, run_id), name, value) for name, value in _entries(record)]
    if not entries:
        raise SourceError(f"Run {run_id!r} records no source files: rerun it with --here")
    base = _base_folder(
        root, [e[0] for e in entries], (record.get("experiment") or {}).get("base_dir")
    )
    contents, files = {}, {}
    for name, stored_name, value in entries:
        path = os.path.normpath(os.path.join(base, name))
        if not _inside(path, root):
            raise SourceError(
                f"Refused: run {run_id!r} names a source outside its folder: {stored_name!r}"
            )
        with store.open_source(run_id, stored_name) as f:
            data = f.read()
            recorded = _digest_in_entry(value) or _digest_of_copy(f)
        actual = hashlib.md5(data).hexdigest()
        if recorded is not None and actual != recorded:
            raise SourceError(
                f"The stored copy of source {name} of run {run_id!r} does not match its recorded "
                f"digest (recorded {recorded}, stored copy {actual})"
            )
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as out:
            out.write(data)
        contents[name] = data
        files[name] = path
    mainfile = _pick_mainfile(record, contents, script)
    return Layout(root=root, base=base, mainfile=files[mainfile], files=files)


def working_copy(record, script: Optional[str] = None, cwd: Optional[str] = None) -> tuple:
    """``(base folder, script path)`` of the working copy that stands for the run's base_dir.

    Without ``script``, the recorded mainfile below ``cwd``; with it, the folder that holds
    the script where the recorded mainfile lies (``scripts/exp.py`` -> two levels up).
    """
    cwd = os.path.abspath(cwd or os.getcwd())
    run_id = record.get("_id")
    mainfile = (record.get("experiment") or {}).get("mainfile")
    if script is not None:
        path = os.path.abspath(os.path.join(cwd, os.fspath(script)))
        if not os.path.isfile(path):
            raise SourceError(f"There is no script {script!r}")
        if mainfile:
            ups = len(PurePosixPath(_clean_name(mainfile, run_id)).parts) - 1
            return os.path.normpath(os.path.join(os.path.dirname(path), *[".."] * ups)), path
        return os.path.dirname(path), path
    if mainfile:
        name = _clean_name(mainfile, run_id)
        if not os.path.isfile(os.path.join(cwd, name)):
            raise SourceError(
                f"{name} (the script of run {run_id!r}) is not in {cwd}: run from the run's "
                "folder, or give --script"
            )
        return cwd, os.path.join(cwd, name)
    contents = {}
    for name, _ in _entries(record):
        name = _clean_name(name, run_id)
        try:
            with open(os.path.join(cwd, name), "rb") as f:
                contents[name] = f.read()
        except OSError:
            continue
    return cwd, os.path.join(cwd, _pick_mainfile(record, contents, None))


def source_changes(recorded: dict, base: str) -> list:
    """The recorded sources whose file below ``base`` differs (or is missing), by name."""
    changes = []
    for name, digest in sorted(recorded.items()):
        path = os.path.join(base, name)
        try:
            h = hashlib.md5()
            with open(path, "rb") as f:
                for chunk in iter(lambda f=f: f.read(1 << 20), b""):
                    h.update(chunk)
        except OSError:
            changes.append(SourceChange(name, "missing", digest))
            continue
        if h.hexdigest() != digest:
            changes.append(SourceChange(name, "changed", digest, h.hexdigest()))
    return changes
