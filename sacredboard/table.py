"""The run table: request parameters -> query, sort and page; run records -> table rows.

Three kinds of filters are combined with AND, all parsed by ``sacred.store.query`` (never
evaluated as code):

* ``queryFilter``: Sacredboard's JSON tree ``{"type": "and", "filters": [...]}``;
* ``q``: a text query such as ``config.lr <= 0.01 and metrics.loss.min < 0.3``;
* ``status``: a comma list of live states (RUNNING, PROBABLY_DEAD, COMPLETED, ...).
"""

from __future__ import annotations

import datetime as _dt
import json
from typing import Optional

from sacred.store import query as q
from sacredboard.jsonutil import iso

__all__ = (
    "TableError",
    "build_query",
    "build_sort",
    "parse_columns",
    "usable_columns",
    "make_row",
    "column_value",
    "local_time",
    "BASE_COLUMNS",
    "STATES",
)

STATES = (
    "RUNNING",
    "COMPLETED",
    "FAILED",
    "INTERRUPTED",
    "TIMEOUT",
    "PROBABLY_DEAD",
    "QUEUED",
)
#: DataTables column names -> field paths (the original maps ``hostname`` only)
_COLUMN_FIELDS = {
    "id": "_id",
    "_id": "_id",
    "experiment_name": "experiment.name",
    "hostname": "host.hostname",
    "last_activity": "heartbeat",
    "duration": "stop_time",
}
BASE_COLUMNS = ("id", "experiment_name", "command", "start_time", "heartbeat", "hostname", "result")


class TableError(ValueError):
    """Bad request parameters; the message is shown to the user."""


def _utcnow() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)


def build_query(args, dead_after: float, now: Optional[_dt.datetime] = None) -> q.Node:
    """One query node from ``queryFilter``, ``q`` and ``status`` request parameters."""
    now = now or _utcnow()
    parts = []
    tree = args.get("queryFilter")
    if tree:
        try:
            parsed = json.loads(tree)
        except ValueError as e:
            raise TableError(f"queryFilter is not valid JSON: {e}") from None
        if not isinstance(parsed, dict) or not isinstance(parsed.get("type", "and"), str):
            raise TableError(
                'queryFilter must be a JSON object like {"type": "and", "filters": []}'
            )
        parts.append(_parse(parsed, now, dead_after))
    text = (args.get("q") or "").strip()
    if text:
        parts.append(_parse(text, now, dead_after))
    status = args.get("status")
    if status is not None and status != "":
        states = [s.strip().upper() for s in status.split(",") if s.strip()]
        unknown = [s for s in states if s not in STATES and s != "DEAD"]
        if unknown:
            raise TableError(f"unknown status {unknown[0]!r}; use {', '.join(STATES)}")
        states = ["PROBABLY_DEAD" if s == "DEAD" else s for s in states]
        if set(states) != set(STATES):
            parts.append(_parse(f"live_state in {json.dumps(states)}", now, dead_after))
    elif status == "":
        parts.append(_parse("live_state in []", now, dead_after))
    parts = [p for p in parts if not isinstance(p, q.MatchAll)]
    if not parts:
        return q.MatchAll()
    return parts[0] if len(parts) == 1 else q.And(tuple(parts))


def _parse(query, now, dead_after) -> q.Node:
    try:
        return q.parse(query, now=now, dead_after=dead_after)
    except q.QueryError as e:
        raise TableError(str(e)) from None


def field_of_column(name: str) -> str:
    return _COLUMN_FIELDS.get(name, name)


def build_sort(args, default: str = "-heartbeat") -> str:
    """The sort (``-a,b``) from ``sort`` or the DataTables ``order``/``columns`` params."""
    sort = args.get("sort")
    if sort is None and "order[0][column]" in args:
        try:
            index = int(args.get("order[0][column]"))
        except ValueError:
            raise TableError("order[0][column] must be an integer") from None
        name = args.get(f"columns[{index}][name]") or args.get(f"columns[{index}][data]")
        if not name:
            raise TableError(f"there is no column {index} to sort by")
        direction = args.get("order[0][dir]", "asc")
        if direction not in ("asc", "desc"):
            raise TableError("order[0][dir] must be asc or desc")
        sort = ("-" if direction == "desc" else "") + field_of_column(name)
    if sort is None:
        sort = default
    try:
        q.parse_sort(sort)
    except q.QueryError as e:
        raise TableError(str(e)) from None
    return sort


def parse_columns(text: Optional[str]) -> list:
    """Extra columns: a comma list of field paths (``config.lr``, ``.info.x``, ``metrics.loss.min``)."""
    if not text:
        return []
    columns = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        try:
            fld = q.parse_field(item)
        except q.QueryError as e:
            raise TableError(f"column {item!r}: {e.reason}") from None
        columns.append((item, fld))
    return columns


def usable_columns(paths) -> list:
    """``parse_columns`` of the paths that are field paths (a config key with a comma, a
    ``$`` or an empty part cannot be a column), the others left out."""
    columns = []
    for path in paths:
        if "," in path:
            continue
        try:
            columns.append((path, q.parse_field(path)))
        except q.QueryError:
            continue
    return columns


def column_value(record, fld, metric_summaries=None):
    value = q.get_value(record, fld, metric_summaries)
    return None if value is q.MISSING else value


def _time(value):
    return iso(value) if isinstance(value, _dt.datetime) else value


def local_time(value):
    """The original's format of a time in the table: ``%X %x`` in the server's locale."""
    return value.strftime("%X %x") if isinstance(value, _dt.datetime) else value


def _file_id(run_id, kind: str, name, stored_id):
    """A GridFS id as its hex text (MongoDB, as the original); else ``<run>/<kind>/<name>``."""
    if type(stored_id).__name__ == "ObjectId":
        return str(stored_id)
    return f"{run_id}/{kind}/{name}"


def live_state(record: dict, now: _dt.datetime, dead_after: float):
    status = record.get("status")
    if status != "RUNNING":
        return status
    last = record.get("heartbeat") or record.get("start_time")
    if not isinstance(last, _dt.datetime):
        return "PROBABLY_DEAD"
    return "RUNNING" if (now - last).total_seconds() <= dead_after else "PROBABLY_DEAD"


def tags_of(record: dict) -> list:
    """Tags set in the dashboard (``meta.tags``) plus a ``tags`` list in the config."""
    tags = []
    for source in (
        (record.get("meta") or {}).get("tags"),
        (record.get("config") or {}).get("tags"),
    ):
        if isinstance(source, list):
            tags.extend(str(t) for t in source if str(t) not in tags)
    return tags


def notes_of(record: dict) -> str:
    meta = record.get("meta") or {}
    notes = meta.get("notes")
    if isinstance(notes, str) and notes:
        return notes
    comment = meta.get("comment")
    return comment if isinstance(comment, str) else ""


def make_row(
    record: dict,
    now: _dt.datetime,
    dead_after: float,
    columns=(),
    metric_summaries=None,
    original: bool = True,
) -> dict:
    """One item of ``/api/run``'s ``data`` list (the original keys plus a few more).

    As the original: ``start_time`` and ``heartbeat`` in the server's locale (``%X %x``),
    ``result`` an empty string when the run has none. ``start_time_iso``, ``heartbeat_iso``
    and ``stop_time`` are ISO (UTC). ``original=False`` gives ISO times and a null result
    in the original keys too (exports).
    """
    run_id = record.get("_id")
    heartbeat = record.get("heartbeat")
    start = record.get("start_time")
    stop = record.get("stop_time")
    diff = (now - heartbeat).total_seconds() if isinstance(heartbeat, _dt.datetime) else None
    end = stop if isinstance(stop, _dt.datetime) else heartbeat
    duration = (
        (end - start).total_seconds()
        if isinstance(end, _dt.datetime) and isinstance(start, _dt.datetime)
        else None
    )
    state = live_state(record, now, dead_after)
    artifacts = [
        (a.get("name"), a.get("file_id")) if isinstance(a, dict) else (a, None)
        for a in record.get("artifacts") or []
    ]
    sources = (record.get("experiment") or {}).get("sources") or []
    if isinstance(sources, dict):
        sources = sources.get("py/tuple", [])
    source_files = []
    for s in sources:
        if isinstance(s, dict):
            s = s.get("py/tuple", [None])
        if isinstance(s, (list, tuple)) and s:
            source_files.append((s[0], s[1] if len(s) > 1 else None))
    if original:
        result = record.get("result")
        result = "" if result is None else result
    else:
        result = record.get("result")
    row = {
        "id": str(run_id),
        "experiment_name": (record.get("experiment") or {}).get("name"),
        "command": record.get("command"),
        "status": record.get("status"),
        "live_state": state,
        "is_alive": state == "RUNNING",
        "start_time": local_time(start) if original else _time(start),
        "start_time_iso": _time(start),
        "stop_time": _time(stop),
        "heartbeat": local_time(heartbeat) if original else _time(heartbeat),
        "heartbeat_iso": _time(heartbeat),
        "heartbeat_diff": diff,
        "duration": duration,
        "hostname": (record.get("host") or {}).get("hostname"),
        "artifacts": [
            {"filename": n, "file_id": _file_id(run_id, "artifact", n, i)} for n, i in artifacts
        ],
        "sources": [
            {"filename": n, "file_id": _file_id(run_id, "source", n, i)} for n, i in source_files
        ],
        "result": result,
        "tags": tags_of(record),
        "notes": notes_of(record),
    }
    if columns:
        row["columns"] = {
            name: column_value(record, fld, metric_summaries) for name, fld in columns
        }
    return row
