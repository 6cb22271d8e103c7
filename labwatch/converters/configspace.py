"""Search spaces as ConfigSpace ``ConfigurationSpace`` objects (ConfigSpace >= 1.0).

A ``Gaussian`` becomes a ``Normal`` float bounded at ``mu +- 4 sigma`` (ConfigSpace needs
bounds). Conditions become ``InCondition``s. Values come back as plain Python values.
"""

from __future__ import annotations

import math

from labwatch.hyperparameters import Categorical, ConditionResult, Constant, Gaussian, plain
from labwatch.searchspace import SearchSpace

__all__ = ("to_configspace", "values_to_configuration", "configuration_to_values")


def _import():
    try:
        import ConfigSpace
    except ImportError:
        raise ImportError(
            'Converting to ConfigSpace needs the ConfigSpace package: pip install "sacred[hpo]"'
        ) from None
    return ConfigSpace


def _hyperparameter(cs_mod, name, param):
    if isinstance(param, ConditionResult):
        param = param.param
    if isinstance(param, Constant):
        return cs_mod.Constant(name, param.value if param.value is not None else "None")
    if isinstance(param, Categorical):
        return cs_mod.Categorical(name, param.choices, default=param.default())
    if isinstance(param, Gaussian):
        lo, hi = param.mu - 4 * param.sigma, param.mu + 4 * param.sigma
        if param.log_scale:
            return cs_mod.Float(
                name,
                (math.exp(lo), math.exp(hi)),
                default=param.default(),
                distribution=cs_mod.Normal(param.mu, param.sigma),
                log=True,
            )
        return cs_mod.Float(
            name, (lo, hi), default=param.mu, distribution=cs_mod.Normal(param.mu, param.sigma)
        )
    if param.type == "int":
        return cs_mod.Integer(
            name, (param.lower, param.upper), default=param.default(), log=param.log_scale
        )
    return cs_mod.Float(
        name, (param.lower, param.upper), default=param.default(), log=param.log_scale
    )


def to_configspace(space: SearchSpace, seed=None):
    cs_mod = _import()
    cs = cs_mod.ConfigurationSpace(seed=seed)
    hps = {n: _hyperparameter(cs_mod, n, p) for n, p in space.parameters.items()}
    cs.add(list(hps.values()))
    conditions = [
        cs_mod.InCondition(hps[child], hps[parent], space.parameters[child].condition.values)
        for child, parent in space.conditions.items()
    ]
    if conditions:
        cs.add(conditions)
    return cs


def values_to_configuration(cs, values: dict):
    from ConfigSpace import Configuration

    return Configuration(cs, values=dict(values))


def configuration_to_values(config) -> dict:
    """A ConfigSpace configuration as ``{name: plain value}`` (inactive ones left out)."""
    return {k: plain(v) for k, v in dict(config).items() if v is not None}
