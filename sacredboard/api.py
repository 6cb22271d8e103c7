"""The JSON API (blueprint ``api``): the original Sacredboard routes plus the newer views."""

from __future__ import annotations

import csv
import datetime as _dt
import io
import time

from flask import Blueprint, Response, current_app, request

from sacred.store import RunNotFoundError
from sacred.store.query import MatchAll
from sacredboard import analysis, hpo, lineage
from sacredboard.__about__ import __version__
from sacredboard.annotations import AnnotationError, clean_annotations, save_annotations
from sacredboard.errors import install_error_handlers
from sacredboard.guards import refuse_writes
from sacredboard.jsonutil import dumps, extended, iso
from sacredboard.requests_util import as_json, run_id_of, store
from sacredboard.table import (
    TableError,
    build_query,
    build_sort,
    live_state,
    make_row,
    parse_columns,
    usable_columns,
)

bp = Blueprint("api", __name__)
bp.before_request(refuse_writes)  # DELETE and PUT: same origin, loopback Host, --allow-write

DEFAULT_WIDTH = 1000
MAX_WIDTH = 20000
MAX_ANALYSIS_RUNS = 5000
EXPORT_BATCH = 500  # runs whose metric summaries an export reads at once
AUTO_COLUMN_RUNS = 1000  # listed runs whose configs choose the default columns


# ---------------------------------------------------------------------- helpers
def dead_after() -> float:
    value = request.args.get("dead_after")
    if value:
        try:
            seconds = float(value)
        except ValueError:
            raise TableError("dead_after must be a number of seconds") from None
        if not seconds > 0:
            raise TableError("dead_after must be positive")
        return seconds
    return current_app.config["SACREDBOARD_DEAD_AFTER"]


def now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)


def _int_arg(name, default, minimum=None, maximum=None):
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise TableError(f"{name} must be an integer") from None
    if minimum is not None and value < minimum:
        raise TableError(f"{name} must be at least {minimum}")
    if maximum is not None:
        value = min(value, maximum)
    return value


install_error_handlers(bp)


def ids_arg(name="ids") -> list:
    raw = request.args.get(name, "")
    ids = [run_id_of(i.strip()) for i in raw.split(",") if i.strip()]
    if not ids:
        raise TableError(f"give the runs as {name}=1,2,3")
    return ids


# ---------------------------------------------------------------------- run list
#: stores that filter by scanning in Python (one scan is cheaper than a page plus a count)
ONE_PASS_SCHEMES = frozenset({"tinydb"})
TOTAL_TTL = 5.0  # seconds the unfiltered run count is reused (it costs a scan of the store)


def page_summaries(s, records, needed) -> dict:
    """``{_id: metric summaries}`` of the records, read together (one store call)."""
    return s.metric_summaries_many([r["_id"] for r in records]) if needed else {}


def total_runs(s) -> int:
    cache = current_app.config.setdefault("SACREDBOARD_TOTAL_CACHE", {})
    hit = cache.get("total")
    t = time.monotonic()
    if hit is None or t - hit[0] > TOTAL_TTL:
        hit = cache["total"] = (t, s.count())
    return hit[1]


@bp.route("/api/run")
def run_list():
    """DataTables' server-side protocol: draw, start, length, order, queryFilter (+ q, status).

    As the original: ``recordsTotal`` and ``recordsFiltered`` both count the runs that match
    the filters (``runs_total`` counts every run), and without an order the runs come in the
    store's order (by id).
    """
    after, t, node, sort, columns = _table_request(default_sort="_id")
    start = _int_arg("start", 0, minimum=0)
    length = _int_arg("length", -1)
    limit = None if length < 0 else length
    s = store()
    auto = None
    if request.args.get("auto_cols") == "1" and not columns:
        # the page's default columns: config values that differ between the listed runs
        listed = s.summaries(node, sort, 0, AUTO_COLUMN_RUNS, fields=["config"])
        columns = usable_columns("config." + k for k in analysis.default_config_keys(listed))
        auto = [name for name, _ in columns]
    fields = [f for _, f in columns]
    if getattr(s, "scheme", "") in ONE_PASS_SCHEMES:
        # the store filters in Python: one pass gives the page and the filtered count
        matching = s.summaries(node, sort, fields=fields)
        filtered = len(matching)
        records = matching[start : None if limit is None else start + limit]
    else:  # the database filters, sorts and pages: ask for the page and the count
        records = s.summaries(node, sort, start, limit, fields=fields)
        filtered = s.count(node)
    summaries = page_summaries(s, records, any(fld.metric for _, fld in columns))
    rows = [make_row(r, t, after, columns, summaries.get(r["_id"])) for r in records]
    total = filtered if isinstance(node, MatchAll) else total_runs(s)
    try:
        draw = int(request.args.get("draw", 1))
    except ValueError:
        draw = 1
    return as_json(
        {
            "draw": draw,
            "recordsTotal": filtered,
            "recordsFiltered": filtered,
            "data": rows,
            "runs_total": total,
            "dead_after": after,
            **({"auto_cols": auto} if auto is not None else {}),
        }
    )


def _table_request(default_sort: str = "-heartbeat"):
    """What a table request asks for: (dead_after, now, query, sort, columns)."""
    after = dead_after()
    t = now()
    node = build_query(request.args, after, t)
    sort = build_sort(request.args, default=default_sort)
    return after, t, node, sort, parse_columns(request.args.get("cols"))


def _export_rows():
    after, t, node, sort, columns = _table_request()
    s = store()
    need_metrics = any(fld.metric for _, fld in columns)
    records = s.summaries(node, sort, fields=[f for _, f in columns])
    for start in range(0, len(records), EXPORT_BATCH):
        batch = records[start : start + EXPORT_BATCH]
        summaries = page_summaries(s, batch, need_metrics)
        for r in batch:
            yield make_row(r, t, after, columns, summaries.get(r["_id"]), original=False)


_EXPORT_FIELDS = (
    "id",
    "experiment_name",
    "command",
    "live_state",
    "start_time",
    "stop_time",
    "duration",
    "hostname",
    "result",
    "tags",
    "notes",
)


def _csv_cell(value):
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        value = dumps(value)
    if isinstance(value, str):
        # a leading = + @ or - would make a spreadsheet evaluate the cell as a formula
        if value[:1] in ("=", "+", "@", "\t", "\r") or (
            value[:1] == "-" and not value[1:2].isdigit()
        ):
            return "'" + value
        return value
    return value


@bp.route("/api/export")
def export():
    """All runs of the current table (filters, sort and columns) as CSV or JSON."""
    fmt = request.args.get("format", "csv")
    if fmt not in ("csv", "json"):
        raise TableError("format must be csv or json")
    columns = [name for name, _ in parse_columns(request.args.get("cols"))]
    rows = []
    for row in _export_rows():
        out = {k: row[k] for k in _EXPORT_FIELDS}
        for name in columns:
            out[name] = row["columns"][name]
        rows.append(out)
    if fmt == "json":
        resp = as_json(rows)
    else:
        buf = io.StringIO()
        writer = csv.writer(buf)
        header = list(_EXPORT_FIELDS) + columns
        writer.writerow(header)
        for row in rows:
            row["tags"] = ", ".join(row["tags"])
            writer.writerow([_csv_cell(row[h]) for h in header])
        resp = Response(buf.getvalue(), mimetype="text/csv")
    resp.headers["Content-Disposition"] = f"attachment; filename=runs.{fmt}"
    return resp


# ---------------------------------------------------------------------- one run
#: characters of captured output the detail answer carries (its end); the rest is paged
OUTPUT_TAIL = 64 * 1024
#: the largest page of captured output /api/run/<id>/output sends
OUTPUT_PAGE = 1024 * 1024


@bp.route("/api/run/<run_id>", methods=["GET"])
def run_detail(run_id):
    s = store()
    record = s.get(run_id_of(run_id))
    after = dead_after()
    row = make_row(record, now(), after)
    # a run may print gigabytes: the detail carries the output's end, pages come from
    # /api/run/<id>/output (captured_out_offset says where the tail starts)
    text = record.get("captured_out") or ""
    record["captured_out_length"] = len(text)
    record["captured_out_offset"] = max(0, len(text) - OUTPUT_TAIL)
    record["captured_out_truncated"] = record["captured_out_offset"] > 0
    record["captured_out"] = text[record["captured_out_offset"] :]
    # the original's place and encoding of the whole run: data[0].object, {"$date": ms}
    row["object"] = extended(record)
    return as_json(
        {
            "draw": 1,
            "recordsTotal": 1,
            "recordsFiltered": 1,
            "data": [row],
            "dead_after": after,
        }
    )


@bp.route("/api/run/<run_id>", methods=["DELETE"])
def run_delete(run_id):
    s = store()
    rid = run_id_of(run_id)
    s.get(rid)
    s.delete(rid)  # errors: the handlers above (404 for a run gone meanwhile)
    return Response(f"DELETED run {run_id}", mimetype="text/plain")


@bp.route("/api/run/<run_id>/annotations", methods=["PUT"])
def run_annotations(run_id):
    body = request.get_json(silent=True)
    if body is None:
        raise AnnotationError("send the tags and notes as JSON (Content-Type: application/json)")
    updates = clean_annotations(body)
    rid = run_id_of(run_id)
    save_annotations(store(), rid, updates)
    row = make_row(store().get(rid), now(), dead_after())
    return as_json({"tags": row["tags"], "notes": row["notes"]})


@bp.route("/api/run/<run_id>/lineage")
def run_lineage(run_id):
    """Parent, children, rerun history, segments and the ``sacred rerun`` line of a run."""
    s = store()
    config = current_app.config
    if "SACREDBOARD_LOCATION_TEXT" not in config:
        config["SACREDBOARD_LOCATION_TEXT"] = lineage.location_of(s, config["SACREDBOARD_LOCATION"])
    record = s.get(run_id_of(run_id))
    return as_json(lineage.run_lineage(s, record, config["SACREDBOARD_LOCATION_TEXT"]))


@bp.route("/api/run/<run_id>/output")
def run_output(run_id):
    """Captured output from character ``offset`` on, at most ``limit`` characters (1 MiB by
    default and at most), with the whole length: for a live tail and for earlier pages."""
    record = store().get(run_id_of(run_id))
    text = record.get("captured_out") or ""
    offset = _int_arg("offset", 0, minimum=0)
    limit = _int_arg("limit", OUTPUT_PAGE, minimum=1, maximum=OUTPUT_PAGE)
    if offset > len(text):
        offset = 0  # the output was replaced: send it again
    page = text[offset : offset + limit]
    return as_json(
        {
            "offset": offset,
            "length": len(text),
            "next": offset + len(page),
            "text": page,
            "live_state": live_state(record, now(), dead_after()),
        }
    )


@bp.route("/api/run/<run_id>/metrics")
def run_metrics(run_id):
    summaries = store().metric_summaries(run_id_of(run_id))
    return as_json([{"name": n, **s} for n, s in sorted(summaries.items())])


def _epoch(t):
    if isinstance(t, _dt.datetime):
        if t.tzinfo is not None:
            t = t.astimezone(_dt.timezone.utc).replace(tzinfo=None)
        return (t - _dt.datetime(1970, 1, 1)).total_seconds()
    return None


def _metric_name_of_id(s, run_id, metric_id):
    """The name of the metric whose document id is ``metric_id`` (``info.metrics``)."""
    refs = (s.get(run_id).get("info") or {}).get("metrics")
    for ref in refs if isinstance(refs, list) else ():
        if isinstance(ref, dict) and str(ref.get("id")) == metric_id:
            return ref.get("name")
    return None


def metric_payload(run_id, metric_id, width):
    """One metric of a run by its name, or by its document's id as in ``info.metrics``
    (MongoDB, what the original's page asks for)."""
    s = store()
    name = metric_id
    data = s.metrics(run_id, [name], max_points=width)
    if name not in data:
        name = _metric_name_of_id(s, run_id, metric_id)
        data = s.metrics(run_id, [name], max_points=width) if isinstance(name, str) else {}
    if name not in data:
        raise RunNotFoundError(f"run {run_id} has no metric {metric_id!r}")
    m = data[name]
    return {
        "run_id": run_id,
        "metric_id": metric_id,
        "name": name,
        "steps": m["steps"],
        "timestamps": [_epoch(t) for t in m["timestamps"]],
        "strtimestamps": [iso(t) if isinstance(t, _dt.datetime) else t for t in m["timestamps"]],
        "values": m["values"],
    }


@bp.route("/api/run/<run_id>/metric/<path:name>")
def run_metric(run_id, name):
    """One metric, downsampled on the server to at most ``width`` points (min/max kept)."""
    width = _int_arg("width", DEFAULT_WIDTH, minimum=2, maximum=MAX_WIDTH)
    return as_json(metric_payload(run_id_of(run_id), name, width))


# ---------------------------------------------------------------------- several runs
@bp.route("/api/compare")
def compare():
    """Selected runs: brief rows, the config keys that differ, and their metric names."""
    ids = ids_arg()
    s = store()
    t = now()
    after = dead_after()
    records = [s.get(i) for i in ids]
    summaries = page_summaries(s, records, True)
    metric_names = {str(r["_id"]): sorted(summaries[r["_id"]]) for r in records}
    return as_json(
        {
            "runs": [make_row(r, t, after) for r in records],
            # a named config's docstring stays in the config, but is no difference to show
            "config_diff": [
                row
                for row in analysis.config_diff({r["_id"]: r.get("config") for r in records})
                if not analysis.is_doc_key(row["key"])
            ],
            "metrics": metric_names,
        }
    )


@bp.route("/api/diff")
def diff():
    """Side-by-side diff of two runs' captured output (``what=captured_out``) or a source."""
    a, b = run_id_of(request.args.get("a", "")), run_id_of(request.args.get("b", ""))
    what = request.args.get("what", "captured_out")
    s = store()
    if what == "captured_out":
        left = s.get(a).get("captured_out") or ""
        right = s.get(b).get("captured_out") or ""
    elif what.startswith("source:"):
        name = what[len("source:") :]
        texts = []
        for rid in (a, b):
            if name in s.sources(rid):
                with s.open_source(rid, name) as f:
                    texts.append(f.read().decode("utf-8", errors="replace"))
            else:
                texts.append("")
        left, right = texts
    else:
        raise TableError("what must be captured_out or source:<name>")
    return as_json(
        {"a": str(a), "b": str(b), "what": what, "rows": analysis.text_diff(left, right)}
    )


def _analysis_records():
    after = dead_after()
    t = now()
    node = build_query(request.args, after, t)
    sort = build_sort(request.args, default="_id")
    limit = _int_arg("limit", MAX_ANALYSIS_RUNS, minimum=1, maximum=MAX_ANALYSIS_RUNS)
    return store().summaries(node, sort, 0, limit), t, after


@bp.route("/api/groups")
def groups():
    """Runs of the filtered table grouped by everything but the seed, with aggregates."""
    records, t, after = _analysis_records()
    return as_json(analysis.group_runs(records, lambda r: live_state(r, t, after)))


@bp.route("/api/groups/metric")
def group_metric():
    """Mean and spread of one metric over the given runs, aligned by step."""
    ids = ids_arg()
    name = request.args.get("name", "")
    width = _int_arg("width", DEFAULT_WIDTH, minimum=2, maximum=MAX_WIDTH)
    series = []
    for rid in ids:
        data = store().metrics(rid, [name])
        if name in data:
            series.append(data[name])
    agg = analysis.aggregate_metric(series, width)
    agg["name"] = name
    agg["runs"] = len(series)
    return as_json(agg)


@bp.route("/api/points")
def points():
    """Values of chosen fields for the filtered runs (parallel coordinates, scatter plots)."""
    records, t, after = _analysis_records()
    fields = parse_columns(request.args.get("fields"))
    s = store()
    # defaults=1 (the analysis page): fields most runs have, and which two to scatter
    defaults = not fields and request.args.get("defaults") == "1"
    wanted = defaults or request.args.get("list_metrics") or any(f.metric for _, f in fields)
    summaries = page_summaries(s, records, wanted)
    scatter = None
    if defaults:
        names, scatter = analysis.default_fields(records, summaries)
        fields = usable_columns(names)
        if scatter and not set(scatter) <= {name for name, _ in fields}:
            scatter = None
    elif not fields:
        fields = parse_columns(
            ",".join("config." + k for k in analysis.varying_config_keys(records))
        )
    metric_names = set()
    columns = {name: [] for name, _ in fields}
    for r in records:
        ms = summaries.get(r["_id"])
        if ms:
            metric_names.update(ms)
        for name, fld in fields:
            columns[name].append(_col(r, fld, ms))
    return as_json(
        {
            "ids": [str(r["_id"]) for r in records],
            "states": [live_state(r, t, after) for r in records],
            "fields": [name for name, _ in fields],
            "columns": columns,
            **({"scatter": scatter} if defaults else {}),
            "metric_names": sorted(metric_names),
        }
    )


def _col(record, fld, ms):
    from sacredboard.table import column_value

    return column_value(record, fld, ms)


# ---------------------------------------------------------------------- search spaces
def _all_records():
    return store().summaries(None, None)


def _definitions() -> dict:
    config = current_app.config
    if "SACREDBOARD_LABWATCH_BACKEND" not in config:
        config["SACREDBOARD_LABWATCH_BACKEND"] = hpo.labwatch_backend(
            config["SACREDBOARD_LABWATCH"]
        )
    found = hpo.load_definitions(config["SACREDBOARD_LABWATCH_BACKEND"])
    found.update(current_app.config.get("SACREDBOARD_SEARCH_SPACES", {}))
    return found


@bp.route("/api/search_spaces")
def search_spaces():
    return as_json(hpo.list_spaces(_all_records(), _definitions()))


@bp.route("/api/search_space/<path:name>")
def search_space(name):
    t = now()
    after = dead_after()
    definition = _definitions().get(name)
    report = hpo.space_report(
        _all_records(), name, lambda r: live_state(r, t, after), definition=definition
    )
    if not report["total"] and definition is None:
        raise RunNotFoundError(f"no run used the search space {name!r}")
    return as_json(report)


@bp.route("/api/settings")
def settings():

    return as_json(
        {
            "version": __version__,
            "dead_after": current_app.config["SACREDBOARD_DEAD_AFTER"],
            "allow_write": current_app.config["SACREDBOARD_ALLOW_WRITE"],
            "store": repr(store()),
        }
    )


__all__ = ("bp", "metric_payload")
