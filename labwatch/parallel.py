"""A search with several runs in flight, and what the optimizer is told about them.

``LabAssistant.optimize(n_trials, launcher=..., n_workers=...)`` keeps up to ``n_workers``
runs of suggested configurations in flight; each time one ends, the next suggestion is
submitted. The runs go either to a launcher (``sacred.launch.launchers``: processes on this
machine, Slurm through submitit, Dask, Ray, or the queue), each rebuilt on the worker side
from plain data by ``sacred.launch.task.run_task``, or, with ``launcher=None``, to threads
of this process.

Before each suggestion the optimizer gets the *pending* configurations
(``Optimizer.set_pending``): the ones in flight here, plus the runs of the same search space
that the store holds as QUEUED (``enqueue_suggestion``, a queue launcher) or RUNNING (other
workers; a RUNNING run silent for ``LabAssistant.pending_timeout`` seconds counts as dead).
So N workers do not all get the same point.
"""

from __future__ import annotations

import concurrent.futures as cf
import datetime as _dt
import json
import logging
import os
import runpy
import socket
import sys
import threading
from typing import Optional

__all__ = ("pending_in_store", "optimize", "value_key")

logger = logging.getLogger("labwatch")

_PENDING_FIELDS = ("config", "info", "meta", "heartbeat", "start_time")
_LOAD_LOCK = threading.Lock()  # imports of a script (sys.path, module state) one at a time


def value_key(values: dict):
    """A hashable key of ``{name: value}`` (the same values give the same key)."""
    return tuple(sorted((k, repr(v)) for k, v in values.items()))


def _age(record: dict, now: _dt.datetime) -> Optional[float]:
    """Seconds since the run's last sign of life (heartbeat, else start); None if unknown."""
    for field in ("heartbeat", "start_time"):
        stamp = record.get(field)
        if isinstance(stamp, str):
            try:
                stamp = _dt.datetime.fromisoformat(stamp)
            except ValueError:
                stamp = None
        if isinstance(stamp, _dt.datetime):
            if stamp.tzinfo is not None:
                stamp = stamp.astimezone(_dt.timezone.utc).replace(tzinfo=None)
            return (now - stamp).total_seconds()
    return None


def pending_in_store(store, space, experiment_name: str, timeout: Optional[float]) -> list:
    """``[(run id, values)]`` of the search space's QUEUED and live RUNNING runs.

    A run belongs to the space when its ``info.labwatch`` (or ``meta.labwatch``) names the
    space's id, or, without such a mark, when its config fits the space (a queued record
    keeps no info). A RUNNING run whose heartbeat is older than ``timeout`` seconds is left
    out (its worker is presumably gone).
    """
    query = f"status in ['QUEUED', 'RUNNING'] and experiment.name == {json.dumps(experiment_name)}"
    now = _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)
    found = []
    # one read of every matching run (not one per run: a queue may hold many)
    records = store.summaries(query, sort="_id", fields=_PENDING_FIELDS)
    for record in records:
        run_id = record.get("_id")
        status = record.get("status")
        if status not in ("QUEUED", "RUNNING"):
            continue
        if status == "RUNNING" and timeout is not None:
            age = _age(record, now)
            if age is not None and age > timeout:
                continue
        marks = [
            ((record.get(part) or {}).get("labwatch") or {}).get("search_space")
            for part in ("info", "meta")
        ]
        if any(marks) and space.id not in marks:
            continue  # another search space's run
        values = space.values_from_config(record.get("config") or {})
        if space.valid(values):
            found.append((run_id, values))
    return found


def store_location(backend) -> object:
    """Where a worker process writes the runs: a location string ``open_observer`` takes."""
    return backend.location()


def script_of(experiment) -> str:
    """The path of the script that defines ``experiment`` (workers import it)."""
    info = experiment.get_experiment_info()
    mainfile, base_dir = info.get("mainfile"), info.get("base_dir")
    if not mainfile:
        raise ValueError(
            "A launcher runs the experiment's script in other processes, but this experiment "
            "has no script file (defined interactively?): use launcher=None with one worker"
        )
    path = os.path.join(base_dir or "", mainfile)
    if not os.path.isfile(path):
        raise ValueError(f"The experiment's script {path} is not a file a worker can import")
    return os.path.abspath(path)


def load_copy(script: str, name: str):
    """A new copy of the experiment ``name`` defined by ``script`` (its own captured
    functions), the script imported as ``__sacred_script__`` so that its automain does not
    start."""
    from sacred.experiment import Experiment  # lazy: keeps import labwatch light

    with _LOAD_LOCK:
        folder = os.path.dirname(script)
        if folder not in sys.path:
            sys.path.insert(0, folder)
        namespace = runpy.run_path(script, run_name="__sacred_script__")
    for value in namespace.values():
        if isinstance(value, Experiment) and value.path == name:
            return value
    raise ValueError(f"The script {script} defines no experiment called {name!r}")


def _run_in_thread(experiment, backend, command, config, marker, options):
    """One run in a thread of this process, with an observer of its own and no capture.

    ``experiment`` is an Experiment, or a function giving this thread's copy of it."""
    if not hasattr(experiment, "_create_run"):
        experiment = experiment()
    run = experiment._create_run(
        command_name=command,
        config_updates=config,
        info={"labwatch": dict(marker)},
        meta_info={"labwatch": dict(marker)},
        # stdout is one per process: a sys/fd capture would mix the threads' output
        options={**(options or {}), "--capture": "no"},
    )
    run.observers = [backend.make_observer()]
    error = None
    try:
        run()
    except Exception as e:  # noqa: BLE001 (the run is recorded FAILED; the search goes on)
        error = f"{type(e).__name__}: {e}"
    return {
        "run_id": run._id,
        "status": run.status,
        "result": run.result,
        "error": error,
        "pid": os.getpid(),
        "host": socket.gethostname(),
    }


def optimize(
    assistant,
    n_trials: int,
    launcher=None,
    n_workers: Optional[int] = None,
    search_space=None,
    command: Optional[str] = None,
    options: Optional[dict] = None,
    progress=None,
) -> list:
    """See ``LabAssistant.optimize``."""
    from sacred.store.progress import bar_for

    if not isinstance(n_trials, int) or isinstance(n_trials, bool) or n_trials < 0:
        raise ValueError(f"n_trials must be a non-negative integer, not {n_trials!r}")
    if n_workers is not None and (
        not isinstance(n_workers, int) or isinstance(n_workers, bool) or n_workers < 1
    ):
        raise ValueError(f"n_workers must be a positive integer, not {n_workers!r}")
    space = assistant._space(search_space)
    backend = assistant._resolve_backend()
    assistant.backend = backend  # later runs of the experiment go to the same store
    marker = assistant._marker(space)

    owned = None
    if launcher is None:
        n_workers = n_workers or 1
        experiment = assistant.ex
        if n_workers > 1:
            experiment = _per_thread(script_of(assistant.ex), assistant.ex.path)
        pool = owned = cf.ThreadPoolExecutor(n_workers, thread_name_prefix="labwatch-run")

        def submit(config):
            return pool.submit(
                _run_in_thread, experiment, backend, command, config, marker, options
            )

    else:
        from sacred.launch.launchers import get_launcher
        from sacred.launch.task import make_spec, run_task

        if isinstance(launcher, str):
            launcher = owned = get_launcher(launcher, n_jobs=n_workers)
        n_workers = n_workers or getattr(launcher, "n_jobs", None) or 1
        script, location = script_of(assistant.ex), store_location(backend)

        def submit(config):
            spec = make_spec(
                script,
                location,
                config_updates=config,
                command=command,
                experiment=assistant.ex.path,
                meta_info={"labwatch": dict(marker)},
                options=options,
            )
            return launcher.submit(run_task, spec)

    in_flight = assistant._in_flight.setdefault(space.id, {})
    futures = {}  # future -> values
    trials = []
    submitted = 0
    bar = bar_for(progress, n_trials, "optimize", unit="trial")
    best = None
    try:
        while submitted < n_trials or futures:
            while submitted < n_trials and len(futures) < n_workers:
                values = assistant.get_suggestion(space)
                future = submit(space.fill_in(values))
                futures[future] = values
                in_flight[value_key(values)] = values
                submitted += 1
            done, _ = cf.wait(list(futures), return_when=cf.FIRST_COMPLETED)
            for future in done:
                values = futures.pop(future)
                in_flight.pop(value_key(values), None)
                trials.append(_outcome(future, values))
                best = _best(best, trials[-1])
                if best is not None:
                    bar.set_postfix_str(f"best={best:.6g}", refresh=False)
                bar.update(1)
    finally:
        bar.close()
        for future, values in futures.items():  # left after an error or Ctrl-C
            future.cancel()
            in_flight.pop(value_key(values), None)
        if isinstance(owned, cf.ThreadPoolExecutor):
            # a thread cannot be interrupted: after an error, do not wait for its run
            owned.shutdown(wait=not futures, cancel_futures=True)
        elif owned is not None:
            owned.close()
    assistant.update_optimizer(space)
    return trials


def _best(best, trial: dict):
    """The lowest cost so far, with the trial's (a COMPLETED run's) if it has one."""
    from labwatch.hyperparameters import plain

    cost = trial.get("result")
    if isinstance(cost, dict):  # as LabAssistant reads a cost
        cost = cost.get("optimization_target")
    cost = plain(cost)
    if trial.get("status") != "COMPLETED" or isinstance(cost, bool):
        return best
    if not isinstance(cost, (int, float)) or cost != cost:  # not a number, or NaN
        return best
    return cost if best is None else min(best, cost)


def _per_thread(script: str, name: str):
    """A function giving the calling thread its own copy of the experiment."""
    copies = threading.local()

    def experiment():
        if getattr(copies, "experiment", None) is None:
            copies.experiment = load_copy(script, name)
        return copies.experiment

    return experiment


def _outcome(future, values: dict) -> dict:
    try:
        report = future.result()
    except Exception as e:  # noqa: BLE001 (the engine lost the task; the search goes on)
        report = {"status": "FAILED", "error": f"{type(e).__name__}: {e}"}
    if not isinstance(report, dict):  # the queue launcher: the queued run's id
        report = {"run_id": report, "status": "QUEUED"}
    trial = {
        "values": dict(values),
        "run_id": report.get("run_id"),
        "status": report.get("status"),
        "result": report.get("result"),
    }
    for key in ("pid", "host"):  # where the run ran
        if report.get(key) is not None:
            trial[key] = report[key]
    if report.get("error"):
        trial["error"] = report["error"]
        logger.warning("Run %s of the search failed: %s", trial["run_id"], report["error"])
    return trial
