"""Benchmark of the TinyDbObserver on a run logging many metric points.

    python bench/bench_tinydb.py [--points 2000000] [--repeat 1] [--kinds tinydb,sqlite,file]

``--kinds postgresql`` adds the SqlObserver on a fresh database of the server named by
SACRED_TEST_POSTGRES_URL (left there: drop it by hand).

The scenario of tests/conformance/test_volume.py: one run logs ``loss`` and ``acc`` (half of
the points each) through ``_run.log_scalar``, then the store reads them back whole. For each
observer kind it prints the run's wall and CPU seconds (median of ``--repeat``) and the
read-back's, so the TinyDB numbers can be set against SQLite's and the folder's. The kind
``tinydb-via-tinydb`` makes the observer write through TinyDB and tinydb-serialization, as
it did before it wrote metadata.json itself (minutes: not among the default kinds).
Target: TinyDB within a small multiple of SQLite. Asserts only that the points come back.

Measured on the 2-core machine with a load average of 3 to 15 (other jobs), CPU seconds:
before (observer through TinyDB, store parsing dates with strptime) run 158, read back 15;
after: run 6.8, read back 2.7; SQLite 4.5 and 1.7; folder 2.8 and 1.2.
PostgreSQL at load average 1.3 to 1.7, run / read back wall seconds: 52.4 / 2.1 before
(multi-row INSERTs, bd41f71), 17.8 / 0.91 with COPY and the numpy timestamps (SQLite 4.1 /
0.29 in the same run).
"""

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

logging.basicConfig(handlers=[logging.NullHandler()], level=logging.WARNING)
logging.getLogger().setLevel(logging.ERROR)


def _observer(kind, tmp):
    if kind.startswith("tinydb"):
        from sacred.observers import TinyDbObserver
        from sacred.observers.tinydb_hashfs import observer

        json_file = observer._json_file
        if kind == "tinydb-via-tinydb":
            observer._json_file = lambda db: None  # TinyTables: every event through TinyDB
        try:
            return TinyDbObserver(os.path.join(tmp, "tinydb")), os.path.join(tmp, "tinydb")
        finally:
            observer._json_file = json_file
    if kind == "sqlite":
        from sacred.observers import SqlObserver

        url = f"sqlite:///{os.path.join(tmp, 'runs.db')}"
        return SqlObserver(url), url
    if kind == "postgresql":  # a fresh database on SACRED_TEST_POSTGRES_URL's server
        import uuid

        import psycopg
        import sqlalchemy as sa

        from sacred.observers import SqlObserver

        server = os.environ["SACRED_TEST_POSTGRES_URL"]
        name = f"bench_points_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(server, autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{name}"')
        url = sa.engine.make_url(server).set(database=name).render_as_string(False)
        return SqlObserver(url), url
    from sacred.observers import FileStorageObserver

    return FileStorageObserver(os.path.join(tmp, "runs")), os.path.join(tmp, "runs")


def once(kind, points):
    from sacred import Experiment
    from sacred.store import open_store

    with tempfile.TemporaryDirectory() as tmp:
        ex = Experiment("many points")

        @ex.main
        def main(_run):
            log = _run.log_scalar
            for i in range(points // 2):
                log("loss", i * 0.5, i)
                log("acc", i % 1000, 2 * i)

        observer, location = _observer(kind, tmp)
        ex.observers.append(observer)
        wall, cpu = time.perf_counter(), time.process_time()
        run_id = ex.run(options={"--capture": "sys"})._id
        run = (time.perf_counter() - wall, time.process_time() - cpu)
        wall, cpu = time.perf_counter(), time.process_time()
        store = open_store(location)
        try:
            metrics = store.metrics(run_id)
        finally:
            close = getattr(store, "close", None)
            if close is not None:
                close()
        read = (time.perf_counter() - wall, time.process_time() - cpu)
        assert len(metrics["loss"]["values"]) == len(metrics["acc"]["steps"]) == points // 2
        return run, read


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--kinds", default="tinydb,sqlite,file")
    args = parser.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{args.points:,} metric points, median of {args.repeat}; load average {load:.2f}")
    for kind in args.kinds.split(","):
        results = [once(kind, args.points) for _ in range(args.repeat)]
        (rw, rc), (bw, bc) = (
            tuple(statistics.median(r[i][j] for r in results) for j in range(2)) for i in range(2)
        )
        print(
            f"{kind:17s} run: {rw:7.2f} s wall {rc:7.2f} s CPU   "
            f"read back: {bw:6.2f} s wall {bc:6.2f} s CPU"
        )


if __name__ == "__main__":
    main()
