"""Sweeps: many runs of one experiment over a grid or a list of config updates.

    from sacred.launch.sweep import sweep, grid
    results = sweep(ex, grid({"lr": [0.1, 0.01], "depth": [2, 3]}), store="runs/",
                    launcher="dask", n_jobs=4)

Every run goes through a launcher (``sacred.launch.launchers``) as ``run_task(spec)``, a
picklable top-level function and a plain dict: the worker imports the experiment's script
again (``load_experiment``), so closures and decorated objects never travel. Every run
records ``meta.sweep = {"id", "index", "size"}``; ``sacred runs list STORE -q
"meta.sweep.id == '<id>'"`` lists one sweep.
"""

from __future__ import annotations

import ast
import concurrent.futures as cf
import itertools
import json
import os
import re
import uuid
from typing import Callable, Iterable, Optional

from sacred.utils import SacredError

__all__ = ("sweep", "grid", "parse_grid", "read_updates", "SweepError")

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


class SweepError(SacredError):
    """A sweep cannot start: bad grid text, bad updates file, unknown command."""

    def __init__(self, message):
        super().__init__(message, print_traceback=False)


def grid(values: dict) -> list:
    """The product of ``{name: [values...]}``: one dict of updates per point, in order."""
    for name, options in values.items():
        if not isinstance(options, (list, tuple)) or not options:
            raise SweepError(f"The grid values of {name!r} must be a non-empty list")
    names = list(values)
    return [dict(zip(names, point)) for point in itertools.product(*values.values())]


def parse_grid(items: Iterable[str]) -> dict:
    """``["lr=[0.1, 0.01]", "net.depth=[2, 3]"]`` -> ``{"lr": [...], "net.depth": [...]}``.

    Each item is ``name=<Python list literal>``: the list holds the values to try, one per
    run (a list of lists tries lists). Bad text raises ``SweepError`` with one line.
    """
    out = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if item == "with":
            raise SweepError("--grid takes name=[values] items; put 'with' updates before --grid")
        if not sep or not _NAME.match(name):
            raise SweepError(
                f"Bad --grid item {item!r}: expected name=[value, ...], e.g. lr=[0.1, 0.01]"
            )
        try:
            values = ast.literal_eval(text.strip())
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            raise SweepError(
                f"Bad --grid item {item!r}: {text.strip()!r} is not a Python list literal"
            ) from None
        if not isinstance(values, list):
            raise SweepError(
                f"Bad --grid item {item!r}: the values must be a Python list, "
                f"e.g. {name}=[{text.strip()}]"
            )
        if not values:
            raise SweepError(f"Bad --grid item {item!r}: the list of values is empty")
        if name in out:
            raise SweepError(f"Bad --grid: {name!r} is given twice")
        out[name] = values
    return out


def read_updates(path: str) -> list:
    """The config updates in a JSON-lines file: one JSON object per line (blank lines skipped)."""
    updates = []
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise SweepError(f"Cannot read the updates file {path}: {e.strerror}") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError as e:
            raise SweepError(f"{path}, line {number}: not JSON ({e.msg})") from None
        if not isinstance(value, dict):
            raise SweepError(f"{path}, line {number}: expected a JSON object of config updates")
        updates.append(value)
    return updates


def absolute_location(location):
    """A store location that means the same place from another working directory."""
    if not isinstance(location, (str, os.PathLike)):
        return location
    location = os.fspath(location)
    if "://" not in location:
        return os.path.abspath(location)
    for prefix in ("file://", "tinydb://", "sqlite:///"):
        if location.startswith(prefix):
            rest = location[len(prefix) :]
            if rest and not rest.startswith(("/", ":memory:")):
                return prefix + os.path.abspath(rest)
    return location


def script_of(experiment) -> str:
    """The file that defines ``experiment`` (workers import it again)."""
    mainfile = getattr(experiment, "mainfile", None)
    if mainfile is None or not os.path.exists(mainfile.filename):
        raise SweepError(
            f"The experiment {experiment.path!r} has no script file (defined interactively?): "
            "a sweep's workers import the experiment from its script"
        )
    return mainfile.filename


def check_command(experiment, command: Optional[str]) -> None:
    commands = dict(experiment.gather_commands())
    error = experiment._command_error(command or experiment.default_command, commands)
    if error is not None:
        raise SweepError(error.replace("Error: ", "", 1))


def flat_updates(updates: dict, prefix: str = "") -> dict:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` (how runs are shown)."""
    out = {}
    for key, value in updates.items():
        if isinstance(value, dict) and value:
            out.update(flat_updates(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def sweep(
    experiment,
    updates_list: Iterable[dict],
    store,
    launcher="local",
    n_jobs: Optional[int] = None,
    command: Optional[str] = None,
    run_options: Optional[dict] = None,
    on_result: Optional[Callable[[dict], None]] = None,
    sweep_id: Optional[str] = None,
    progress=None,
    **launcher_options,
) -> list:
    """Run ``command`` of ``experiment`` once per config update dict, through a launcher.

    ``launcher`` is a name (local, submitit, dask, ray, queue) or a ``Launcher`` (left open);
    ``launcher_options`` go to it. ``run_options`` are command-line options for every run
    (``{"--capture": "sys"}``). Returns one dict per run, in the order of ``updates_list``:
    ``{"index", "updates", "run_id", "status", "result", "error", "pid", "host"}``;
    ``on_result`` is called with each as it finishes. A run that fails is a FAILED entry,
    not an exception; with the queue launcher, entries are QUEUED.

    ``progress``: a bar of finished runs on stderr; ``None`` (default) when stderr is a
    terminal, ``True`` always (needs tqdm), ``False`` never. ``on_result`` may print: its
    lines go above the bar.
    """
    from sacred.launch.launchers import Launcher, get_launcher
    from sacred.launch.task import make_spec, run_task
    from sacred.store.progress import bar_for

    updates_list = [dict(u) for u in updates_list]
    if not updates_list:
        raise SweepError("The sweep has no runs (empty grid or list of updates)")
    check_command(experiment, command)
    script = script_of(experiment)
    store = absolute_location(store)
    sweep_id = sweep_id or uuid.uuid4().hex[:12]
    size = len(updates_list)
    specs = [
        make_spec(
            script,
            store,
            updates,
            command=command,
            experiment=experiment.path,
            meta_info={"sweep": {"id": sweep_id, "index": i, "size": size}},
            options=run_options,
        )
        for i, updates in enumerate(updates_list)
    ]
    own = not isinstance(launcher, Launcher)
    engine = get_launcher(launcher, n_jobs=n_jobs, **launcher_options) if own else launcher
    results = [None] * size
    futures = {}
    bar = bar_for(progress, size, "sweep")
    try:
        futures = {engine.submit(run_task, spec): i for i, spec in enumerate(specs)}
        for future in _as_completed(futures):
            i = futures[future]
            results[i] = entry = _entry(i, updates_list[i], future, engine.queues_only)
            if on_result is not None:
                with bar.external_write_mode():
                    on_result(entry)
            bar.update(1)
    except BaseException:
        bar.close()
        for future in futures:
            future.cancel()
        if own:  # runs in flight are interrupted (INTERRUPTED records) where the engine can
            engine.close(cancel=True)
        raise
    bar.close()
    if own:
        engine.close()
    _fill_from_store(results, store, sweep_id)
    return results


def _as_completed(futures):
    """Finished futures as they finish; those finished already in submission order."""
    done = [f for f in futures if f.done()]
    finished = set(done)
    yield from done
    yield from cf.as_completed([f for f in futures if f not in finished])


def _entry(index: int, updates: dict, future: cf.Future, queued: bool) -> dict:
    entry = {"index": index, "updates": updates, "run_id": None, "status": None,
             "result": None, "error": None, "pid": None, "host": None}  # fmt: skip
    try:
        value = future.result()
    except cf.CancelledError:
        entry.update(status="CANCELLED")
    except BaseException as e:  # noqa: B036 (the engine lost the task: a worker died...)
        from sacred.launch.script import ScriptError

        if isinstance(e, ScriptError):
            raise
        entry.update(status="ERROR", error=f"{type(e).__name__}: {e}".splitlines()[0])
    else:
        if queued:
            entry.update(run_id=value, status="QUEUED")
        else:
            entry.update({k: value.get(k) for k in entry if k in value})
    return entry


def _fill_from_store(results: list, store, sweep_id: str) -> None:
    """Runs whose task was lost (worker killed...) still have records: read their status."""
    missing = [e for e in results if e is not None and e["run_id"] is None]
    if not missing:
        return
    try:
        from sacred.store import open_store

        records = open_store(store).find(f"meta.sweep.id == {sweep_id!r}")
    except Exception:  # the store cannot tell: the entries stay as the engine said
        return
    by_index = {}
    for record in records:
        index = ((record.get("meta") or {}).get("sweep") or {}).get("index")
        by_index[index] = record
    for entry in missing:
        record = by_index.get(entry["index"])
        if record is not None:
            entry["run_id"] = record.get("_id")
            entry["status"] = record.get("status") or entry["status"]
