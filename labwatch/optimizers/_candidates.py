"""Valid points of a search space's [0, 1]^D encoding (see ``encoding.UnitEncoder``), in bulk.

A point is *canonical* when it is exactly what ``encoder.encode`` gives for some
configuration: categoricals are one-hot, integers sit at the centre of their cell, and
inactive conditional parameters hold their inactive encoding (the default, or all zeros for
a categorical). Surrogate models see only canonical points, so a candidate and the
configuration it decodes to get the same prediction. Everything is vectorised over rows;
only conditions on a numeric parent and integer snapping call the parameters per value.
"""

from __future__ import annotations

import numpy as np

from labwatch.hyperparameters import Categorical
from labwatch.optimizers.encoding import UnitEncoder

__all__ = ("CandidateSpace",)


class CandidateSpace:
    def __init__(self, encoder: UnitEncoder):
        self.encoder = encoder
        self.space = encoder.space
        self.dim = encoder.dim
        self.slot = {name: (base, start, width) for name, base, start, width in encoder.slots}
        numeric = [s for _, b, s, w in encoder.slots if w == 1]
        self.numeric = np.array(numeric, dtype=int)
        self.categorical = [(s, w) for _, b, s, w in encoder.slots if isinstance(b, Categorical)]
        self.integers = [
            (s, b, _integer_cells(b))
            for _, b, s, w in encoder.slots
            if w == 1 and getattr(b, "type", "") == "int"
        ]
        self.inactive = encoder.encode({})  # the encoding of absent parameters

    def random(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` canonical points, uniform in the encoding (one-hot choices uniform)."""
        X = np.zeros((n, self.dim))
        if len(self.numeric):
            X[:, self.numeric] = rng.random((n, len(self.numeric)))
        for start, width in self.categorical:
            X[np.arange(n), start + rng.integers(0, width, n)] = 1.0
        return self.canonical(X)

    def neighbours(
        self, x: np.ndarray, n: int, scale: float, rng: np.random.Generator, p_switch=0.2
    ) -> np.ndarray:
        """``n`` canonical points near ``x``: numbers moved by N(0, scale) (clipped to the
        cube), each categorical redrawn with probability ``p_switch`` (at least one in
        ``len(categoricals)`` when there are no numbers to move)."""
        X = np.repeat(np.asarray(x, float)[None, :], n, axis=0)
        if len(self.numeric):
            X[:, self.numeric] = np.clip(
                X[:, self.numeric] + rng.normal(0.0, scale, (n, len(self.numeric))), 0.0, 1.0
            )
        if not len(self.numeric) and self.categorical:
            p_switch = max(p_switch, 1.0 / len(self.categorical))
        for start, width in self.categorical:
            switch = rng.random(n) < p_switch
            if not switch.any():
                continue
            choice = rng.integers(0, width, int(switch.sum()))
            rows = np.flatnonzero(switch)
            X[rows, start : start + width] = 0.0
            X[rows, start + choice] = 1.0
        return self.canonical(X)

    def canonical(self, X: np.ndarray) -> np.ndarray:
        """``X`` with categoricals one-hot (largest entry), integers snapped to their cell
        centre and inactive parameters set to their inactive encoding."""
        X = np.array(X, float)
        n = len(X)
        for start, width in self.categorical:
            segment = X[:, start : start + width]
            hot = segment.argmax(1)
            segment[:] = 0.0
            segment[np.arange(n), hot] = 1.0
        for start, base, cells in self.integers:
            if cells is None:  # a huge range: one value at a time
                X[:, start] = [base.to_unit(base.from_unit(u)) for u in X[:, start]]
            else:
                bounds, centres = cells
                X[:, start] = centres[np.searchsorted(bounds, X[:, start])]
        if self.space.conditions:
            active = {}
            for name in self.space.parameters:
                base, start, width = self.slot[name]
                mask = np.ones(n, bool)
                parent = self.space.conditions.get(name)
                if parent is not None:
                    mask = active[parent] & self._holds(name, parent, X)
                active[name] = mask
                if width and not mask.all():
                    X[~mask, start : start + width] = self.inactive[start : start + width]
        return X

    def _holds(self, name, parent, X) -> np.ndarray:
        condition = self.space.parameters[name].condition
        base, start, width = self.slot[parent]
        if width == 0:  # a constant parent
            return np.full(len(X), condition.holds(base.value))
        if isinstance(base, Categorical):
            allowed = [i for i, c in enumerate(base.choices) if condition.holds(c)]
            return np.isin(X[:, start : start + width].argmax(1), allowed)
        return np.array([condition.holds(base.from_unit(u)) for u in X[:, start]])


def _integer_cells(base, limit: int = 10_000):
    """``(bounds, centres)`` of an integer parameter's encoding: the value ``k`` owns the
    units between ``bounds[k-1]`` and ``bounds[k]`` and is encoded as ``centres[k]``
    (``from_unit`` rounds to the nearest integer, so the bounds are the encodings of the
    half-integers). None for ranges over ``limit`` values."""
    if base.upper - base.lower > limit:
        return None
    values = range(base.lower, base.upper + 1)
    centres = np.array([base.to_unit(v) for v in values])
    bounds = np.array([base.to_unit(v + 0.5) for v in values[:-1]])
    return bounds, centres
