"""``queue``: runs are only stored as QUEUED, for ``sacred worker`` processes started by hand."""

from __future__ import annotations

import concurrent.futures as cf

from sacred.launch.launchers.base import EngineFuture, Launcher, LauncherError


class QueueLauncher(Launcher):
    """Stores each submitted run as QUEUED (the ``-q`` path) in its spec's store.

    Only ``submit(run_task, spec)`` is accepted: the run is queued at once in this process
    and the Future resolves to the queued run's id. Workers on any machine then run the
    queue (``sacred worker STORE``).
    """

    name = "queue"
    queues_only = True

    def __init__(self, n_jobs=None, **options):
        super().__init__(n_jobs=n_jobs)
        if options:
            raise LauncherError(
                f"The queue launcher takes no options (got {', '.join(sorted(options))})"
            )

    def submit(self, fn, *args, **kwargs) -> cf.Future:
        from sacred.launch.task import queue_task, run_task

        self._check_open()
        if fn is not run_task or len(args) != 1 or kwargs:
            raise LauncherError(
                "The queue launcher only queues runs: submit(sacred.launch.task.run_task, spec)"
            )
        from sacred.store.progress import above_bars

        future = EngineFuture()
        try:
            with above_bars():  # the run's log lines, written here, go above a bar
                future.handle = run_id = queue_task(args[0])
        except Exception as e:
            future._settle(exception=e)
        else:
            future._settle(run_id)
        return future
