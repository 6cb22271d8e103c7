"""Downsampling keeps at most N points, the first and last, and each bucket's extremes."""

import math
import random
import sys

import pytest

from sacred.store import downsample as ds


def _series(n, seed, nan_share=0.0):
    rnd = random.Random(seed)
    values = [rnd.gauss(0, 1) for _ in range(n)]
    for i in range(n):
        if rnd.random() < nan_share:
            values[i] = float("nan")
    return values


def _check(values, idx, max_points):
    n = len(values)
    assert len(idx) <= max_points
    assert idx == sorted(set(idx))
    if n:
        assert idx[0] == 0
        assert idx[-1] == (n - 1 if max_points > 1 else 0)
    numbers = [(v, i) for i, v in enumerate(values) if not math.isnan(v)]
    if numbers and max_points >= 4:
        lo = min(numbers)[0]
        hi = max(numbers)[0]
        kept = [values[i] for i in idx]
        assert lo in kept and hi in kept


@pytest.mark.parametrize("n", [0, 1, 2, 3, 10, 11, 999, 1000, 1001, 12345])
@pytest.mark.parametrize("max_points", [1, 2, 3, 4, 5, 10, 100, 1000])
def test_properties(n, max_points):
    values = _series(n, seed=n * 31 + max_points)
    idx = ds.downsample_indices(values, max_points)
    _check(values, idx, max_points)
    if n <= max_points:
        assert idx == list(range(n))


def test_every_bucket_keeps_its_min_and_max():
    values = _series(10_000, seed=3)
    max_points = 102  # 50 buckets of 200 interior points (9998 / 50 -> 200)
    idx = set(ds.downsample_indices(values, max_points))
    size = math.ceil(9998 / 50)
    for start in range(1, 9999, size):
        bucket = range(start, min(start + size, 9999))
        assert min(bucket, key=values.__getitem__) in idx
        assert max(bucket, key=values.__getitem__) in idx


@pytest.mark.parametrize("nan_share", [0.0, 0.1, 0.9, 1.0])
def test_numpy_and_pure_python_agree(nan_share):
    pytest.importorskip("numpy")
    values = _series(5003, seed=7, nan_share=nan_share)
    for max_points in (3, 10, 64, 999):
        with_numpy = ds.downsample_indices(values, max_points)
        buckets = (max_points - 2) // 2
        pure = ds._python_indices(values, buckets) if buckets else [0, 5002]
        assert with_numpy == pure
        _check(values, with_numpy, max_points)


def test_pure_python_when_numpy_is_missing(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_numpy(name, *args, **kwargs):
        if name == "numpy":
            raise ImportError("no numpy here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_numpy)
    values = _series(3000, seed=11)
    idx = ds.downsample_indices(values, 100)
    _check(values, idx, 100)


def test_values_that_are_no_numbers():
    values = [1, "a", None, 5, {"x": 1}, -3, 2, "b", 7, 0]
    idx = ds.downsample_indices(values, 6)
    assert len(idx) <= 6 and idx[0] == 0 and idx[-1] == 9
    assert 8 in idx and 5 in idx  # 7 is the max, -3 the min


def test_downsample_metric_dict():
    metric = {
        "steps": list(range(10)),
        "timestamps": [f"t{i}" for i in range(10)],
        "values": [0, 5, 1, 1, 1, -5, 1, 1, 1, 2],
    }
    small = ds.downsample(metric, 4)
    assert small == {
        "steps": [0, 1, 5, 9],
        "timestamps": ["t0", "t1", "t5", "t9"],
        "values": [0, 5, -5, 2],
    }
    assert ds.downsample(metric, None) is metric
    assert ds.downsample(metric, 10) is metric
    with pytest.raises(ValueError, match="max_points must be at least 1, not 0"):
        ds.downsample(metric, 0)


def test_a_million_points():  # the timing is in bench/bench_store.py
    np = pytest.importorskip("numpy")
    values = np.random.default_rng(0).normal(size=1_000_000)
    idx = ds.downsample_indices(values, 2000)
    assert len(idx) == 2000
    assert int(values.argmin()) in idx and int(values.argmax()) in idx


def _reference(values, max_points):
    """The rule of the module docstring, point by point (NaN and no-numbers never win)."""
    n = len(values)
    if n <= max_points:
        return list(range(n))
    buckets = (max_points - 2) // 2
    size = math.ceil((n - 2) / buckets)
    keep = {0, n - 1}
    for start in range(1, n - 1, size):
        bucket = [
            i
            for i in range(start, min(start + size, n - 1))
            if isinstance(values[i], (int, float)) and values[i] == values[i]
        ]
        if not bucket:
            keep.add(start)
            continue
        keep.add(min(bucket, key=lambda i: (values[i], i)))
        keep.add(min(bucket, key=lambda i: (-values[i], i)))
    return sorted(keep)


@pytest.mark.parametrize("kind", ["list", "array", "ints", "mixed"])
@pytest.mark.parametrize("nan_share", [0.0, 0.3, 1.0])
def test_pure_python_slices_keep_the_same_points_as_the_rule(monkeypatch, kind, nan_share):
    from array import array

    monkeypatch.delitem(sys.modules, "numpy", raising=False)  # numpy is only used if imported
    rnd = random.Random(5)
    values = _series(4001, seed=9, nan_share=nan_share)
    if kind == "ints":
        values = [rnd.randrange(-5, 5) for _ in values]  # many ties: the first one wins
    elif kind == "mixed":
        values = [int(v * 3) if i % 3 and v == v else v for i, v in enumerate(values)]
    values[1] = values[101] = float("nan") if kind != "ints" else 0  # NaN first in a bucket
    seq = array("q" if kind == "ints" else "d", values) if kind in ("array", "ints") else values
    for max_points in (4, 22, 100, 1000):
        assert ds.downsample_indices(seq, max_points) == _reference(values, max_points)


def test_downsample_reads_only_the_kept_points_of_a_column():
    class Column(list):
        picked = None

        def pick(self, idx):
            Column.picked = list(idx)
            return [self[i] for i in idx]

    metric = {
        "steps": Column(range(10)),
        "timestamps": list("abcdefghij"),
        "values": [0, 5, 1, 1, 1, -5, 1, 1, 1, 2],
    }
    small = ds.downsample(metric, 4)
    assert small["steps"] == [0, 1, 5, 9] and Column.picked == [0, 1, 5, 9]
    assert small["timestamps"] == ["a", "b", "f", "j"]
