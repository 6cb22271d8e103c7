"""``sacred resume STORE RUN_ID`` and ``sacred run --parent STORE:RUN_ID SCRIPT ...``.

``resume`` continues a FAILED, INTERRUPTED or dead run under its id (``sacred.continuation``)
with the script it records (or ``--script``). ``run`` runs a script's command like its own
command line would, recording ``meta.parent`` (``sacred.lineage``) and, with ``--to``, into
the given store; the experiment's own command line is left as it is.
"""

from __future__ import annotations

import sys

__all__ = ("add_parser", "run", "resume_run")


def add_parser(sub) -> None:
    p = sub.add_parser(
        "resume",
        help="continue a FAILED, INTERRUPTED or dead run under its id",
        description="Run RUN_ID of STORE again under the same id, with its recorded config and "
        "seed: its output goes on after a marker line, its metrics from their last steps "
        "(_run.last_step(name) and _run.resumed tell the code), and meta.segments lists each "
        "execution. A run whose heartbeat is fresh (it may be alive) needs --force.",
    )
    p.add_argument("location", metavar="STORE", help="a folder or store URL")
    p.add_argument("run_id", metavar="RUN_ID")
    p.add_argument("--script", help="the experiment script (default: the one the run records)")
    p.add_argument(
        "--force", action="store_true", help="resume a COMPLETED or live run, or with updates"
    )
    p.add_argument("updates", nargs="*", metavar="[with UPDATE ...]", help=argparse_suppress())
    p.set_defaults(verb_module=sys.modules[__name__], verb="resume")

    r = sub.add_parser(
        "run",
        help="run a script's command, recording its parent run or into a store",
        usage="sacred run [-h] [--parent STORE:RUN_ID] [--to STORE] SCRIPT [COMMAND] "
        "[with UPDATE ...]",
        description="Run SCRIPT's COMMAND (default: its main function) with the `with` updates "
        "of its own command line. --parent records meta.parent, so that _run.parent reads that "
        "run's config, result, metrics and artifacts; --to records the run in STORE (else the "
        "script's own observers record it).",
    )
    r.add_argument("--parent", metavar="STORE:RUN_ID", help="the run this one builds on")
    r.add_argument("--to", metavar="STORE", help="record the run in this store")
    r.add_argument("script", metavar="SCRIPT")
    r.add_argument("rest", nargs="*", metavar="[COMMAND] [with UPDATE ...]")
    r.set_defaults(verb_module=sys.modules[__name__], verb="run")


def argparse_suppress():
    import argparse

    return argparse.SUPPRESS


def _split_with(rest):
    from sacred.arg_parser import get_config_updates
    from sacred.launch.script import ScriptError

    rest = list(rest)
    command = None
    if rest and rest[0] != "with":
        command = rest.pop(0)
    if rest and rest[0] == "with":
        rest.pop(0)
    elif rest:
        raise ScriptError(f"expected 'with' before the updates, not {rest[0]!r}")
    return command, get_config_updates(rest)


def resume_run(store, run_id, script=None, force=False, config_updates=None):
    """Resume ``run_id`` of ``store`` in this process; returns the finished ``Run``."""
    from sacred.continuation import Continuation
    from sacred.launch.script import load_experiment, run_in_store
    from sacred.launch.worker import _recorded_script

    continuation = Continuation.resume(store, _as_id(run_id), force=force)
    continuation.check_updates(config_updates, force)
    experiment = continuation.record.get("experiment") or {}
    ex = load_experiment(script or _recorded_script(experiment), prefer=experiment.get("name"))
    return run_in_store(
        ex,
        store,
        command=continuation.command,
        config_updates={**continuation.config, **(config_updates or {})},
        options={"--force": True} if force else None,
        continuation=continuation,
    )


def _as_id(text):
    return int(text) if isinstance(text, str) and text.isdigit() else text


def run(args, out) -> int:
    if args.verb == "resume":
        command, (updates, named) = _split_with(args.updates)
        if command is not None or named:
            from sacred.launch.script import ScriptError

            raise ScriptError("sacred resume takes only 'with NAME=VALUE ...' after the run id")
        try:
            finished = resume_run(args.location, args.run_id, args.script, args.force, updates)
        except Exception as e:  # the run's own failure: recorded; say it in one line
            if _is_run_error(e):
                out.write(f"Run {args.run_id}: FAILED ({type(e).__name__}: {e})\n")
                return 1
            raise
        out.write(f"Run {finished._id}: {finished.status}\n")
        return 0 if finished.status == "COMPLETED" else 1
    return _run_with_parent(args, out)


def _is_run_error(e) -> bool:
    from sacred.utils import SacredError

    return not isinstance(e, (SacredError, OSError))


def _run_with_parent(args, out) -> int:
    from sacred.launch.script import load_experiment
    from sacred.lineage import split_parent

    command, (updates, named) = _split_with(args.rest)
    parent = split_parent(args.parent) if args.parent else None
    ex = load_experiment(args.script)
    if args.to:
        from sacred.store.location import open_observer

        ex.observers[:] = [open_observer(args.to)]
    try:
        finished = ex.run(command, updates, named, parent=parent)
    except Exception as e:
        if _is_run_error(e):
            out.write(f"FAILED ({type(e).__name__}: {e})\n")
            return 1
        raise
    out.write(f"Run {finished._id}: {finished.status}\n")
    return 0
