"""Downsampling keeps at most N points, the first and last, and each bucket's extremes."""

import math
import random

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
