"""``local``: a pool of processes on this machine (``concurrent.futures``, no extra)."""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import sys

from sacred.launch.launchers.base import EngineFuture, Launcher, LauncherError


def _call(fn, args, kwargs, relay=None):
    """In a worker: ``fn(*args, **kwargs)``; a worker that Ctrl-C reached takes no more work
    (a pool worker otherwise goes on with the next task while the sweep is stopping).
    ``relay``: the task's output goes to this process's bar (``sacred.store.progress``)."""
    try:
        if relay is None:
            return fn(*args, **kwargs)
        from sacred.store.progress import relayed

        with relayed(relay):
            return fn(*args, **kwargs)
    except KeyboardInterrupt:
        sys.stderr.flush()
        os._exit(130)


class LocalLauncher(Launcher):
    """``ProcessPoolExecutor`` with ``n_jobs`` workers (default: the number of CPUs).

    Workers are started with ``forkserver`` where the platform has it, else ``spawn``
    (``mp_context=`` picks one); never ``fork``, which copies the threads' locks of a
    process that may have threads (a heartbeat, a database driver).

    While a progress bar is drawn here, a task submitted sends its output (fds 1 and 2) to
    this process, which writes it above the bar (``sacred.store.progress.OutputRelay``);
    its Future is done once that output is written.
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
        self._relay = None
        self._pool = cf.ProcessPoolExecutor(
            max_workers=self.n_jobs, mp_context=multiprocessing.get_context(mp_context)
        )

    def submit(self, fn, *args, **kwargs) -> cf.Future:
        from sacred.store.progress import relay_for_tasks

        self._check_open()
        self._relay, spec = relay_for_tasks(self._relay)
        if spec is None:  # no bar: the workers write where they always did
            return self._track(self._pool.submit(_call, fn, args, kwargs))
        return self._track(self._after_output(self._pool.submit(_call, fn, args, kwargs, spec)))

    def _after_output(self, task: cf.Future) -> cf.Future:
        """A Future done when ``task`` is, after the output of the task was written."""

        def cancel_task():
            if not task.cancel():
                raise RuntimeError("the task is running")

        future = EngineFuture(task, canceller=cancel_task)

        def report(done):
            self._relay.drain()
            if done.cancelled():
                future.cancel()
            else:
                future._settle(None if done.exception() else done.result(), done.exception())

        task.add_done_callback(report)
        return future

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
        if self._relay is not None:
            self._relay.close()
