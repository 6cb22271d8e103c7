"""What the Optuna adapters share: an in-memory study, define-by-run suggestions."""

from __future__ import annotations

from typing import Optional

from labwatch.hyperparameters import ConditionResult, Constant, plain
from labwatch.optimizers.base import Optimizer

__all__ = ("OptunaOptimizer", "import_optuna")


def import_optuna():
    try:
        import optuna
    except ImportError:
        raise ImportError(
            'The Optuna-based optimizers (TPE, CMAES) need optuna: pip install "sacred[hpo]"'
        ) from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


class OptunaOptimizer(Optimizer):
    def __init__(self, search_space, seed: Optional[int] = None):
        super().__init__(search_space, seed)
        # lazy: optuna loads with the first suggestion
        from labwatch.converters.optuna_space import to_optuna_distributions

        self.optuna = import_optuna()
        self.distributions = to_optuna_distributions(search_space)
        self.study = self.optuna.create_study(direction="minimize", sampler=self._sampler())

    def _sampler(self):
        raise NotImplementedError

    def needs_updates(self) -> bool:
        return True

    def _params(self, values: dict):
        # lazy: optuna loads with the first suggestion
        from labwatch.converters.optuna_space import clip_to_distribution

        params = {
            n: clip_to_distribution(v, self.distributions[n])
            for n, v in values.items()
            if n in self.distributions
        }
        return params, {n: self.distributions[n] for n in params}

    def _suggest(self, trial) -> dict:
        values = {}
        for name, param in self.search_space.parameters.items():
            if not self.search_space.is_active(name, values):
                continue
            base = param.param if isinstance(param, ConditionResult) else param
            if isinstance(base, Constant):
                values[name] = base.value
            else:
                values[name] = trial._suggest(name, self.distributions[name])
        return plain(values)

    def suggest_configuration(self) -> dict:
        trial = self.study.ask()
        values = self._suggest(trial)
        # the run's result comes back through update(); this trial only served to sample
        self.study.tell(trial, state=self.optuna.trial.TrialState.FAIL)
        return values
