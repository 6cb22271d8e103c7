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
as in the original. The hint is only ever a starting point: ``mkdir`` decides, and a taken
id moves on to the next one.
"""

import os
import sys
import threading
import zlib

__all__ = ("make_run_dir", "scan_max_id", "hint_dir")

MAX_ID_ATTEMPTS = 1000  # as the original: then the FileExistsError is raised
_BUCKETS = 4096


def hint_dir():
    """The folder of the hints (in the user's cache directory), or None if there is none."""
    env = os.environ
    if sys.platform == "win32":
        base = env.get("LOCALAPPDATA")
    elif sys.platform == "darwin":
        base = os.path.join(os.path.expanduser("~"), "Library", "Caches")
    else:
        base = env.get("XDG_CACHE_HOME")
        if not base or not os.path.isabs(base):
            base = os.path.join(os.path.expanduser("~"), ".cache")
    if not base or not os.path.isabs(base):
        return None
    return os.path.join(base, "sacred", "run_ids")


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
        with open(path, encoding="ascii") as f:
            *recorded, next_id = (int(part) for part in f.read().split())
    except (OSError, ValueError):
        return None
    if tuple(recorded) != state or next_id < 1:
        return None
    return next_id


def _write_hint(path, state, next_id):
    text = " ".join(str(part) for part in (*state, next_id))
    tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(tmp, "w", encoding="ascii") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError:
        try:
            os.remove(tmp)
        except OSError:
            pass


def make_run_dir(basedir) -> str:
    """Make the folder of a new run in ``basedir`` (which must exist); return its id."""
    st = os.stat(basedir)
    hint_file = _hint_file(st)
    candidate = None if hint_file is None else _read_hint(hint_file, _state(st))
    if candidate is None:
        candidate = scan_max_id(basedir) + 1
    for attempt in range(MAX_ID_ATTEMPTS):
        try:
            os.mkdir(os.path.join(basedir, str(candidate)))
            break
        except FileExistsError:
            if attempt == MAX_ID_ATTEMPTS - 1:
                raise
            candidate += 1
    if hint_file is not None:
        _write_hint(hint_file, _state(os.stat(basedir)), candidate + 1)
    return str(candidate)
