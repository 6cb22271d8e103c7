"""Search spaces as Optuna distributions.

Optuna has no normal prior: a ``Gaussian`` becomes a uniform distribution over
``mu +- 3 sigma`` (on the log scale with ``log_scale``). Constants are not distributions:
the adapters add their values themselves. Conditions are handled define-by-run: a child
is only suggested when its parent's value activates it.
"""

from __future__ import annotations

import math

from labwatch.hyperparameters import Categorical, ConditionResult, Constant, Gaussian
from labwatch.searchspace import SearchSpace

__all__ = ("to_optuna_distributions", "clip_to_distribution")


def _distribution(param):
    import optuna.distributions as od

    if isinstance(param, ConditionResult):
        param = param.param
    if isinstance(param, Constant):
        return None
    if isinstance(param, Categorical):
        return od.CategoricalDistribution(param.choices)
    if isinstance(param, Gaussian):
        lo, hi = param.mu - 3 * param.sigma, param.mu + 3 * param.sigma
        if param.log_scale:
            return od.FloatDistribution(math.exp(lo), math.exp(hi), log=True)
        return od.FloatDistribution(lo, hi)
    if param.type == "int":
        return od.IntDistribution(param.lower, param.upper, log=param.log_scale)
    return od.FloatDistribution(param.lower, param.upper, log=param.log_scale)


def to_optuna_distributions(space: SearchSpace) -> dict:
    """``{name: optuna distribution}`` for every non-constant parameter."""
    out = {}
    for name, param in space.parameters.items():
        dist = _distribution(param)
        if dist is not None:
            out[name] = dist
    return out


def clip_to_distribution(value, dist):
    """A past value inside ``dist`` (values of a Gaussian can lie outside its range)."""
    import optuna.distributions as od

    if isinstance(dist, (od.FloatDistribution, od.IntDistribution)):
        return type(value)(min(dist.high, max(dist.low, value)))
    return value
