"""CMA-ES on the [0, 1]^D encoding of the search space (the ``cmaes`` package, the same
implementation Optuna's CmaEsSampler wraps).

Optuna's sampler keeps the CMA state on trials it sampled itself, so runs replayed into a
study do not advance it. Here the strategy is rebuilt from the history instead: the runs,
in the order they finished, are told in generations of ``population_size``, then the next
point is asked. Runs from other workers therefore count like our own.
Categoricals are one-hot dimensions decoded by their largest entry.

Pending configurations (``set_pending``: runs in flight) are taken as the first members of
the current generation: with k pending, the suggestion is the (k+1)-th point the strategy
draws, so workers that share a history still get different points of the generation.
"""

from __future__ import annotations

from typing import Optional

from labwatch.optimizers.encoding import EncodedHistory

__all__ = ("CMAES",)


class CMAES(EncodedHistory):
    def __init__(
        self,
        search_space,
        seed: Optional[int] = None,
        sigma0: float = 0.25,
        population_size: Optional[int] = None,
    ):
        try:
            import cmaes  # noqa: F401
            import numpy  # noqa: F401
        except ImportError:
            raise ImportError(
                'CMAES needs numpy and the cmaes package: pip install "sacred[hpo]"'
            ) from None
        super().__init__(search_space, seed)
        self.sigma0 = sigma0
        self.population_size = population_size
        self._asked = 0

    def suggest_configuration(self) -> dict:
        import numpy as np
        from cmaes import CMA

        dim = self.encoder.dim
        if dim == 0:
            return self.get_default_config()
        width = max(dim, 2)  # cmaes needs at least two dimensions: pad with a dummy one

        def pad(x):
            return np.concatenate([np.clip(x, 0, 1), np.full(width - dim, 0.5)])

        mean = pad(self.encoder.encode(self.get_default_config()))
        self._asked += 1
        seed = (self.seed or 0) * 1_000_003 + len(self.y) * 101 + self._asked
        cma = CMA(
            mean=mean,
            sigma=self.sigma0,
            bounds=np.array([[0.0, 1.0]] * width),
            seed=seed % (2**31),
            population_size=self.population_size,
        )
        n = cma.population_size
        for start in range(0, len(self.y) - n + 1, n):
            cma.tell([(pad(self.X[i]), self.y[i]) for i in range(start, start + n)])
        for _ in self.pending:  # they are the generation's first members
            cma.ask()
        return self.encoder.decode(cma.ask()[:dim])
