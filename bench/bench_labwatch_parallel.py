"""Labwatch with several workers: quality per evaluation and throughput.

1. quality: Branin (minimum 0.397887), 50 evaluations, seeds 0..9, for each optimizer:
   the median (and worst) best cost found with 1 worker, with 2 workers told about the
   pending run (what ``LabAssistant.optimize`` does), and with 2 workers not told (each
   suggestion made as if nothing were in flight). The search is simulated in virtual
   time: each evaluation takes a random 0.5-1.5 units, the optimizer learns each result
   when its evaluation ends and is then asked for the next point, exactly the order of
   events of an asynchronous search, without the runs' own cost.
2. throughput: ``LabAssistant.optimize`` on a folder store with runs that sleep 0.2 s,
   1 and 2 workers, in threads (``launcher=None``) and processes (``launcher="local"``,
   its processes started beforehand): runs/s and the speed-up of 2 workers over 1
   (target: about 2x), and the best cost found (one search, no fixed seed); with GP-BO
   (a suggestion costs about 0.07 s of the driver's time) and random search (nothing).

    python bench/bench_labwatch_parallel.py                   # both parts
    python bench/bench_labwatch_parallel.py quality --only BayesianOptimization,TPE
    python bench/bench_labwatch_parallel.py throughput --trials 30
"""

import argparse
import heapq
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import textwrap
from concurrent.futures import ProcessPoolExecutor

from labwatch.hyperparameters import UniformFloat
from labwatch.searchspace import SearchSpace

BRANIN_MIN = 0.397887
OPTIMIZERS = ("RandomSearch", "BayesianOptimization", "TPE", "DNGO", "Bohamiann")
LABELS = {"RandomSearch": "random", "BayesianOptimization": "GP-BO"}
MODES = (("1 worker", 1, True), ("2 workers", 2, True), ("2, not told", 2, False))


def branin(x1, x2):
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


def simulate(job):
    """One asynchronous search in virtual time: (best cost, repeated suggestions)."""
    name, seed, workers, told, evaluations = job
    import labwatch.optimizers

    space = SearchSpace({"x": [UniformFloat(-5, 10), UniformFloat(0, 15)]})
    opt = getattr(labwatch.optimizers, name)(space, seed=seed)
    durations = random.Random(1000 + seed)
    in_flight = []  # (finish time, order, values)
    clock, submitted, best, seen, repeats = 0.0, 0, float("inf"), set(), 0
    while submitted < evaluations or in_flight:
        while submitted < evaluations and len(in_flight) < workers:
            opt.set_pending([v for _, _, v in in_flight] if told else [])
            values = opt.suggest_configuration()
            key = tuple(sorted(values.items()))
            repeats += key in seen
            seen.add(key)
            heapq.heappush(in_flight, (clock + durations.uniform(0.5, 1.5), submitted, values))
            submitted += 1
        clock, _, values = heapq.heappop(in_flight)
        cost = branin(values["x[0]"], values["x[1]"])
        best = min(best, cost)
        opt.update([values], [cost], [None])
    return best, repeats


def quality(names, seeds, evaluations, processes):
    print(
        f"\nBranin, {evaluations} evaluations, seeds 0..{seeds - 1}: median (worst) best cost "
        f"(optimum {BRANIN_MIN}); asynchronous search simulated in virtual time"
    )
    print(f"{'optimizer':>10} " + " ".join(f"{label:>17}" for label, _, _ in MODES))
    jobs = [
        (name, seed, workers, told, evaluations)
        for name in names
        for _, workers, told in MODES
        for seed in range(seeds)
    ]
    with ProcessPoolExecutor(processes) as pool:
        results = dict(zip(jobs, pool.map(simulate, jobs)))
    for name in names:
        cells = []
        for _, workers, told in MODES:
            rows = [results[(name, s, workers, told, evaluations)] for s in range(seeds)]
            bests = [r[0] for r in rows]
            repeats = sum(r[1] for r in rows)
            extra = f" r{repeats}" if repeats else ""
            cells.append(f"{statistics.median(bests):.3f} ({max(bests):.3f}){extra}")
        print(f"{LABELS.get(name, name):>10} " + " ".join(f"{c:>17}" for c in cells), flush=True)
    print("(rN: N suggestions repeated a configuration already evaluated or in flight)")


SCRIPT = textwrap.dedent(
    """
    import math, sys, time
    from sacred import Experiment
    from labwatch import LabAssistant
    from labwatch.hyperparameters import UniformFloat
    from labwatch.optimizers import {optimizer}

    ex = Experiment("bench_parallel")
    a = LabAssistant(ex, store={store!r}, optimizer={optimizer})

    @ex.config
    def cfg():
        x = [0.0, 0.0]
        sleep = 0.2

    @a.search_space
    def space():
        x = (UniformFloat(-5, 10), UniformFloat(0, 15))

    @ex.main
    def main(x, sleep):
        time.sleep(sleep)
        b, c, t = 5.1 / (4 * math.pi ** 2), 5 / math.pi, 1 / (8 * math.pi)
        return (x[1] - b * x[0] ** 2 + c * x[0] - 6) ** 2 + 10 * (1 - t) * math.cos(x[0]) + 10

    if __name__ == "__main__":
        import logging
        logging.getLogger().setLevel(logging.WARNING)
        launcher = None
        n_trials, n_workers = int(sys.argv[2]), int(sys.argv[3])
        if sys.argv[1] != "threads":
            from sacred.launch.launchers import get_launcher

            launcher = get_launcher(sys.argv[1], n_jobs=n_workers)
            # start the pool's processes and their imports before the clock starts
            warm = "import time, numpy, scipy, sacred, labwatch.optimizers; time.sleep(0.5)"
            for f in [launcher.submit(exec, warm) for _ in range(n_workers)]:
                f.result()
        a.get_suggestion("space")  # imports (numpy, scipy) before the clock starts
        start = time.perf_counter()
        trials = a.optimize(n_trials, launcher=launcher, n_workers=n_workers)
        took = time.perf_counter() - start
        done = sum(t["status"] == "COMPLETED" for t in trials)
        print(took, done, a.get_current_best()[1])
        if launcher is not None:
            launcher.close()
    """
)


def throughput(n_trials, optimizer):
    print(
        f"\nThroughput: LabAssistant.optimize, {optimizer}, {n_trials} runs that sleep 0.2 s, folder "
        "store (the local launcher's processes started and their imports done beforehand)"
    )
    print(
        f"{'launcher':>10} {'workers':>8} {'seconds':>8} {'runs/s':>7} {'speed-up':>9} "
        f"{'best cost':>10}"
    )
    for launcher in ("threads", "local"):
        base = None
        for workers in (1, 2):
            with tempfile.TemporaryDirectory() as tmp:
                script = os.path.join(tmp, "bench_parallel.py")
                with open(script, "w") as f:
                    f.write(SCRIPT.format(store=os.path.join(tmp, "runs"), optimizer=optimizer))
                out = subprocess.run(
                    [sys.executable, script, launcher, str(n_trials), str(workers)],
                    capture_output=True,
                    text=True,
                    check=True,
                    env=dict(os.environ, PYTHONPATH=os.getcwd()),
                )
            took, done, best = out.stdout.split()
            took = float(took)
            assert int(done) == n_trials, out.stdout
            base = base or took
            print(
                f"{launcher:>10} {workers:>8} {took:8.2f} {n_trials / took:7.2f} "
                f"{base / took:8.2f}x {float(best):10.3f}",
                flush=True,
            )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("parts", nargs="*", default=["quality", "throughput"])
    parser.add_argument("--only", help="comma-separated optimizer class names")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--evaluations", type=int, default=50)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--processes", type=int, default=min(2, os.cpu_count() or 1))
    args = parser.parse_args(argv)
    names = args.only.split(",") if args.only else list(OPTIMIZERS)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load {os.getloadavg()}")
    for part in args.parts:
        if part == "quality":
            quality(names, args.seeds, args.evaluations, args.processes)
        elif part == "throughput":
            for optimizer in ("BayesianOptimization", "RandomSearch"):
                throughput(args.trials, optimizer)
        else:
            parser.error(f"unknown part {part!r}")


if __name__ == "__main__":
    main()
