"""``local``: a pool of processes on this machine (``concurrent.futures``, no extra)."""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import sys

from sacred.launch.launchers.base import Launcher, LauncherError


def _call(fn, args, kwargs):
    """In a worker: ``fn(*args, **kwargs)``; a worker that Ctrl-C reached takes no more work
    (a pool worker otherwise goes on with the next task while the sweep is stopping)."""
    try:
        return fn(*args, **kwargs)
    except KeyboardInterrupt:
        sys.stderr.flush()
        os._exit(130)


class LocalLauncher(Launcher):
    """``ProcessPoolExecutor`` with ``n_jobs`` workers (default: the number of CPUs).

    Workers are started with ``forkserver`` where the platform has it, else ``spawn``
    (``mp_context=`` picks one); never ``fork``, which copies the threads' locks of a
    process that may have threads (a heartbeat, a database driver).
    """

    name = "local"

    def __init__(self, n_jobs=None, mp_context=None, **options):
        super().__init__(n_jobs=n_jobs)
        if options:
            raise LauncherError(
                f"Unknown option(s) of the local launcher: {', '.join(sorted(options))} "
                "(known: mp_context)"
            )
        methods = multiprocessing.get_all_start_methods()
        if mp_context is None:
            mp_context = "forkserver" if "forkserver" in methods else "spawn"
        if mp_context not in ("forkserver", "spawn") or mp_context not in methods:
            raise LauncherError(
                f"mp_context must be 'forkserver' or 'spawn' (available here: "
                f"{', '.join(m for m in methods if m != 'fork')}), not {mp_context!r}"
            )
        self.n_jobs = n_jobs or os.cpu_count() or 1
        self.mp_context = mp_context
        self._pool = cf.ProcessPoolExecutor(
            max_workers=self.n_jobs, mp_context=multiprocessing.get_context(mp_context)
        )

    def submit(self, fn, *args, **kwargs) -> cf.Future:
        self._check_open()
        return self._track(self._pool.submit(_call, fn, args, kwargs))

    def _interrupt(self, unfinished) -> None:
        # SIGTERM: a run in a worker ends INTERRUPTED (see sacred.launch.task), then the
        # worker ends; the tasks already handed to the workers' queue never start
        processes = list(getattr(self._pool, "_processes", {}).values())
        self._pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join(self.grace)

    def _release(self) -> None:
        self._pool.shutdown(wait=True)
