"""``sacred queue STORE exp.py [COMMAND] [with UPDATE...]``: add a run to a store's queue."""

from __future__ import annotations

import sys

__all__ = ("add_parser", "run", "queue_run")


def add_parser(sub) -> None:
    p = sub.add_parser(
        "queue",
        help="add a QUEUED run of a script to a store, for workers",
        usage="sacred queue [-h] STORE SCRIPT [COMMAND] [with UPDATE ...]",
        description="Store a QUEUED run of SCRIPT's COMMAND (default: its main function) with "
        "the given config updates (the `with` syntax of the experiment's command line). "
        "`sacred worker STORE` runs it.",
    )
    p.add_argument("location", metavar="STORE", help="a folder or store URL")
    p.add_argument("script", metavar="SCRIPT", help="the experiment script")
    p.add_argument("rest", nargs="*", metavar="[COMMAND] [with UPDATE ...]")
    p.set_defaults(verb_module=sys.modules[__name__])


def queue_run(script, store, command=None, updates=(), named_configs=()):
    """Queue a run of ``script`` in ``store``; returns its id."""
    from sacred.launch.script import load_experiment, run_in_store

    ex = load_experiment(script)
    run = run_in_store(
        ex,
        store,
        command=command,
        config_updates=dict(updates) if isinstance(updates, dict) else None,
        options={"--queue": True},
        named_configs=list(named_configs),
    )
    return run._id


def run(args, out) -> int:
    from sacred.arg_parser import get_config_updates
    from sacred.launch.script import ScriptError

    rest = list(args.rest)
    command = None
    if rest and rest[0] != "with":
        command = rest.pop(0)
    if rest and rest[0] == "with":
        rest.pop(0)
    elif rest:
        raise ScriptError(f"expected 'with' before the updates, not {rest[0]!r}")
    updates, named = get_config_updates(rest)
    run_id = queue_run(args.script, args.location, command, updates, named)
    out.write(f"Queued run {run_id} in {args.location}\n")
    return 0
