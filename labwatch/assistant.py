"""``LabAssistant``: connects an experiment, its search spaces, an optimizer and a store.

Search spaces are named configs: ``python exp.py with search_space`` (or
``ex.run(named_configs=["search_space"])``) evaluates the search space, asks the optimizer
for a configuration and hands it to Sacred, so explicit ``with x=...`` updates still win.
Every run made from a search space carries ``info["labwatch"] = {"search_space": <id>,
"name": <name>}``; the history of a search space is the COMPLETED runs with its id, read
through ``sacred.store``. The cost of a run is its result (or ``result["optimization_target"]``)
and is minimised.
"""

from __future__ import annotations

import copy
import datetime as _dt
import functools
import json
import logging
import math
import threading
import time
from typing import Optional

from labwatch.backends import (
    Backend,
    FileBackend,
    MongoBackend,
    SqlBackend,
    backend_for,
    mongo_database,
)
from labwatch.hyperparameters import plain
from labwatch.optimizers.random_search import RandomSearch
from labwatch.searchspace import SearchSpace, build_search_space
from sacred.store import RunNotFoundError, StoreError
from sacred.utils import recursive_update

__all__ = ("LabAssistant", "convert_result", "started_with")

logger = logging.getLogger("labwatch")


def convert_result(result) -> float:
    """The cost of a run: a number, or a dict's ``"optimization_target"``."""
    if isinstance(result, dict):
        if "optimization_target" not in result:
            raise ValueError(
                "The run returned a dict without the key optimization_target: return a "
                "number or {'optimization_target': <number>, ...}"
            )
        result = result["optimization_target"]
    result = plain(result)
    if isinstance(result, bool) or not isinstance(result, (int, float)) or math.isnan(result):
        raise ValueError(
            f"Cannot use the result {result!r} as a cost: return a number or a dict with "
            "the key optimization_target"
        )
    return float(result)


class LabAssistant:
    def __init__(
        self,
        experiment,
        database_name: Optional[str] = None,
        url: Optional[str] = None,
        optimizer=None,
        prefix: str = "runs",
        always_inject_observer: bool = False,
        store=None,
    ):
        """``optimizer`` is an Optimizer class (or any callable taking the SearchSpace);
        RandomSearch by default. ``store`` is any ``sacred.store`` location (a folder,
        ``sqlite:///runs.db``, ``postgresql://...``, ``mongodb://host/db``) or a MongoDB
        database object; ``database_name`` (with ``url``) is the paper's MongoDB shortcut.
        Without either, the assistant uses the experiment's file/SQL/Mongo observer, or the
        one given on the command line (``-F``, ``-s``, ``-m``).
        """
        self.ex = experiment
        self.optimizer_class = optimizer or RandomSearch
        self.prefix = prefix
        self.always_inject_observer = always_inject_observer
        self.logger = logger
        self.search_spaces = {}  # name -> search-space function
        self.current_search_space: Optional[SearchSpace] = None
        self._optimizers = {}  # search space id -> optimizer
        self._known = {}  # search space id -> ids of runs already fed to the optimizer
        self._history = {}  # search space id -> [(values, cost, run id)]
        self._registered = set()
        self._local = threading.local()  # the search space a named config just used
        self._in_flight = {}  # search space id -> {key: values} of optimize()'s runs
        # a RUNNING run silent for this long no longer counts as pending (its worker is gone)
        self.pending_timeout = 600.0
        self._cli_backend = None
        self._backends = {}
        self.backend: Optional[Backend] = None
        if store is not None:
            self.backend = backend_for(store, prefix)
        elif database_name is not None:
            self.backend = MongoBackend(mongo_database(url, database_name), prefix)
        if self.backend is not None:
            self._inject_observer()

        def labwatch_option_hook(options):
            self._cli_backend = _backend_from_options(options, prefix)

        def labwatch_mark_run(_run):
            self._mark_run(_run)

        experiment.option_hook(labwatch_option_hook)
        experiment.pre_run_hook(labwatch_mark_run)

    # ------------------------------------------------------------------ store
    def _resolve_backend(self) -> Backend:
        if self.backend is not None:
            return self.backend
        if self._cli_backend is not None:
            return self._cached(self._cli_backend)
        for observer in sorted(self.ex.observers, key=lambda o: -getattr(o, "priority", 0)):
            backend = _backend_from_observer(observer)
            if backend is not None:
                return self._cached(backend)
        raise RuntimeError(
            "LabAssistant has no store to keep the history in: pass store=<folder or URL> "
            "(or database_name=...), attach a FileStorageObserver, SqlObserver or "
            "MongoObserver to the experiment, or run with -F/-s/-m"
        )

    def _cached(self, backend: Backend) -> Backend:
        # one backend (and store, with its index) per location
        return self._backends.setdefault(repr(backend), backend)

    def _inject_observer(self):
        if not any(self.backend.matches(o) for o in self.ex.observers):
            self.ex.observers.append(self.backend.make_observer())

    @property
    def store(self):
        """The ``sacred.store`` RunStore holding this assistant's runs."""
        return self._resolve_backend().store

    # ------------------------------------------------------------------ search spaces
    def search_space(self, function):
        """Decorator: register ``function`` as a search space (a named config)."""
        name = function.__name__
        if name in self.search_spaces:
            raise KeyError(f'A search space called "{name}" is already registered')
        self.search_spaces[name] = function
        wrapper = functools.partial(self._search_space_wrapper, function=function, name=name)
        self.ex._add_named_config(name, wrapper)
        return function

    searchspace = search_space  # the spelling of the paper and the original docs

    def _load_search_space(self, function, name) -> SearchSpace:
        space = build_search_space(function, name)
        backend = self._resolve_backend()
        if (space.id, id(backend)) not in self._registered:
            doc = {"_id": space.id, "_class": "SearchSpace", "name": name, **space.to_json()}
            doc["optimizer"] = self._optimizer_name(space)
            doc["created"] = _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None).isoformat()
            backend.save_search_space(doc)
            self._registered.add((space.id, id(backend)))
        self.current_search_space = space
        return space

    def _search_space_wrapper(self, fixed=None, preset=None, fallback=None, *, function, name):
        space = self._load_search_space(function, name)
        values = self.get_suggestion(space)
        config = space.fill_in(values)
        # explicit updates win over the suggestion
        if fixed:
            recursive_update(config, _plain_dict(fixed))
        self._local.pending = {
            "search_space": space.id,
            "name": name,
            "optimizer": self._optimizer_name(space),
        }
        return config

    def _optimizer_name(self, space) -> str:
        """The optimizer's class name, recorded with the space and on each of its runs."""
        return type(self._optimizer(space)).__name__

    def _mark_run(self, run):
        pending = getattr(self._local, "pending", None)
        self._local.pending = None
        if "labwatch" in run.info:
            return
        marker = run.meta_info.get("labwatch")
        if isinstance(marker, dict) and marker.get("search_space"):
            # a run a launcher's worker rebuilt from plain data (meta_info only travels)
            run.info["labwatch"] = {k: v for k, v in marker.items() if k != "queued_run"}
        elif pending is not None and pending["name"] in run.meta_info.get("named_configs", ()):
            run.info["labwatch"] = dict(pending)

    def _marker(self, space) -> dict:
        return {
            "search_space": space.id,
            "name": space.name,
            "optimizer": self._optimizer_name(space),
        }

    def _space(self, space=None) -> SearchSpace:
        if isinstance(space, SearchSpace):
            return space
        if isinstance(space, str):
            if space not in self.search_spaces:
                raise ValueError(
                    f"Unknown search space {space!r}; known: {list(self.search_spaces)}"
                )
            return self._load_search_space(self.search_spaces[space], space)
        if self.current_search_space is not None:
            return self.current_search_space
        if len(self.search_spaces) == 1:
            name = next(iter(self.search_spaces))
            return self._load_search_space(self.search_spaces[name], name)
        raise ValueError(
            "No current search space: run the experiment with a search space first or pass "
            f"search_space=<name> (known: {list(self.search_spaces)})"
        )

    def _optimizer(self, space: SearchSpace):
        if space.id not in self._optimizers:
            self._optimizers[space.id] = self.optimizer_class(space)
            self._known[space.id] = set()
            self._history[space.id] = []
        return self._optimizers[space.id]

    # ------------------------------------------------------------------ history
    def update_optimizer(self, search_space=None):
        """Feed the completed runs of the search space that the optimizer has not seen."""
        space = self._space(search_space)
        optimizer = self._optimizer(space)
        store = self._resolve_backend().store
        # our runs carry the space's id; the original Labwatch's runs (and any other run
        # of this experiment without a mark) count when started with the space's name
        query = (
            f"status == 'COMPLETED' and (info.labwatch.search_space == '{space.id}' or "
            f"meta.labwatch.search_space == '{space.id}' or "
            f"(not (info.labwatch exists) and experiment.name == {json.dumps(self.ex.path)}))"
        )
        known = self._known[space.id]
        new_ids = [i for i in store.find_ids(query, sort="_id") if i not in known]
        configs, costs, runs = [], [], []
        for run_id in new_ids:
            known.add(run_id)
            run = store.get(run_id)
            marked = ((run.get("meta") or {}).get("labwatch") or {}).get("search_space")
            if (
                "labwatch" not in (run.get("info") or {})
                and marked != space.id
                and space.name not in started_with(run)
            ):
                continue
            try:
                cost = convert_result(run.get("result"))
            except ValueError as e:
                self.logger.warning("Run %s is left out of the history: %s", run_id, e)
                continue
            values = space.values_from_config(run.get("config") or {})
            if not space.valid(values):
                self.logger.warning(
                    "Run %s is left out of the history: its config does not fit the search "
                    "space %r",
                    run_id,
                    space.name,
                )
                continue
            configs.append(values)
            costs.append(cost)
            runs.append(run)
            self._history[space.id].append((values, cost, run_id))
        if configs:
            optimizer.update(configs, costs, runs)
        return len(configs)

    def stored_search_spaces(self) -> list:
        """The search spaces kept in the store, this project's and the original Labwatch's
        (``SearchSpace`` objects; the original's have no name). Documents that are not
        search spaces are left out with a warning."""
        spaces = []
        for doc in self._resolve_backend().load_search_spaces():
            try:
                spaces.append(SearchSpace.from_json(doc))
            except (ValueError, KeyError, TypeError) as e:
                self.logger.warning("A stored search space cannot be read: %s", e)
        return spaces

    def history(self, search_space=None) -> list:
        """``[(values, cost, run id)]`` of the search space's completed runs, oldest first."""
        space = self._space(search_space)
        self._optimizer(space)
        self.update_optimizer(space)
        return list(self._history[space.id])

    def pending(self, search_space=None) -> list:
        """``{name: value}`` of the search space's runs in flight: those ``optimize`` is
        running, and those the store holds as QUEUED or RUNNING (RUNNING ones whose last
        heartbeat is older than ``pending_timeout`` seconds are left out), without the
        completed ones."""
        from labwatch.parallel import pending_in_store, value_key  # lazy: the parallel part

        space = self._space(search_space)
        self._optimizer(space)
        stored = pending_in_store(
            self._resolve_backend().store, space, self.ex.path, self.pending_timeout
        )
        self.update_optimizer(space)
        done = {value_key(v) for v, _, _ in self._history[space.id]}
        pending = {}
        for values in [v for _, v in stored] + list(self._in_flight.get(space.id, {}).values()):
            key = value_key(values)
            if key not in done:
                pending.setdefault(key, dict(values))
        return list(pending.values())

    def get_suggestion(self, search_space=None) -> dict:
        """The optimizer's next configuration, ``{parameter name: value}``.

        The optimizer is told the pending configurations first (``pending()``), so that
        workers sharing the store get different points."""
        space = self._space(search_space)
        optimizer = self._optimizer(space)
        pending = self.pending(space)  # reads the new completed runs too
        if hasattr(optimizer, "set_pending"):
            optimizer.set_pending(pending)
        values = optimizer.suggest_configuration()
        if values is None:
            self.logger.info("The optimizer has no suggestion: using a random configuration")
            values = optimizer.get_random_config()
        values = plain(values)
        space.validate(values)
        return values

    def get_current_best(self, return_job_info=False, search_space=None):
        """``(values, cost)`` of the best completed run of the search space, or
        ``(values, run record)`` with ``return_job_info``; ``(None, None)`` without runs."""
        space = self._space(search_space)
        self._optimizer(space)
        self.update_optimizer(space)
        history = self._history[space.id]
        if not history:
            return None, None
        values, cost, run_id = min(history, key=lambda h: h[1])
        if return_job_info:
            return dict(values), self._resolve_backend().store.get(run_id)
        return dict(values), cost

    # ------------------------------------------------------------------ running
    def run_config(self, config, command=None, search_space=None):
        """Run ``config`` (flat by parameter name, or a nested config update)."""
        if config is None:
            raise ValueError("run_config needs a configuration, got None")
        config = plain(config)
        backend = self._resolve_backend()
        if self.always_inject_observer or self.backend is not None:
            self.backend = backend
            self._inject_observer()
        marker = None
        try:
            space = self._space(search_space)
        except ValueError:
            space = None
        if space is not None:
            if config and all(k in space.parameters for k in config):
                config = space.fill_in(config)
            if space.valid(space.values_from_config(config)):
                marker = self._marker(space)
        info = {"labwatch": marker} if marker else None
        meta = {"labwatch": marker} if marker else None
        return self.ex.run(command, config_updates=config, info=info, meta_info=meta)

    def run_suggestion(self, command=None, search_space=None):
        space = self._space(search_space)
        return self.run_config(self.get_suggestion(space), command, space)

    def run_random(self, command=None, search_space=None):
        space = self._space(search_space)
        return self.run_config(self._optimizer(space).get_random_config(), command, space)

    def run_default(self, command=None, search_space=None):
        space = self._space(search_space)
        return self.run_config(self._optimizer(space).get_default_config(), command, space)

    # ------------------------------------------------------------------ parallel search
    def optimize(
        self,
        n_trials: int,
        launcher=None,
        n_workers: Optional[int] = None,
        search_space=None,
        command: Optional[str] = None,
        options: Optional[dict] = None,
        progress: Optional[bool] = None,
    ) -> list:
        """Run ``n_trials`` suggested configurations, up to ``n_workers`` at once.

        ``launcher``: None runs them in threads of this process, without output capture
        (with several workers, each thread runs its own copy of the experiment, imported
        from its script); a launcher name (``"local"``, ``"submitit"``, ``"dask"``,
        ``"ray"``, ``"queue"``) or a ``sacred.launch.launchers`` Launcher runs the
        experiment's script there (``n_workers`` defaults to the launcher's ``n_jobs``).
        Whenever a run ends, the optimizer learns its result and the next suggestion is
        submitted; configurations still running are pending for it (see ``pending``).
        ``options`` are command-line options of the runs (e.g. ``{"--capture": "sys"}``
        with a launcher; threads always run with ``--capture=no``). ``progress``: a bar of
        finished trials and the best cost so far on stderr; ``None`` (default) when stderr is
        a terminal, ``True`` always (needs tqdm), ``False`` never.

        Returns one dict per run in the order they ended: ``values``, ``run_id``, ``status``
        (COMPLETED, FAILED...; QUEUED with the queue launcher), ``result`` (and ``error``).
        """
        from labwatch.parallel import optimize  # lazy: the parallel part

        return optimize(
            self, n_trials, launcher, n_workers, search_space, command, options, progress
        )

    # ------------------------------------------------------------------ queue
    def enqueue_suggestion(self, command=None, search_space=None):
        """Queue a suggested configuration (a QUEUED run in the store); returns the run."""
        space = self._space(search_space)
        values = self.get_suggestion(space)
        backend = self._resolve_backend()
        self.backend = backend
        self._inject_observer()
        marker = self._marker(space)
        return self.ex.run(
            command,
            config_updates=space.fill_in(values),
            info={"labwatch": marker},
            meta_info={"labwatch": marker},
            options={"--queue": True},
        )

    def run_from_queue(self, wait_time_in_s=600, sleep_time=5):
        """Claim one queued run of this experiment and run it; None after the wait time.

        The claim is atomic (``RunStore.claim``), so workers sharing a store never run the
        same queued run twice. The queued run runs under its own id: its record becomes
        RUNNING, as the original's MongoDB ``overwrite`` does (``sacred.continuation``);
        ``meta.labwatch.queued_run`` is that id too.
        """
        deadline = time.monotonic() + wait_time_in_s
        while True:
            run = self._dequeue_and_run()
            if run is not None:
                return run
            if time.monotonic() >= deadline:
                return None
            time.sleep(min(sleep_time, max(0.0, deadline - time.monotonic())))

    def _dequeue_and_run(self):
        from sacred.continuation import Continuation
        from sacred.launch.worker import worker_name

        backend = self._resolve_backend()
        self.backend = backend
        self._inject_observer()
        store = backend.store
        name = json.dumps(self.ex.path)
        worker = worker_name()
        for run_id in store.find_ids(
            f"status == 'QUEUED' and experiment.name == {name}", sort="_id"
        ):
            if store.claims(run_id) or not store.claim(run_id, 1, worker):
                continue  # another worker has it
            try:
                record = store.get(run_id)
            except (RunNotFoundError, StoreError):
                continue
            if record.get("status") != "QUEUED":
                continue
            marker = (record.get("meta") or {}).get("labwatch") or self._marker_for(record)
            claims = [{"attempt": 1, "worker": worker}]
            meta = {"labwatch": dict(marker or {}, queued_run=run_id), "claims": claims}
            continuation = Continuation.queued(record, meta_updates=meta)
            run = self.ex._create_run(
                continuation.command,
                config_updates=continuation.config,
                info={"labwatch": marker} if marker else None,
            )
            continuation.apply(run)
            run()
            return run
        return None

    def _marker_for(self, record):
        """The search space a queued run's config fits (runs queued from the CLI)."""
        for name in self.search_spaces:
            space = self._space(name)
            if space.valid(space.values_from_config(record.get("config") or {})):
                return {"search_space": space.id, "name": name}
        return None


def started_with(record: dict) -> list:
    """The named configs a run was started with: ``meta.named_configs`` (Sacred 0.8), else
    the names among the ``with`` arguments (``meta.options.UPDATE``, Sacred 0.7)."""
    meta = record.get("meta") or {}
    names = meta.get("named_configs")
    if isinstance(names, list) and names:
        return [n for n in names if isinstance(n, str)]
    update = (meta.get("options") or {}).get("UPDATE")
    if isinstance(update, list):
        return [u for u in update if isinstance(u, str) and "=" not in u]
    return []


def _plain_dict(value):
    if isinstance(value, dict):
        return {k: _plain_dict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain_dict(v) for v in value]
    return copy.deepcopy(value)


def _backend_from_options(options, prefix) -> Optional[Backend]:
    if options.get("--file_storage"):
        return FileBackend(options["--file_storage"])
    if options.get("--sql"):
        return SqlBackend(options["--sql"])
    if options.get("--mongo_db"):
        # lazy: only -m needs the Mongo location grammar
        from sacred.observers.mongo.options import parse_mongo_db_arg

        kw = parse_mongo_db_arg(options["--mongo_db"])
        db = mongo_database(kw.get("url"), kw.get("db_name", "sacred"))
        return MongoBackend(db, kw.get("collection", prefix))
    return None


def _backend_from_observer(observer) -> Optional[Backend]:
    kind = type(observer).__name__
    if kind == "FileStorageObserver":
        return FileBackend(observer.basedir)
    if kind == "SqlObserver":
        return SqlBackend(observer.engine.url.render_as_string(hide_password=False))
    if kind == "MongoObserver":
        return MongoBackend(observer.runs.database, observer.runs.name)
    return None
