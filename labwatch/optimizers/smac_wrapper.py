"""SMAC (random-forest Bayesian optimisation, SMAC 2.x) through ask/tell.

SMAC waits for every trial it handed out, while Labwatch's suggestions may never come back
(failed runs, other workers). So each suggestion builds a fresh SMAC from the history:
all past runs are told as trials SMAC did not ask for, then one configuration is asked.
The first ``n_initial`` suggestions are random draws from the priors. Needs the ``smac``
package (``pip install "sacred[hpo]"``).
"""

from __future__ import annotations

import tempfile
from typing import Optional

from labwatch.optimizers.base import Optimizer

__all__ = ("SMAC",)


def _import_smac():
    try:
        import smac
    except ImportError:
        raise ImportError(
            'The SMAC optimizer needs SMAC 2.x: pip install "sacred[hpo]" (or pip install smac)'
        ) from None
    return smac


def _never_called(config, seed: int = 0):
    raise RuntimeError("Labwatch runs the experiment itself; SMAC only suggests")


class SMAC(Optimizer):
    def __init__(self, search_space, seed: Optional[int] = None, n_initial: int = 10):
        _import_smac()
        # lazy: ConfigSpace/SMAC load with the first suggestion
        from labwatch.converters.configspace import to_configspace

        super().__init__(search_space, seed)
        self.cs = to_configspace(search_space, seed=seed)
        self.n_initial = n_initial
        self._tmp = tempfile.TemporaryDirectory(prefix="labwatch-smac-")
        self._asked = 0

    def needs_updates(self) -> bool:
        return True

    def suggest_configuration(self) -> dict:
        if len(self.costs) < self.n_initial:
            return self.get_random_config()
        smac = _import_smac()
        from smac.runhistory.dataclasses import TrialInfo, TrialValue

        # lazy: ConfigSpace/SMAC load with the first suggestion
        from labwatch.converters.configspace import (
            configuration_to_values,
            values_to_configuration,
        )

        self._asked += 1
        seed = ((self.seed or 0) * 1_000_003 + len(self.costs) * 101 + self._asked) % (2**31)
        scenario = smac.Scenario(
            self.cs,
            deterministic=True,
            n_trials=10**9,
            seed=seed,
            output_directory=self._tmp.name,
        )
        facade = smac.HyperparameterOptimizationFacade
        optimizer = facade(
            scenario,
            _never_called,
            overwrite=True,
            logging_level=40,
            initial_design=facade.get_initial_design(scenario, n_configs=0),
            intensifier=facade.get_intensifier(scenario, max_config_calls=1),
        )
        for values, cost in zip(self.configs, self.costs):
            info = TrialInfo(config=values_to_configuration(self.cs, values), seed=0)
            optimizer.tell(info, TrialValue(cost=float(cost)), save=False)
        return configuration_to_values(optimizer.ask().config)
