"""Queue workers: the overhead of queue -> claim -> run -> record for a trivial run, with 1
and 2 workers, on a folder, SQLite and PostgreSQL; and 2 workers against 1 for runs that sleep
0.2 s. Optuna's trials/s on the same database, for an empty objective, as a peer reference.

    .venv/bin/python bench/bench_worker.py [--runs 40] [--sleep-runs 10] [--profile]

PostgreSQL is used when SACRED_TEST_POSTGRES_URL is set (``source /tmp/svc_lead.env``): a
fresh database per measurement; "pg-async" is the same server with the database's
``synchronous_commit = off``, so that a commit does not wait for the disk: the difference
between the two is the disk's (each run has three commits: the claim, the start, the last
beat with the end), the rest is the project's. Workers are forked processes that import everything first
and start together; "run" is the time from their start to the last run recorded, per run
(``sacred.launch.worker.Worker``: find the QUEUED runs, claim one, load the script, run it
into the store, record it COMPLETED). "queue" is ``sacred queue``'s cost per run, measured
apart. ``--profile`` prints where a worker spends its time on SQLite and PostgreSQL (one
worker in this process, after a warm-up: the time in each part and the statements sent).
"""

import argparse
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sacred.launch.queue_cli import queue_run  # noqa: E402
from sacred.launch.worker import Worker  # noqa: E402
from sacred.store import open_store  # noqa: E402

SCRIPT = """
import time
from sacred import Experiment

ex = Experiment("trivial")


@ex.config
def cfg():
    a = 0
    sleep = 0.0


@ex.main
def main(a, sleep):
    if sleep:
        time.sleep(sleep)
    return a * 2
"""


# ---------------------------------------------------------------- stores
class Stores:
    def __init__(self, folder):
        self.folder = folder
        self.server = os.environ.get("SACRED_TEST_POSTGRES_URL")
        self.databases = []

    def kinds(self):
        return ["folder", "sqlite"] + (["postgresql", "pg-async"] if self.server else [])

    def fresh(self, kind):
        name = f"b{uuid.uuid4().hex[:10]}"
        if kind == "folder":
            return os.path.join(self.folder, name)
        if kind == "sqlite":
            return f"sqlite:///{os.path.join(self.folder, name + '.db')}"
        import psycopg
        import sqlalchemy as sa

        with psycopg.connect(self.server, autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{name}"')
            if kind == "pg-async":  # commits do not wait for the disk (see commit_cost)
                con.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
        self.databases.append(name)
        url = sa.engine.make_url(self.server).set(database=name)
        return url.render_as_string(hide_password=False)

    def drop(self):
        if not self.databases:
            return
        import psycopg

        with psycopg.connect(self.server, autocommit=True) as con:
            for name in self.databases:
                con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def commit_cost(self, kind, n=50):
        """Milliseconds of one small INSERT + COMMIT on a fresh database of ``kind``: what
        each of a run's transactions waits for the server's disk (WAL flush)."""
        import psycopg
        import sqlalchemy as sa

        url = sa.engine.make_url(self.fresh(kind)).set(drivername="postgresql")
        with psycopg.connect(url.render_as_string(hide_password=False)) as con:
            con.execute("CREATE TABLE t (a int)")
            con.commit()
            start = time.perf_counter()
            for i in range(n):
                con.execute("INSERT INTO t VALUES (%s)", (i,))
                con.commit()
            return 1000 * (time.perf_counter() - start) / n


# ---------------------------------------------------------------- measuring
def queue(location, script, n, sleep=0.0):
    """Queue ``n`` runs; returns seconds per run."""
    start = time.perf_counter()
    for a in range(n):
        queue_run(script, location, updates={"a": a, "sleep": sleep})
    return (time.perf_counter() - start) / n


def _worker(location, go, results):
    worker = Worker(location, idle_exit=0.3, poll=0.05, say=lambda text: None)
    worker.store.find_ids(limit=1)  # connected and imported before the start
    go.wait()
    worker.serve()
    results.put((os.getpid(), len(worker.finished), time.time()))


def run_workers(location, n_workers, n_runs):
    """Run the queue with ``n_workers`` forked workers; returns (seconds, runs done)."""
    ctx = multiprocessing.get_context("fork")
    go, results = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(location, go, results)) for _ in range(n_workers)]
    for p in procs:
        p.start()
    time.sleep(1.0)  # all imported and connected
    start = time.time()
    go.set()
    done = [results.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
    # each worker waited idle_exit after its last run: the end is the last record's stop
    store = open_store(location)
    records = store.find("status == 'COMPLETED'")
    end = _utc_to_epoch(max(r["stop_time"] for r in records)) if records else time.time()
    assert sum(d[1] for d in done) == n_runs == len(records), (done, len(records))
    return end - start, len(records)


def _utc_to_epoch(naive_utc):
    import datetime as dt

    return naive_utc.replace(tzinfo=dt.timezone.utc).timestamp()


def optuna_reference(location, n):
    """Optuna's trials/s for an empty objective on the SQL database ``location``."""
    try:
        import optuna
    except ImportError:
        return None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(storage=location, study_name="bench")
    start = time.perf_counter()
    study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=n)
    return n / (time.perf_counter() - start)


def profile_one_worker(location, script, n):
    """Where one worker's time goes on ``location``: wall and CPU time per run, the
    statements sent per run, and the time spent in each part (worker, store, observer)."""
    import collections
    import functools

    import sqlalchemy as sa

    from sacred.launch import worker as worker_module
    from sacred.observers.sql.observer import SqlObserver
    from sacred.observers.sql.store import SqlStore

    spent = collections.defaultdict(float)

    def timed(owner, name, label):
        original = getattr(owner, name)

        @functools.wraps(original)
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                spent[label] += time.perf_counter() - start

        setattr(owner, name, wrapper)
        return original

    parts = [(worker_module.Worker, n, f"worker.{n}") for n in ("claim_next", "execute")]
    parts += [(SqlStore, n, f"store.{n}") for n in ("find_ids", "summaries", "claims", "claim")]
    parts += [(SqlStore, "get", "store.get")]
    parts += [
        (SqlObserver, n, f"observer.{n}")
        for n in ("continued_event", "heartbeat_event", "completed_event")
    ]
    statements = [0]

    def count(*args):
        statements[0] += 1

    queue(location, script, 3)  # warm up: connections, caches, imports
    Worker(location, idle_exit=0.0, poll=0.05, say=lambda text: None).serve()
    queue(location, script, n)
    originals = [(owner, name, timed(owner, name, label)) for owner, name, label in parts]
    sa.event.listen(sa.engine.Engine, "before_cursor_execute", count)
    worker = Worker(location, idle_exit=0.0, poll=0.05, say=lambda text: None)
    start, cpu = time.perf_counter(), time.process_time()
    worker.serve()
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    sa.event.remove(sa.engine.Engine, "before_cursor_execute", count)
    for owner, name, original in originals:
        setattr(owner, name, original)
    print(
        f"\nprofile: 1 worker in this process, {n} runs on {location.split('://')[0]}: "
        f"{1000 * elapsed / n:.1f} ms per run ({1000 * cpu / n:.1f} ms CPU of this process), "
        f"{statements[0] / n:.1f} SQL statements per run"
    )
    for label, seconds in sorted(spent.items(), key=lambda item: -item[1]):
        print(f"  {label:<28} {1000 * seconds / n:7.1f} ms per run")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--sleep-runs", type=int, default=10)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    folder = tempfile.mkdtemp(prefix="bench_worker_")
    script = os.path.join(folder, "exp.py")
    with open(script, "w") as f:
        f.write(SCRIPT)
    stores = Stores(folder)
    try:
        print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
        if stores.server:
            print(
                f"PostgreSQL: a small INSERT + COMMIT takes {stores.commit_cost('postgresql'):.2f} "
                f"ms (pg-async: {stores.commit_cost('pg-async'):.2f} ms, synchronous_commit=off)"
            )
        print(f"trivial runs ({args.runs} per measurement)")
        print(f"{'store':<11} {'queue ms/run':>12} {'workers':>8} {'runs/s':>8} {'ms/run':>8}")
        for kind in stores.kinds():
            for n_workers in (1, 2):
                location = stores.fresh(kind)
                per_queue = queue(location, script, args.runs)
                elapsed, n = run_workers(location, n_workers, args.runs)
                print(
                    f"{kind:<11} {1000 * per_queue:>12.1f} {n_workers:>8} {n / elapsed:>8.1f} "
                    f"{1000 * elapsed / n:>8.1f}"
                )
        print(f"\nruns sleeping 0.2 s ({args.sleep_runs} per measurement): 2 workers vs 1")
        for kind in stores.kinds():
            rates = []
            for n_workers in (1, 2):
                location = stores.fresh(kind)
                queue(location, script, args.sleep_runs, sleep=0.2)
                elapsed, n = run_workers(location, n_workers, args.sleep_runs)
                rates.append(n / elapsed)
            print(
                f"{kind:<11} 1 worker {rates[0]:.2f} runs/s, 2 workers {rates[1]:.2f} runs/s: "
                f"x{rates[1] / rates[0]:.2f}"
            )
        print("\npeer reference: Optuna, empty objective, same database kind")
        for kind in stores.kinds():
            if kind == "folder":
                continue
            rate = optuna_reference(stores.fresh(kind), args.runs)
            if rate is None:
                print("optuna is not installed")
                break
            print(f"{kind:<11} {rate:.1f} trials/s ({1000 / rate:.1f} ms per trial)")
        if args.profile:
            for kind in stores.kinds():
                if kind != "folder":
                    profile_one_worker(stores.fresh(kind), script, args.runs)
    finally:
        stores.drop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
