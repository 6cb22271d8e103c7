"""The id of a new run in a FileStorageObserver folder, without listing the folder each time.

The original lists the base folder for every new run (the largest numeric folder name + 1)
and creates the run's folder with ``os.mkdir``, moving on to the next id while the folder
exists. The ids here are the same, and so is the ``mkdir``, which is atomic: of several
processes only one gets each id.

What saves the listing is a hint kept *outside* the base folder, so that the folder holds
only what the original puts there (run folders, ``_sources``, ``_resources``). It lives in
the user's cache directory (``$XDG_CACHE_HOME`` or ``~/.cache`` on Linux,
``~/Library/Caches`` on macOS, ``%LOCALAPPDATA%`` on Windows), under ``sacred/run_ids/``,
and is keyed by the folder's identity (device and inode), in one of ``_BUCKETS`` small
files (so that the cache cannot grow without bound; folders sharing a file only cost a
listing). After making a run folder, the observer records the base folder's identity, its
modification time and link count (which count the entries added or removed), and the next
id. The next run trusts the recorded id only while the folder still has that time and link
count, i.e. nothing was added or removed since; anything else (runs made by another tool or
machine, a deleted run, a recreated folder, a missing or unreadable hint) means a listing,
as in the original. The hint is only ever a starting point: ``mkdir`` decides, a taken id
moves on to the next one, and after ``_LIST_AFTER`` taken ids in a row the folder is listed.
"""

import os
import zlib

from sacred.observers.file_storage.cache_dir import user_cache_dir

__all__ = ("make_run_dir", "scan_max_id", "hint_dir")

MAX_ID_ATTEMPTS = 1000  # as the original: then the FileExistsError is raised
_BUCKETS = 4096
_LIST_AFTER = 16  # taken ids in a row after which the folder is listed after all
_RECORD = 128  # bytes of a hint file: device, inode, time, link count, next id, checksum


def hint_dir():
    """The folder of the hints (in the user's cache directory), or None if there is none."""
    base = user_cache_dir()
    return None if base is None else os.path.join(base, "sacred", "run_ids")


def scan_max_id(basedir) -> int:
    """The largest numeric folder name in ``basedir`` (0 if there is none)."""
    with os.scandir(basedir) as entries:
        return max(
            (int(e.name) for e in entries if e.name.isdigit() and e.is_dir()),
            default=0,
        )


def _state(st):
    return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_nlink)


def _hint_file(st):
    folder = hint_dir()
    if folder is None:
        return None
    bucket = zlib.crc32(f"{st.st_dev}:{st.st_ino}".encode()) % _BUCKETS
    return os.path.join(folder, f"{bucket:03x}")


def _read_hint(path, state):
    """The next id recorded for a folder in exactly ``state``, else None."""
    try:
        with open(path, "rb") as f:
            body, _, check = f.read(_RECORD).strip().rpartition(b" ")
        if int(check, 16) != zlib.crc32(body):
            return None  # torn or foreign content
        *recorded, next_id = (int(part) for part in body.split())
    except (OSError, ValueError):
        return None
    if tuple(recorded) != state or next_id < 1:
        return None
    return next_id


def _write_hint(path, state, next_id):
    """Record the hint in place: one small write at the start of the file.

    Not a new file renamed over the old one, which some file systems (ext4) make flush to
    disk, a millisecond or more for every run. A reader that catches a write half done
    finds the checksum wrong and lists the folder.
    """
    body = " ".join(str(part) for part in (*state, next_id)).encode()
    record = b"%s %08x" % (body, zlib.crc32(body))
    record = record.ljust(_RECORD - 1) + b"\n"
    try:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
        except FileNotFoundError:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            os.write(fd, record)
        finally:
            os.close(fd)
    except OSError:
        pass  # only a hint


def make_run_dir(basedir) -> str:
    """Make the folder of a new run in ``basedir`` (which must exist); return its id."""
    st = os.stat(basedir)
    hint_file = _hint_file(st)
    candidate = None if hint_file is None else _read_hint(hint_file, _state(st))
    listed = candidate is None
    if listed:
        candidate = scan_max_id(basedir) + 1
    for attempt in range(MAX_ID_ATTEMPTS):
        try:
            os.mkdir(os.path.join(basedir, str(candidate)))
            break
        except FileExistsError:
            if attempt == MAX_ID_ATTEMPTS - 1:
                raise
            candidate += 1
            if not listed and attempt + 1 == _LIST_AFTER:
                # many others are starting runs too, or the hint was wrong: look
                listed = True
                candidate = max(candidate, scan_max_id(basedir) + 1)
    if hint_file is not None:
        _write_hint(hint_file, _state(os.stat(basedir)), candidate + 1)
    return str(candidate)
