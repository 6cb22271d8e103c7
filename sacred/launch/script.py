"""Load an experiment from its script, and run one of its commands into a store.

A worker process (a queue worker, a Dask or Ray task, a Slurm job) gets only plain data: the
path of the script, the command, a config dict and a store location. ``load_experiment``
imports the script without starting its ``automain`` and returns its ``Experiment``;
``run_in_store`` runs a command of it with the store's observer attached.
"""

from __future__ import annotations

import os
import runpy
import sys
import threading
from typing import Any, Optional

from sacred.utils import SacredError

__all__ = ("load_experiment", "run_in_store", "ScriptError")

_LOADED: dict = {}  # (path, mtime_ns, name) -> Experiment: a worker imports a script once
_LOCK = threading.Lock()


class ScriptError(SacredError):
    """The script cannot be loaded, or holds no (or several) experiments."""

    def __init__(self, message):
        super().__init__(message, print_traceback=False)


def load_experiment(script: str, name: Optional[str] = None, prefer: Optional[str] = None):
    """The ``Experiment`` defined by ``script`` (a path), imported as a module.

    The script runs with ``__name__ = "__sacred_script__"``, so ``@ex.automain`` and
    ``if __name__ == "__main__"`` blocks do not start anything. Its folder goes first on
    ``sys.path`` for its own imports. With several experiments in it, ``name`` picks one
    (``prefer`` picks one only if there are several: a recorded name, which may differ).
    """
    path = os.path.abspath(os.fspath(script))
    try:
        key = (path, os.stat(path).st_mtime_ns, name)
    except OSError as e:
        raise ScriptError(f"Cannot load the experiment script {script}: {e.strerror}") from None
    with _LOCK:
        if key in _LOADED:
            return _LOADED[key]
        folder = os.path.dirname(path)
        if folder not in sys.path:
            sys.path.insert(0, folder)
        try:
            namespace = runpy.run_path(path, run_name="__sacred_script__")
        except SystemExit as e:
            raise ScriptError(f"The script {script} exited while loading (code {e.code})") from None
        except Exception as e:
            raise ScriptError(
                f"The script {script} failed while loading: {type(e).__name__}: {e}"
            ) from e
        # the class as the script imported it (importing sacred.experiment here would make
        # an import cycle: experiment -> launch.sweep -> launch.task -> launch.script)
        module = sys.modules.get("sacred.experiment")
        experiment_class = module.Experiment if module is not None else ()
        found = {v.path: v for v in namespace.values() if isinstance(v, experiment_class)}
        if name is None and len(found) > 1 and prefer in found:
            name = prefer
        if name is not None:
            if name not in found:
                known = ", ".join(sorted(found)) or "none"
                raise ScriptError(f"No experiment named {name!r} in {script} (found: {known})")
            experiment = found[name]
        elif len(found) == 1:
            experiment = next(iter(found.values()))
        elif not found:
            raise ScriptError(f"The script {script} defines no sacred Experiment")
        else:
            raise ScriptError(
                f"The script {script} defines several experiments ({', '.join(sorted(found))}): "
                "name one"
            )
        _LOADED[key] = experiment
        return experiment


def run_in_store(
    experiment,
    store: Any,
    command: Optional[str] = None,
    config_updates: Optional[dict] = None,
    meta_info: Optional[dict] = None,
    options: Optional[dict] = None,
    observers: Optional[list] = None,
    continuation=None,
    named_configs=(),
):
    """Run ``command`` of ``experiment`` recorded in ``store`` (a location or an observer).

    The experiment's own observers are left out: the store given here is where the run goes
    (a script that adds an observer at import would otherwise record every run twice).
    ``continuation`` (see ``sacred.continuation``) makes the run continue an existing record.
    Returns the finished ``Run``; exceptions of the run propagate.
    """
    from sacred.store.location import open_observer

    if observers is None:
        # an observer; hasattr on the type: a pymongo client answers any attribute name
        observers = [store if hasattr(type(store), "started_event") else open_observer(store)]
    run = experiment._create_run(
        command_name=command,
        config_updates=config_updates,
        named_configs=named_configs,
        meta_info=meta_info,
        options=options,
    )
    run.observers = list(observers)
    if continuation is not None:
        continuation.apply(run)
    run()
    return run
