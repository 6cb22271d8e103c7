"""Benchmark of the read side on a FileStorageObserver folder.

    python bench/bench_store.py [--runs 10000] [--points 1000000] [--dir DIR]

Writes N runs directly in the observer's format (run.json, config.json, info.json,
metrics.json, cout.txt), then times:

* building the index the first time (target <= 5 s for 10,000 runs);
* page 1 of a filtered, sorted query with a warm index, in the same store object and in a
  new one (a new process reading the index file) (target <= 100 ms);
* one metric of 1,000,000 points (written by the FileStorageObserver in 10 heartbeats)
  downsampled to 2,000, the first time in a new process, from the observer's binary
  sidecar and, with the sidecar hidden, from metrics.json (numpy cache written); then
  again with that cache (target <= 200 ms).
"""

import argparse
import datetime as dt
import os
import random
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from _synthetic import EXPERIMENT, HOST, outline  # noqa: E402

from sacred.observers import _jsonio  # noqa: E402
from sacred.observers.file_storage.cache_dir import store_cache_dir  # noqa: E402
from sacred.observers.file_storage.store import FileStore  # noqa: E402

QUERY = "config.optimizer.name == 'adam' and lr < 0.05 and status == 'COMPLETED'"
SORT = "-metrics.loss.min"


def write_runs(basedir, n):
    rnd = random.Random(0)
    for i in range(1, n + 1):
        folder = os.path.join(basedir, str(i))
        os.mkdir(folder)
        start, status, losses, config = outline(rnd, i)
        steps = len(losses)
        run = {
            "artifacts": [],
            "command": "main",
            "experiment": EXPERIMENT,
            "host": HOST,
            "heartbeat": (start + dt.timedelta(seconds=50)).isoformat(),
            "meta": {"command": "main", "options": {"--name": None, "--loglevel": None}},
            "resources": [],
            "start_time": start.isoformat(),
            "status": status,
        }
        if status != "RUNNING":
            run["stop_time"] = (start + dt.timedelta(seconds=60)).isoformat()
            run["result"] = losses[-1]
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


def write_long_metric(basedir, run_id, points, beats=10):
    """A run whose metric the FileStorageObserver wrote in ``beats`` heartbeats."""
    import numpy as np

    from sacred.observers.file_storage import FileStorageObserver

    obs = FileStorageObserver(basedir)
    start = dt.datetime(2026, 11, 27)
    obs.started_event(
        ex_info={"name": "long", "base_dir": basedir, "sources": [], "dependencies": []},
        command="main",
        host_info={},
        start_time=start,
        config={},
        meta_info={},
        _id=run_id,
    )
    values = np.cumsum(np.random.default_rng(0).normal(size=points)).tolist()
    per = -(-points // beats)
    for first in range(0, points, per):
        steps = list(range(first, min(first + per, points)))
        obs.log_metrics(
            {
                "loss": {
                    "steps": steps,
                    "timestamps": [start + dt.timedelta(microseconds=37 * i) for i in steps],
                    "values": values[first : first + len(steps)],
                }
            },
            {},
        )
    obs.completed_event(start + dt.timedelta(hours=1), None)


def timed(fn, repeat=1):
    times = []
    result = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return result, times


def cold_read(basedir, run_id) -> float:
    """Seconds to read one long metric in a new process (numpy cache removed first)."""
    import subprocess

    cache = store_cache_dir(basedir)  # in the user's cache directory
    for name in os.listdir(cache):
        if name.startswith("metrics_"):
            os.remove(os.path.join(cache, name))
    code = (
        "import sys, time; sys.path.insert(0, sys.argv[1]);"
        "from sacred.observers.file_storage.store import FileStore;"
        "t = time.perf_counter();"
        "m = FileStore(sys.argv[2]).metrics(int(sys.argv[3]), names=['loss'], max_points=2000);"
        "assert 0 < len(m['loss']['values']) <= 2000;"
        "print(time.perf_counter() - t)"
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run(
        [sys.executable, "-c", code, root, basedir, str(run_id)],
        check=True,
        capture_output=True,
        text=True,
    )
    return float(out.stdout)


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
        folder = os.path.join(basedir, str(long_id))
        size = os.path.getsize(os.path.join(folder, "metrics.json")) / 1e6

        def read_metric():
            return FileStore(basedir).metrics(long_id, names=["loss"], max_points=2000)

        # the cold cases are measured in fresh processes (nothing imported or cached yet)
        for label, setup in (
            ("first read, from the observer's binary sidecar", None),
            ("first read, metrics.json parsed (no sidecar, as before)", "hide"),
        ):
            if setup == "hide":
                os.rename(os.path.join(folder, ".sacred_metrics"), folder + ".sidecar")
            times = [cold_read(basedir, long_id) for _ in range(3 if setup else 5)]
            print(
                f"metric of {args.points} points ({size:.0f} MB JSON) -> 2000 points, {label}: "
                f"median {statistics.median(times) * 1000:.0f} ms"
                + ("" if setup else "   (target <= 200 ms)")
            )
        _, times = timed(read_metric, repeat=5)
        print(
            f"metric of {args.points} points -> 2000 points, metrics.json parsed before "
            f"(numpy cache): median {statistics.median(times) * 1000:.1f} ms"
        )
        others = sorted(n for n in os.listdir(basedir) if not n.isdigit())
        print(f"base folder: the run folders and {others} (the sidecar the bench hid)")
    finally:
        if not args.dir:
            cache = store_cache_dir(basedir)
            if cache is not None:
                shutil.rmtree(cache, ignore_errors=True)
            shutil.rmtree(basedir, ignore_errors=True)


if __name__ == "__main__":
    main()
