"""Where the S3 and Google Cloud Storage backends keep a run in a bucket, and how as text.

The layout is the FileStorageObserver's, with keys in place of paths (below ``basedir``)::

    _sources/<stem>_<md5><ext>        _resources/<stem>_<md5><ext>
    <id>/run.json config.json cout.txt metrics.json info.json (when not empty) <artifacts>

A run's ``run.json`` lists its sources relative to ``basedir``
(``["demo.py", "_sources/demo_<md5>.py"]``), its resources with their whole keys
(``["/home/me/data.csv", "<basedir>/_resources/data_<md5>.csv"]``) and its artifacts by
name (their keys are ``<basedir>/<id>/<name>``).
"""

import posixpath
from typing import Optional

from sacred.observers import _jsonio
from sacred.serializer import flatten

# the run's own files: an artifact may not take one of these names
RUN_FILES = ("run.json", "config.json", "cout.txt", "metrics.json")
# the files of a run that records are made of
STATE_FILES = ("run.json", "config.json", "info.json", "metrics.json", "cout.txt")
SOURCES = "_sources"
RESOURCES = "_resources"
DATE_KEYS = ("start_time", "stop_time", "heartbeat", "queue_time")


def join(*parts) -> str:
    """Parts of a key joined with ``/`` (on every operating system)."""
    return posixpath.join(*parts)


def dir_prefix(key: str) -> str:
    """``key`` as the prefix of the keys below it (``"a/b"`` -> ``"a/b/"``, ``""`` -> ``""``)."""
    key = key.rstrip("/")
    return key + "/" if key else ""


def clean_name(name) -> Optional[str]:
    """``name`` if it is a relative key of plain parts (no empty, ``.`` or ``..`` part, no
    backslash or NUL), else None: such a name stays below the prefix it is joined to."""
    if not isinstance(name, str) or not name or "\0" in name or "\\" in name:
        return None
    parts = name.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return None
    return name


def iso(t):
    """A time as the ISO text the FileStorage layout holds (strings pass)."""
    return t if isinstance(t, str) else t.isoformat()


def json_text(obj) -> str:
    """The text of a JSON file of the layout: indented, keys sorted, Sacred's own types
    tagged (see ``sacred.serializer.flatten``)."""
    try:  # plain JSON is written as it is: flatten would return an identical copy
        return _jsonio.dumps_plain(obj)
    except _jsonio.NotPlain:
        return _jsonio.dumps(flatten(obj))
