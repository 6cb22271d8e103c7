"""Benchmark of Sacredboard's API on 10,000 runs in a folder store (and SQLite when it can).

    python bench/bench_board.py [--runs 10000] [--points 1000000] [--dir DIR] [--repeat 20]

Fills a FileStorageObserver folder through ``FileStore.import_run`` (a run with a metric
of 1,000,000 points among them), then times Flask requests (test client, in process):

* the first table page, filtered and sorted (``/api/run``) — target <= 150 ms;
* a run's detail with the 1,000,000-point metric: ``/api/run/<id>``, ``/api/run/<id>/metrics``
  and ``/api/run/<id>/metric/loss?width=1000`` together — target <= 300 ms.

Cold numbers are the first request after opening the store (index and metric caches may
have to be built); warm numbers are the median of ``--repeat`` later requests. With SQLite,
the same runs are copied into ``sqlite:///<dir>/runs.db`` when the SQL reader can import.
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

from sacred.store import StoreError, open_store  # noqa: E402
from sacredboard.app import create_app  # noqa: E402

TABLE_URL = (
    "/api/run?draw=1&start=0&length=25&status=COMPLETED,FAILED"
    "&q=config.lr < 0.05 and config.optimizer.name == 'adam'"
    "&sort=-metrics.loss.min&cols=config.lr,metrics.loss.min"
)


def fill(store, n, points):
    rnd = random.Random(0)
    t0 = dt.datetime(2026, 11, 1)
    experiment = {
        "name": "mnist",
        "base_dir": "/work/exp",
        "mainfile": "train.py",
        "dependencies": [f"pkg{i}==1.{i}" for i in range(30)],
        "repositories": [],
        "sources": [],
    }
    big_id = None
    for i in range(1, n + 1):
        start = t0 + dt.timedelta(minutes=i)
        status = rnd.choice(["COMPLETED"] * 8 + ["FAILED", "RUNNING"])
        base = rnd.uniform(0.5, 2.0)
        steps = points if i == n // 2 else 20
        losses = [base / (s + 1) + rnd.random() * 1e-3 for s in range(steps)]
        stamps = [(start + dt.timedelta(seconds=s)).isoformat() for s in range(steps)]
        record = {
            "_id": i,
            "experiment": experiment,
            "command": "main",
            "host": {"hostname": f"node{i % 4}", "python_version": "3.11.7"},
            "start_time": start,
            "heartbeat": start + dt.timedelta(minutes=3),
            "stop_time": start + dt.timedelta(minutes=3) if status != "RUNNING" else None,
            "status": status,
            "meta": {"command": "main", "options": {}},
            "resources": [],
            "artifacts": [],
            "result": losses[-1] if status == "COMPLETED" else None,
            "config": {
                "lr": rnd.choice([0.1, 0.03, 0.01, 0.003]),
                "batch": rnd.choice([32, 64, 128]),
                "optimizer": {"name": rnd.choice(["adam", "sgd"]), "beta": 0.9},
                "seed": rnd.randrange(10**6),
            },
            "info": {},
            "captured_out": "epoch 1\nepoch 2\n",
        }
        if record["stop_time"] is None:
            del record["stop_time"]
        metrics = {"loss": {"steps": list(range(steps)), "timestamps": stamps, "values": losses}}
        store.import_run(record, metrics=metrics)
        if steps == points:
            big_id = i
    return big_id


def timed(client, urls):
    t = time.perf_counter()
    for url in urls:
        resp = client.get(url)
        assert resp.status_code == 200, (url, resp.status_code, resp.data[:300])
    return (time.perf_counter() - t) * 1000


def measure(name, location, big_id, repeat):
    store = open_store(location)
    client = create_app(store).test_client()
    detail = [
        f"/api/run/{big_id}",
        f"/api/run/{big_id}/metrics",
        f"/api/run/{big_id}/metric/loss?width=1000",
    ]
    body = client.get(TABLE_URL.replace("length=25", "length=1")).get_json()
    cold_table = timed(create_app(open_store(location)).test_client(), [TABLE_URL])
    cold_detail = timed(create_app(open_store(location)).test_client(), detail)
    warm_table = statistics.median(timed(client, [TABLE_URL]) for _ in range(repeat))
    warm_detail = statistics.median(timed(client, detail) for _ in range(repeat))
    points = len(client.get(detail[2]).get_json()["values"])
    print(f"[{name}] {body['recordsTotal']} runs, {body['recordsFiltered']} match the filter")
    print(
        f"[{name}] table page 1 (filtered, sorted): cold {cold_table:.1f} ms, warm {warm_table:.1f} ms (target <= 150)"
    )
    print(
        f"[{name}] run detail + 1,000,000-point metric ({points} points sent): "
        f"cold {cold_detail:.1f} ms, warm {warm_detail:.1f} ms (target <= 300)"
    )
    return warm_table, warm_detail


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--dir", default=None, help="reuse (or create) the store here")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    tmp = args.dir or tempfile.mkdtemp(prefix="bench_board_")
    folder = os.path.join(tmp, "runs")
    big_id = args.runs // 2
    if not os.path.isdir(folder):
        os.makedirs(folder)
        t = time.perf_counter()
        fill(open_store(folder), args.runs, args.points)
        print(f"wrote {args.runs} runs in {time.perf_counter() - t:.1f} s to {folder}")
    results = {"file": measure("file", folder, big_id, args.repeat)}
    sqlite = os.path.join(tmp, "runs.db")
    try:
        if not os.path.exists(sqlite):
            from sacred.cli import copy_runs

            t = time.perf_counter()
            open(sqlite, "a").close()  # an empty file is an empty SQLite database
            copy_runs(open_store(folder), open_store(f"sqlite:///{sqlite}"))
            print(f"copied the runs to SQLite in {time.perf_counter() - t:.1f} s")
        results["sqlite"] = measure("sqlite", f"sqlite:///{sqlite}", big_id, args.repeat)
    except (StoreError, ImportError, NotImplementedError) as e:
        print(f"[sqlite] skipped: {e}")
    if not args.dir:
        shutil.rmtree(tmp, ignore_errors=True)
    ok = all(t <= 150 and d <= 300 for t, d in results.values())
    print("all targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
