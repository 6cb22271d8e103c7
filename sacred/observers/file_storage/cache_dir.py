"""Where the reader of a FileStorageObserver folder keeps its caches: outside the folder.

The folder holds only what the original puts there (run folders, ``_sources``,
``_resources``). ``FileStore``'s index and its numpy copies of long metrics live in the
user's cache directory (``$XDG_CACHE_HOME`` or ``~/.cache`` on Linux, ``~/Library/Caches``
on macOS, ``%LOCALAPPDATA%`` on Windows), in ``sacred/file_stores/<key>/``, one folder for
each observed folder. The key is the folder's identity: its device and inode and a hash
of its real path (so a moved folder, or another folder on another device, never shares a
cache). A folder made anew at the same path may get the same inode back (ext4 hands it out
again at once) and so the same cache: the index is only ever a starting point, every run
in it is checked against its folder's time and its files' times and sizes, and a run
folder made anew has a new time (runs changed in the last clock tick before the index was
saved are read again anyway, see ``FileStore``).

The caches cannot grow without bound:

* the cache of a folder that was not read for ``MAX_AGE_DAYS`` days is removed (checked at
  most once a day, when a store opens its cache; opening marks the cache as used);
* the caches of earlier folders at the same real path (other inodes: folders since removed
  or moved away) are removed when a new folder there gets its cache;
* the numpy copies of long metrics of one folder take at most ``METRICS_CAP`` bytes: when a
  new one is written, the least recently read ones are removed until they fit.

Without a cache directory that can be written to, the reader keeps its index in memory.
Deleting these folders is always safe.
"""

from __future__ import annotations

import os
import stat
import sys
import time

__all__ = (
    "user_cache_dir",
    "store_cache_dir",
    "open_store_cache",
    "mark_used",
    "cap_files",
    "remove_legacy",
    "MAX_AGE_DAYS",
    "METRICS_CAP",
)

MAX_AGE_DAYS = 30
METRICS_CAP = 512 * 1024 * 1024
_PRUNE_EVERY = 24 * 3600  # seconds between two looks for caches of folders no longer read
_PRUNED_STAMP = ".pruned"  # its time: the last look
_LEGACY_DIR = ".sacred_cache"  # where earlier versions kept these caches, in the folder
_LEGACY_INDEX = ".sacred_index.json"  # the JSON index of still earlier versions


def user_cache_dir():
    """The user's cache directory, or None if there is none (an absolute path)."""
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
    return base


def _root():
    base = user_cache_dir()
    return None if base is None else os.path.join(base, "sacred", "file_stores")


def store_cache_dir(basedir):
    """The cache folder of the observed folder ``basedir`` (not made here), or None."""
    root = _root()
    if root is None:
        return None
    try:
        st = os.stat(basedir)
        real = os.path.realpath(basedir)
    except (OSError, ValueError):
        return None
    import hashlib  # here: the observer, which needs only user_cache_dir, stays light

    digest = hashlib.sha256(os.fsencode(real)).hexdigest()[:16]
    return os.path.join(root, f"{st.st_dev:x}-{st.st_ino:x}-{digest}")


def open_store_cache(basedir):
    """``store_cache_dir(basedir)``, marked as used; caches not used for long, and those of
    folders that were at the same path before (a folder made anew), are removed."""
    folder = store_cache_dir(basedir)
    if folder is not None:
        if not mark_used(folder):  # new: the caches of earlier folders there are stale
            _remove_same_path(folder)
        _prune(os.path.dirname(folder), keep=folder)
    return folder


def mark_used(path) -> bool:
    """Set the time of ``path`` (a cache folder or file) to now; False if it is not there."""
    try:
        os.utime(path)
    except OSError:
        return False
    return True


def _remove_same_path(folder) -> None:
    """Remove the caches of other folders (other inodes) with the real path of ``folder``'s."""
    import shutil

    root, name = os.path.split(folder)
    suffix = name[name.rindex("-") :]
    try:
        with os.scandir(root) as entries:
            stale = [e.path for e in entries if e.name.endswith(suffix) and e.name != name]
    except OSError:
        return
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)


def _prune(root, keep, now=None) -> None:
    """Remove the caches in ``root`` not used for ``MAX_AGE_DAYS`` (at most once a day)."""
    now = time.time() if now is None else now
    stamp = os.path.join(root, _PRUNED_STAMP)
    try:
        if now - os.stat(stamp).st_mtime < _PRUNE_EVERY:
            return
    except FileNotFoundError:
        pass
    except OSError:
        return
    try:
        with open(stamp, "wb"):
            pass  # first, so that other processes do not look at the same time
        entries = list(os.scandir(root))
    except OSError:
        return  # no cache yet, or none that can be written
    import shutil

    oldest = now - MAX_AGE_DAYS * 86400
    for entry in entries:
        if entry.name.startswith(".") or entry.path == keep:
            continue
        try:
            if entry.is_dir(follow_symlinks=False) and entry.stat().st_mtime < oldest:
                shutil.rmtree(entry.path, ignore_errors=True)
        except OSError:
            continue


def cap_files(folder, prefix, cap=None) -> None:
    """Remove the least recently used files of ``folder`` whose names start with
    ``prefix`` until they take at most ``cap`` bytes (default ``METRICS_CAP``)."""
    cap = METRICS_CAP if cap is None else cap
    try:
        with os.scandir(folder) as entries:
            files = []
            for entry in entries:
                if entry.name.startswith(prefix) and entry.is_file(follow_symlinks=False):
                    st = entry.stat(follow_symlinks=False)
                    files.append((st.st_mtime_ns, st.st_size, entry.path))
    except OSError:
        return
    total = sum(size for _, size, _ in files)
    for _, size, path in sorted(files):
        if total <= cap:
            break
        try:
            os.remove(path)
        except OSError:
            continue
        total -= size


def remove_legacy(basedir) -> None:
    """Remove the caches earlier versions kept in ``basedir`` (if it can be written to).

    Only their own files go: ``.sacred_index.json`` and, in ``.sacred_cache/``,
    ``index.pickle`` and ``metrics_*.npz`` (and their temporary files); the folder is
    removed only if nothing else is left in it.
    """
    old_index = os.path.join(basedir, _LEGACY_INDEX)
    try:
        if stat.S_ISREG(os.lstat(old_index).st_mode):
            os.remove(old_index)
    except OSError:
        pass
    legacy = os.path.join(basedir, _LEGACY_DIR)
    try:
        if not stat.S_ISDIR(os.lstat(legacy).st_mode):
            return
        with os.scandir(legacy) as entries:
            names = [e.name for e in entries if not e.is_dir(follow_symlinks=False)]
    except OSError:
        return
    for name in names:
        if name.startswith("index.pickle") or (
            name.startswith("metrics_") and name.endswith(".npz")
        ):
            try:
                os.remove(os.path.join(legacy, name))
            except OSError:
                return  # a folder that cannot be written to: left as it is
    try:
        os.rmdir(legacy)
    except OSError:
        pass
