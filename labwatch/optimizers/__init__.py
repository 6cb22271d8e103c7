"""Optimizer adapters, one module each. The ones with dependencies load lazily:

``RandomSearch`` (none), ``BayesianOptimization``, ``Bohamiann`` and ``DNGO`` (numpy,
scipy), ``TPE`` and ``CMAES`` (optuna; CMA-ES also needs cmaes), ``SMAC`` (smac 2.x); install
them with the ``hpo`` extra. ``DNGOWrapper`` is the original Labwatch's name for ``DNGO``.
"""

from __future__ import annotations

import importlib

from labwatch.optimizers.base import Optimizer
from labwatch.optimizers.random_search import RandomSearch

__all__ = (
    "Optimizer",
    "RandomSearch",
    "BayesianOptimization",
    "Bohamiann",
    "DNGO",
    "DNGOWrapper",
    "TPE",
    "CMAES",
    "SMAC",
)

_LAZY = {
    "BayesianOptimization": "labwatch.optimizers.bayesian_optimization",
    "Bohamiann": "labwatch.optimizers.bohamiann",
    "DNGO": "labwatch.optimizers.dngo",
    "DNGOWrapper": "labwatch.optimizers.dngo",
    "TPE": "labwatch.optimizers.tpe",
    "CMAES": "labwatch.optimizers.cmaes",
    "SMAC": "labwatch.optimizers.smac_wrapper",
}


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'labwatch.optimizers' has no attribute {name!r}")
