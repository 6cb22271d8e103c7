"""Downsampling a metric to at most N points that keeps its extremes.

The points between the first and the last are cut into ``(N - 2) // 2`` buckets of equal
length; of each bucket the smallest and the largest value are kept (in their order), so the
global minimum and maximum, the first and the last point always survive and a plot of the
result has the same envelope as a plot of everything. Uses numpy when the program has
already imported it (1,000,000 points take a few milliseconds), else plain Python: for
plain ``float`` or ``int`` values (a list or an ``array``) each bucket is a slice whose
extremes ``min``/``max`` find in C (1,000,000 points in some tens of milliseconds).
"""

from __future__ import annotations

import math
import sys
from array import array

__all__ = ("downsample_indices", "downsample")


def downsample_indices(values, max_points: int) -> list:
    """Sorted indices of at most ``max_points`` points of ``values`` (see the module doc)."""
    if max_points is None:
        return list(range(len(values)))
    max_points = int(max_points)
    if max_points < 1:
        raise ValueError(f"max_points must be at least 1, not {max_points}")
    n = len(values)
    if n <= max_points:
        return list(range(n))
    if max_points == 1:
        return [0]
    buckets = (max_points - 2) // 2
    if buckets == 0:
        return [0, n - 1]
    np = sys.modules.get("numpy")  # never imported here just for this
    if np is not None:
        try:
            arr = np.asarray(values, dtype=float)
        except (TypeError, ValueError):
            arr = None
        if arr is not None and arr.ndim == 1:
            return _numpy_indices(np, arr, buckets)
    return _python_indices(values, buckets)


def _numpy_indices(np, arr, buckets: int) -> list:
    n = len(arr)
    inner = arr[1:-1]
    m = len(inner)
    size = -(-m // buckets)  # ceil
    buckets = -(-m // size)  # buckets actually used
    pad = buckets * size - m
    # NaN never wins a bucket: it counts as +inf for the minimum and -inf for the maximum
    low = np.where(np.isnan(inner), np.inf, inner)
    high = np.where(np.isnan(inner), -np.inf, inner)
    if pad:
        low = np.concatenate([low, np.full(pad, np.inf)])
        high = np.concatenate([high, np.full(pad, -np.inf)])
    offsets = np.arange(buckets) * size + 1
    mins = low.reshape(buckets, size).argmin(axis=1) + offsets
    maxs = high.reshape(buckets, size).argmax(axis=1) + offsets
    keep = np.unique(np.concatenate([[0, n - 1], mins, maxs]))
    keep = keep[keep < n - 1].tolist() + [n - 1]  # padding can point past the interior
    return sorted(set(keep))


def _number(v):
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def _python_indices(values, buckets: int) -> list:
    n = len(values)
    m = n - 2
    size = -(-m // buckets)
    if isinstance(values, array) and values.typecode in "bBhHiIlLqQfd":
        return _plain_indices(values, size)
    if isinstance(values, (list, tuple)) and {int, float}.issuperset(map(type, values)):
        return _plain_indices(values, size)
    keep = {0, n - 1}
    numbers = [_number(v) for v in values]
    for start in range(1, n - 1, size):
        stop = min(start + size, n - 1)
        lo = hi = None
        for i in range(start, stop):
            x = numbers[i]
            if x is None:
                continue
            if lo is None or x < numbers[lo]:
                lo = i
            if hi is None or x > numbers[hi]:
                hi = i
        if lo is None:  # nothing numeric in this bucket: keep its first point
            keep.add(start)
        else:
            keep.add(lo)
            keep.add(hi)
    return sorted(keep)


def _plain_indices(values, size: int) -> list:
    """``_python_indices`` for values that are all floats or ints, a slice at a time.

    ``min``/``max`` return the first of equal extremes and ``index`` finds the first equal
    item, so the same points are kept as by the loop above. Every comparison with NaN is
    false, so ``min``/``max`` pass over a NaN, unless it is the first item of the slice.
    """
    n = len(values)
    keep = {0, n - 1}
    for start in range(1, n - 1, size):
        chunk = values[start : start + size if start + size < n else n - 1]
        lo = min(chunk)
        hi = max(chunk)
        if lo != lo or hi != hi:  # the slice starts with NaN: leave the NaNs out
            numbers = [x for x in chunk if x == x]
            if not numbers:  # nothing numeric in this bucket: keep its first point
                keep.add(start)
                continue
            lo = min(numbers)
            hi = max(numbers)
        keep.add(start + chunk.index(lo))
        keep.add(start + chunk.index(hi))
    return sorted(keep)


def downsample(metric: dict, max_points: int) -> dict:
    """``{"steps", "timestamps", "values"}`` reduced to at most ``max_points`` points."""
    values = metric["values"]
    if max_points is None or len(values) <= max_points:
        return metric
    idx = downsample_indices(values, max_points)
    return {key: _take(seq, idx) for key, seq in metric.items()}


def _take(seq, idx):
    pick = getattr(seq, "pick", None)  # a column that reads just these (FileStore)
    if pick is not None:
        return pick(idx)
    if not isinstance(seq, (list, tuple)):  # numpy array
        try:
            return seq[idx].tolist()
        except (TypeError, IndexError, AttributeError):
            pass
    return [seq[i] for i in idx]
