"""Turning run records into JSON: dates as ISO text, NaN as null, anything odd as text."""

from __future__ import annotations

import datetime as _dt
import json
import math

__all__ = ("plain", "dumps", "iso")


def iso(value) -> str:
    """A naive-UTC datetime as ``2017-03-30T12:38:49.470000Z``."""
    if value.tzinfo is not None:
        value = value.astimezone(_dt.timezone.utc).replace(tzinfo=None)
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def plain(obj):
    """A structure that ``json.dumps`` accepts, with NaN and infinities as None."""
    t = type(obj)
    if t is str or t is int or t is bool or obj is None:
        return obj
    if t is float:
        return obj if math.isfinite(obj) else None
    if t is dict:
        return {str(k): plain(v) for k, v in obj.items()}
    if t is list or t is tuple:
        return [plain(v) for v in obj]
    if isinstance(obj, _dt.datetime):
        return iso(obj)
    if isinstance(obj, _dt.date):
        return obj.isoformat()
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalars
        try:
            return plain(obj.item())
        except (TypeError, ValueError):
            pass
    if hasattr(obj, "tolist"):
        return plain(obj.tolist())
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [plain(v) for v in obj]
    if isinstance(obj, bytes):
        return obj.decode("utf-8", errors="replace")
    if isinstance(obj, float):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, int):
        return int(obj)
    return str(obj)


def dumps(obj, **kwargs) -> str:
    return json.dumps(plain(obj), allow_nan=False, **kwargs)
