"""Tree-structured Parzen estimator (Optuna's TPESampler).

Past runs are replayed into an in-memory study with ``add_trial``; conditional parameters
are sampled define-by-run, so inactive ones are never drawn.
"""

from __future__ import annotations

from typing import Optional

from labwatch.optimizers._optuna_base import OptunaOptimizer

__all__ = ("TPE",)


class TPE(OptunaOptimizer):
    def __init__(self, search_space, seed: Optional[int] = None, n_startup_trials: int = 10, **kw):
        self.sampler_kwargs = dict(n_startup_trials=n_startup_trials, **kw)
        super().__init__(search_space, seed)

    def _sampler(self):
        return self.optuna.samplers.TPESampler(seed=self.seed, **self.sampler_kwargs)

    def update(self, configs, costs, runs):
        super().update(configs, costs, runs)
        for values, cost in zip(configs, costs):
            params, distributions = self._params(values)
            self.study.add_trial(
                self.optuna.trial.create_trial(
                    params=params, distributions=distributions, value=float(cost)
                )
            )
