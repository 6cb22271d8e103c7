"""Tree-structured Parzen estimator (Optuna's TPESampler).

Past runs are replayed into an in-memory study with ``add_trial``; conditional parameters
are sampled define-by-run, so inactive ones are never drawn.

Pending configurations (``set_pending``: runs in flight in a parallel search, queued or
running runs of other workers) are RUNNING trials of the study, as in a parallel Optuna
study: with the sampler's ``constant_liar`` (on, as in Optuna) they count among the bad
trials when the density of good points is split from the bad, so the next suggestion moves
away from them. They are marked FAIL when they leave the pending list (a finished run comes
back through ``update`` as a COMPLETE trial).
"""

from __future__ import annotations

from typing import Optional

from labwatch.optimizers._optuna_base import OptunaOptimizer

__all__ = ("TPE",)


class TPE(OptunaOptimizer):
    def __init__(self, search_space, seed: Optional[int] = None, n_startup_trials: int = 10, **kw):
        self.sampler_kwargs = dict(n_startup_trials=n_startup_trials, **kw)
        super().__init__(search_space, seed)
        self._running = {}  # key of a pending configuration -> id of its RUNNING trial

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

    def set_pending(self, configs) -> None:
        super().set_pending(configs)
        storage, state = self.study._storage, self.optuna.trial.TrialState
        wanted = {_key(v): v for v in self.pending}
        for key in [k for k in self._running if k not in wanted]:
            storage.set_trial_state_values(self._running.pop(key), state.FAIL)
        for key, values in wanted.items():
            if key in self._running:
                continue
            params, distributions = self._params(values)
            trial = self.optuna.trial.create_trial(
                state=state.RUNNING, params=params, distributions=distributions
            )
            self._running[key] = storage.create_new_trial(self.study._study_id, trial)


def _key(values: dict):
    return tuple(sorted((k, repr(v)) for k, v in values.items()))
