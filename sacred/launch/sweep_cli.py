"""``sacred sweep``: run an experiment over a grid or a list of config updates, into a store.

    sacred sweep STORE exp.py [COMMAND] [with UPDATE ...] --grid "lr=[0.1,0.01]" "depth=[2,3]"
                 [--list updates.jsonl] [--launcher local|submitit|dask|ray|queue] [-j N]
                 [--launcher-option key=value ...] [--name EXPERIMENT] [--progress]

``with`` updates are fixed for every run (Python literals, as on the experiment's own
command line); each ``--grid`` item is ``name=<Python list literal>`` and means "each of
these values": the sweep is the product of the grids (and of the ``--list`` lines). One line
is printed per finished run (a progress bar on stderr when it is a terminal, or with
``--progress``), then a summary; the exit code is 0 only if every run COMPLETED
(every run was QUEUED, with ``--launcher queue``).
"""

from __future__ import annotations

import ast
import copy
import itertools
import sys
import time
import uuid

from sacred.launch.sweep import SweepError, flat_updates, grid, parse_grid, read_updates

__all__ = ("add_parser", "run")


def add_parser(subparsers):
    p = subparsers.add_parser(
        "sweep",
        help="run an experiment over a grid or a list of config updates",
        usage="sacred sweep [-h] STORE SCRIPT [COMMAND] [with UPDATE ...] [--grid NAME=[VALUES] "
        "...] [--list FILE] [--launcher NAME] [-j N] [--launcher-option KEY=VALUE ...] "
        "[--progress]",
        description="Run COMMAND (default: the main command) of the experiment in SCRIPT once "
        "per point of the grid, each run recorded in STORE with meta.sweep = {id, index, "
        "size}. 'with' updates are fixed for every run. A --grid item is name=[v1, v2, ...] "
        "(a Python list literal: each value is tried); several items, and --list, multiply.",
    )
    p.add_argument("store", metavar="STORE", help="a folder or store URL for the runs")
    p.add_argument("script", metavar="SCRIPT", help="the experiment's script")
    p.add_argument(
        "rest", nargs="*", metavar="COMMAND / with UPDATE", help="command, then with updates"
    )
    p.add_argument(
        "--grid",
        nargs="+",
        default=[],
        metavar="NAME=[VALUES]",
        help="a config name (dotted for nested) and the Python list of its values",
    )
    p.add_argument(
        "--list",
        dest="updates_file",
        metavar="FILE",
        help="a JSON-lines file: one object of config updates per run",
    )
    p.add_argument(
        "--launcher", default="local", help="local (default), submitit, dask, ray, queue"
    )
    p.add_argument("-j", "--jobs", type=int, default=None, help="runs at once (default: CPUs)")
    p.add_argument(
        "--launcher-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an option of the launcher (a Python literal, else a string), e.g. cluster=local",
    )
    p.add_argument("--name", help="the experiment's name, when the script defines several")
    p.add_argument(
        "--progress",
        action="store_true",
        help="a progress bar on stderr even when it is not a terminal (needs tqdm)",
    )
    p.set_defaults(verb_module=sys.modules[__name__])
    return p


def _launcher_options(items) -> dict:
    options = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip().isidentifier():
            raise SweepError(f"Bad --launcher-option {item!r}: expected key=value")
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            value = text
        options[key.strip()] = value
    return options


def _command_and_updates(rest):
    from sacred.arg_parser import get_config_updates
    from sacred.utils import SacredError

    command = None
    if rest and rest[0] != "with":
        command, rest = rest[0], rest[1:]
    if rest and rest[0] != "with":
        raise SweepError(f"Unexpected {rest[0]!r}: expected 'with UPDATE ...' after the command")
    try:
        fixed, named = get_config_updates(rest[1:])
    except SacredError as e:
        raise SweepError(str(e)) from None
    if named:
        raise SweepError(f"Named configs are not supported in a sweep (got {', '.join(named)})")
    return command, fixed


def _points(args, fixed: dict) -> tuple:
    """(updates of every run, the varying part of each, shown per line)."""
    from sacred.utils import recursive_update

    lists = read_updates(args.updates_file) if args.updates_file else [{}]
    grids = grid(parse_grid(args.grid)) if args.grid else [{}]
    if not args.grid and not args.updates_file:
        raise SweepError("Nothing to sweep: give --grid NAME=[VALUES] ... and/or --list FILE")
    updates, varying = [], []
    for listed, point in itertools.product(lists, grids):
        nested = {}
        for name, value in point.items():  # dotted grid names as nested dicts
            *parents, last = name.split(".")
            target = nested
            for part in parents:
                target = target.setdefault(part, {})
            target[last] = value
        run_updates = recursive_update(copy.deepcopy(fixed), copy.deepcopy(listed))
        updates.append(recursive_update(run_updates, nested))
        varying.append({**flat_updates(listed), **point})
    return updates, varying


def _line(entry, shown) -> str:
    updates = " ".join(f"{k}={v!r}" for k, v in shown.items())
    run_id = "-" if entry["run_id"] is None else entry["run_id"]
    line = f"{run_id!s:>6}  {entry['status'] or '?':<11}  {updates}"
    if entry.get("error") and entry["status"] != "COMPLETED":
        line += f"  ({entry['error']})"
    return line


def run(args, out) -> int:
    from sacred.launch.script import load_experiment
    from sacred.launch.sweep import sweep
    from sacred.store.progress import progress_bar

    command, fixed = _command_and_updates(args.rest)
    updates, varying = _points(args, fixed)
    options = _launcher_options(args.launcher_option)
    if args.jobs is not None and args.jobs < 1:
        raise SweepError(f"-j must be at least 1, not {args.jobs}")
    experiment = load_experiment(args.script, args.name)
    started = time.perf_counter()

    def report(entry):
        out.write(_line(entry, varying[entry["index"]]) + "\n")
        out.flush()

    sweep_id = uuid.uuid4().hex[:12]
    bar = progress_bar(len(updates), "sweep", asked=args.progress)
    try:
        results = sweep(
            experiment,
            updates,
            store=args.store,
            launcher=args.launcher,
            n_jobs=args.jobs,
            command=command,
            on_result=report,
            sweep_id=sweep_id,
            progress=bar,
            **options,
        )
    except KeyboardInterrupt:
        sys.stderr.write("sacred: sweep interrupted\n")
        return 130
    finally:
        bar.close()
    elapsed = time.perf_counter() - started
    counts = {}
    for entry in results:
        counts[entry["status"]] = counts.get(entry["status"], 0) + 1
    goal = "QUEUED" if args.launcher == "queue" else "COMPLETED"
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items(), key=str))
    out.write(
        f"sweep {sweep_id}: {len(results)} runs in {elapsed:.1f} s: {summary}\n"
        f"(sacred runs list {args.store} -q \"meta.sweep.id == '{sweep_id}'\")\n"
    )
    return 0 if counts == {goal: len(results)} else 1
