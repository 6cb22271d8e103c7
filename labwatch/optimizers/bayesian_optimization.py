"""Bayesian optimisation with a Gaussian process and expected improvement (numpy + scipy).

The first ``init_points`` suggestions are random draws from the priors. After that, a GP
(Matern 5/2, ARD, fitted by maximum marginal likelihood) models the cost in the [0, 1]^D
encoding of the search space, and the suggestion maximises expected improvement: over
random candidates and perturbations of the best points, then refined with L-BFGS-B.
Categoricals are one-hot encoded; a suggestion equal to an evaluated (or pending)
configuration is replaced by the best candidate that is new.

Pending configurations (``set_pending``: runs in flight in a parallel search) join the GP
as a constant liar: with the mean cost so far (``liar="mean"``, default), the best
(``"min"``) or the worst (``"max"``). The GP's variance at a pending point is then nearly
zero and its mean that cost, so expected improvement vanishes there and is lowered around
it: the next worker gets another point. On Branin the mean lie matched one worker's quality
per evaluation best (``bench/bench_labwatch_parallel.py``).
"""

from __future__ import annotations

from typing import Optional

from labwatch.optimizers.encoding import EncodedHistory, check_liar

__all__ = ("BayesianOptimization",)


def _imports():
    try:
        import numpy as np
        import scipy  # noqa: F401
    except ImportError as e:
        raise ImportError(
            f"BayesianOptimization needs numpy and scipy ({e.name} is missing): "
            'pip install "sacred[hpo]"'
        ) from None
    return np


class BayesianOptimization(EncodedHistory):
    def __init__(
        self,
        search_space,
        seed: Optional[int] = None,
        init_points: Optional[int] = None,
        n_candidates: int = 2000,
        xi: float = 0.01,
        liar: str = "mean",
    ):
        np = _imports()
        # lazy: numpy/scipy load with the first suggestion
        from labwatch.optimizers.gaussian_process import GaussianProcess

        super().__init__(search_space, seed)
        self.np_rng = np.random.default_rng(seed)
        self.gp = GaussianProcess(self.np_rng)
        self.init_points = init_points or max(3, self.encoder.dim + 1)
        self.n_candidates = n_candidates
        self.xi = xi
        self.liar = check_liar(liar)

    def suggest_configuration(self) -> dict:
        if len(self.y) < self.init_points or self.encoder.dim == 0:
            return self.get_random_config()
        # the matrices are small: BLAS threads only add contention (several times slower
        # on a busy machine), so use one thread when threadpoolctl is there to say so
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            return self._suggest()
        with threadpool_limits(1):
            return self._suggest()

    def _suggest(self) -> dict:
        np = _imports()
        from scipy.optimize import minimize
        from scipy.special import ndtr

        X, y = self.training_data()
        self.gp.fit(X, y)
        best = min(self.y)

        def ei(points):
            mu, sd = self.gp.predict(np.atleast_2d(points))
            improvement = best - mu - self.xi * self.gp.std
            z = improvement / sd
            return improvement * ndtr(z) + sd * np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi)

        dim = self.encoder.dim
        rng = self.np_rng
        candidates = [rng.random((self.n_candidates, dim))]
        for i in np.argsort(self.y)[:5]:  # local candidates around the best points
            candidates.append(np.clip(self.X[i] + rng.normal(0, 0.05, (100, dim)), 0, 1))
        candidates = np.vstack(candidates)
        scores = ei(candidates)
        order = np.argsort(-scores)
        refined = []
        for i in order[:3]:
            res = minimize(
                lambda x: -ei(x)[0],
                candidates[i],
                method="L-BFGS-B",
                bounds=[(0.0, 1.0)] * dim,
                options={"maxiter": 30},
            )
            refined.append((float(-res.fun), res.x))
        refined.sort(key=lambda t: -t[0])
        seen = {self._key(c) for c in self.configs + self.pending}
        for _, x in refined + [(None, candidates[i]) for i in order[:50]]:
            values = self.encoder.decode(x)
            if self._key(values) not in seen:
                return values
        return self.get_random_config()

    @staticmethod
    def _key(values: dict):
        return tuple(sorted((k, repr(v)) for k, v in values.items()))
