"""The names in a FileStorageObserver folder that its reader relies on, and small file helpers.

``<basedir>/<id>/`` holds ``RUN_FILES`` (``run.json`` first: a run without it is not
complete), ``cout.txt`` and the artifacts. Nothing else of ours goes into ``<basedir>``: the
FileStore's index and metric caches are kept in the user's cache directory (see
``cache_dir``).
"""

import json
import os

__all__ = (
    "RUN_FILES",
    "DATE_KEYS",
    "read_json",
    "mtime_size",
    "flat_stats",
    "remove_file",
)

# the JSON files of a run, in the order of their stats in the index (see FileStore._changed)
RUN_FILES = ("run.json", "config.json", "info.json", "metrics.json")
DATE_KEYS = ("start_time", "stop_time", "heartbeat", "queue_time")


def read_json(path):
    with open(path, "rb") as f:
        return json.loads(f.read())


def mtime_size(path):
    """``[mtime_ns, size]`` of ``path``, or None if it cannot be stat'ed."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_mtime_ns, st.st_size]


def flat_stats(stats) -> tuple:
    """``[[mtime, size] or None, ...]`` as one flat tuple (one object a run in the index)."""
    out = []
    for st in stats:
        out.extend(st if st is not None else (None, None))
    return tuple(out)


def remove_file(path) -> None:
    """Remove ``path`` if it is there (and can be removed); None is no file."""
    if path is None:
        return
    try:
        os.remove(path)
    except OSError:
        pass
