"""Launchers: thin adapters that hand picklable work to an engine researchers already use.

    get_launcher("local", n_jobs=4)                  # processes on this machine (no extra)
    get_launcher("submitit", folder="logs", timeout_min=60, slurm_partition="gpu")
    get_launcher("dask", n_jobs=4)                   # or address="tcp://scheduler:8786"
    get_launcher("ray", address="auto")
    get_launcher("queue", store="sqlite:///runs.db") # only stores QUEUED runs

Each returns a ``Launcher`` (see ``base``): ``submit(fn, *args, **kwargs)`` gives a
``concurrent.futures.Future``; ``close()`` or a ``with`` block releases it. Engines are
imported only when their launcher is made.
"""

from __future__ import annotations

import importlib
from typing import Optional

from sacred.launch.launchers.base import EngineFuture, Launcher, LauncherError

__all__ = ("get_launcher", "Launcher", "EngineFuture", "LauncherError", "LAUNCHERS")

# name -> "module:Class", imported when asked for
LAUNCHERS = {
    "local": "sacred.launch.launchers.local:LocalLauncher",
    "submitit": "sacred.launch.launchers.submitit_launcher:SubmititLauncher",
    "dask": "sacred.launch.launchers.dask_launcher:DaskLauncher",
    "ray": "sacred.launch.launchers.ray_launcher:RayLauncher",
    "queue": "sacred.launch.launchers.queue:QueueLauncher",
}


def get_launcher(name: str = "local", n_jobs: Optional[int] = None, **options) -> Launcher:
    """The launcher called ``name``, with ``n_jobs`` tasks at once and its engine's options."""
    if isinstance(name, Launcher):
        return name
    if name not in LAUNCHERS:
        raise LauncherError(f"Unknown launcher {name!r} (known: {', '.join(LAUNCHERS)})")
    module, cls = LAUNCHERS[name].split(":")
    return getattr(importlib.import_module(module), cls)(n_jobs=n_jobs, **options)


def require(module: str, launcher: str, package: Optional[str] = None):
    """Import an engine's module, or fail with the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        package = package or module
        raise LauncherError(
            f'The {launcher} launcher needs {package}: pip install "sacred[{launcher}]"'
        ) from None
