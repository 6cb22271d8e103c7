"""``submitit``: jobs on Slurm (or submitit's other executors) through ``AutoExecutor``."""

from __future__ import annotations

import collections
import os
import threading

from sacred.launch.launchers import require
from sacred.launch.launchers.base import EngineFuture, Launcher


class SubmititLauncher(Launcher):
    """Each task is a submitit job: ``AutoExecutor(folder, cluster).update_parameters(...)``.

    Options: ``folder`` (submitit's job folder: pickles and logs, default
    ``submitit_logs``), ``cluster`` (``None`` lets submitit pick Slurm when ``sbatch``
    exists; ``"local"`` runs jobs as processes here, ``"debug"`` in this process), ``poll``
    (seconds between job checks, default 0.5); every other option goes to
    ``update_parameters`` (``timeout_min``, ``slurm_partition``, ``cpus_per_task``,
    ``gpus_per_node``, ``slurm_array_parallelism``, ...). At most ``n_jobs`` jobs are in
    the engine at once (``None``: no limit, the cluster's scheduler decides); tasks waiting
    for a slot are submitted together as one job array.
    """

    name = "submitit"

    def __init__(self, n_jobs=None, folder="submitit_logs", cluster=None, poll=0.5, **options):
        super().__init__(n_jobs=n_jobs)
        submitit = require("submitit", "submitit")
        self.folder = os.fspath(folder)
        self.executor = submitit.AutoExecutor(folder=self.folder, cluster=cluster)
        if options:
            self.executor.update_parameters(**options)
        self.poll = poll
        self._lock = threading.Lock()
        self._waiting = collections.deque()  # (future, fn, args, kwargs) not yet submitted
        self._running = []  # (future, job)
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="sacred-submitit", daemon=True)
        self._thread.start()

    def submit(self, fn, *args, **kwargs) -> EngineFuture:
        self._check_open()
        future = EngineFuture()
        item = (future, fn, args, kwargs)

        def cancel():
            with self._lock:
                if item in self._waiting:
                    self._waiting.remove(item)
                    return
            job = future.handle
            if job is None:
                raise RuntimeError("being submitted")
            job.cancel(check=False)

        future._canceller = cancel
        with self._lock:
            self._waiting.append(item)
        self._wake.set()
        return self._track(future)

    def _submit_waiting(self):
        with self._lock:
            free = len(self._waiting)
            if self.n_jobs is not None:
                free = min(free, self.n_jobs - len(self._running))
            batch = [self._waiting.popleft() for _ in range(max(free, 0))]
        if not batch:
            return
        try:
            if len(batch) == 1:
                _, fn, args, kwargs = batch[0]
                jobs = [self.executor.submit(fn, *args, **kwargs)]
            else:
                with self.executor.batch():
                    jobs = [self.executor.submit(fn, *a, **kw) for _, fn, a, kw in batch]
        except Exception as e:
            for future, *_ in batch:
                future._settle(exception=e)
            return
        with self._lock:
            for (future, *_), job in zip(batch, jobs):
                future.handle = job
                self._running.append((future, job))

    def _collect_done(self):
        with self._lock:
            running = list(self._running)
        for future, job in running:
            if not job.done():
                continue
            with self._lock:
                self._running.remove((future, job))
            if future.cancelled():
                continue
            try:
                future._settle(job.result())
            except BaseException as e:  # noqa: B036 (a failed job: its error is the result)
                future._settle(exception=e)

    def _loop(self):
        while True:
            self._submit_waiting()
            self._collect_done()
            with self._lock:
                idle = not self._running and not self._waiting
            if idle and self._closed:
                return
            self._wake.wait(self.poll)
            self._wake.clear()

    def _release(self) -> None:
        # the poller stops once every submitted job is done (cancelled jobs included:
        # job.cancel() interrupts them, their runs end INTERRUPTED)
        self._wake.set()
        self._thread.join()
