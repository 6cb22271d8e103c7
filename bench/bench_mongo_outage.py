"""A MongoObserver whose MongoDB is down.

1. A short run with ``-m 127.0.0.1:1:db`` (a loopback port nothing listens on): the wall time
   of the whole process, median of ``--runs`` runs, and its WARNING lines. pymongo alone
   waits 30 s at the start and 30 s at each final-save attempt (about 155 s here before the
   fix); the observer now waits SACRED_MONGO_TIMEOUT (5 s) once and pings for ~1 s at the end.
2. Heartbeats during a long outage (mongomock whose every call fails): each beat logs
   ``--points`` new metric points and rewrites the journal. A beat costs the new points only
   (their journal line is made once), not all the points waiting since the outage began;
   for comparison, the time to make one journal line of all the waiting points at the end.

    .venv/bin/python bench/bench_mongo_outage.py [--runs 3] [--beats 50] [--points 2000]

Only 127.0.0.1 is used.
"""

import argparse
import datetime
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

SCRIPT = """
from sacred import Experiment
ex = Experiment("outage")

@ex.automain
def main(_run):
    for i in range(3):
        _run.log_scalar("loss", 1.0 / (i + 1))
    return 42
"""


def cli_runs(n):
    times, warnings = [], None
    with tempfile.TemporaryDirectory() as folder:
        script = os.path.join(folder, "exp.py")
        with open(script, "w") as f:
            f.write(SCRIPT)
        env = {k: v for k, v in os.environ.items() if k != "SACRED_MONGO_TIMEOUT"}
        env["PYTHONPATH"] = ROOT
        for _ in range(n):
            began = time.monotonic()
            done = subprocess.run(
                [sys.executable, script, "-m", "127.0.0.1:1:db"],
                capture_output=True,
                text=True,
                cwd=folder,
                env=env,
                timeout=600,
            )
            times.append(time.monotonic() - began)
            warnings = [line for line in done.stderr.splitlines() if line.startswith("WARNING")]
    print(f"run with an unreachable server: median {statistics.median(times):.1f} s of {n} runs")
    print(f"  {len(warnings)} WARNING line(s): {warnings[0][:110] if warnings else ''}...")


def outage_beats(beats, points):
    import mongomock
    import mongomock.gridfs
    import pymongo

    from sacred.observers.journal import Journal
    from sacred.observers.mongo import MongoObserver

    mongomock.gridfs.enable_gridfs_integration()
    collection_cls = mongomock.collection.Collection
    for name in ("insert_one", "update_one", "find", "find_one", "replace_one"):

        def down(self, *args, **kwargs):
            raise pymongo.errors.AutoReconnect("server is down")

        setattr(collection_cls, name, down)
    with tempfile.TemporaryDirectory() as folder:
        obs = MongoObserver(client=mongomock.MongoClient(), failure_dir=folder)
        obs.retry_interval = 3600.0  # one failure, then the beats only update the journal
        now = datetime.datetime(2026, 1, 1)
        ex_info = {"name": "x", "base_dir": folder, "sources": [], "dependencies": []}
        obs.started_event(ex_info, "main", {}, now, {"lr": 0.1}, {}, None)
        took = []
        for beat in range(beats):
            steps = list(range(beat * points, (beat + 1) * points))
            metric = {
                "steps": steps,
                "values": [float(s) for s in steps],
                "timestamps": [now] * points,
            }
            began = time.perf_counter()
            obs.log_metrics({"loss": metric}, {})
            obs.heartbeat_event({}, "output\n" * beat, now, None)
            took.append(time.perf_counter() - began)
        pending = obs._metric_docs.pending
        total = len(pending["loss"]["steps"])
        began = time.perf_counter()
        Journal(folder).line("log_metrics", {"metrics_by_name": pending, "info": {}})
        whole = time.perf_counter() - began
    first, last = statistics.median(took[:5]), statistics.median(took[-5:])
    print(
        f"outage heartbeats, {points} new points each: median of the first 5 beats {first * 1000:.0f} ms,"
    )
    print(f"  of the last 5 (with {total:,} points waiting) {last * 1000:.0f} ms")
    print(f"  one journal line of all {total:,} waiting points: {whole * 1000:.0f} ms")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--beats", type=int, default=50)
    parser.add_argument("--points", type=int, default=2000)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    cli_runs(args.runs)
    outage_beats(args.beats, args.points)
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
