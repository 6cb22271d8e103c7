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
        cs_mod.InCondition(hps[child], hps[parent], space.parameters[child].condition.choices)
        for child, parent in space.conditions.items()
    ]
    if conditions:
        cs.add(conditions)
    return cs


def values_to_configuration(cs, values: dict):
    """``{name: value}`` as a ConfigSpace ``Configuration`` of ``cs``.

    ``cs`` must be the ConfigurationSpace made by ``to_configspace(space)``; anything else
    (the SearchSpace itself, say), or values that do not fit it, raise a ValueError saying
    what does not fit.
    """
    cs_mod = _import()
    if not isinstance(cs, cs_mod.ConfigurationSpace):
        raise ValueError(
            "values_to_configuration needs the ConfigurationSpace made from the search space "
            f"(to_configspace(space)), not a {type(cs).__name__}"
        )
    if not isinstance(values, dict):
        raise ValueError(
            f"values_to_configuration needs a dict {{name: value}}, not a {type(values).__name__}"
        )
    problem = _misfit(cs, values)
    if problem is None:
        try:
            return cs_mod.Configuration(cs, values=dict(values))
        except ValueError as e:  # e.g. a forbidden clause
            problem = " ".join(str(e).split())
    raise ValueError(f"The values do not fit the configuration space: {problem}")


def _misfit(cs, values: dict):
    """What does not fit in ``values`` (one sentence), or None."""
    unknown = [k for k in values if k not in cs]
    if unknown:
        return f"not in it: {unknown}"
    for name, value in values.items():
        hp = cs[name]
        try:
            legal = hp.legal_value(value)
        except (TypeError, ValueError):
            legal = False
        if not legal:
            return f"{name} = {value!r} is not allowed ({hp})"
    active = _active(cs, values)
    for name in cs:
        if name in active and name not in values:
            return f"{name} is active but has no value"
        if name not in active and name in values:
            return f"{name} is inactive but has the value {values[name]!r}"
    return None


def _active(cs, values: dict) -> set:
    """Names of the hyperparameters whose conditions hold for ``values``."""
    active = set()
    for name in cs:  # ConfigSpace keeps parents before their children
        conditions = cs.parent_conditions_of[name]
        if all(c.parent.name in active and _holds(c, values) for c in conditions):
            active.add(name)
    return active


def _holds(condition, values: dict) -> bool:
    try:
        return bool(condition.satisfied_by_value(values))
    except (TypeError, ValueError, KeyError):
        return False


def configuration_to_values(config) -> dict:
    """A ConfigSpace configuration as ``{name: plain value}`` (inactive ones left out)."""
    return {k: plain(v) for k, v in dict(config).items() if v is not None}
