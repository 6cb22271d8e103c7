"""``sacred rerun STORE RUN_ID [--check] [--rtol X] [--here] [--script PATH] [target]``.

Runs a recorded run again (see ``sacred.reproduce.runner``) and, with ``--check``, prints
a table of what matched. The exit code is 0 only when everything matched (without
``--check``: when the rerun completed).
"""

from __future__ import annotations

import sys
import warnings

__all__ = ("add_parser", "run")


def _rtol(text):
    import argparse

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid --rtol {text!r}: give a number") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"invalid --rtol {text!r}: give a number >= 0")
    return value


def add_parser(subparsers):
    from sacred.reproduce.check import DEFAULT_RTOL

    p = subparsers.add_parser(
        "rerun",
        help="run a recorded run again (same command, config and seed) and compare",
        description="Run a recorded run again with its command, config and seed, from its "
        "recorded sources (or the working copy with --here). The new run is recorded in "
        "STORE (or the given target) with meta.rerun_of.",
    )
    p.add_argument("location", metavar="STORE", help="a folder or store URL")
    p.add_argument("run_id", metavar="RUN_ID")
    p.add_argument("--prefix", help="collection prefix (MongoDB stores)")
    p.add_argument(
        "--check",
        action="store_true",
        help="compare status, result, final metric values and output; exit 0 only if all match",
    )
    p.add_argument(
        "--rtol",
        type=_rtol,
        default=DEFAULT_RTOL,
        help=f"relative tolerance of numbers for --check (default {DEFAULT_RTOL:g})",
    )
    p.add_argument(
        "--here",
        action="store_true",
        help="run the working copy below the current folder instead of the recorded sources",
    )
    p.add_argument(
        "--script",
        help="with --here, the script's path; else the recorded source to run (for records "
        "without a main file)",
    )
    to = p.add_mutually_exclusive_group()
    to.add_argument("-F", "--file_storage", metavar="DIR", help="record the rerun in this folder")
    to.add_argument("-s", "--sql", metavar="URL", help="record the rerun in this SQL database")
    to.add_argument(
        "-m", "--mongo_db", metavar="DB", help="record the rerun in MongoDB ([host:port:]db or URL)"
    )
    to.add_argument("--to", metavar="LOCATION", help="record the rerun in this store location")
    p.set_defaults(verb_module=sys.modules[__name__])


def _target(args):
    if args.file_storage:
        return args.file_storage
    if args.sql:
        return args.sql
    if args.to:
        return args.to
    if args.mongo_db:
        if "://" in args.mongo_db:
            return args.mongo_db
        from sacred.observers.mongo.observer import MongoObserver
        from sacred.observers.mongo.options import parse_mongo_db_arg

        return MongoObserver(**parse_mongo_db_arg(args.mongo_db))
    return None


def _run_id(text):
    return int(text) if text.isdigit() else text


def _warning_printer(show):
    """``warnings.showwarning`` that prints a RerunWarning as one line, others as before."""
    from sacred.reproduce.runner import RerunWarning

    def showwarning(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, RerunWarning):
            sys.stderr.write(f"sacred: warning: {message}\n")
            sys.stderr.flush()
        else:
            show(message, category, filename, lineno, file, line)

    return showwarning


def run(args, out) -> int:
    from sacred.reproduce.check import format_table
    from sacred.reproduce.runner import RerunWarning, rerun
    from sacred.store import open_store

    options = {"prefix": args.prefix} if args.prefix else {}
    store = open_store(args.location, **options)
    try:
        record = store.get(_run_id(args.run_id))  # an unknown run: one line, nothing run
        target = _target(args)
        what = "the working copy" if args.here else "its recorded sources"
        seed = (record.get("config") or {}).get("seed")
        out.write(
            f"Rerunning run {record['_id']} of {args.location} (command {record.get('command')}, "
            f"seed {seed}) from {what}\n"
        )
        out.flush()
        with warnings.catch_warnings():
            warnings.simplefilter("always", RerunWarning)
            warnings.showwarning = _warning_printer(warnings.showwarning)
            result = rerun(
                store,
                record["_id"],
                check=args.check,
                rtol=args.rtol,
                here=args.here,
                target=target,
                script=args.script,
            )
    finally:
        store.close()
    sys.stderr.flush()
    if args.here and result.changed_sources:
        out.write(f"Sources that differ from run {result.rerun_of}:\n")
        width = max(len(c.name) for c in result.changed_sources)
        for c in result.changed_sources:
            now = f", here {c.current}" if c.current else ""
            out.write(f"  {c.status:<7}  {c.name:<{width}}  recorded {c.recorded}{now}\n")
    elif args.here:
        out.write(f"The working copy's sources match run {result.rerun_of}'s.\n")
    error = f" ({type(result.error).__name__}: {result.error})" if result.error else ""
    out.write(f"Run {result.run_id} reran run {result.rerun_of}: {result.status}{error}\n")
    if result.comparison is not None:
        out.write(format_table(result.comparison))
    out.flush()
    return 0 if result.matched else 1
