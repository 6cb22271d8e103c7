"""Benchmark of the read side on the SqlObserver's tables in SQLite.

    python bench/bench_store_sql.py [--runs 10000] [--points 1000000] [--db PATH] [--url URL]

``--url`` uses that (empty) database instead, e.g. a PostgreSQL server's.

Writes N runs directly in the observer's schema (the tables of ``sql_bases``: one host, one
experiment with 30 dependencies, config/info JSON, 20 ``loss`` points a run), then times:

* page 1 (20 whole records) of a filtered, sorted query, in a new store and again
  (target <= 100 ms): ``config.optimizer.name == 'adam' and lr < 0.05 and status ==
  'COMPLETED'`` sorted by ``-metrics.loss.min``, all done by SQLite;
* count of the same query;
* one metric of 1,000,000 points downsampled to 2,000 points, the first time and later
  (kept in memory; two index lookups check it is unchanged) (target <= 200 ms): written
  like the SqlObserver writes it (rows plus a packed ``metric_chunk`` row per batch of
  10,000 points), as a database written before ``metric_chunk`` has it (rows only), and
  the latter after ``backfill_metric_chunks``.
Prints numbers; asserts only that the answers are right.
"""

import argparse
import datetime as dt
import json
import os
import random
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from _synthetic import outline  # noqa: E402

QUERY = "config.optimizer.name == 'adam' and lr < 0.05 and status == 'COMPLETED'"
SORT = "-metrics.loss.min"
EPOCH = dt.datetime(1970, 1, 1)


def write_runs(url, n):
    import sqlalchemy as sa

    from sacred.observers import sql_bases as b

    engine = sa.create_engine(url)
    b.Base.metadata.create_all(engine)
    rnd = random.Random(0)
    runs, metrics, expected = [], [], []
    for i in range(n):
        start, status, losses, config = outline(rnd, i)
        done = status != "RUNNING"
        runs.append(
            {
                "run_id": str(i),
                "command": "main",
                "start_time": start,
                "heartbeat": start + dt.timedelta(seconds=50),
                "stop_time": start + dt.timedelta(seconds=60) if done else None,
                "priority": 0,
                "comment": "",
                "captured_out": "epoch 1\n",
                "config": json.dumps(config),
                "info": json.dumps({"best": losses[-1]}),
                "status": status,
                "host_id": 1,
                "experiment_id": 1,
                "result": losses[-1] if done else None,
                "result_json": json.dumps(losses[-1]) if done else None,
            }
        )
        stamp = (start - EPOCH).total_seconds()
        metrics.extend(
            {"run_id": str(i), "name": "loss", "step": s, "value": v, "timestamp": stamp + s}
            for s, v in enumerate(losses)
        )
        if status == "COMPLETED" and config["optimizer"]["name"] == "adam" and config["lr"] < 0.05:
            expected.append((-losses[-1], i))
    with engine.begin() as conn:
        conn.execute(
            b.Host.__table__.insert(),
            {"host_id": 1, "hostname": "node1", "cpu": "AMD EPYC", "os": "Linux"},
        )
        conn.execute(
            b.Experiment.__table__.insert(),
            {"experiment_id": 1, "name": "mnist", "md5sum": "0" * 32, "base_dir": "/work/exp"},
        )
        deps = [{"dependency_id": k, "name": f"pkg{k}", "version": f"1.{k}"} for k in range(30)]
        conn.execute(b.Dependency.__table__.insert(), deps)
        conn.execute(
            b.experiment_dependency_association.insert(),
            [{"experiment_id": 1, "dependency_id": k} for k in range(30)],
        )
        conn.execute(b.Run.__table__.insert(), runs)
        # timestamps are epoch seconds already
        metric = sa.table(
            "metric", *[sa.column(c) for c in ("run_id", "name", "step", "value", "timestamp")]
        )
        conn.execute(metric.insert(), metrics)
    engine.dispose()
    return [str(i) for _, i in sorted(expected)]


def write_long_metric(url, run_id, points, batch=None):
    """Rows only, or (``batch``) as the observer writes them: rows and chunks per batch."""
    import numpy as np
    import sqlalchemy as sa

    from sacred.observers import sql_bases as b
    from sacred.observers.sql.rows import insert_points, sqlite_insert

    engine = sa.create_engine(url)
    values = np.cumsum(np.random.default_rng(0).normal(size=points)).tolist()
    start = (dt.datetime(2026, 11, 27) - EPOCH).total_seconds()
    with engine.begin() as conn:
        conn.execute(
            b.Run.__table__.insert(),
            {"run_id": run_id, "status": "COMPLETED", "config": "{}", "command": "main"},
        )
        if engine.dialect.name != "sqlite":
            step = batch or 10_000
            for lo in range(0, points, step):
                steps = list(range(lo, min(lo + step, points)))
                stamps = [start + 37e-6 * i for i in steps]
                if batch:
                    insert_points(conn, run_id, "loss", steps, values[lo : lo + step], stamps)
                else:
                    rows = zip(steps, values[lo : lo + step], stamps)
                    conn.execute(
                        b.Metric.__table__.insert(),
                        [
                            {
                                "run_id": run_id,
                                "name": "loss",
                                "step": i,
                                "value": v,
                                "timestamp": t,
                            }
                            for i, v, t in rows
                        ],
                    )
        elif batch:
            raw = conn.connection.driver_connection
            for lo in range(0, points, batch):
                steps = list(range(lo, min(lo + batch, points)))
                stamps = [start + 37e-6 * i for i in steps]
                sqlite_insert(raw, run_id, "loss", steps, values[lo : lo + batch], stamps)
        else:
            raw = conn.connection.driver_connection
            raw.executemany(
                'INSERT INTO metric (run_id, name, step, value, "timestamp") '
                "VALUES (?, ?, ?, ?, ?)",
                ((run_id, "loss", i, v, start + 37e-6 * i) for i, v in enumerate(values)),
            )
    engine.dispose()
    return values


def timed(fn, repeat=1):
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return result, times


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--db", help="SQLite file to use (default: a temporary one)")
    parser.add_argument("--url", help="an empty database to use instead of SQLite")
    args = parser.parse_args()

    from sacred.observers.sql.store import SqlStore
    from sacred.store.downsample import downsample_indices

    url = args.url
    if url is None:
        path = args.db or os.path.join(tempfile.mkdtemp(prefix="bench_store_sql_"), "runs.db")
        if os.path.exists(path):
            os.remove(path)
        url = f"sqlite:///{path}"
    start = time.perf_counter()
    expected = write_runs(url, args.runs)
    values = write_long_metric(url, "long", args.points, batch=10_000)
    write_long_metric(url, "old", args.points)
    print(
        f"wrote {args.runs:,} runs and a {args.points:,}-point metric in "
        f"{time.perf_counter() - start:.1f} s"
    )

    store = SqlStore(url)
    page, first = timed(lambda: store.find(QUERY, sort=SORT, limit=20))
    assert [str(r["_id"]) for r in page] == expected[:20], "wrong page 1"
    _, again = timed(lambda: store.find(QUERY, sort=SORT, limit=20), repeat=10)
    ids, id_times = timed(lambda: store.find_ids(QUERY, sort=SORT, limit=20), repeat=10)
    count, count_times = timed(lambda: store.count(QUERY), repeat=5)
    assert count == len(expected)
    print(
        f"page 1 (20 records) of a filtered sorted query, {args.runs:,} runs: "
        f"first {first[0] * 1000:.0f} ms, later median {statistics.median(again) * 1000:.0f} ms "
        f"(target <= 100 ms)"
    )
    print(
        f"  ids only: median {statistics.median(id_times) * 1000:.0f} ms; "
        f"count ({count:,} matches): median {statistics.median(count_times) * 1000:.0f} ms"
    )

    want = downsample_indices(values, 2000)
    variants = [("long", "rows + metric_chunk"), ("old", "rows only"), ("old", "backfilled")]
    for run_id, how in variants:
        if how == "backfilled":
            from sacred.observers.sql import backfill_metric_chunks

            packed, took = timed(lambda: backfill_metric_chunks(url))
            print(f"backfill_metric_chunks: {packed} metrics packed in {took[0]:.1f} s")
        colds = []
        for _ in range(3):  # a new store each time: the first read of the metric
            store = SqlStore(url)
            m, cold = timed(lambda s=store, r=run_id: s.metrics(r, names=["loss"], max_points=2000))
            assert m["loss"]["steps"] == want and len(want) <= 2000
            assert m["loss"]["values"] == [values[i] for i in want]
            colds.append(cold[0])
        _, warm = timed(
            lambda s=store, r=run_id: s.metrics(r, names=["loss"], max_points=2000), repeat=5
        )
        store.close()
        print(
            f"{args.points:,}-point metric ({how}) downsampled to {len(want):,}: first "
            f"median {statistics.median(colds) * 1000:.0f} ms, later median "
            f"{statistics.median(warm) * 1000:.0f} ms (target <= 200 ms)"
        )


if __name__ == "__main__":
    main()
