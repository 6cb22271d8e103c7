"""Turning run records into JSON: dates as ISO text, NaN as null, anything odd as text.

``extended`` is the original Sacredboard's encoding of a whole run document (bson's
``json_util`` of pymongo 3): dates as ``{"$date": <ms since 1970>}``, ObjectIds as
``{"$oid": "<hex>"}``, bytes as ``{"$binary": <base64>, "$type": "00"}``.
"""

from __future__ import annotations

import base64
import datetime as _dt
import json
import math

__all__ = ("plain", "dumps", "iso", "extended", "epoch_ms")

_EPOCH = _dt.datetime(1970, 1, 1)


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


def epoch_ms(value: _dt.datetime) -> int:
    """Milliseconds since 1970 of a datetime (naive ones are UTC), as bson counts them."""
    if value.tzinfo is not None:
        value = value.astimezone(_dt.timezone.utc).replace(tzinfo=None)
    delta = value - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1000 + delta.microseconds // 1000


def extended(obj):
    """``plain(obj)``, but dates, ObjectIds and bytes in MongoDB's (legacy) extended JSON."""
    t = type(obj)
    if t is str or t is int or t is bool or obj is None:
        return obj
    if t is float:
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): extended(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [extended(v) for v in obj]
    if isinstance(obj, _dt.datetime):
        return {"$date": epoch_ms(obj)}
    if t.__name__ == "ObjectId":
        return {"$oid": str(obj)}
    if isinstance(obj, (bytes, bytearray)):
        return {"$binary": base64.b64encode(bytes(obj)).decode("ascii"), "$type": "00"}
    return plain(obj)
