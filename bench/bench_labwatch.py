"""Labwatch benchmark: optimisers on Branin and Hartmann-6, and the cost of one suggestion.

1. Branin (global minimum 0.397887), 50 evaluations, seeds 0..9: the median over seeds of
   the best cost found (targets: Bohamiann and DNGO <= 0.45; GP-BO reached 0.414, random
   search 1.72).
2. Hartmann-6 (global minimum -3.32237), 100 evaluations, seeds 0..4: the same table for
   random search, GP-BO, TPE, CMA-ES, Bohamiann, DNGO and SMAC.
3. One suggestion through a LabAssistant whose folder store holds 200 completed Branin runs
   (reading the history included): GP-BO, Bohamiann (target <= 2 s), DNGO (<= 0.5 s) and
   SMAC (<= 0.5 s), wall-clock and CPU time of the process (the machine is shared: the CPU
   time is what the suggestion costs, the wall time what it took while others ran).

Optimizers are driven directly (suggest, evaluate, update); seeds run in parallel processes.

    python bench/bench_labwatch.py                      # everything (about half an hour)
    python bench/bench_labwatch.py branin time          # some parts
    python bench/bench_labwatch.py --only Bohamiann,DNGO --workers 2
"""

import argparse
import json
import logging
import math
import os
import random
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

from labwatch import LabAssistant
from labwatch.hyperparameters import UniformFloat
from labwatch.searchspace import SearchSpace
from sacred import Experiment

BRANIN_MIN = 0.397887
HARTMANN6_MIN = -3.32237

OPTIMIZERS = ("RandomSearch", "BayesianOptimization", "TPE", "CMAES", "SMAC", "Bohamiann", "DNGO")
LABELS = {"RandomSearch": "random", "BayesianOptimization": "GP-BO", "CMAES": "CMA-ES"}


def branin(x1, x2):
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


_H_ALPHA = (1.0, 1.2, 3.0, 3.2)
_H_A = (
    (10, 3, 17, 3.5, 1.7, 8),
    (0.05, 10, 17, 0.1, 8, 14),
    (3, 3.5, 1.7, 10, 17, 8),
    (17, 8, 0.05, 10, 0.1, 14),
)
_H_P = (
    (0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886),
    (0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991),
    (0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650),
    (0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381),
)


def hartmann6(x):
    return -sum(
        alpha * math.exp(-sum(a * (xi - p) ** 2 for a, xi, p in zip(A, x, P)))
        for alpha, A, P in zip(_H_ALPHA, _H_A, _H_P)
    )


PROBLEMS = {
    "branin": (
        lambda: SearchSpace({"x": [UniformFloat(-5, 10), UniformFloat(0, 15)]}),
        lambda v: branin(v["x[0]"], v["x[1]"]),
        50,
        range(10),
        BRANIN_MIN,
    ),
    "hartmann6": (
        lambda: SearchSpace({"x": [UniformFloat(0, 1) for _ in range(6)]}),
        lambda v: hartmann6([v[f"x[{i}]"] for i in range(6)]),
        100,
        range(5),
        HARTMANN6_MIN,
    ),
}


def optimizer_class(name):
    import labwatch.optimizers

    return getattr(labwatch.optimizers, name)


def best_cost(job):
    """One seed of one optimizer on one problem: (best cost, seconds, CPU seconds)."""
    problem, name, seed, kwargs = job
    make_space, cost_of, evaluations, _, _ = PROBLEMS[problem]
    opt = optimizer_class(name)(make_space(), seed=seed, **kwargs)
    best = float("inf")
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(evaluations):
        v = opt.suggest_configuration()
        cost = cost_of(v)
        best = min(best, cost)
        opt.update([v], [cost], [None])
    return best, time.perf_counter() - wall, time.process_time() - cpu


def optimizer_table(problem, names, workers, kwargs=None):
    _, _, evaluations, seeds, optimum = PROBLEMS[problem]
    print(
        f"\n{problem}: best cost after {evaluations} evaluations, seeds "
        f"{seeds.start}..{seeds.stop - 1} (optimum {optimum}); {workers} processes"
    )
    print(f"{'optimizer':>10} {'median':>9} {'min':>9} {'max':>9} {'CPU s/run':>10}  per seed")
    jobs = [(problem, name, seed, kwargs or {}) for name in names for seed in seeds]
    with ProcessPoolExecutor(workers) as pool:
        results = {job[1:3]: r for job, r in zip(jobs, pool.map(best_cost, jobs))}
    for name in names:
        rows = [results[(name, seed)] for seed in seeds]
        bests = [r[0] for r in rows]
        cpu = statistics.mean(r[2] for r in rows)
        print(
            f"{LABELS.get(name, name):>10} {statistics.median(bests):9.4f} {min(bests):9.4f} "
            f"{max(bests):9.4f} {cpu:10.1f}  " + " ".join(f"{b:.3f}" for b in bests),
            flush=True,
        )


def fill_store(tmp, n_runs):
    ex = Experiment("bench_branin")
    a = LabAssistant(ex, store=tmp)

    @ex.config
    def cfg():
        x = [0.0, 0.0]  # noqa: F841

    @a.search_space
    def search_space():
        x = (UniformFloat(-5, 10), UniformFloat(0, 15))  # noqa: F841

    @ex.main
    def main(x):
        return branin(x[0], x[1])

    ex.logger = logging.getLogger("bench_quiet")
    ex.logger.setLevel(logging.WARNING)
    rng = random.Random(0)
    for _ in range(n_runs):
        a.run_config({"x[0]": rng.uniform(-5, 10), "x[1]": rng.uniform(0, 15)})
    return search_space


TARGETS = {"Bohamiann": 2.0, "DNGO": 0.5, "SMAC": 0.5, "BayesianOptimization": 0.5}


def suggestion_time(names, n_runs=200):
    print(f"\nOne suggestion with {n_runs} runs in a folder store (fresh assistant, 1st reads")
    print("the history; numpy/scipy/smac imported beforehand, a one-off cost of a process)")
    print(
        f"{'optimizer':>10} {'1st wall':>9} {'1st CPU':>8} {'next wall':>10} {'next CPU':>9}  target"
    )
    with tempfile.TemporaryDirectory() as tmp:
        search_space = fill_store(tmp, n_runs)
        for name in names:
            cls = optimizer_class(name)
            cls(SearchSpace({"x": UniformFloat(0, 1)}), seed=0)  # imports
            if name == "SMAC":
                import smac  # noqa: F401
            fresh = LabAssistant(Experiment("bench_branin"), store=tmp, optimizer=cls)
            fresh.search_space(search_space)
            times = []
            for _ in range(3):
                wall, cpu = time.perf_counter(), time.process_time()
                fresh.get_suggestion("search_space")
                times.append((time.perf_counter() - wall, time.process_time() - cpu))
            assert len(fresh.history("search_space")) == n_runs
            nxt = min(times[1:])
            print(
                f"{LABELS.get(name, name):>10} {times[0][0]:8.2f}s {times[0][1]:7.2f}s "
                f"{nxt[0]:9.2f}s {nxt[1]:8.2f}s  <= {TARGETS.get(name, float('nan'))} s",
                flush=True,
            )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("parts", nargs="*", default=["branin", "hartmann6", "time"])
    parser.add_argument("--only", help="comma-separated optimizer class names")
    parser.add_argument("--kwargs", help="JSON keyword arguments for the optimizers")
    parser.add_argument("--seeds", type=int, help="the first N seeds only")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    args = parser.parse_args(argv)
    names = args.only.split(",") if args.only else list(OPTIMIZERS)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load {os.getloadavg()}")
    for part in args.parts:
        if part in PROBLEMS:
            if args.seeds:
                spec = PROBLEMS[part]
                PROBLEMS[part] = spec[:3] + (range(args.seeds),) + spec[4:]
            optimizer_table(part, names, args.workers, json.loads(args.kwargs or "{}"))
        elif part == "time":
            timed = [n for n in names if n in TARGETS]
            suggestion_time(timed)
        else:
            parser.error(f"unknown part {part!r}")


if __name__ == "__main__":
    main()
