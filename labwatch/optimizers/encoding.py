"""The [0, 1]^D encoding of a search space used by the model-based optimizers.

Numbers take one dimension (through their prior's scale: linear, log, or the normal CDF of
a Gaussian); a categorical with k choices takes k one-hot dimensions; constants take none.
An inactive conditional parameter is encoded as its default (all zeros for a categorical).
"""

from __future__ import annotations

from labwatch.hyperparameters import Categorical, ConditionResult, Constant
from labwatch.optimizers.base import Optimizer
from labwatch.searchspace import SearchSpace

__all__ = ("UnitEncoder", "EncodedHistory", "LIARS", "check_liar", "lie")


def _base(param):
    return param.param if isinstance(param, ConditionResult) else param


class UnitEncoder:
    def __init__(self, space: SearchSpace):
        self.space = space
        self.slots = []  # (name, base parameter, first dimension, number of dimensions)
        dim = 0
        for name, param in space.parameters.items():
            base = _base(param)
            if isinstance(base, Constant):
                width = 0
            elif isinstance(base, Categorical):
                width = len(base.choices)
            else:
                width = 1
            self.slots.append((name, base, dim, width))
            dim += width
        self.dim = dim
        self.categorical = [
            (start, width) for _, base, start, width in self.slots if isinstance(base, Categorical)
        ]

    def encode(self, values: dict):
        import numpy as np

        x = np.zeros(self.dim)
        for name, base, start, width in self.slots:
            if width == 0:
                continue
            if isinstance(base, Categorical):
                if name in values:
                    x[start + base.index(values[name])] = 1.0
            else:
                x[start] = base.to_unit(values.get(name, base.default()))
        return x

    def decode(self, x) -> dict:
        values = {}
        for name, base, start, width in self.slots:
            if not self.space.is_active(name, values):
                continue
            if width == 0:
                values[name] = base.value
            elif isinstance(base, Categorical):
                segment = list(x[start : start + width])
                values[name] = base.choices[segment.index(max(segment))]
            else:
                values[name] = base.from_unit(float(x[start]))
        return values


LIARS = ("min", "mean", "max")


def check_liar(liar: str) -> str:
    if liar not in LIARS:
        raise ValueError(f"Unknown liar {liar!r}: use one of {', '.join(LIARS)}")
    return liar


def lie(costs, liar: str) -> float:
    """The cost a pending configuration is given: the best, mean or worst cost so far."""
    if liar == "min":
        return min(costs)
    if liar == "max":
        return max(costs)
    return sum(costs) / len(costs)


class EncodedHistory(Optimizer):
    """An optimizer that learns from the history as points in the unit cube.

    ``self.X`` holds the encoded configurations of every finished run and ``self.y`` their
    costs, in the order ``update`` received them. ``training_data()`` adds the pending
    configurations (``set_pending``) with a constant lie as their cost (``liar``: "mean",
    the mean cost so far, by default; "min", the best, or "max"), for the models to train on.
    """

    liar = "mean"

    def __init__(self, search_space, seed=None):
        super().__init__(search_space, seed)
        self.encoder = UnitEncoder(search_space)
        self.X, self.y = [], []
        self.pending_X = []

    def needs_updates(self) -> bool:
        return True

    def update(self, configs, costs, runs):
        super().update(configs, costs, runs)
        for values, cost in zip(configs, costs):
            self.X.append(self.encoder.encode(values))
            self.y.append(float(cost))

    def set_pending(self, configs) -> None:
        super().set_pending(configs)
        self.pending_X = [self.encoder.encode(v) for v in self.pending]

    def training_data(self):
        """``(X, y)`` arrays: the history plus the pending points at the liar's cost."""
        import numpy as np

        X, y = list(self.X), list(self.y)
        if self.pending_X and y:
            X += self.pending_X
            y += [lie(self.y, self.liar)] * len(self.pending_X)
        return np.array(X), np.array(y)
