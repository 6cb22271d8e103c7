"""This project beside its peers, on the same machine and in the same run.

    python bench/bench_peers.py                    # makes the peers' venv, installs, measures
    python bench/bench_peers.py --here             # measures in this interpreter, as installed
    python bench/bench_peers.py --scalars 10000 --points 100000 --runs 1000   # smaller, quicker

The peers go into a venv of their own (``--venv``, by default in the user's cache folder), with
this project installed editable beside them, so that their pins never touch the project's test
environment. A peer that does not install there (or is not installed, with ``--here``) is
printed as "not installed". Peers: MLflow (file store and SQLite), Optuna (in memory and
SQLite), TensorBoard's event writer (tensorboardX, read back with tensorboard's
EventAccumulator), Aim and trackio. The defaults are the sizes of the comparison: 100,000
scalars, a 1,000,000-point metric, 10,000 runs.

What is measured, each for every system that has it:

* start-up of an empty run: a trivial main function observed by the store (Sacred: ``ex.run()``
  with a FileStorageObserver / SqlObserver; MLflow: ``start_run`` + ``end_run``; Optuna: one
  trial of ``study.optimize``; tensorboardX: a ``SummaryWriter`` opened and closed);
* logging N scalars, end to end: from the start of the run to the record being closed
  (Sacred: ``_run.log_scalar`` in the main function; MLflow: ``log_metric`` per point and
  ``log_batch`` of 1,000; Optuna: ``trial.report``; tensorboardX: ``add_scalar``);
* the cold read of an N-point metric: one run with one metric of N points, written untimed
  (its writing speed is printed beside), then read back whole in a fresh process with an empty
  ``XDG_CACHE_HOME`` (so no cache of this project's folder store, nor any in-process cache of
  a peer, survives; the operating system's page cache is not dropped: the files were just
  written). Timed: opening the store and reading every point, after the imports; the fresh
  process's whole time is printed too (Sacred: ``open_store(...).metrics(run_id, ["loss"])``;
  MLflow: ``MlflowClient.get_metric_history``; tensorboardX: tensorboard's
  ``EventAccumulator`` keeping every scalar; Aim: ``Repo.query_metrics``; trackio:
  ``SQLiteStorage.get_metric_values``). Optuna has no metric to read back;
* listing and filtering N runs: a store filled with N runs (a config value and a result each),
  then every run read back, cold (a freshly opened store, no cache) and warm, and the runs
  whose result is below 0.5 (Sacred: ``open_store(...).find()``; MLflow: ``search_runs``;
  Optuna: ``get_trials``, filtered in Python: it has no query).

A loop that would run longer than ``--budget`` seconds (600 by default: per-point writes to
SQLite, Aim's ``track``) stops there and prints how far it got and its rate; a listing or a
read then works on what was written.

Nothing is asserted; the numbers go into docs/performance.md with the command that made them.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

__file__ = os.path.abspath(__file__)  # the runs record it; the bench changes folders
HERE = os.path.dirname(__file__)
ROOT = os.path.dirname(HERE)

# name -> (modules it needs, pip requirements); the order of the table
PEERS = {
    "mlflow": (["mlflow"], ["mlflow"]),
    "optuna": (["optuna"], ["optuna"]),
    # tensorboard only to read the event file back (EventAccumulator)
    "tensorboardX": (["tensorboardX", "tensorboard"], ["tensorboardX", "tensorboard"]),
    "aim": (["aim"], ["aim"]),
    "trackio": (["trackio"], ["trackio"]),
}
INSTALL_TIMEOUT = 900  # seconds for one peer's pip install
BUDGET = [600.0]  # seconds a loop may take (--budget); a list: set by main


class NotInstalled(Exception):
    pass


def _need(module):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise NotInstalled(module) from None


def _quiet():
    logging.basicConfig(handlers=[logging.NullHandler()], level=logging.ERROR)
    logging.getLogger().setLevel(logging.ERROR)
    for name in ("mlflow", "alembic", "optuna", "sacred", "urllib3"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.simplefilter("ignore")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")


def _over(start):
    """The time budget of a loop started at ``start`` is used up."""
    return time.perf_counter() - start > BUDGET[0]


def _median(func, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# ---------------------------------------------------------------------------- Sacred
def _sacred_observer(store, tmp):
    if store == "folder":
        from sacred.observers import FileStorageObserver

        return FileStorageObserver(os.path.join(tmp, "runs")), os.path.join(tmp, "runs")
    from sacred.observers import SqlObserver

    url = f"sqlite:///{tmp}/runs.db"
    return SqlObserver(url), url


def _sacred_experiment(observer, main, config=None):
    from sacred import Experiment

    ex = Experiment("bench", base_dir=HERE)
    ex.observers.append(observer)
    if config:
        ex.add_config(config)
    ex.main(main)
    ex.logger = logging.getLogger("bench-quiet")
    ex.logger.setLevel(logging.ERROR)
    return ex


def sacred_start(store, tmp, n):
    observer, _ = _sacred_observer(store, tmp)
    ex = _sacred_experiment(observer, lambda: None)
    ex.run()  # the first run creates the folder or the tables
    return _median(ex.run, n)


def _sacred_log(store, tmp, n):
    """(seconds, points logged, run id, store location): a run logging n points."""

    def main(_run, points):
        log, start = _run.log_scalar, time.perf_counter()
        for i in range(points):
            log("loss", 1.0 / (i + 1), i)
            if i % 1000 == 999 and _over(start):
                return i + 1
        return points

    observer, location = _sacred_observer(store, tmp)
    ex = _sacred_experiment(observer, main, {"points": 0})
    ex.run()  # the first run creates the folder or the tables (as MLflow's are, untimed)
    start = time.perf_counter()
    run = ex.run(config_updates={"points": n})
    return time.perf_counter() - start, run.result, run._id, location


def sacred_scalars(store, tmp, n):
    return _sacred_log(store, tmp, n)[:2]


def sacred_metric(store, tmp, n):
    seconds, reached, run_id, location = _sacred_log(store, tmp, n)
    return seconds, reached, {"location": location, "run_id": run_id}


def sacred_read(job):
    from sacred.store import open_store

    def read():
        s = open_store(job["location"])
        try:
            return len(s.metrics(job["run_id"], ["loss"])["loss"]["values"])
        finally:
            s.close()

    return read


def sacred_list(store, tmp, n):
    from sacred.store import open_store

    rnd = random.Random(1)
    observer, location = _sacred_observer(store, tmp)
    ex = _sacred_experiment(observer, lambda lr: rnd.random(), {"lr": 0.1})
    start = time.perf_counter()
    for i in range(n):
        ex.run(config_updates={"lr": rnd.choice([0.1, 0.01, 0.001])}, options={"--capture": "no"})
        if _over(start):
            n = i + 1
            break
    os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(dir=tmp)  # no index from the filling

    def read_all():
        s = open_store(location)
        assert len(s.find()) == n
        s.close()

    def read_filtered():
        s = open_store(location)
        s.find("result < 0.5")
        s.close()

    cold = _median(read_all, 1)
    return n, cold, _median(read_all, 3), _median(read_filtered, 3)


# ---------------------------------------------------------------------------- MLflow
def _mlflow_uri(store, tmp):
    if store == "file":  # in maintenance mode since MLflow 3, allowed on request
        os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
        return "file://" + os.path.join(tmp, "mlruns")
    return f"sqlite:///{tmp}/mlflow.db"


def _mlflow(store, tmp):
    mlflow = _need("mlflow")
    mlflow.set_tracking_uri(_mlflow_uri(store, tmp))
    experiment_id = mlflow.create_experiment(f"bench-{os.path.basename(tmp)}")
    return mlflow, experiment_id


def mlflow_start(store, tmp, n):
    mlflow, eid = _mlflow(store, tmp)

    def one():
        mlflow.start_run(experiment_id=eid)
        mlflow.end_run()

    one()
    return _median(one, n)


def _mlflow_log(store, tmp, n, batch):
    """(seconds, points logged, run id): a run logging n points."""
    mlflow, eid = _mlflow(store, tmp)
    from mlflow.entities import Metric

    start = time.perf_counter()
    run = mlflow.start_run(experiment_id=eid)
    reached = n
    if batch:  # 1,000 points a call: MLflow's limit
        client = mlflow.tracking.MlflowClient()
        now = int(time.time() * 1000)
        for i in range(0, n, 1000):
            points = [Metric("loss", 1.0 / (j + 1), now, j) for j in range(i, min(i + 1000, n))]
            client.log_batch(run.info.run_id, metrics=points)
            if _over(start):
                reached = i + len(points)
                break
    else:
        for i in range(n):
            mlflow.log_metric("loss", 1.0 / (i + 1), step=i)
            if i % 100 == 99 and _over(start):
                reached = i + 1
                break
    mlflow.end_run()
    return time.perf_counter() - start, reached, run.info.run_id


def mlflow_scalars(store, tmp, n, batch=False):
    return _mlflow_log(store, tmp, n, batch)[:2]


def mlflow_metric(store, tmp, n):
    seconds, reached, run_id = _mlflow_log(store, tmp, n, batch=True)
    return seconds, reached, {"uri": _mlflow_uri(store, tmp), "run_id": run_id}


def mlflow_read(job):
    _need("mlflow")
    from mlflow.tracking import MlflowClient

    if job["uri"].startswith("file:"):
        os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    return lambda: len(MlflowClient(job["uri"]).get_metric_history(job["run_id"], "loss"))


def mlflow_list(store, tmp, n):
    mlflow, eid = _mlflow(store, tmp)
    rnd = random.Random(1)
    start = time.perf_counter()
    for i in range(n):
        with mlflow.start_run(experiment_id=eid):
            mlflow.log_param("lr", rnd.choice([0.1, 0.01, 0.001]))
            mlflow.log_metric("result", rnd.random())
        if _over(start):
            n = i + 1
            break

    def search(filter_string=""):
        client = mlflow.tracking.MlflowClient()  # a new client: nothing cached
        runs, token = [], None
        while True:
            page = client.search_runs(
                [eid], filter_string=filter_string, max_results=1000, page_token=token
            )
            runs.extend(page)
            token = page.token
            if not token:
                return runs

    cold = _median(lambda: len(search()), 1)
    return n, cold, _median(search, 3), _median(lambda: search("metrics.result < 0.5"), 3)


# ---------------------------------------------------------------------------- Optuna
def _optuna_storage(store, tmp):
    optuna = _need("optuna")
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    if store == "memory":
        return optuna, None
    return optuna, f"sqlite:///{tmp}/optuna.db"


def optuna_start(store, tmp, n):
    optuna, storage = _optuna_storage(store, tmp)
    study = optuna.create_study(storage=storage)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    start = time.perf_counter()
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=n)
    return (time.perf_counter() - start) / n


def optuna_scalars(store, tmp, n):
    optuna, storage = _optuna_storage(store, tmp)
    study = optuna.create_study(storage=storage)

    reached = [n]

    def objective(trial):
        for i in range(n):
            trial.report(1.0 / (i + 1), i)
            if i % 100 == 99 and _over(start):
                reached[0] = i + 1
                break
        return 0.0

    start = time.perf_counter()
    study.optimize(objective, n_trials=1)
    return time.perf_counter() - start, reached[0]


def optuna_list(store, tmp, n):
    optuna, storage = _optuna_storage(store, tmp)
    study = optuna.create_study(storage=storage, study_name="bench")
    rnd = random.Random(1)
    objective = lambda t: t.suggest_categorical("lr", [0.1, 0.01, 0.001]) and rnd.random()  # noqa: E731
    study.optimize(objective, n, timeout=BUDGET[0])
    n = len(study.trials)

    def load():
        return study if storage is None else optuna.load_study(study_name="bench", storage=storage)

    def read_filtered():
        return [t for t in load().get_trials(deepcopy=False) if t.value < 0.5]

    cold = _median(lambda: load().get_trials(deepcopy=False), 1)
    warm = _median(lambda: load().get_trials(deepcopy=False), 3)
    return n, cold, warm, _median(read_filtered, 3)


# ---------------------------------------------------------------------------- tensorboardX
def tbx_start(store, tmp, n):
    tbx = _need("tensorboardX")
    count = [0]

    def one():
        count[0] += 1
        tbx.SummaryWriter(os.path.join(tmp, f"run{count[0]}")).close()

    one()
    return _median(one, n)


def tbx_scalars(store, tmp, n):
    tbx = _need("tensorboardX")
    start, reached = time.perf_counter(), n
    writer = tbx.SummaryWriter(os.path.join(tmp, "scalars"))
    for i in range(n):
        writer.add_scalar("loss", 1.0 / (i + 1), i)
        if i % 1000 == 999 and _over(start):
            reached = i + 1
            break
    writer.close()
    return time.perf_counter() - start, reached


def tbx_metric(store, tmp, n):
    seconds, reached = tbx_scalars(store, tmp, n)
    return seconds, reached, {"logdir": os.path.join(tmp, "scalars")}


def tbx_read(job):
    _need("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    def read():
        events = EventAccumulator(job["logdir"], size_guidance={"scalars": 0})  # 0: keep all
        return len(events.Reload().Scalars("loss"))

    return read


# ---------------------------------------------------------------------------- Aim, trackio
def aim_start(store, tmp, n):
    aim = _need("aim")

    def one():
        aim.Run(repo=tmp, experiment="bench").close()

    one()
    return _median(one, n)


def _aim_log(tmp, n):
    """(seconds, points logged, run hash)."""
    aim = _need("aim")
    start, reached = time.perf_counter(), n
    run = aim.Run(repo=tmp, experiment="bench")
    for i in range(n):
        run.track(1.0 / (i + 1), name="loss", step=i)
        if i % 1000 == 999 and _over(start):
            reached = i + 1
            break
    run.close()
    return time.perf_counter() - start, reached, run.hash


def aim_scalars(store, tmp, n):
    return _aim_log(tmp, n)[:2]


def aim_metric(store, tmp, n):
    seconds, reached, run_hash = _aim_log(tmp, n)
    # A closed run is found by queries once indexed, which Aim's UI server does in the
    # background; here it is done before the read, untimed
    from aim.sdk.index_manager import RepoIndexManager
    from aim.sdk.repo import Repo

    RepoIndexManager.get_index_manager(Repo(tmp)).index(run_hash)
    return seconds, reached, {"repo": tmp}


def aim_read(job):
    aim = _need("aim")

    def read():
        metrics = aim.Repo(job["repo"]).query_metrics("metric.name == 'loss'", report_mode=0)
        return sum(len(m.values.sparse_numpy()[1]) for m in metrics)

    return read


def _trackio_log(tmp, n):
    """(seconds, points logged, run name)."""
    import contextlib

    trackio = _need("trackio")  # writes to TRACKIO_DIR as it was at the import (see main)
    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):  # its banner
        start, reached = time.perf_counter(), n
        run = trackio.init(project=os.path.basename(tmp))
        for i in range(n):
            trackio.log({"loss": 1.0 / (i + 1)}, step=i)
            if i % 1000 == 999 and _over(start):
                reached = i + 1
                break
        trackio.finish()
        return time.perf_counter() - start, reached, run.name


def trackio_scalars(store, tmp, n):
    return _trackio_log(tmp, n)[:2]


def trackio_metric(store, tmp, n):
    seconds, reached, name = _trackio_log(tmp, n)
    project = os.path.basename(tmp)
    return seconds, reached, {"dir": os.environ["TRACKIO_DIR"], "project": project, "run": name}


def trackio_read(job):
    os.environ["TRACKIO_DIR"] = job["dir"]  # read when trackio is imported
    _need("trackio")
    from trackio.sqlite_storage import SQLiteStorage

    return lambda: len(SQLiteStorage.get_metric_values(job["project"], job["run"], "loss"))


# ---------------------------------------------------------------------------- the table
SYSTEMS = [  # (system, store, start, scalars, metric write, list)
    ("sacred", "folder", sacred_start, sacred_scalars, sacred_metric, sacred_list),
    ("sacred", "sqlite", sacred_start, sacred_scalars, sacred_metric, sacred_list),
    ("mlflow", "file", mlflow_start, mlflow_scalars, mlflow_metric, mlflow_list),
    ("mlflow", "sqlite", mlflow_start, mlflow_scalars, mlflow_metric, mlflow_list),
    ("optuna", "memory", optuna_start, optuna_scalars, None, optuna_list),
    ("optuna", "sqlite", optuna_start, optuna_scalars, None, optuna_list),
    ("tensorboardX", "event file", tbx_start, tbx_scalars, tbx_metric, None),
    ("aim", "repo", aim_start, aim_scalars, aim_metric, None),
    ("trackio", "local", None, trackio_scalars, trackio_metric, None),
]
READERS = {"sacred": sacred_read, "mlflow": mlflow_read, "tensorboardX": tbx_read}
READERS.update(aim=aim_read, trackio=trackio_read)


def _attempt(func, *args):
    """The function's answer, or the text to print instead."""
    tmp = tempfile.mkdtemp(prefix="bench-peers-")
    cwd = os.getcwd()
    os.chdir(tmp)  # whatever a peer writes to the working directory lands here
    try:
        return func(*args[:1], tmp, *args[1:])
    except NotInstalled as e:
        return f"not installed ({e})"
    except Exception as e:  # a peer that breaks here: say so, measure the others
        return _failed(e)
    finally:
        os.chdir(cwd)
        shutil.rmtree(tmp, ignore_errors=True)


def _failed(e):
    return f"failed: {type(e).__name__}: {str(e).splitlines()[0][:80] if str(e) else ''}"


def read_metric(job):
    """In a fresh process: open the store and read the metric; prints JSON."""
    _quiet()
    sys.path.insert(0, ROOT)
    try:
        read = READERS[job["system"]](job)  # the imports, untimed
        start = time.perf_counter()
        points = read()
        print(json.dumps({"seconds": time.perf_counter() - start, "points": points}))
    except NotInstalled as e:
        print(json.dumps({"error": f"not installed ({e})"}))
    except Exception as e:
        print(json.dumps({"error": _failed(e)}))


def metric_cold_read(store, tmp, system, write, n):
    """(write seconds, points written, read seconds, points read, process seconds)."""
    written, reached, job = write(store, tmp, n)
    job["system"] = system
    env = dict(os.environ, XDG_CACHE_HOME=tempfile.mkdtemp(dir=tmp))  # no cache of any kind
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, __file__, "--read-metric", json.dumps(job)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp,
    )
    process = time.perf_counter() - start
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1][:100]
        raise RuntimeError(f"the reading process failed: {last}")
    got = json.loads(lines[-1])
    if "error" in got:
        return got["error"]
    return written, reached, got["seconds"], got["points"], process


def _ms(seconds):
    return f"{seconds * 1000:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"


def _rate(seconds, reached, n):
    """'1.2 s (83,000/s)', or how far a loop got in its budget."""
    text = f"{_ms(seconds)} ({reached / seconds:,.0f}/s)"
    return text if reached >= n else f"stopped at {reached:,} after {text}: the budget"


def measure(args, skipped):
    _quiet()
    rows = []
    trackio_dir = tempfile.mkdtemp(prefix="bench-peers-trackio-")  # read once, at its import
    os.environ["TRACKIO_DIR"] = trackio_dir

    def row(benchmark, system, store, text):
        rows.append((benchmark, system, store, text))
        print(f"  {benchmark:<28} {system:<13} {store:<11} {text}", file=sys.stderr, flush=True)

    names = {
        "start": "start-up of an empty run",
        "scalars": f"{args.scalars:,} scalars",
        "batch": f"{args.scalars:,} scalars, log_batch",
        "read": f"cold read of {args.points:,} points",
        "list": f"list {args.runs:,} runs",
    }
    for system, store, start, scalars, metric, listing in SYSTEMS:
        if skipped.get(system) == "not measured":  # left out by --peers: no rows
            continue
        if store not in args.stores.get(system, [store]):  # --peers system/store
            continue
        if system in skipped:
            has = {"start": start, "scalars": scalars, "read": metric, "list": listing}
            for key in ("start", "scalars", "read", "list"):
                if has[key] is not None and key in args.only:
                    row(names[key], system, store, skipped[system])
            continue
        if start is not None and "start" in args.only:
            got = _attempt(start, store, args.starts)
            text = got if isinstance(got, str) else f"{_ms(got)} per run"
            row(names["start"], system, store, text)
        if scalars is not None and "scalars" in args.only:
            got = _attempt(scalars, store, args.scalars)
            row(
                names["scalars"],
                system,
                store,
                got if isinstance(got, str) else _rate(*got, args.scalars),
            )
            if system == "mlflow" and not isinstance(got, str):
                got = _attempt(
                    lambda st, tmp, n: mlflow_scalars(st, tmp, n, True), store, args.scalars
                )
                row(
                    names["batch"],
                    system,
                    store,
                    got if isinstance(got, str) else _rate(*got, args.scalars),
                )
        if metric is not None and "read" in args.only:
            got = _attempt(metric_cold_read, store, system, metric, args.points)
            if isinstance(got, str):
                text = got
            else:
                written, reached, seconds, points, process = got
                text = f"{_ms(seconds)} ({_ms(process)} with the process and imports)"
                if points != reached:
                    text += f", but {points:,} points came back"
                text += f"; written: {_rate(written, reached, args.points)}"
            row(names["read"], system, store, text)
        if listing is not None and "list" in args.only:
            got = _attempt(listing, store, args.runs)
            if isinstance(got, str):
                text = got
            else:
                filled, cold, warm, filtered = got
                text = f"cold {_ms(cold)}, warm {_ms(warm)}, result < 0.5: {_ms(filtered)}"
                if filled < args.runs:
                    text += f" (only {filled:,} runs made in the budget)"
            row(names["list"], system, store, text)
    shutil.rmtree(trackio_dir, ignore_errors=True)
    return rows


def print_table(rows, args):
    import platform
    from importlib import metadata

    versions = []
    for name in ("mlflow", "optuna", "tensorboardX", "tensorboard", "aim", "trackio"):
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pass
    print(
        f"\n`python bench/bench_peers.py{args.command}` on {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d')}; {', '.join(versions)}\n"
    )
    print("| benchmark | system | store | time |")
    print("|---|---|---|---|")
    for benchmark, system, store, text in rows:
        print(f"| {benchmark} | {system} | {store} | {text} |")


# ---------------------------------------------------------------------------- the venv
def _venv_python(venv):
    return os.path.join(venv, "bin", "python")


def prepare_venv(venv, peers):
    """Make the venv (this project editable, then each peer on its own); returns
    ``{peer: reason}`` for the peers that could not be installed."""
    python = _venv_python(venv)
    if not os.path.exists(python):
        print(f"making the peers' venv in {venv}", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        subprocess.run([python, "-m", "pip", "install", "-q", "--upgrade", "pip"], check=False)
    subprocess.run(
        [python, "-m", "pip", "install", "-q", "-e", ROOT + "[sql]"], check=True, cwd=ROOT
    )
    skipped = {}
    for peer in peers:
        modules, requirements = PEERS[peer]
        found = subprocess.run([python, "-c", f"import {', '.join(modules)}"], capture_output=True)
        if found.returncode == 0:
            continue
        print(
            f"installing {' '.join(requirements)} into the peers' venv", file=sys.stderr, flush=True
        )
        try:
            done = subprocess.run(
                [python, "-m", "pip", "install", "-q", *requirements],
                capture_output=True,
                text=True,
                timeout=INSTALL_TIMEOUT,
            )
        except subprocess.TimeoutExpired:
            skipped[peer] = f"not installed (pip took more than {INSTALL_TIMEOUT} s)"
            continue
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["?"])[-1][:100]
            skipped[peer] = f"not installed ({last})"
    return skipped


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--here", action="store_true", help="measure in this interpreter")
    parser.add_argument(
        "--venv",
        default=os.path.join(
            os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
            "sacred-bench",
            "peers-venv",
        ),
        help="the peers' venv (made if missing)",
    )
    parser.add_argument(
        "--peers",
        default=",".join(["sacred", *PEERS]),
        help="comma-separated systems to measure (sacred: this project), or system/store",
    )
    parser.add_argument("--starts", type=int, default=30, help="empty runs to time")
    parser.add_argument("--scalars", type=int, default=100_000, help="scalars to log")
    parser.add_argument("--points", type=int, default=1_000_000, help="points of the metric read")
    parser.add_argument("--runs", type=int, default=10_000, help="runs to list")
    parser.add_argument(
        "--budget", type=float, default=600, help="seconds one loop may take (default 600)"
    )
    parser.add_argument(
        "--only", default="start,scalars,read,list", help="benchmarks to run (comma-separated)"
    )
    parser.add_argument("--skipped", default="", help=argparse.SUPPRESS)  # from the outer run
    parser.add_argument("--read-metric", help=argparse.SUPPRESS)  # the fresh reading process
    args = parser.parse_args(argv)
    if args.read_metric:
        read_metric(json.loads(args.read_metric))
        return 0
    for name in ("starts", "scalars", "points", "runs", "budget"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name} must be positive")
    args.only = set(args.only.split(","))
    unknown = args.only - {"start", "scalars", "read", "list"}
    if unknown:
        parser.error(f"unknown benchmarks {sorted(unknown)}; known: start, scalars, read, list")
    BUDGET[0] = args.budget
    given = argv if argv is not None else sys.argv[1:]
    args.command = os.environ.get("BENCH_PEERS_COMMAND", "".join(f" {a}" for a in given))
    args.stores = {}  # system -> the stores named with it (mlflow/sqlite)
    peers = []
    for item in filter(None, args.peers.split(",")):
        system, _, store = item.partition("/")
        peers.append(system)
        if store:
            args.stores.setdefault(system, []).append(store)
    peers = list(dict.fromkeys(peers))
    unknown = [p for p in peers if p != "sacred" and p not in PEERS]
    if unknown:
        parser.error(f"unknown peers {unknown}; known: sacred, {', '.join(PEERS)}")
    if args.here:
        skipped = dict(item.split("=", 1) for item in args.skipped.split(";") if item)
        for peer in ["sacred", *PEERS]:
            if peer not in peers:
                skipped.setdefault(peer, "not measured")
        sys.path.insert(0, ROOT)
        print_table(measure(args, skipped), args)
        return 0
    skipped = prepare_venv(args.venv, [p for p in peers if p != "sacred"])
    inner = [*given, "--here", "--skipped=" + ";".join(f"{p}={r}" for p, r in skipped.items())]
    env = dict(os.environ, BENCH_PEERS_COMMAND=args.command)
    command = [_venv_python(args.venv), os.path.abspath(__file__), *inner]
    return subprocess.run(command, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
