"""Search spaces of Labwatch (or any named config) seen through the runs they produced.

A run belongs to a search space when Labwatch marked it (``info.labwatch.name``), or when
the space's name is among its named configs (``meta.named_configs``, or the ``with``
arguments in ``meta.options.UPDATE``). The cost of a run is its result, or
``result["optimization_target"]`` (Labwatch minimises it). Definitions come from Labwatch's
own storage (``labwatch.backends``), when Labwatch is installed and kept them there.
"""

from __future__ import annotations

import datetime as _dt

from sacredboard.analysis import stats, varying_config_keys

__all__ = ("named_configs_of", "cost_of", "list_spaces", "space_report")


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
    return {
        "name": name,
        "definition": definition,
        "optimizer": optimizer,
        "total": len(runs),
        "counts": counts,
        "curve": curve,
        "cost": stats([cost_of(r) for r in completed]),
        "parameters": params,
        "top": [
            {
                "id": str(r["_id"]),
                "cost": cost_of(r),
                "config": {p: _get(r.get("config") or {}, p) for p in params},
            }
            for r in completed[:top]
        ],
    }


def _get(config, dotted):
    cur = config
    for part in dotted.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur
