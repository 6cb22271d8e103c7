"""Benchmark of the read side on a FileStorageObserver folder.

    python bench/bench_store.py [--runs 10000] [--points 1000000] [--dir DIR]

Writes N runs directly in the observer's format (run.json, config.json, info.json,
metrics.json, cout.txt), then times:

* building the index the first time (target <= 5 s for 10,000 runs);
* page 1 of a filtered, sorted query with a warm index, in the same store object and in a
  new one (a new process reading the index file) (target <= 100 ms);
* one metric of 1,000,000 points downsampled to 2,000, the first time (JSON parsed, cache
  written) and later (target <= 200 ms).
"""

import argparse
import datetime as dt
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sacred.observers import _jsonio  # noqa: E402
from sacred.observers.file_storage_reader import FileStore  # noqa: E402

QUERY = "config.optimizer.name == 'adam' and lr < 0.05 and status == 'COMPLETED'"
SORT = "-metrics.loss.min"


def write_runs(basedir, n):
    rnd = random.Random(0)
    t0 = dt.datetime(2026, 11, 1)
    host = {
        "hostname": "node1",
        "os": ["Linux", "Linux-6"],
        "python_version": "3.11.7",
        "cpu": "AMD EPYC",
        "ENV": {},
    }
    experiment = {
        "name": "mnist",
        "base_dir": "/work/exp",
        "mainfile": "train.py",
        "dependencies": [f"pkg{i}==1.{i}" for i in range(30)],
        "repositories": [],
        "sources": [["train.py", "_sources/train_0123456789abcdef.py"]],
    }
    for i in range(1, n + 1):
        folder = os.path.join(basedir, str(i))
        os.mkdir(folder)
        start = t0 + dt.timedelta(minutes=i)
        status = rnd.choice(["COMPLETED"] * 8 + ["FAILED", "RUNNING"])
        steps = 20
        base = rnd.uniform(0.5, 2.0)
        losses = [base / (s + 1) for s in range(steps)]
        run = {
            "artifacts": [],
            "command": "main",
            "experiment": experiment,
            "host": host,
            "heartbeat": (start + dt.timedelta(seconds=50)).isoformat(),
            "meta": {"command": "main", "options": {"--name": None, "--loglevel": None}},
            "resources": [],
            "start_time": start.isoformat(),
            "status": status,
        }
        if status != "RUNNING":
            run["stop_time"] = (start + dt.timedelta(seconds=60)).isoformat()
            run["result"] = losses[-1]
        config = {
            "lr": rnd.choice([0.1, 0.03, 0.01, 0.003]),
            "batch_size": rnd.choice([32, 64]),
            "optimizer": {"name": rnd.choice(["adam", "sgd"]), "beta": 0.9},
            "layers": [64, 32],
            "seed": rnd.randrange(2**31),
        }
        metrics = {
            "loss": {
                "steps": list(range(steps)),
                "timestamps": [(start + dt.timedelta(seconds=s)).isoformat() for s in range(steps)],
                "values": losses,
            }
        }
        _jsonio.write_atomic(os.path.join(folder, "run.json"), _jsonio.dumps(run))
        _jsonio.write_atomic(os.path.join(folder, "config.json"), _jsonio.dumps(config))
        _jsonio.write_atomic(os.path.join(folder, "info.json"), _jsonio.dumps({"best": losses[-1]}))
        _jsonio.write_atomic(os.path.join(folder, "metrics.json"), _jsonio.dumps(metrics))
        with open(os.path.join(folder, "cout.txt"), "w") as f:
            f.write("epoch 1\n")


def write_long_metric(basedir, run_id, points):
    import numpy as np

    folder = os.path.join(basedir, str(run_id))
    os.mkdir(folder)
    start = dt.datetime(2026, 11, 27)
    values = np.cumsum(np.random.default_rng(0).normal(size=points)).tolist()
    stamps = [start + dt.timedelta(microseconds=37 * i) for i in range(points)]
    text = (
        '{\n  "loss": {\n    "steps": [\n      '
        + _jsonio.encode_items(list(range(points)), 3)
        + '\n    ],\n    "timestamps": [\n      '
        + _jsonio.isoformat_items(stamps, 3)
        + '\n    ],\n    "values": [\n      '
        + _jsonio.encode_items(values, 3)
        + "\n    ]\n  }\n}"
    )
    with open(os.path.join(folder, "metrics.json"), "w") as f:
        f.write(text)
    run = {
        "artifacts": [],
        "command": "main",
        "experiment": {"name": "long"},
        "host": {},
        "start_time": start.isoformat(),
        "status": "COMPLETED",
        "resources": [],
        "heartbeat": None,
        "meta": {},
    }
    with open(os.path.join(folder, "run.json"), "w") as f:
        json.dump(run, f)


def timed(fn, repeat=1):
    times = []
    result = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return result, times


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--dir", help="folder to use (default: a temporary one)")
    args = parser.parse_args()

    basedir = args.dir or tempfile.mkdtemp(prefix="bench_store_")
    os.makedirs(basedir, exist_ok=True)
    try:
        print(f"folder: {basedir}")
        _, (t,) = timed(lambda: write_runs(basedir, args.runs))
        print(f"wrote {args.runs} runs in {t:.1f} s")

        store = FileStore(basedir)
        _, (t,) = timed(store.refresh)
        print(f"first index build ({args.runs} runs): {t * 1000:.0f} ms   (target <= 5000 ms)")

        page, times = timed(lambda: store.find(QUERY, sort=SORT, limit=20), repeat=10)
        print(
            f"page 1 of {store.count(QUERY)} matches, warm index, same store: "
            f"median {statistics.median(times) * 1000:.1f} ms, "
            f"max {max(times) * 1000:.1f} ms   (target <= 100 ms)"
        )
        assert len(page) == 20

        exact = FileStore(basedir, refresh_interval=0)
        exact.refresh()
        _, times = timed(lambda: exact.find(QUERY, sort=SORT, limit=20), repeat=10)
        print(
            f"page 1, warm index, same store, refresh_interval=0 (every run checked): "
            f"median {statistics.median(times) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms"
        )

        def fresh_page():
            return FileStore(basedir).find(QUERY, sort=SORT, limit=20)

        _, times = timed(fresh_page, repeat=5)
        print(
            f"page 1, warm index file, new store object (new process): "
            f"median {statistics.median(times) * 1000:.1f} ms"
        )

        _, times = timed(lambda: store.count(), repeat=5)
        print(f"count() with a warm index: median {statistics.median(times) * 1000:.1f} ms")

        long_id = args.runs + 1
        write_long_metric(basedir, long_id, args.points)
        size = os.path.getsize(os.path.join(basedir, str(long_id), "metrics.json")) / 1e6
        cold, (t,) = timed(lambda: FileStore(basedir).metrics(long_id, max_points=2000))
        n = len(cold["loss"]["values"])
        print(
            f"metric of {args.points} points ({size:.0f} MB JSON) -> {n} points, "
            f"first read (parse + cache): {t * 1000:.0f} ms"
        )
        _, times = timed(lambda: FileStore(basedir).metrics(long_id, max_points=2000), repeat=5)
        print(
            f"metric of {args.points} points -> {n} points, cached: median "
            f"{statistics.median(times) * 1000:.1f} ms   (target <= 200 ms)"
        )
    finally:
        if not args.dir:
            shutil.rmtree(basedir, ignore_errors=True)


if __name__ == "__main__":
    main()
