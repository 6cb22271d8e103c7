"""Acquisition functions and their maximisation over the encoded search space.

``expected_improvement`` (EI, the default) and ``lower_confidence_bound`` (LCB) turn a
predictive mean and standard deviation into a score to maximise. ``maximize`` searches the
canonical points of the encoding (``_candidates.CandidateSpace``): random points, then a
local search (shrinking Gaussian steps on numbers, redrawn categoricals) started from the
best evaluated configurations and the best random points. It returns every point it scored,
best first, so the caller can skip configurations evaluated before.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from scipy.special import ndtr

from labwatch.optimizers._candidates import CandidateSpace

__all__ = ("expected_improvement", "lower_confidence_bound", "acquisition", "maximize")

_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)


def expected_improvement(mean, std, best: float, xi: float = 0.0):
    """E[max(best - xi - f, 0)] for f ~ N(mean, std^2) (costs are minimised)."""
    std = np.maximum(std, 1e-12)
    improvement = best - xi - mean
    z = improvement / std
    return improvement * ndtr(z) + std * _INV_SQRT_2PI * np.exp(-0.5 * z * z)


def lower_confidence_bound(mean, std, kappa: float = 2.0):
    """``-(mean - kappa * std)``: larger is better, like EI."""
    return kappa * std - mean


def acquisition(name: str, xi: float = 0.01, kappa: float = 2.0):
    """The score ``f(mean, std, best, y_scale)`` of ``name`` ("EI" or "LCB")."""
    kind = str(name).upper()
    if kind == "EI":
        return lambda mean, std, best, scale: expected_improvement(mean, std, best, xi * scale)
    if kind == "LCB":
        return lambda mean, std, best, scale: lower_confidence_bound(mean, std, kappa)
    raise ValueError(f'Unknown acquisition {name!r}: use "EI" or "LCB"')


def maximize(
    score: Callable[[np.ndarray], np.ndarray],
    candidates: CandidateSpace,
    X_seen: np.ndarray,
    y_seen: np.ndarray,
    rng: np.random.Generator,
    n_random: int = 1000,
    n_starts: int = 10,
    n_neighbours: int = 40,
    n_rounds: int = 8,
    scales=(0.1, 0.003),
):
    """(points, scores) sorted by decreasing score; ``score`` maps rows to values."""
    X_random = candidates.random(n_random, rng)
    s_random = score(X_random)
    points, scores = [X_random], [s_random]
    n_best = min(len(y_seen), n_starts // 2)
    starts = [np.asarray(X_seen)[np.argsort(y_seen)[:n_best]]] if n_best else []
    starts.append(X_random[np.argsort(-s_random)[: n_starts - n_best]])
    current = np.vstack(starts)
    current_scores = score(current)
    if candidates.dim:
        for scale in np.geomspace(scales[0], scales[1], n_rounds):
            moves = np.vstack([candidates.neighbours(x, n_neighbours, scale, rng) for x in current])
            s_moves = score(moves)
            points.append(moves)
            scores.append(s_moves)
            per_start = s_moves.reshape(len(current), n_neighbours)
            best = per_start.argmax(1)
            better = per_start[np.arange(len(current)), best] > current_scores
            rows = np.flatnonzero(better)
            current[rows] = moves.reshape(len(current), n_neighbours, -1)[rows, best[rows]]
            current_scores[rows] = per_start[rows, best[rows]]
    points, scores = np.vstack(points), np.concatenate(scores)
    order = np.argsort(-scores, kind="stable")
    return points[order], scores[order]
