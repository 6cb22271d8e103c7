"""SMAC (random-forest Bayesian optimisation, SMAC 2.x) through ask/tell.

SMAC waits for every trial it handed out, while Labwatch's suggestions may never come back
(failed runs, other workers). So each suggestion builds a fresh SMAC from the history:
all past runs are told as trials SMAC did not ask for, then one configuration is asked.
The first ``n_initial`` suggestions are random draws from the priors. Needs the ``smac``
package (``pip install "sacred[hpo]"``).

A suggestion with 200 runs costs about a quarter of what the facade's ``tell``/``ask`` cost
(2 s of CPU), with the same model and acquisition: the random forest is built on one thread
with ``max_leaf_nodes=None`` (SMAC's 2**20, never reached, makes scikit-learn allocate a tree
of two million nodes for each of the ten trees); the predicted cost of the incumbent is
computed for all evaluated configurations in one call instead of one call per configuration
(``_BatchedConfigSelector``: the same values, the same choice); the runs go straight into
the run history (the cost bounds computed once, not after each run), and the next
configuration comes from SMAC's config selector, which is what the intensifier hands on
when every configuration is evaluated once (it would first compare each stored
configuration with the others).

Pending configurations (``set_pending``, runs in flight) are told as finished with a
constant lie (``liar="mean"``, the mean cost so far; ``"min"`` or ``"max"``): the forest
predicts that cost around them, and the selector never hands out a configuration of the run
history.
"""

from __future__ import annotations

import tempfile
from typing import Optional

from labwatch.optimizers.base import Optimizer
from labwatch.optimizers.encoding import check_liar, lie

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
    def __init__(
        self, search_space, seed: Optional[int] = None, n_initial: int = 10, liar: str = "mean"
    ):
        _import_smac()
        # lazy: ConfigSpace/SMAC load with the first suggestion
        from labwatch.converters.configspace import to_configspace

        super().__init__(search_space, seed)
        self.cs = to_configspace(search_space, seed=seed)
        self.n_initial = n_initial
        self.liar = check_liar(liar)
        self._tmp = tempfile.TemporaryDirectory(prefix="labwatch-smac-")
        self._asked = 0

    def needs_updates(self) -> bool:
        return True

    def suggest_configuration(self) -> dict:
        if len(self.costs) < self.n_initial:
            return self.get_random_config()
        smac = _import_smac()

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
        selector = _batched_config_selector(scenario)
        optimizer = facade(
            scenario,
            _never_called,
            overwrite=True,
            logging_level=40,
            model=_random_forest(scenario),
            config_selector=selector,
            initial_design=facade.get_initial_design(scenario, n_configs=0),
            intensifier=facade.get_intensifier(scenario, max_config_calls=1),
        )
        runhistory = optimizer.runhistory
        # the cost bounds are recomputed from every entry on each add: once is enough
        runhistory._update_objective_bounds = lambda: None
        told = list(zip(self.configs, self.costs))
        seen = {_key(v) for v in self.configs}
        lied = lie(self.costs, self.liar)
        told += [(v, lied) for v in self.pending if _key(v) not in seen]
        for values, cost in told:
            runhistory.add(values_to_configuration(self.cs, values), float(cost), seed=0)
        del runhistory._update_objective_bounds
        runhistory._update_objective_bounds()
        # with one evaluation per configuration, SMAC's intensifier only hands on the next
        # configuration of the selector (after walking through every stored configuration)
        return configuration_to_values(next(iter(selector)))


def _key(values: dict):
    return tuple(sorted((k, repr(v)) for k, v in values.items()))


def _random_forest(scenario):
    """The facade's random forest (``get_model``'s settings), on one thread and without
    the leaf limit that costs a large allocation per tree."""
    from smac.model.random_forest import RandomForest

    return RandomForest(
        log_y=True,
        n_trees=10,
        bootstrapping=True,
        ratio_features=1.0,
        min_samples_split=2,
        min_samples_leaf=1,
        max_depth=2**20,
        max_leaf_nodes=None,
        n_jobs=1,
        configspace=scenario.configspace,
        instance_features=scenario.instance_features,
        seed=scenario.seed,
    )


def _batched_config_selector(scenario):
    from smac.main.config_selector import ConfigSelector

    class _BatchedConfigSelector(ConfigSelector):
        def _get_x_best(self, X):
            # SMAC predicts each evaluated configuration alone and keeps the first minimum
            means = self._model.predict_marginalized(X)[0][:, 0]
            best = int(means.argmin())
            return X[best], means[best]

    # the facade's get_config_selector defaults
    return _BatchedConfigSelector(scenario, retrain_after=8, max_new_config_tries=16)
