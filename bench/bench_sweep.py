"""Sweeps of 20 trivial runs through each launcher that is installed: runs per second.

    .venv/bin/python bench/bench_sweep.py [--runs 20] [--jobs 2]

"cold" includes starting the engine (the process pool, the LocalCluster, ray.init, ...) and
closing it; "warm" is a second sweep on the launcher already started. submitit uses its
local executor (a job, so a fresh Python process, per run). The queue launcher only stores
QUEUED runs (no run executes).
"""

import argparse
import importlib.util
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sacred.launch.launchers import get_launcher  # noqa: E402
from sacred.launch.script import load_experiment  # noqa: E402
from sacred.launch.sweep import sweep  # noqa: E402

SCRIPT = """
from sacred import Experiment
ex = Experiment("trivial")

@ex.config
def cfg():
    x = 0

@ex.main
def main(x):
    return x * 2
"""

ENGINES = {
    "local": None,
    "queue": None,
    "submitit": "submitit",
    "dask": "distributed",
    "ray": "ray",
}


def options(name, folder):
    if name == "submitit":
        return {"cluster": "local", "folder": os.path.join(folder, "submitit")}
    if name == "ray":
        return {"include_dashboard": False, "log_to_driver": False}
    return {}


def timed_sweep(ex, n, store, launcher, **kw):
    start = time.perf_counter()
    results = sweep(ex, [{"x": i} for i in range(n)], store=store, launcher=launcher, **kw)
    elapsed = time.perf_counter() - start
    goal = (
        "QUEUED" if launcher == "queue" or getattr(launcher, "queues_only", False) else "COMPLETED"
    )
    assert all(r["status"] == goal for r in results), {r["status"] for r in results}
    return elapsed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    n, jobs = args.runs, args.jobs
    folder = tempfile.mkdtemp(prefix="bench-sweep-")
    script = os.path.join(folder, "trivial.py")
    with open(script, "w") as f:
        f.write(SCRIPT)
    ex = load_experiment(script)
    print(f"{n} trivial runs, -j {jobs}, {os.cpu_count()} CPUs; runs/s (seconds)")
    print(f"{'launcher':<10} {'store':<7} {'cold (with engine start)':>26} {'warm':>18}")
    for name, module in ENGINES.items():
        if module and importlib.util.find_spec(module) is None:
            print(f"{name:<10} not installed")
            continue
        for kind in ("folder", "sqlite"):
            base = os.path.join(folder, f"{name}-{kind}")
            store = base if kind == "folder" else f"sqlite:///{base}.db"
            opts = options(name, folder)
            cold = timed_sweep(ex, n, store, name, n_jobs=jobs, **opts)
            with get_launcher(name, n_jobs=jobs, **opts) as launcher:
                timed_sweep(ex, 2, store, launcher)  # workers up, script imported
                warm = timed_sweep(ex, n, store, launcher)
            print(
                f"{name:<10} {kind:<7} {n / cold:>17.1f} ({cold:5.2f} s) "
                f"{n / warm:>9.1f} ({warm:5.2f} s)",
                flush=True,
            )


if __name__ == "__main__":
    main()
