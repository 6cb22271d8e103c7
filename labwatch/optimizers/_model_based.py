"""What Bohamiann and DNGO share: a surrogate model of the cost on the encoded space, an
acquisition function maximised over canonical points, and a random start.

The first ``init_points`` suggestions are random draws from the priors. After that the
history (canonical points of the [0, 1]^D encoding) is normalised (inputs mapped to zero
mean and unit variance under the uniform distribution of the cube, costs to zero mean and
unit variance), the model is fitted, and the suggestion is the best point of the
acquisition that decodes to a configuration not evaluated yet. Subclasses provide
``_model()`` returning an object with ``fit(X, y)`` and ``predict(X) -> (mean, variance)``.

Pending configurations (``set_pending``, runs in flight) are fitted as a constant liar
(``liar="mean"``: the mean cost so far; or ``"min"``, ``"max"``) and are never suggested.
"""

from __future__ import annotations

import logging
from typing import Optional

from labwatch.optimizers.encoding import EncodedHistory, check_liar

__all__ = ("ModelBasedOptimizer", "import_numpy_scipy")

_SQRT12 = 12.0**0.5
logger = logging.getLogger("labwatch")


def import_numpy_scipy(who: str):
    try:
        import numpy as np
        import scipy  # noqa: F401
    except ImportError as e:
        raise ImportError(
            f'{who} needs numpy and scipy ({e.name} is missing): pip install "sacred[hpo]"'
        ) from None
    return np


class ModelBasedOptimizer(EncodedHistory):
    def __init__(
        self,
        search_space,
        seed: Optional[int] = None,
        init_points: Optional[int] = None,
        acquisition: str = "EI",
        xi: float = 0.01,
        kappa: float = 2.0,
        n_random: int = 1000,
        liar: str = "mean",
    ):
        np = import_numpy_scipy(type(self).__name__)
        # lazy: numpy/scipy load with the optimizer
        from labwatch.optimizers._acquisition import acquisition as make_acquisition
        from labwatch.optimizers._candidates import CandidateSpace

        super().__init__(search_space, seed)
        self.np_rng = np.random.default_rng(seed)
        self.candidates = CandidateSpace(self.encoder)
        self.init_points = init_points or max(3, min(10, self.encoder.dim + 1))
        self.acquisition = acquisition
        self.score = make_acquisition(acquisition, xi=xi, kappa=kappa)
        self.n_random = n_random
        self.liar = check_liar(liar)
        self.model = None

    def _model(self):
        raise NotImplementedError

    def suggest_configuration(self) -> dict:
        if len(self.y) < self.init_points or self.encoder.dim == 0:
            return self.get_random_config()
        # small matrices: BLAS threads only add contention, so use one when possible
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            return self._suggest()
        with threadpool_limits(1):
            return self._suggest()

    @staticmethod
    def _inputs(X):
        return (X - 0.5) * _SQRT12

    def fit(self):
        """Fit a new model on the history (and the pending points at the liar's cost)."""
        X, y = self.training_data()
        X = self.candidates.canonical(X)
        self.y_mean, self.y_std = float(y.mean()), float(y.std()) or 1.0
        self.model = self._model().fit(self._inputs(X), (y - self.y_mean) / self.y_std)
        return self.model

    def predict(self, X):
        """Predictive mean and standard deviation of the cost at encoded points ``X``."""
        import numpy as np

        mean, var = self.model.predict(self._inputs(np.atleast_2d(X)))
        return mean * self.y_std + self.y_mean, np.sqrt(np.maximum(var, 0.0)) * self.y_std

    def _suggest(self) -> dict:
        import numpy as np

        from labwatch.optimizers._acquisition import maximize

        X, y = np.array(self.X), np.array(self.y)
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                self.fit()
                fitted = self.model.predict(
                    self._inputs(self.candidates.canonical(self.training_data()[0]))
                )
            if not all(np.all(np.isfinite(a)) for a in fitted):
                raise FloatingPointError("non-finite predictions")
        except (FloatingPointError, np.linalg.LinAlgError) as e:
            logger.warning(
                "%s could not fit its model (%s): suggesting a random configuration",
                type(self).__name__,
                e,
            )
            return self.get_random_config()
        best = (y.min() - self.y_mean) / self.y_std

        def score(points):
            mean, var = self.model.predict(self._inputs(points))
            return self.score(mean, np.sqrt(np.maximum(var, 1e-300)), best, 1.0)

        points, _ = maximize(
            score, self.candidates, self.candidates.canonical(X), y, self.np_rng, self.n_random
        )
        seen = {_key(c) for c in self.configs + self.pending}
        tried = set()  # many scored points are the same configuration (small spaces)
        for x in points:
            if x.tobytes() in tried:
                continue
            tried.add(x.tobytes())
            values = self.encoder.decode(x)
            if _key(values) not in seen:
                return values
        return self.get_random_config()


def _key(values: dict):
    return tuple(sorted((k, repr(v)) for k, v in values.items()))
