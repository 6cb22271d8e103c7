"""Views over several runs: config differences, text diffs, seed groups, value tables."""

from __future__ import annotations

import difflib
import json
import math
from typing import Optional

from sacred.store.base import flatten_record
from sacred.store.downsample import downsample_indices

__all__ = (
    "config_diff",
    "text_diff",
    "group_key",
    "group_runs",
    "aggregate_metric",
    "stats",
    "varying_config_keys",
    "default_config_keys",
    "default_fields",
    "is_doc_key",
)

_ABSENT = object()


def _canon(value) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def config_diff(configs: dict) -> list:
    """Config keys (dotted) whose values are not the same in all runs.

    ``configs`` maps run id -> config. Returns ``[{"key", "values": {id: value}, "missing": [ids]}]``.
    """
    flat = {rid: flatten_record(cfg or {}) for rid, cfg in configs.items()}
    keys = sorted({k for f in flat.values() for k in f})
    rows = []
    for key in keys:
        values = {rid: f.get(key, _ABSENT) for rid, f in flat.items()}
        distinct = {_canon(v) if v is not _ABSENT else "\0absent" for v in values.values()}
        if len(distinct) > 1:
            rows.append(
                {
                    "key": key,
                    "values": {str(r): (None if v is _ABSENT else v) for r, v in values.items()},
                    "missing": [str(r) for r, v in values.items() if v is _ABSENT],
                }
            )
    return rows


def text_diff(left: str, right: str, context: Optional[int] = None) -> list:
    """A side-by-side diff: ``[{"op", "left": [[line_no, text]], "right": [...]}]``.

    ``op`` is equal, replace, delete or insert; line numbers start at 1.
    """
    a = left.splitlines()
    b = right.splitlines()
    rows = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        rows.append(
            {
                "op": op,
                "left": [[i + 1, a[i]] for i in range(i1, i2)],
                "right": [[j + 1, b[j]] for j in range(j1, j2)],
            }
        )
    return rows


def group_key(record: dict, ignore=("seed",)) -> str:
    """Runs with the same experiment name and config apart from the seed share a key."""
    config = {k: v for k, v in (record.get("config") or {}).items() if k not in ignore}
    name = (record.get("experiment") or {}).get("name")
    return _canon([name, config])


def _number(v):
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, (int, float)) and not (isinstance(v, float) and math.isnan(v)):
        return float(v)
    if isinstance(v, dict) and "optimization_target" in v:
        return _number(v["optimization_target"])
    return None


def stats(values) -> dict:
    """mean, std (population), min, max and n of the numbers among ``values``."""
    nums = [x for x in (_number(v) for v in values) if x is not None]
    if not nums:
        return {"n": 0, "mean": None, "std": None, "min": None, "max": None}
    mean = sum(nums) / len(nums)
    var = sum((x - mean) ** 2 for x in nums) / len(nums)
    return {"n": len(nums), "mean": mean, "std": math.sqrt(var), "min": min(nums), "max": max(nums)}


def group_runs(records: list, live_state) -> list:
    """Seed groups of ``records`` in order of first appearance, each with aggregates."""
    groups: dict = {}
    for r in records:
        groups.setdefault(group_key(r), []).append(r)
    out = []
    for members in groups.values():
        first = members[0]
        config = {k: v for k, v in (first.get("config") or {}).items() if k != "seed"}
        states: dict = {}
        for r in members:
            s = live_state(r)
            states[s] = states.get(s, 0) + 1
        out.append(
            {
                "experiment_name": (first.get("experiment") or {}).get("name"),
                "config": config,
                "run_ids": [str(r["_id"]) for r in members],
                "seeds": [(r.get("config") or {}).get("seed") for r in members],
                "count": len(members),
                "states": states,
                "result": stats([r.get("result") for r in members]),
            }
        )
    return out


def aggregate_metric(series: list, max_points: Optional[int] = None) -> dict:
    """Mean and spread over runs of one metric, aligned by step.

    ``series`` is a list of ``{"steps", "values"}``. Returns ``{"steps", "mean", "std", "min",
    "max", "n"}`` (lists), at most ``max_points`` long (extremes of the mean kept).
    """
    by_step: dict = {}
    for s in series:
        for step, value in zip(s["steps"], s["values"]):
            x = _number(value)
            if x is not None:
                by_step.setdefault(step, []).append(x)
    steps = sorted(by_step, key=lambda v: (isinstance(v, str), v))
    out = {"steps": [], "mean": [], "std": [], "min": [], "max": [], "n": []}
    for step in steps:
        st = stats(by_step[step])
        out["steps"].append(step)
        for key in ("mean", "std", "min", "max", "n"):
            out[key].append(st[key])
    if max_points and len(steps) > max_points:
        idx = downsample_indices(out["mean"], max_points)
        out = {k: [v[i] for i in idx] for k, v in out.items()}
    return out


def varying_config_keys(records: list, limit: int = 12) -> list:
    """Dotted config keys with scalar values that differ between the records."""
    seen: dict = {}
    for r in records:
        for key, value in flatten_record(r.get("config") or {}).items():
            if isinstance(value, (list, dict)) or key == "seed":
                continue
            seen.setdefault(key, set()).add(_canon(value))
    keys = [k for k, vals in seen.items() if len(vals) > 1]
    return sorted(keys)[:limit]


def is_doc_key(key: str) -> bool:
    """A named config's docstring (``__doc__``, or ``part.__doc__`` in a nested dict)."""
    return key == "__doc__" or key.endswith(".__doc__")


def default_config_keys(records: list, limit: int = 4) -> list:
    """The config keys a table shows by default: scalar values that differ between the
    records, those most runs have first (then those with more distinct values, then by
    name); never the seed or a docstring."""
    seen: dict = {}
    for r in records:
        for key, value in flatten_record(r.get("config") or {}).items():
            if isinstance(value, (list, dict)) or key == "seed" or is_doc_key(key):
                continue
            entry = seen.setdefault(key, [0, set()])
            entry[0] += 1
            entry[1].add(_canon(value))
    varying = [(k, n, len(vals)) for k, (n, vals) in seen.items() if len(vals) > 1]
    varying.sort(key=lambda e: (-e[1], -e[2], e[0]))
    return [k for k, _, _ in varying[:limit]]


def default_fields(records: list, summaries: dict, config_keys: int = 6) -> tuple:
    """The analysis page's fields when none are chosen, and the two to scatter.

    Fields: the config values that differ (``default_config_keys``), the last value of the
    metric most runs logged, and the result when at least half of the runs have a number
    as result. The scatter plots the first config field against the result (else the
    metric). Returns ``(fields, [x, y] or None)``.
    """
    fields = ["config." + k for k in default_config_keys(records, limit=config_keys)]
    counts: dict = {}
    for ms in summaries.values():
        for name in ms or ():
            counts[name] = counts.get(name, 0) + 1
    y = None
    if counts:
        metric = min(counts, key=lambda n: (-counts[n], n))
        y = f"metrics.{metric}.last"
        fields.append(y)
    with_result = sum(1 for r in records if _number(r.get("result")) is not None)
    if records and with_result * 2 >= len(records):
        y = "result"
        fields.append(y)
    scatter = [fields[0], y] if fields and y and fields[0] != y else None
    return fields, scatter
