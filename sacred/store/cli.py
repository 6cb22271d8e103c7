"""The ``sacred`` console command: tools over stored runs, for any store location.

    sacred runs list LOCATION [-q QUERY] [--sort FIELD] [--limit N] [--skip N]
                              [--columns a,b,...] [--json | --csv]
    sacred runs show LOCATION RUN_ID [--json]
    sacred runs export LOCATION [-q QUERY] [--sort FIELD] (--json | --csv) [-o FILE]
    sacred export SRC DST [-q QUERY] [--new-ids]
    sacred sync JOURNAL... [STORE] [--prefix PREFIX]

LOCATION is anything ``sacred.store.open_store`` accepts: a FileStorageObserver folder,
``sqlite:///runs.db``, ``postgresql://...``, ``mongodb://host/db``, ``tinydb://path``.
"""

from __future__ import annotations

import argparse
import csv
import datetime as _dt
import difflib
import json
import os
import sys
import warnings
from typing import Optional

from sacred.observers import journal
from sacred.store import (
    QueryError,
    StoreError,
    open_store,
)
from sacred.store.base import flatten_record
from sacred.store.export import copy_runs, open_destination
from sacred.store.query import MISSING, Exists, any_field, get_value, parse_field
from sacred.store.query import parse as parse_query
from sacred.utils import SacredError

__all__ = ("main", "copy_runs")

# verbs kept in their own modules: each defines add_parser(subparsers) and run(args, out) -> int
_VERB_MODULES = (
    "sacred.launch.worker_cli",
    "sacred.launch.queue_cli",
    "sacred.launch.resume_cli",
    "sacred.launch.sweep_cli",
    "sacred.reproduce.cli",
)

_TABLE_COLUMNS = [
    ("ID", "_id"),
    ("EXPERIMENT", "experiment.name"),
    ("COMMAND", "command"),
    ("STATUS", "live_state"),
    ("STARTED", "start_time"),
    ("RESULT", "result"),
]


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # exit code 1 and one paragraph, like the other errors
        raise _UsageError(f"{message}\n{self.format_usage().strip()}")


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="sacred", description="Tools for runs stored by Sacred's observers.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    runs = sub.add_parser("runs", help="list, show or export runs of a store")
    runs_sub = runs.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    runs_sub.required = True

    def store_args(p):
        p.add_argument("location", metavar="LOCATION", help="a folder or store URL")
        p.add_argument("--prefix", help="collection prefix (MongoDB stores)")

    def query_args(p):
        p.add_argument("-q", "--query", help="a query, e.g. 'lr < 0.1 and status == \"COMPLETED\"'")
        p.add_argument("--sort", help="field to sort by; '-' in front for descending")

    ls = runs_sub.add_parser("list", help="a table of runs")
    store_args(ls)
    query_args(ls)
    ls.add_argument("--limit", type=int, help="show at most N runs")
    ls.add_argument("--skip", type=int, default=0, help="skip the first N runs")
    ls.add_argument("--columns", help="comma-separated fields to show, e.g. lr,result")
    fmt = ls.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="JSON for scripts")
    fmt.add_argument("--csv", action="store_true", help="CSV for scripts")

    show = runs_sub.add_parser("show", help="everything about one run")
    store_args(show)
    show.add_argument("run_id", metavar="RUN_ID")
    show.add_argument("--json", action="store_true", help="the whole record as JSON")

    export = runs_sub.add_parser("export", help="all matching runs as JSON or CSV")
    store_args(export)
    query_args(export)
    fmt = export.add_mutually_exclusive_group(required=True)
    fmt.add_argument("--json", action="store_true", help="records with metrics, as JSON")
    fmt.add_argument("--csv", action="store_true", help="one row per run, flattened columns")
    export.add_argument("-o", "--output", help="write to this file instead of stdout")

    copy = sub.add_parser("export", help="copy runs from one store to another")
    copy.add_argument("source", metavar="SRC")
    copy.add_argument("destination", metavar="DST")
    copy.add_argument("-q", "--query", help="copy only the matching runs")
    copy.add_argument("--new-ids", action="store_true", help="give the copies new ids")
    copy.add_argument("--prefix", help="collection prefix of the source (MongoDB)")
    copy.add_argument("--dst-prefix", help="collection prefix of the destination (MongoDB)")
    copy.add_argument("--progress", action="store_true", help="a progress bar, also in a pipe")

    sync = sub.add_parser(
        "sync",
        help="write journals of runs whose backend was unreachable into the store",
        usage="sacred sync [-h] [--prefix PREFIX] [--progress] JOURNAL [JOURNAL ...] "
        "[STORE | --store STORE]",
        description="Apply journals (kept in an observer's failure_dir while its backend was "
        "unreachable) to the store they were meant for, or to STORE (a URL of the same "
        "kind). A folder stands for the journals in it. Applying is idempotent.",
    )
    sync.add_argument("paths", nargs="+", metavar="JOURNAL", help="a journal file or a folder")
    sync.add_argument(
        "--store", help="the store to write to (else a last URL argument, else the journal's own)"
    )
    sync.add_argument("--prefix", help="collection prefix (MongoDB stores)")
    sync.add_argument("--progress", action="store_true", help="a progress bar, also in a pipe")
    for module in _verb_modules():
        module.add_parser(sub)
    return parser


def _verb_modules():
    import importlib

    return [importlib.import_module(name) for name in _VERB_MODULES]


# ---------------------------------------------------------------------------- helpers
def _open(location, prefix=None):

    kwargs = {"prefix": prefix} if prefix else {}
    return open_store(location, **kwargs)


def _json_default(obj):
    if isinstance(obj, _dt.datetime):
        return obj.isoformat()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    return str(obj)


def _dumps(obj, indent=2) -> str:
    return json.dumps(obj, indent=indent, default=_json_default, ensure_ascii=False)


def _cell(value) -> str:

    if value is MISSING or value is None:
        return "-"
    if isinstance(value, _dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, float):
        text = repr(value)
        return text if len(text) <= 10 else format(value, ".6g")
    if isinstance(value, (list, dict)):
        return json.dumps(value, default=_json_default, separators=(",", ":"))
    return str(value)


def _columns(spec: Optional[str]):
    """[(header, Field or "live_state")] for the table."""

    if not spec:
        return [
            (h, "live_state" if f == "live_state" else parse_field(f)) for h, f in _TABLE_COLUMNS
        ]
    result = []
    for name in spec.split(","):
        name = name.strip()
        if not name:
            raise _UsageError(f"empty column name in --columns {spec!r}")
        if name in ("id", "ID"):  # the id's field is _id; "id" is what people type
            result.append((name, parse_field("_id")))
        else:
            result.append((name, "live_state" if name == "live_state" else parse_field(name)))
    if not any(f != "live_state" and f.path == ("_id",) for _, f in result):
        result.insert(0, ("id", parse_field("_id")))  # a row names its run
    return result


#: roots whose fields vary between runs: a field there that no run has is most likely a typo
_FREE_ROOTS = ("config", "info", "meta", "host", "experiment")


def _missing_fields(store, fields) -> list:
    """Warnings for fields no run of the store has, each with the nearest field runs have."""
    wanted = []
    for fld in fields:
        if fld == "live_state" or fld.metric is not None or fld.root not in _FREE_ROOTS:
            continue
        if fld not in wanted and store.count(Exists(fld)) == 0:
            wanted.append(fld)
    if not wanted:
        return []
    known = set()
    for record in store.summaries(limit=200, fields=[parse_field(r) for r in _FREE_ROOTS]):
        for root in _FREE_ROOTS:
            value = record.get(root)
            if isinstance(value, dict):
                for leaf in flatten_record(value, root + "."):  # and the dicts above it
                    parts = leaf.split(".")
                    known.update(".".join(parts[:i]) for i in range(2, len(parts) + 1))
    warnings_ = []
    for fld in wanted:
        close = difflib.get_close_matches(fld.dotted, sorted(known), n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]}?)" if close else ""
        warnings_.append(f"no run has the field {fld.dotted}{hint}")
    return warnings_


def _fields_of(node) -> list:
    found = []
    any_field(node, lambda f: found.append(f) or False)
    return found


def _values(store, record, columns, now):

    summaries = None
    out = []
    for _, fld in columns:
        if fld == "live_state":
            out.append(store.live_state(record, now=now))
            continue
        if fld.metric is not None and summaries is None:
            summaries = store.metric_summaries(record["_id"])
        out.append(get_value(record, fld, summaries))
    return out


def _table(header, rows) -> str:
    cells = [header] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines)


def _flat_row(record) -> dict:

    row = {}
    for key, value in record.items():
        if key in ("config", "info", "host", "experiment", "meta") and isinstance(value, dict):
            flatten_record(value, key + ".", row)
        elif key in ("captured_out",):
            continue
        else:
            row[key] = value
    return row


def _write_csv(out, header, rows) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else _csv_cell(v) for v in row])


def _csv_cell(value):

    if value is MISSING:
        return ""
    if isinstance(value, _dt.datetime):
        return value.isoformat()
    if isinstance(value, (list, dict)):
        return json.dumps(value, default=_json_default, separators=(",", ":"))
    return value


# ---------------------------------------------------------------------------- commands
def _runs_list(args, out) -> None:
    store = _open(args.location, args.prefix)
    columns = _columns(args.columns)
    if args.json and not args.columns:
        records = store.find(args.query, sort=args.sort, skip=args.skip, limit=args.limit)
        out.write(_dumps(records) + "\n")
        return
    records = store.summaries(
        args.query,
        sort=args.sort,
        skip=args.skip,
        limit=args.limit,
        fields=[f for _, f in columns if f != "live_state"],
    )
    now = _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)
    header = [h for h, _ in columns]
    rows = [_values(store, r, columns, now) for r in records]
    if not rows or args.columns:  # an empty answer or an empty column: a typo in a name?
        fields = [] if rows else _fields_of(parse_query(args.query))
        fields += [f for i, (_, f) in enumerate(columns) if all(r[i] is MISSING for r in rows)]
        for message in _missing_fields(store, fields):
            sys.stderr.write(f"sacred: warning: {message}\n")
    if args.json:
        data = [{h: (None if v is MISSING else v) for h, v in zip(header, row)} for row in rows]
        out.write(_dumps(data) + "\n")
    elif args.csv:
        _write_csv(out, header, rows)
    elif rows:
        out.write(_table(header, rows) + "\n")
    else:
        out.write("No runs.\n")


def _runs_show(args, out) -> None:
    store = _open(args.location, args.prefix)
    record = store.get(args.run_id)
    if args.json:
        out.write(_dumps(record) + "\n")
        return

    name = (record.get("experiment") or {}).get("name", "?")
    lines = [f"Run {record['_id']} ({name})"]
    fields = [
        ("command", record.get("command")),
        ("status", store.live_state(record)),
        ("started", record.get("start_time")),
        ("stopped", record.get("stop_time")),
        ("heartbeat", record.get("heartbeat")),
        ("result", record.get("result")),
        ("host", (record.get("host") or {}).get("hostname")),
    ]
    lines += [f"  {k:<10} {_cell(v)}" for k, v in fields]

    def section(title, items):
        lines.append(f"{title}:")
        lines.extend(f"  {item}" for item in items) if items else lines.append("  -")

    section(
        "config",
        [f"{k} = {_cell(v)}" for k, v in flatten_record(record.get("config") or {}).items()],
    )
    section(
        "info", [f"{k} = {_cell(v)}" for k, v in flatten_record(record.get("info") or {}).items()]
    )
    summaries = store.metric_summaries(record["_id"])
    section(
        "metrics",
        [
            f"{n}: {s['count']} points, last {_cell(s.get('last'))}, "
            f"min {_cell(s.get('min'))}, max {_cell(s.get('max'))}"
            for n, s in sorted(summaries.items())
        ],
    )
    section("artifacts", store.artifacts(record["_id"]))
    if record.get("fail_trace"):
        trace = record["fail_trace"]
        trace = "".join(trace) if isinstance(trace, list) else str(trace)
        section("fail trace", trace.rstrip("\n").split("\n"))
    section("captured output", (record.get("captured_out") or "").rstrip("\n").split("\n"))
    out.write("\n".join(lines) + "\n")


def _runs_export(args, out) -> None:
    store = _open(args.location, args.prefix)
    target = open(args.output, "w", encoding="utf-8", newline="") if args.output else out
    try:
        if args.json:
            records = []
            for record in store.find(args.query, sort=args.sort):
                record["metrics"] = store.metrics(record["_id"])
                records.append(record)
            target.write(_dumps(records) + "\n")
        else:
            everything = ["experiment", "meta", "host", "info", "config"]
            rows = [
                _flat_row(r) for r in store.summaries(args.query, sort=args.sort, fields=everything)
            ]
            header = []
            for row in rows:
                header.extend(k for k in row if k not in header)
            _write_csv(target, header, [[row.get(k) for k in header] for row in rows])
    finally:
        if args.output:
            target.close()


def _export(args, out) -> None:
    from sacred.store.progress import progress_bar

    src = _open(args.source, args.prefix)
    dst = open_destination(args.destination, args.dst_prefix)
    bar = progress_bar(lambda: len(src.find_ids(args.query)), "export", args.progress)

    class Counted:  # the destination, counting the runs copied into it
        def __getattr__(self, name):
            return getattr(dst, name)

        def import_run(self, *a, **kw):
            new = dst.import_run(*a, **kw)
            bar.update(1)
            return new

    try:
        with warnings.catch_warnings():  # one line on stderr each, as they happen
            warnings.simplefilter("always")
            warnings.showwarning = _show_warning
            copied = copy_runs(
                src, Counted(), args.query, args.new_ids, args.destination, args.source
            )
    finally:
        bar.close()
    for old, new in copied:
        out.write(f"run {old} -> {new}\n")
    out.write(f"Copied {len(copied)} run{'s' if len(copied) != 1 else ''}.\n")


def _sync(args, out) -> int:
    """``sacred sync``: one line per journal; exit code 1 if any could not be applied."""
    paths, store = list(args.paths), args.store
    if store is None and len(paths) > 1 and "://" in paths[-1] and not os.path.exists(paths[-1]):
        store = paths.pop()
    options = {"prefix": args.prefix} if args.prefix else {}
    failed = 0
    files = journal.journal_paths(paths)
    if not files:
        sys.stderr.write(f"sacred: error: no journal in {', '.join(paths)}\n")
        return 1
    from sacred.store.progress import progress_bar

    bar = progress_bar(len(files), "sync", args.progress, unit="journal")
    try:
        for path in files:
            try:
                result = journal.sync(path, store, **options)
            except journal.JournalError as e:
                sys.stderr.write(f"sacred: error: {e}\n")
                failed += 1
                continue
            finally:
                bar.update(1)
            out.write(f"{result} ({path})\n")
    finally:
        bar.close()
    if len(files) > 1:
        done = len(files) - failed
        out.write(f"Synced {done} of {len(files)} journals.\n")
    return 1 if failed else 0


def _show_warning(message, category, filename, lineno, file=None, line=None):
    sys.stderr.write(f"sacred: warning: {message}\n")


def _join_dash_values(argv: list) -> list:
    """``--sort -lr`` as ``--sort=-lr`` (argparse would take ``-lr`` for an option)."""
    out = []
    i = 0
    while i < len(argv):
        if argv[i] in ("--sort", "-q", "--query") and i + 1 < len(argv):
            value = argv[i + 1]
            if value.startswith("-") and value not in ("-h", "--help"):
                out.append(f"{argv[i]}={value}" if argv[i].startswith("--") else argv[i] + value)
                i += 2
                continue
        out.append(argv[i])
        i += 1
    return out


def main(argv=None) -> int:

    argv = _join_dash_values(sys.argv[1:] if argv is None else list(argv))
    try:
        with_tail = []
        if argv and argv[0] == "resume" and "with" in argv:  # `--force` may come before it
            cut = argv.index("with")
            argv, with_tail = argv[:cut], argv[cut:]
        args = _build_parser().parse_args(argv)
        if with_tail:
            args.updates = with_tail
        verb = getattr(args, "verb_module", None)
        if verb is not None:
            return verb.run(args, sys.stdout)
        if args.command == "export":
            _export(args, sys.stdout)
        elif args.command == "sync":
            return _sync(args, sys.stdout)
        else:
            {"list": _runs_list, "show": _runs_show, "export": _runs_export}[args.action](
                args, sys.stdout
            )
    except _UsageError as e:
        sys.stderr.write(f"sacred: error: {e}\n")
        return 1
    except (QueryError, StoreError, SacredError) as e:
        sys.stderr.write(f"sacred: error: {e}\n")
        return 1
    except BrokenPipeError:  # e.g. piped into head: not an error
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (silences the flush at exit)
        return 0
    except OSError as e:
        sys.stderr.write(f"sacred: error: {e}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
