"""The ``Launcher`` interface: submit a picklable function to an engine, get a Future back.

Every launcher returns real ``concurrent.futures.Future`` objects (engine handles are
wrapped in ``EngineFuture``), so ``concurrent.futures.wait`` and ``as_completed`` work the
same over every engine::

    from concurrent.futures import as_completed
    from sacred.launch.launchers import get_launcher
    from sacred.launch.task import run_task

    with get_launcher("dask", n_jobs=4) as launcher:
        futures = [launcher.submit(run_task, spec) for spec in specs]
        for future in as_completed(futures):
            print(future.result())      # {"run_id": ..., "status": ..., ...}

The function and its arguments travel to the engine's workers: give a top-level function
(``sacred.launch.task.run_task``) and plain data, never a closure or a decorated object.
"""

from __future__ import annotations

import concurrent.futures as cf
from typing import Any, Callable, Iterable, Optional

from sacred.utils import SacredError

__all__ = ("Launcher", "EngineFuture", "LauncherError")


class LauncherError(SacredError):
    """A launcher cannot be made (unknown name, engine not installed, bad option)."""

    def __init__(self, message):
        super().__init__(message, print_traceback=False)


class EngineFuture(cf.Future):
    """A ``concurrent.futures.Future`` standing for an engine's own handle.

    ``handle`` is the engine's object (a dask Future, a Ray ObjectRef, a submitit Job,
    a queued run id); ``cancel()`` also cancels it in the engine, where the engine can.
    """

    def __init__(self, handle: Any = None, canceller: Optional[Callable[[], Any]] = None):
        super().__init__()
        self.handle = handle
        self._canceller = canceller

    def cancel(self) -> bool:
        if self.done():
            return False
        if self._canceller is not None:
            try:
                self._canceller()
            except Exception:  # the engine refuses (already running or gone): not cancelled
                return False
        return super().cancel()

    # the engine may report after a cancel(): those late reports are dropped
    def _settle(self, result: Any = None, exception: Optional[BaseException] = None) -> None:
        try:
            if exception is not None:
                self.set_exception(exception)
            else:
                self.set_result(result)
        except cf.InvalidStateError:
            pass


class Launcher:
    """Base class: ``submit(fn, *args, **kwargs) -> Future``, ``map``, ``close``.

    ``n_jobs`` is how many tasks may run at once (``None``: the engine's own default).
    ``queues_only`` is True for the launcher that stores QUEUED runs instead of running
    them (its futures resolve to the queued run ids).

    Subclasses implement ``submit`` (calling ``_track`` on each future), and may override
    ``_interrupt`` (stop what runs, for ``close(cancel=True)``) and ``_release`` (free the
    engine's resources).
    """

    name = "base"
    queues_only = False
    grace = 30.0  # seconds that interrupted tasks get to record their runs at close(cancel=True)

    def __init__(self, n_jobs: Optional[int] = None, **options):
        if n_jobs is not None and (not isinstance(n_jobs, int) or n_jobs < 1):
            raise LauncherError(f"n_jobs must be a positive integer, not {n_jobs!r}")
        self.n_jobs = n_jobs
        self.options = options
        self._closed = False
        self._unfinished = set()

    def submit(self, fn: Callable, *args, **kwargs) -> cf.Future:
        """Run ``fn(*args, **kwargs)`` on the engine; a Future of its return value."""
        raise NotImplementedError

    def map(self, fn: Callable, *iterables: Iterable) -> list:
        """``[submit(fn, *args) for args in zip(*iterables)]`` (a list of Futures)."""
        return [self.submit(fn, *args) for args in zip(*iterables)]

    def close(self, cancel: bool = False) -> None:
        """Wait for the submitted tasks, then release what the launcher started.

        ``cancel=True`` instead cancels the tasks not started yet and interrupts the running
        ones where the engine can (their runs end INTERRUPTED), waiting at most ``grace``
        seconds for them to record it.
        """
        if self._closed:
            return
        self._closed = True
        unfinished = [f for f in list(self._unfinished) if not f.done()]
        if cancel:
            for future in unfinished:
                future.cancel()
            self._interrupt(unfinished)
        else:
            cf.wait(unfinished)
        self._release()

    def _track(self, future: cf.Future) -> cf.Future:
        self._unfinished.add(future)
        future.add_done_callback(self._unfinished.discard)
        return future

    def _interrupt(self, unfinished: list) -> None:
        """Stop the running tasks (after their futures were cancelled)."""

    def _release(self) -> None:
        """Free the engine's resources (pools, clusters, threads)."""

    def _check_open(self):
        if self._closed:
            raise LauncherError(f"The {self.name} launcher is closed")

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close(cancel=exc_type is not None and issubclass(exc_type, KeyboardInterrupt))

    def __repr__(self):
        return f"<{type(self).__name__} n_jobs={self.n_jobs}>"
