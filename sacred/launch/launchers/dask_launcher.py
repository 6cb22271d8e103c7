"""``dask``: ``dask.distributed.Client.submit`` on a scheduler, or on a LocalCluster."""

from __future__ import annotations

import logging
import os
import uuid

from sacred.launch.launchers import require
from sacred.launch.launchers.base import EngineFuture, Launcher


class DaskLauncher(Launcher):
    """Tasks through a Dask ``Client``.

    Options: ``address`` (a running scheduler, e.g. ``tcp://host:8786``; the cluster's
    workers were started by hand or by dask-jobqueue), or ``client`` (a ``Client`` you made).
    Without either, a ``LocalCluster`` of ``n_jobs`` worker processes (one thread each) is
    started and closed with the launcher. ``retries`` (default 0: a run is never started
    twice by the engine) and ``resources`` go to ``client.submit``; other options go to
    ``LocalCluster``.

    While a progress bar is drawn here, the tasks on a LocalCluster started here (one
    thread per worker) send their output to this process, which writes it above the bar
    (``sacred.store.progress.OutputRelay``); workers elsewhere write where they always do.
    """

    name = "dask"

    def __init__(
        self, n_jobs=None, address=None, client=None, retries=0, resources=None, **options
    ):
        super().__init__(n_jobs=n_jobs)
        distributed = require("dask.distributed", "dask", "dask[distributed]")
        self._cluster = None
        self._relay = None
        self._relay_here = False  # whether task output may come to this process's bar
        self._own_client = client is None
        if client is not None:
            self.client = client
        elif address is not None:
            self.client = distributed.Client(address)
        else:
            options.setdefault("threads_per_worker", 1)
            # a worker process with one thread runs one task at a time: its fds are its own
            self._relay_here = options["threads_per_worker"] == 1
            options.setdefault("dashboard_address", ":0")  # any free port: never a clash
            options.setdefault("silence_logs", logging.ERROR)
            self._cluster = distributed.LocalCluster(
                n_workers=n_jobs or os.cpu_count() or 1, processes=True, **options
            )
            self.client = distributed.Client(self._cluster)
        self._submit_kwargs = {"retries": retries, "pure": False}
        if resources is not None:
            self._submit_kwargs["resources"] = resources

    def submit(self, fn, *args, **kwargs) -> EngineFuture:
        from sacred.store.progress import call_relayed, relay_for_tasks

        self._check_open()
        spec = None
        if self._relay_here:
            self._relay, spec = relay_for_tasks(self._relay)
        if spec is None:
            handle = self.client.submit(fn, *args, **self._submit_kwargs, **kwargs)
        else:
            key = f"{getattr(fn, '__name__', 'task')}-{uuid.uuid4()}"  # as dask names it
            handle = self.client.submit(
                call_relayed, spec, fn, args, kwargs, key=key, **self._submit_kwargs
            )
        future = EngineFuture(handle, canceller=handle.cancel)

        def report(done):
            if spec is not None:
                self._relay.drain()  # the task's lines before its result
            if done.status == "finished":
                try:
                    future._settle(done.result())
                except BaseException as e:  # noqa: B036 (the result could not be fetched)
                    future._settle(exception=e)
            elif done.status == "cancelled":
                future.cancel()
            else:
                future._settle(exception=done.exception())

        handle.add_done_callback(report)
        return self._track(future)

    def _release(self) -> None:
        # tasks running in a worker's thread cannot be interrupted: closing the cluster
        # ends its worker processes (their runs stop sending heartbeats)
        if self._own_client:
            self.client.close()
        if self._cluster is not None:
            self._cluster.close()
        if self._relay is not None:
            self._relay.close()
