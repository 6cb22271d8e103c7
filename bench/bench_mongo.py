"""Benchmark of MongoObserver on mongomock: metrics end to end and heartbeats with big output.

Run: ``python bench/bench_mongo.py``. Prints medians; asserts nothing.
Targets (issue 4): log_scalar end to end >= 330 k/s (3x the original's 110 k/s); a heartbeat
with 10 MB of captured output <= 10 ms (the original: 27 ms).
"""

import datetime
import logging
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import mongomock  # noqa: E402
import mongomock.gridfs  # noqa: E402

from sacred.observers.mongo import MongoObserver, read_metrics  # noqa: E402

mongomock.gridfs.enable_gridfs_integration()
logging.basicConfig(handlers=[logging.NullHandler()], level=logging.WARNING)
logging.getLogger().setLevel(logging.ERROR)

NOW = datetime.datetime(2026, 11, 27, 22, 10, 0)


def bench_log_scalar(n=1_000_000, repeat=3):
    from sacred import Experiment

    rates = []
    for _ in range(repeat):
        client = mongomock.MongoClient()
        ex = Experiment("bench_mongo_metrics", base_dir=tempfile.gettempdir())
        ex.observers.append(MongoObserver(client=client, db_name="bench"))

        @ex.main
        def main(_run):
            log = _run.log_scalar
            for _ in range(n):
                log("loss", 0.5)

        start = time.perf_counter()
        run = ex.run()
        rates.append(n / (time.perf_counter() - start))
        stored = read_metrics(client.bench.metrics, run._id)["loss"]
        assert len(stored["values"]) == n
    print(
        f"log_scalar end to end (MongoObserver, mongomock): {statistics.median(rates):12,.0f} "
        "calls/s (target >= 330,000)"
    )


def bench_heartbeat(size=10_000_000, beats=21):
    client = mongomock.MongoClient()
    obs = MongoObserver(client=client, db_name="bench")
    obs.started_event(
        ex_info={"name": "b", "base_dir": "/", "sources": [], "dependencies": []},
        command="main",
        host_info={"hostname": "bench"},
        start_time=NOW,
        config={"a": 1},
        meta_info={},
        _id=None,
    )
    info = {"epoch": 0, "notes": ["x"] * 100}
    out = "0123456789" * (size // 10)
    obs.heartbeat_event(info=info, captured_out=out, beat_time=NOW, result=None)
    times = []
    for i in range(beats):
        out = out + f"epoch {i} done, loss {1 / (i + 1):.4f}\n"
        info["epoch"] = i
        start = time.perf_counter()
        obs.heartbeat_event(info=info, captured_out=out, beat_time=NOW, result=i)
        times.append(time.perf_counter() - start)
    assert client.bench.runs.find_one()["captured_out"] == out
    print(
        f"heartbeat with {size / 1e6:.0f} MB captured output:        "
        f"{statistics.median(times) * 1000:8.3f} ms (target <= 10 ms)"
    )


if __name__ == "__main__":
    bench_heartbeat()
    bench_log_scalar()
