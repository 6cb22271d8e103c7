"""Labwatch benchmark: optimisers on Branin, and the cost of one suggestion.

1. Branin (global minimum 0.397887), 50 evaluations, seeds 0..9: the median over seeds of
   the best cost found, for GP-BO, TPE and random search (optimizers driven directly).
2. One GP-BO suggestion through a LabAssistant whose folder store holds 200 completed runs
   of the search space (reading the history included; target <= 0.5 s).

    python bench/bench_labwatch.py
"""

import math
import random
import statistics
import tempfile
import time

from labwatch import LabAssistant
from labwatch.hyperparameters import UniformFloat
from labwatch.optimizers import TPE, BayesianOptimization, RandomSearch
from labwatch.searchspace import SearchSpace
from sacred import Experiment

SEEDS = range(10)
EVALUATIONS = 50


def branin(x1, x2):
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


def best_cost(optimizer_class, seed):
    space = SearchSpace({"x": [UniformFloat(-5, 10), UniformFloat(0, 15)]})
    opt = optimizer_class(space, seed=seed)
    best = float("inf")
    for _ in range(EVALUATIONS):
        v = opt.suggest_configuration()
        cost = branin(v["x[0]"], v["x[1]"])
        best = min(best, cost)
        opt.update([v], [cost], [None])
    return best


def optimizer_medians():
    for name, cls in (("GP-BO", BayesianOptimization), ("TPE", TPE), ("random", RandomSearch)):
        start = time.perf_counter()
        bests = [best_cost(cls, seed) for seed in SEEDS]
        elapsed = time.perf_counter() - start
        print(
            f"{name:>7}: median best cost after {EVALUATIONS} evaluations over "
            f"{len(SEEDS)} seeds = {statistics.median(bests):.4f} "
            f"(min {min(bests):.4f}, max {max(bests):.4f}; {elapsed:.1f} s)"
        )


def suggestion_time(n_runs=200):
    with tempfile.TemporaryDirectory() as tmp:
        ex = Experiment("bench_branin")
        a = LabAssistant(ex, store=tmp, optimizer=lambda s: BayesianOptimization(s, seed=0))

        @ex.config
        def cfg():
            x = [0.0, 0.0]  # noqa: F841

        @a.search_space
        def search_space():
            x = (UniformFloat(-5, 10), UniformFloat(0, 15))  # noqa: F841

        @ex.main
        def main(x):
            return branin(x[0], x[1])

        import logging

        ex.logger = logging.getLogger("bench_quiet")
        ex.logger.setLevel(logging.WARNING)
        rng = random.Random(0)
        start = time.perf_counter()
        for _ in range(n_runs):
            a.run_config({"x[0]": rng.uniform(-5, 10), "x[1]": rng.uniform(0, 15)})
        filling = time.perf_counter() - start

        # a fresh assistant (as in a new process): its first suggestion reads all the runs;
        # numpy/scipy are imported beforehand (a one-off cost of any process, not per call)
        start = time.perf_counter()
        import scipy.optimize  # noqa: F401
        import scipy.special  # noqa: F401

        import labwatch.optimizers.gaussian_process  # noqa: F401

        imports = time.perf_counter() - start

        fresh = LabAssistant(Experiment("bench_branin"), store=tmp, optimizer=BayesianOptimization)
        fresh.search_space(search_space)
        times = []
        for _ in range(3):
            start = time.perf_counter()
            fresh.get_suggestion("search_space")
            times.append(time.perf_counter() - start)
        assert len(fresh.history("search_space")) == n_runs
        print(
            f"GP-BO suggestion with {n_runs} runs in the folder store: first (reads the "
            f"history) {times[0]:.3f} s, then {min(times[1:]):.3f} s "
            f"(target <= 0.5 s; importing numpy/scipy once: {imports:.2f} s; writing the "
            f"runs took {filling:.1f} s)"
        )


if __name__ == "__main__":
    optimizer_medians()
    suggestion_time()
