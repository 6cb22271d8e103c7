"""Search spaces of Labwatch (or any named config) seen through the runs they produced.

A run belongs to a search space when Labwatch marked it (``info.labwatch.name``), or when
the space's name is among its named configs (``meta.named_configs``, or the ``with``
arguments in ``meta.options.UPDATE``). The cost of a run is its result, or
``result["optimization_target"]`` (Labwatch minimises it). Definitions come from Labwatch's
own storage (``labwatch.backends``), when Labwatch is installed and kept them there.

Parameters are named by their paths in the config (``lr``, ``net.layers``, ``x[0]``). The
report has what the search-space page draws: the best-so-far curve (with ``log_scale`` when
positive costs span two decades or more), every completed run's cost and parameter values
(``points``: cost against each parameter, parallel coordinates) and how much of the cost's
variance each parameter explains on its own (``importance``, see ``main_effects``).
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import re

from sacredboard.analysis import stats, varying_config_keys

__all__ = ("named_configs_of", "cost_of", "list_spaces", "space_report", "main_effects")

MAX_POINTS = 5000  # completed runs sent for the scatter and parallel-coordinates plots


def named_configs_of(record: dict) -> list:
    """Names of the search spaces (or named configs) a run was started with."""
    for part in ("info", "meta"):
        mark = (record.get(part) or {}).get("labwatch")
        if isinstance(mark, dict) and isinstance(mark.get("name"), str):
            return [mark["name"]]
    meta = record.get("meta") or {}
    names = meta.get("named_configs")
    if isinstance(names, list) and names:
        return [str(n) for n in names]
    update = (meta.get("options") or {}).get("UPDATE")
    if isinstance(update, list):
        return [u for u in update if isinstance(u, str) and "=" not in u]
    return []


def cost_of(record: dict):
    result = record.get("result")
    if isinstance(result, dict):
        result = result.get("optimization_target")
    if isinstance(result, bool) or not isinstance(result, (int, float)):
        return None
    return float(result) if result == result else None


def list_spaces(records, definitions=None) -> list:
    """``[{"name", "runs", "defined"}]`` for every space defined or used by some run."""
    counts: dict = {name: 0 for name in definitions or {}}
    for r in records:
        for name in named_configs_of(r):
            counts[name] = counts.get(name, 0) + 1
    return [
        {"name": n, "runs": c, "defined": n in (definitions or {})}
        for n, c in sorted(counts.items())
    ]


def labwatch_backend(location):
    """Labwatch's backend for a store location, or None (no Labwatch, unknown location)."""
    if location is None:
        return None
    try:
        from labwatch.backends import backend_for
    except ImportError:
        return None
    try:
        return backend_for(location)
    except (ValueError, TypeError, OSError, ImportError):
        return None


def load_definitions(backend) -> dict:
    """``{name: definition}`` as Labwatch stored them in ``backend`` (see labwatch_backend).

    The newest definition of a name wins; ``versions`` says how many there are. Empty when
    there is no backend or it keeps nothing.
    """
    if backend is None:
        return {}
    try:
        docs = backend.load_search_spaces()
    except Exception:  # noqa: BLE001 (e.g. a database we may not write the table into)
        return {}
    by_name: dict = {}
    for doc in docs:
        name = doc.get("name")
        if not isinstance(name, str):
            continue
        by_name.setdefault(name, []).append(doc)
    out = {}
    for name, versions in by_name.items():
        versions.sort(key=lambda d: str(d.get("created", "")))
        latest = dict(versions[-1])
        latest["versions"] = len(versions)
        out[name] = latest
    return out


def _when(r):
    t = r.get("start_time") or r.get("queue_time")
    return t if isinstance(t, _dt.datetime) else _dt.datetime.min


def space_report(records, name: str, live_state, definition=None, top: int = 10) -> dict:
    """Counts by state, the best-so-far curve, the top runs and the parameters of a space."""
    runs = sorted((r for r in records if name in named_configs_of(r)), key=_when)
    counts: dict = {}
    for r in runs:
        s = live_state(r)
        counts[s] = counts.get(s, 0) + 1
    curve = []
    best = None
    for i, r in enumerate(runs):
        c = cost_of(r) if r.get("status") == "COMPLETED" else None
        if c is None:
            continue
        if best is None or c < best:
            best = c
        curve.append({"index": i + 1, "run_id": str(r["_id"]), "cost": c, "best": best})
    completed = [r for r in runs if r.get("status") == "COMPLETED" and cost_of(r) is not None]
    completed.sort(key=cost_of)
    defined = (definition or {}).get("parameters")
    if isinstance(defined, dict) and defined:
        params = sorted(defined)
    else:
        params = varying_config_keys(runs, limit=50)
    optimizer = None
    for r in reversed(runs):
        lw = (r.get("info") or {}).get("labwatch")
        if isinstance(lw, dict) and lw.get("optimizer"):
            optimizer = lw["optimizer"]
            break
    if optimizer is None and isinstance((definition or {}).get("optimizer"), str):
        optimizer = definition["optimizer"]
    costs = [cost_of(r) for r in completed]
    log_scale = bool(costs) and min(costs) > 0 and max(costs) >= 100 * min(costs)
    by_time = sorted(completed, key=_when)[-MAX_POINTS:]
    points = [
        {
            "id": str(r["_id"]),
            "cost": cost_of(r),
            "values": {p: _get(r.get("config") or {}, p) for p in params},
        }
        for r in by_time
    ]
    return {
        "name": name,
        "definition": definition,
        "optimizer": optimizer,
        "total": len(runs),
        "counts": counts,
        "curve": curve,
        "log_scale": log_scale,
        "cost": stats(costs),
        "parameters": params,
        "top": [
            {
                "id": str(r["_id"]),
                "cost": cost_of(r),
                "config": {p: _get(r.get("config") or {}, p) for p in params},
            }
            for r in completed[:top]
        ],
        "points": points,
        "importance": main_effects(points, params, log=log_scale),
    }


_PART = re.compile(r"\[(-?\d+)\]|([^.\[\]]+)")


def _get(config, path):
    """The value at ``path`` (``a.b``, ``x[0]``, ``layers[1].units``), or None."""
    cur = config
    for index, key in _PART.findall(path):
        if key:
            if not isinstance(cur, dict) or key not in cur:
                return None
            cur = cur[key]
        else:
            i = int(index)
            if not isinstance(cur, (list, tuple)) or not -len(cur) <= i < len(cur):
                return None
            cur = cur[i]
    return cur


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def main_effects(points, params, log: bool = False, max_bins: int = 10) -> list:
    """The share of the cost's variance each parameter explains alone, best first.

    A first-order (fANOVA-style main effect) estimate without a model: the runs are
    grouped by the parameter (numbers in up to ``max_bins`` bins of equal counts, about
    sqrt(runs), other values by value) and the variance of the group means is compared
    with the variance of the costs (log10 costs with ``log``), adjusted for the number of
    groups like an adjusted R^2, so a parameter unrelated to the cost scores near 0.
    ``[{"parameter", "explained", "groups", "runs"}]``; parameters seen with fewer than
    four runs, or a single value, are left out.
    """
    out = []
    for param in params:
        pairs = []
        for p in points:
            v, c = p["values"].get(param), p["cost"]
            if v is None or c is None or (log and c <= 0):
                continue
            pairs.append((v, math.log10(c) if log else c))
        if len(pairs) < 4:
            continue
        groups = _groups(pairs, max_bins)
        n, k = len(pairs), len(groups)
        if k < 2 or n <= k:
            continue
        mean = sum(c for _, c in pairs) / n
        total = sum((c - mean) ** 2 for _, c in pairs)
        if total <= 0:
            continue
        between = sum(len(g) * (sum(g) / len(g) - mean) ** 2 for g in groups)
        explained = 1 - (1 - between / total) * (n - 1) / (n - k)
        out.append(
            {
                "parameter": param,
                "explained": round(min(1.0, max(0.0, explained)), 4),
                "groups": k,
                "runs": n,
            }
        )
    out.sort(key=lambda e: -e["explained"])
    return out


def _groups(pairs, max_bins):
    """Costs grouped by value: numbers in bins of about equal counts (equal values together)."""
    if all(_is_number(v) for v, _ in pairs):
        pairs = sorted(pairs, key=lambda vc: vc[0])
        bins = max(2, min(max_bins, round(math.sqrt(len(pairs)))))
        size = len(pairs) / bins
        groups, current, last = [], [], None
        for i, (v, c) in enumerate(pairs):
            if current and v != last and i >= size * (len(groups) + 1):
                groups.append(current)
                current = []
            current.append(c)
            last = v
        groups.append(current)
        return groups
    by_value: dict = {}
    for v, c in pairs:
        by_value.setdefault(json.dumps(v, sort_keys=True, default=str), []).append(c)
    return list(by_value.values())
