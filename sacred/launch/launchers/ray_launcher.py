"""``ray``: ``ray.remote`` tasks on a Ray cluster (or a local one ``ray.init`` starts)."""

from __future__ import annotations

import os

from sacred.launch.launchers import require
from sacred.launch.launchers.base import EngineFuture, Launcher


class RayLauncher(Launcher):
    """Tasks as ``ray.remote`` functions.

    If Ray is not initialised yet, ``ray.init(address=..., num_cpus=n_jobs,
    include_dashboard=False, **init_options)`` is called (and ``ray.shutdown()`` at
    close); a Ray already initialised (by you, or ``address="auto"`` on a cluster node)
    is used as it is. Per-task options: ``num_cpus`` (default 1), ``num_gpus``,
    ``resources``, ``runtime_env``, ``max_retries`` (default 0: a run is never started
    twice by the engine). ``n_jobs`` on a running Ray limits nothing: Ray schedules by
    the CPUs its nodes declare.

    While a progress bar is drawn here, the tasks of a local Ray started here send their
    output to this process, which writes it above the bar (``sacred.store.progress``),
    without Ray's ``(run_task pid=...)`` prefix; on other Rays, Ray prints the workers'
    output as it always does.
    """

    name = "ray"
    _TASK_OPTIONS = ("num_cpus", "num_gpus", "resources", "runtime_env", "max_retries", "memory")

    def __init__(self, n_jobs=None, address=None, **options):
        super().__init__(n_jobs=n_jobs)
        self.ray = ray = require("ray", "ray")
        task_options = {k: options.pop(k) for k in self._TASK_OPTIONS if k in options}
        task_options.setdefault("num_cpus", 1)
        task_options.setdefault("max_retries", 0)
        self._task_options = task_options
        from sacred.store.progress import above_bars

        self._own_ray = not ray.is_initialized()
        # a Ray this process starts on this machine: its workers can reach a relay here
        self._relay_here = (
            self._own_ray and address in (None, "local") and not os.environ.get("RAY_ADDRESS")
        )
        self._relay = None
        if self._own_ray:
            options.setdefault("include_dashboard", False)
            options.setdefault("log_to_driver", True)
            with above_bars():  # Ray logs its start here
                ray.init(address=address, num_cpus=n_jobs, **options)
        self._remotes = {}
        self._in_engine = set()  # refs of tasks not ended in Ray (a cancelled one may still run)

    def submit(self, fn, *args, **kwargs) -> EngineFuture:
        from sacred.store.progress import call_relayed, relay_for_tasks

        self._check_open()
        spec = None
        if self._relay_here:
            self._relay, spec = relay_for_tasks(self._relay)
        if spec is None:
            ref = self._remote(fn).remote(*args, **kwargs)
        else:
            remote = self._remote(call_relayed).options(name=getattr(fn, "__name__", "task"))
            ref = remote.remote(spec, fn, args, kwargs)
        future = EngineFuture(ref, canceller=lambda: self.ray.cancel(ref))
        ray_future = ref.future()
        self._in_engine.add(ref)

        def report(done):
            self._in_engine.discard(ref)
            if spec is not None:
                self._relay.drain()  # the task's lines before its result
            if done.cancelled():
                future.cancel()
            elif done.exception() is not None:
                future._settle(exception=done.exception())
            else:
                future._settle(done.result())

        ray_future.add_done_callback(report)
        return self._track(future)

    def _remote(self, fn):
        remote = self._remotes.get(fn)
        if remote is None:
            remote = self._remotes[fn] = self.ray.remote(**self._task_options)(fn)
        return remote

    def _interrupt(self, unfinished) -> None:
        # ray.cancel sends KeyboardInterrupt to the running tasks: their runs end INTERRUPTED
        for ref in list(self._in_engine):
            self.ray.cancel(ref)

    def _release(self) -> None:
        refs = list(self._in_engine)  # cancelled tasks still recording their runs
        if refs:
            self.ray.wait(refs, num_returns=len(refs), timeout=self.grace)
        if self._own_ray:
            self.ray.shutdown()
        if self._relay is not None:
            self._relay.close()
