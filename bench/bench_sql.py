"""Benchmark of the SqlObserver on SQLite: log_scalar end to end, heartbeats, run start.

Run: ``python bench/bench_sql.py``. Prints numbers and targets; asserts nothing.
Target (issue 4): log_scalar end to end with SQLite >= 3x the original (213 k/s), i.e.
>= 640 k/s: a run that logs n values, stores them all in the ``metric`` table and ends.
"""

import datetime
import logging
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

logging.basicConfig(handlers=[logging.NullHandler()], level=logging.WARNING)
logging.getLogger().setLevel(logging.ERROR)


def bench_log_scalar(tmp, n=2_000_000, repeat=3):
    import sqlite3

    from sacred import Experiment
    from sacred.observers import SqlObserver

    rates = []
    for i in range(repeat):
        db = os.path.join(tmp, f"metrics{i}.db")
        ex = Experiment("bench_sql_metrics", base_dir=tmp)

        @ex.main
        def main(_run):
            log = _run.log_scalar
            for _ in range(n):
                log("loss", 0.5)

        ex.observers.append(SqlObserver(f"sqlite:///{db}"))
        start = time.perf_counter()
        ex.run()
        rates.append(n / (time.perf_counter() - start))
        with sqlite3.connect(db) as con:
            stored = con.execute("SELECT count(*) FROM metric").fetchone()[0]
        assert stored == n, stored
    print(
        f"log_scalar end to end, SQLite:  {statistics.median(rates):12,.0f} calls/s "
        f"(median of {repeat}, n={n:,}; target >= 640,000; original 213,000)"
    )


def bench_heartbeat(tmp, repeat=20):
    from sacred.observers import SqlObserver

    obs = SqlObserver(f"sqlite:///{os.path.join(tmp, 'beats.db')}")
    now = datetime.datetime(2026, 11, 27, 22, 10, 0)
    ex_info = {
        "name": "bench",
        "base_dir": tmp,
        "sources": [],
        "dependencies": ["sacred==0.8.7"],
        "repositories": [],
        "mainfile": "bench.py",
    }
    host = {"hostname": "bench", "os": ["Linux", "x"], "python_version": "3", "cpu": "x"}
    start = time.perf_counter()
    obs.started_event(ex_info, "main", host, now, {"a": 1}, {}, None)
    print(f"started_event (tables exist):   {(time.perf_counter() - start) * 1e3:9.3f} ms")
    out = "x" * 10_000_000
    times = []
    for i in range(repeat):
        out += f"line {i}\n"
        t = time.perf_counter()
        obs.heartbeat_event({"step": i}, out, now, 0.5)
        times.append(time.perf_counter() - t)
    print(
        f"heartbeat, 10 MB captured out:  {statistics.median(times) * 1e3:9.3f} ms "
        "(only the new text is sent)"
    )


def main():
    with tempfile.TemporaryDirectory() as tmp:
        bench_log_scalar(tmp)
        bench_heartbeat(tmp)


if __name__ == "__main__":
    main()
