"""This project beside its peers, on the same machine and in the same run.

    python bench/bench_peers.py                    # makes the peers' venv, installs, measures
    python bench/bench_peers.py --here             # measures in this interpreter, as installed
    python bench/bench_peers.py --runs 10000 --scalars 100000

The peers go into a venv of their own (``--venv``, by default in the user's cache folder), with
this project installed editable beside them, so that their pins never touch the project's test
environment. A peer that does not install there (or is not installed, with ``--here``) is
printed as "not installed". Peers: MLflow (file store and SQLite), Optuna (in memory and
SQLite), TensorBoard's event writer (tensorboardX), Aim and trackio.

What is measured, each for every system that has it:

* start-up of an empty run: a trivial main function observed by the store (Sacred: ``ex.run()``
  with a FileStorageObserver / SqlObserver; MLflow: ``start_run`` + ``end_run``; Optuna: one
  trial of ``study.optimize``; tensorboardX: a ``SummaryWriter`` opened and closed);
* logging N scalars, end to end: from the start of the run to the record being closed
  (Sacred: ``_run.log_scalar`` in the main function; MLflow: ``log_metric`` per point and
  ``log_batch`` of 1,000; Optuna: ``trial.report``; tensorboardX: ``add_scalar``);
* listing and filtering N runs: a store filled with N runs (a config value and a result each),
  then every run read back, cold (a freshly opened store, no cache) and warm, and the runs
  whose result is below 0.5 (Sacred: ``open_store(...).find()``; MLflow: ``search_runs``;
  Optuna: ``get_trials``, filtered in Python: it has no query).

Nothing is asserted; the numbers go into docs/performance.md with the command that made them.
"""

from __future__ import annotations

import argparse
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

# name -> pip requirement; the order of the table
PEERS = {
    "mlflow": "mlflow",
    "optuna": "optuna",
    "tensorboardX": "tensorboardX",
    "aim": "aim",
    "trackio": "trackio",
}
INSTALL_TIMEOUT = 900  # seconds for one peer's pip install


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


def sacred_scalars(store, tmp, n):
    def main(_run, points):
        log = _run.log_scalar
        for i in range(points):
            log("loss", 1.0 / (i + 1), i)

    observer, _ = _sacred_observer(store, tmp)
    ex = _sacred_experiment(observer, main, {"points": 0})
    ex.run()  # the first run creates the folder or the tables (as MLflow's are, untimed)
    start = time.perf_counter()
    ex.run(config_updates={"points": n})
    return time.perf_counter() - start


def sacred_list(store, tmp, n):
    from sacred.store import open_store

    rnd = random.Random(1)
    observer, location = _sacred_observer(store, tmp)
    ex = _sacred_experiment(observer, lambda lr: rnd.random(), {"lr": 0.1})
    for _ in range(n):
        ex.run(config_updates={"lr": rnd.choice([0.1, 0.01, 0.001])}, options={"--capture": "no"})
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
    return cold, _median(read_all, 3), _median(read_filtered, 3)


# ---------------------------------------------------------------------------- MLflow
def _mlflow(store, tmp):
    mlflow = _need("mlflow")
    if store == "file":  # in maintenance mode since MLflow 3, allowed on request
        os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
        mlflow.set_tracking_uri("file://" + os.path.join(tmp, "mlruns"))
    else:
        mlflow.set_tracking_uri(f"sqlite:///{tmp}/mlflow.db")
    experiment_id = mlflow.create_experiment(f"bench-{os.path.basename(tmp)}")
    return mlflow, experiment_id


def mlflow_start(store, tmp, n):
    mlflow, eid = _mlflow(store, tmp)

    def one():
        mlflow.start_run(experiment_id=eid)
        mlflow.end_run()

    one()
    return _median(one, n)


def mlflow_scalars(store, tmp, n, batch=False):
    mlflow, eid = _mlflow(store, tmp)
    from mlflow.entities import Metric

    start = time.perf_counter()
    run = mlflow.start_run(experiment_id=eid)
    if batch:
        client = mlflow.tracking.MlflowClient()
        now = int(time.time() * 1000)
        points = [Metric("loss", 1.0 / (i + 1), now, i) for i in range(n)]
        for i in range(0, n, 1000):
            client.log_batch(run.info.run_id, metrics=points[i : i + 1000])
    else:
        for i in range(n):
            mlflow.log_metric("loss", 1.0 / (i + 1), step=i)
    mlflow.end_run()
    return time.perf_counter() - start


def mlflow_list(store, tmp, n):
    mlflow, eid = _mlflow(store, tmp)
    rnd = random.Random(1)
    for _ in range(n):
        with mlflow.start_run(experiment_id=eid):
            mlflow.log_param("lr", rnd.choice([0.1, 0.01, 0.001]))
            mlflow.log_metric("result", rnd.random())

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
    return cold, _median(search, 3), _median(lambda: search("metrics.result < 0.5"), 3)


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

    def objective(trial):
        for i in range(n):
            trial.report(1.0 / (i + 1), i)
        return 0.0

    start = time.perf_counter()
    study.optimize(objective, n_trials=1)
    return time.perf_counter() - start


def optuna_list(store, tmp, n):
    optuna, storage = _optuna_storage(store, tmp)
    study = optuna.create_study(storage=storage, study_name="bench")
    rnd = random.Random(1)
    study.optimize(lambda t: t.suggest_categorical("lr", [0.1, 0.01, 0.001]) and rnd.random(), n)

    def load():
        return study if storage is None else optuna.load_study(study_name="bench", storage=storage)

    def read_filtered():
        return [t for t in load().get_trials(deepcopy=False) if t.value < 0.5]

    cold = _median(lambda: load().get_trials(deepcopy=False), 1)
    return cold, _median(lambda: load().get_trials(deepcopy=False), 3), _median(read_filtered, 3)


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
    start = time.perf_counter()
    writer = tbx.SummaryWriter(os.path.join(tmp, "scalars"))
    for i in range(n):
        writer.add_scalar("loss", 1.0 / (i + 1), i)
    writer.close()
    return time.perf_counter() - start


# ---------------------------------------------------------------------------- Aim, trackio
def aim_start(store, tmp, n):
    aim = _need("aim")

    def one():
        aim.Run(repo=tmp, experiment="bench").close()

    one()
    return _median(one, n)


def aim_scalars(store, tmp, n):
    aim = _need("aim")
    start = time.perf_counter()
    run = aim.Run(repo=tmp, experiment="bench")
    for i in range(n):
        run.track(1.0 / (i + 1), name="loss", step=i)
    run.close()
    return time.perf_counter() - start


def trackio_scalars(store, tmp, n):
    import contextlib

    trackio = _need("trackio")
    os.environ["TRACKIO_DIR"] = tmp
    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):  # its banner
        start = time.perf_counter()
        trackio.init(project="bench")
        for i in range(n):
            trackio.log({"loss": 1.0 / (i + 1)}, step=i)
        trackio.finish()
        return time.perf_counter() - start


# ---------------------------------------------------------------------------- the table
SYSTEMS = [  # (system, store, start, scalars, list)
    ("sacred", "folder", sacred_start, sacred_scalars, sacred_list),
    ("sacred", "sqlite", sacred_start, sacred_scalars, sacred_list),
    ("mlflow", "file", mlflow_start, mlflow_scalars, mlflow_list),
    ("mlflow", "sqlite", mlflow_start, mlflow_scalars, mlflow_list),
    ("optuna", "memory", optuna_start, optuna_scalars, optuna_list),
    ("optuna", "sqlite", optuna_start, optuna_scalars, optuna_list),
    ("tensorboardX", "event file", tbx_start, tbx_scalars, None),
    ("aim", "repo", aim_start, aim_scalars, None),
    ("trackio", "local", None, trackio_scalars, None),
]


def _attempt(func, *args):
    """The function's answer, or the text to print instead."""
    tmp = tempfile.mkdtemp(prefix="bench-peers-")
    cwd = os.getcwd()
    os.chdir(tmp)  # whatever a peer writes to the working directory lands here
    try:
        return func(*args[:1], tmp, *args[1:])
    except NotInstalled:
        return "not installed"
    except Exception as e:  # a peer that breaks here: say so, measure the others
        return f"failed: {type(e).__name__}: {str(e).splitlines()[0][:80] if str(e) else ''}"
    finally:
        os.chdir(cwd)
        shutil.rmtree(tmp, ignore_errors=True)


def _ms(seconds):
    return f"{seconds * 1000:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"


def measure(args, skipped):
    _quiet()
    rows = []

    def row(benchmark, system, store, text):
        rows.append((benchmark, system, store, text))
        print(f"  {benchmark:<28} {system:<13} {store:<11} {text}", file=sys.stderr, flush=True)

    for system, store, start, scalars, listing in SYSTEMS:
        if system in skipped:
            for benchmark in ("start-up of an empty run", f"{args.scalars:,} scalars", "list"):
                row(benchmark, system, store, skipped[system])
            continue
        if start is not None:
            got = _attempt(start, store, args.starts)
            text = got if isinstance(got, str) else f"{_ms(got)} per run"
            row("start-up of an empty run", system, store, text)
        if scalars is not None:
            got = _attempt(scalars, store, args.scalars)
            text = got if isinstance(got, str) else f"{_ms(got)} ({args.scalars / got:,.0f}/s)"
            row(f"{args.scalars:,} scalars", system, store, text)
            if system == "mlflow" and isinstance(got, float):
                got = _attempt(
                    lambda st, tmp, n: mlflow_scalars(st, tmp, n, True), store, args.scalars
                )
                text = got if isinstance(got, str) else f"{_ms(got)} ({args.scalars / got:,.0f}/s)"
                row(f"{args.scalars:,} scalars, log_batch", system, store, text)
        if listing is not None:
            got = _attempt(listing, store, args.runs)
            if isinstance(got, str):
                text = got
            else:
                cold, warm, filtered = got
                text = f"cold {_ms(cold)}, warm {_ms(warm)}, result < 0.5: {_ms(filtered)}"
            row(f"list {args.runs:,} runs", system, store, text)
    return rows


def print_table(rows, args):
    import platform

    print(
        f"\n`python bench/bench_peers.py{args.command}` on {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}\n"
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
        found = subprocess.run([python, "-c", f"import {peer}"], capture_output=True)
        if found.returncode == 0:
            continue
        print(f"installing {PEERS[peer]} into the peers' venv", file=sys.stderr, flush=True)
        try:
            done = subprocess.run(
                [python, "-m", "pip", "install", "-q", PEERS[peer]],
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
    parser.add_argument("--peers", default=",".join(PEERS), help="comma-separated peers")
    parser.add_argument("--starts", type=int, default=30, help="empty runs to time")
    parser.add_argument("--scalars", type=int, default=10_000, help="scalars to log")
    parser.add_argument("--runs", type=int, default=1_000, help="runs to list")
    parser.add_argument("--skipped", default="", help=argparse.SUPPRESS)  # from the outer run
    args = parser.parse_args(argv)
    given = argv if argv is not None else sys.argv[1:]
    args.command = os.environ.get("BENCH_PEERS_COMMAND", "".join(f" {a}" for a in given))
    peers = [p for p in args.peers.split(",") if p]
    unknown = [p for p in peers if p not in PEERS]
    if unknown:
        parser.error(f"unknown peers {unknown}; known: {', '.join(PEERS)}")
    if args.here:
        skipped = dict(item.split("=", 1) for item in args.skipped.split(";") if item)
        for peer in PEERS:
            if peer not in peers:
                skipped.setdefault(peer, "not measured (--peers)")
        sys.path.insert(0, ROOT)
        print_table(measure(args, skipped), args)
        return 0
    skipped = prepare_venv(args.venv, peers)
    inner = [*given, "--here", "--skipped=" + ";".join(f"{p}={r}" for p, r in skipped.items())]
    env = dict(os.environ, BENCH_PEERS_COMMAND=args.command)
    command = [_venv_python(args.venv), os.path.abspath(__file__), *inner]
    return subprocess.run(command, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
