"""A run's lineage on its page: its parent, its children, what it reran, its reruns, its
execution segments, and the ``sacred rerun`` line that runs it again.

The records say it in ``meta`` (see ``sacred.lineage``, ``sacred.reproduce`` and
``sacred.continuation``): ``meta.parent`` and ``meta.rerun_of`` are ``{"store": <location>,
"id": <id>}``, ``meta.segments`` is ``[{"start", "stop", "status"}, ...]``.

A run named in another store is shown by its location and id only: a location read from a
record is never opened (it is untrusted data). Children and reruns are found with one
bounded query each in the store's query language.
"""

from __future__ import annotations

import json
import os
import shlex
from typing import Any, Optional
from urllib.parse import urlsplit

from sacred.store import RunNotFoundError, StoreError, scheme_of

__all__ = (
    "MAX_RELATED",
    "location_of",
    "same_location",
    "rerun_command",
    "run_lineage",
)

#: children (and reruns) listed at most; a "more" flag says when there are others
MAX_RELATED = 50
_DEFAULT_PORTS = {"mongodb": 27017, "postgresql": 5432, "mysql": 3306}
_LOOPBACK = {"localhost", "127.0.0.1", "::1", "[::1]"}


def location_of(store, given: Any = None) -> Optional[str]:
    """The location text of the dashboard's store, as the ``sacred`` tool takes it:
    folders absolute, URLs without a password. ``given`` is what the app was started on,
    when it was a path or URL."""
    if isinstance(given, (str, os.PathLike)) and scheme_of(given) not in ("mongodb", "mongodb+srv"):
        text = os.fspath(given)
        return _without_password(text) if "://" in text else os.path.abspath(text)
    scheme = getattr(store, "scheme", "")
    if getattr(store, "basedir", None) and scheme == "file":
        return os.path.abspath(store.basedir)
    if getattr(store, "engine", None) is not None:
        return store.engine.url.render_as_string(hide_password=True)
    if scheme == "tinydb":
        return store.root
    if getattr(store, "runs", None) is not None and getattr(store, "db", None) is not None:
        from sacred.reproduce.runner import location_text  # lazy: the rerun machinery

        return location_text(store.db)
    location = getattr(store, "location", None)
    return location if isinstance(location, str) else None


def _without_password(text: str) -> str:
    scheme, _, rest = text.partition("://")
    netloc, slash, path = rest.partition("/")
    if "@" in netloc:
        user, _, host = netloc.rpartition("@")
        netloc = f"{user.split(':', 1)[0]}@{host}"
    return f"{scheme}://{netloc}{slash}{path}"


def _prefix_of(store) -> Optional[str]:
    """The MongoDB collection prefix of the store (``exp`` for ``exp_runs``), if any."""
    runs = getattr(getattr(store, "runs", None), "name", None)
    if isinstance(runs, str) and runs.endswith("_runs"):
        return runs[: -len("_runs")]
    return None


def _identity(text: str):
    """What two location texts must share to name the same store."""
    try:
        scheme = scheme_of(text)
    except StoreError:
        return None
    if scheme in ("file", "tinydb"):
        path = text.split("://", 1)[1] if "://" in text else text
        return ("folder", os.path.realpath(path))
    if scheme == "sqlite":
        path = text.split(":///", 1)[1] if ":///" in text else ""
        return ("sqlite", os.path.realpath(path) if path not in ("", ":memory:") else path)
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    family = "postgresql" if scheme == "postgres" else scheme
    netloc = parts.netloc.rpartition("@")[2]
    hosts = set()
    for item in netloc.lower().split(","):
        if item.startswith("["):  # [::1]:27017
            host, _, port = item[1:].partition("]")
            port = port[1:]
        else:
            host, _, port = item.partition(":")
        host = "127.0.0.1" if host in _LOOPBACK else host
        hosts.add((host, port or str(_DEFAULT_PORTS.get(family, ""))))
    return (family, frozenset(hosts), parts.path.strip("/"))


def same_location(a: Optional[str], b: Optional[str]) -> bool:
    """Whether two location texts name the same store (folders by their real path)."""
    if not isinstance(a, str) or not isinstance(b, str):
        return False
    ia, ib = _identity(a), _identity(b)
    return ia is not None and ia == ib


def rerun_command(store, run_id, location: Optional[str]) -> Optional[str]:
    """``sacred rerun LOCATION RUN_ID`` (with ``--prefix`` for a prefixed MongoDB store)."""
    if not location:
        return None
    line = f"sacred rerun {shlex.quote(location)} {shlex.quote(str(run_id))}"
    prefix = _prefix_of(store)
    if prefix:
        line += f" --prefix {shlex.quote(prefix)}"
    return line


def _brief(record: dict) -> dict:
    return {
        "id": str(record.get("_id")),
        "experiment_name": (record.get("experiment") or {}).get("name"),
        "status": record.get("status"),
        "command": record.get("command"),
    }


def _link(store, ref, location: Optional[str]) -> Optional[dict]:
    """A ``meta.parent``/``meta.rerun_of`` value as shown: in this store (found or not, with
    its experiment and status), or elsewhere (its location and id only)."""
    if not isinstance(ref, dict) or "id" not in ref:
        return None
    run_id = ref.get("id")
    where = ref.get("store")
    out = {
        "id": str(run_id),
        "store": where if isinstance(where, str) else None,
        "same_store": where is None or same_location(where, location),
        "found": False,
    }
    if out["same_store"] and isinstance(run_id, (int, str)) and not isinstance(run_id, bool):
        try:
            record = store.get(run_id)
        except (RunNotFoundError, StoreError):
            pass  # named, but not (or no longer) here
        else:
            out.update(_brief(record), found=True)
    return out


def _related(store, key: str, run_id, location: Optional[str]) -> tuple:
    """Runs whose ``meta.<key>`` names ``run_id`` in this store: (briefs, more)."""
    values = [run_id] + ([str(run_id)] if isinstance(run_id, int) else [])
    if isinstance(run_id, str) and run_id.isdigit():
        values.append(int(run_id))
    query = " or ".join(f"meta.{key}.id == {json.dumps(v)}" for v in values)
    found = store.summaries(query, "_id", 0, MAX_RELATED + 1, fields=["meta"])
    runs = []
    for record in found:
        ref = (record.get("meta") or {}).get(key)
        where = ref.get("store") if isinstance(ref, dict) else None
        if where is None or same_location(where, location):
            runs.append(_brief(record))
    return runs[:MAX_RELATED], len(found) > MAX_RELATED


def run_lineage(store, record: dict, location: Optional[str]) -> dict:
    """The lineage of ``record`` for its page (see the module's docstring)."""
    from sacred.continuation import segments_of

    run_id = record["_id"]
    meta = record.get("meta") if isinstance(record.get("meta"), dict) else {}
    children, more_children = _related(store, "parent", run_id, location)
    reruns, more_reruns = _related(store, "rerun_of", run_id, location)
    resumed = isinstance(meta.get("segments"), list) and bool(meta["segments"])
    return {
        "id": str(run_id),
        "store": location,
        "rerun_command": rerun_command(store, run_id, location),
        "parent": _link(store, meta.get("parent"), location),
        "rerun_of": _link(store, meta.get("rerun_of"), location),
        "children": children,
        "children_more": more_children,
        "reruns": reruns,
        "reruns_more": more_reruns,
        "segments": segments_of(record) if resumed else [],
    }
