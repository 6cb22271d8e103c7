"""The metrics part of ``FileStore``: reading ``metrics.json``, its binary sidecar and caches.

Long metrics are read from the binary copy the observer keeps in ``<run>/.sacred_metrics/``
when it matches metrics.json (see ``_metric_sidecar``): no JSON is parsed then, and steps
and timestamps are only read for the points returned. Without one, metric files of more
than a million bytes are cached as numpy arrays (when numpy is installed) in the store's
cache folder, in the user's cache directory (see ``cache_dir``, which also bounds their
total size), so reading a long metric again does not parse its JSON again.
"""

from __future__ import annotations

import os
from array import array

from sacred.observers.file_storage import _metric_sidecar, cache_dir
from sacred.observers.file_storage._run_index import CorruptIndex
from sacred.observers.file_storage.layout import (
    flat_stats,
    mtime_size,
    read_json,
    remove_file,
)
from sacred.store.base import TERMINAL_STATUSES, StoreError, metric_summary

__all__ = ("FileStoreMetrics", "summarize")

_BIG_METRICS = 1 << 20  # metrics.json of at least this many bytes is cached as numpy arrays
_PREFIX = "metrics_"  # of the names of those caches


class FileStoreMetrics:
    """Metric reading of ``FileStore`` (a mixin: it uses the store's index and run names)."""

    def _load_metrics(self, name, cache: bool = True, names=None) -> dict:
        """The metrics of a run (at least those in ``names``, default all).

        Long ones come from the observer's binary sidecar when it matches metrics.json (see
        _metric_sidecar), else from metrics.json; those of finished runs are then cached as
        numpy arrays.
        """
        path = os.path.join(self._run_dir(name), "metrics.json")
        st = mtime_size(path)
        if st is None:
            return {}
        if st[1] >= _metric_sidecar.MIN_SIZE:
            fast = _metric_sidecar.read(self._run_dir(name), st[1], st[0], names)
            if fast is not None:
                return fast
        if st[1] >= _BIG_METRICS:
            cached = self._load_metrics_cache(name, st)
            if cached is not None:
                return cached
        metrics = read_json(path)
        if not isinstance(metrics, dict):
            raise ValueError("metrics.json is not an object")
        if st[1] >= _BIG_METRICS and cache:
            self._save_metrics_cache(name, st, metrics)
        return metrics

    def _cache_path(self, name):
        """Where the numpy copy of a run's metrics is kept (None: nowhere)."""
        folder = self.cache_folder
        return None if folder is None else os.path.join(folder, f"{_PREFIX}{name}.npz")

    def _load_metrics_cache(self, name, st):
        path = self._cache_path(name)
        if path is None or not os.path.exists(path):
            return None
        try:
            import numpy as np
        except ImportError:
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                if z["key"].tolist() != st:
                    return None
                names = z["names"].tolist()
                cache_dir.mark_used(path)  # recently used: the last to go (see cap_files)
                return {
                    n: {"steps": z[f"s{i}"], "timestamps": z[f"t{i}"], "values": z[f"v{i}"]}
                    for i, n in enumerate(names)
                }
        except (OSError, ValueError, KeyError):
            return None

    def _save_metrics_cache(self, name, st, metrics) -> None:
        target = self._cache_path(name)
        if target is None:
            return
        tmp = f"{target}.{os.getpid()}.tmp.npz"
        try:
            import numpy as np
        except ImportError:
            return
        arrays = {"key": np.array(st, dtype=np.int64), "names": np.array(list(metrics), dtype=str)}
        try:
            for i, m in enumerate(metrics.values()):
                steps, values = np.array(m["steps"]), np.array(m["values"])
                if steps.dtype.kind not in "iuf" or values.dtype.kind not in "iuf":
                    return  # not plain numbers: not worth a cache
                arrays[f"s{i}"] = steps
                arrays[f"v{i}"] = values
                arrays[f"t{i}"] = np.array(m["timestamps"], dtype="datetime64[us]")
            folder = os.path.dirname(target)
            os.makedirs(folder, mode=0o700, exist_ok=True)
            np.savez(tmp, **arrays)
            os.replace(tmp, target)
        except (OSError, ValueError, TypeError, OverflowError):
            remove_file(tmp)
            return
        cache_dir.cap_files(folder, _PREFIX)

    def _read_metrics(self, run_id, names=None) -> dict:
        name = self._name(run_id)
        try:
            entry = (self._entries or {}).get(name)
            running = entry is not None and entry["doc"].get("status") not in TERMINAL_STATUSES
            return self._load_metrics(name, cache=not running, names=names)
        except ValueError as e:
            raise StoreError(f"metrics.json of run {run_id!r} cannot be read: {e}") from None

    def metric_summaries(self, run_id) -> dict:
        name = self._name(run_id)
        index = self._index
        row = None if index is None else index.rows.get(name)
        if row is not None:  # the index has them, if metrics.json is as it was then
            st = mtime_size(os.path.join(self._run_dir(name), "metrics.json"))
            if flat_stats([st]) == index.stats[row][6:8]:
                try:
                    return index.record(row)[1]
                except CorruptIndex:
                    pass
        return {n: summarize(m["values"]) for n, m in self._read_metrics(run_id).items()}


def summarize(values) -> dict:
    """The summary of one metric's values (see ``sacred.store.base.metric_summary``), also
    of a numpy array from the cache or an ``array`` from the sidecar."""
    if hasattr(values, "dtype"):  # a numpy array from the cache
        import numpy as np

        summary = {"count": int(len(values))}
        if len(values):
            summary["first"] = values[0].item()
            summary["last"] = values[-1].item()
            finite = values[~np.isnan(values)] if values.dtype.kind == "f" else values
            if len(finite):
                summary["min"] = finite.min().item()
                summary["max"] = finite.max().item()
        return summary
    if isinstance(values, array) and len(values):  # from the sidecar: plain numbers
        total = sum(values)
        if total == total:  # no NaN in there (NaN or inf - inf would make the sum NaN)
            return {
                "count": len(values),
                "first": values[0],
                "last": values[-1],
                "min": min(values),
                "max": max(values),
            }
    return metric_summary(values)
