"""Indented JSON, written fast and atomically, for the observers that store files.

``dumps(obj)`` returns exactly ``json.dumps(obj, sort_keys=True, indent=2)``. The standard
library only uses its C encoder when ``indent`` is None, so a big ``info`` or metric list
would go through the slow pure-Python encoder. Here every container whose children are all
scalars is encoded by the C encoder in one call, with the item separator set to
``",\\n" + indentation``: JSON strings never contain a raw newline, so the output is the
same byte for byte.

``write_atomic(path, text)`` writes a temp file in the same directory and renames it over
``path``, so a reader sees the old file or the new one, never half of one.
"""

import datetime as _dt
import json
import os
import threading
import time
from bisect import bisect_left
from itertools import repeat
from operator import sub

_encoders = {}


_NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def _float(x):
    text = float.__repr__(x)
    return text if text[-1] < "a" else _NON_FINITE[text]  # finite reprs end in a digit


# how the standard encoder writes each scalar type (ensure_ascii, allow_nan)
_SCALAR_ENC = {
    str: json.encoder.encode_basestring_ascii,
    int: int.__repr__,
    float: _float,
    bool: lambda b: "true" if b else "false",
    type(None): lambda _: "null",
}
_SCALARS = frozenset(_SCALAR_ENC)


def _default(obj):
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def _make_c_encoder(sep):
    """The C encoder object the standard library builds anew on every ``dumps`` call."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return None
    try:
        enc = make(
            None, _default, json.encoder.encode_basestring_ascii, None, ": ", sep, True, False, True
        )
        probe = {"b": [1, 2.5], "a": None}
        if "".join(enc(probe, 0)) != json.dumps(probe, sort_keys=True, separators=(sep, ": ")):
            return None
    except Exception:  # a different interpreter: use the public API
        return None
    return lambda obj: "".join(enc(obj, 0))


def _scalar_encoder(level):
    """Encodes a container of scalars with its items separated for indentation ``level``."""
    enc = _encoders.get(level)
    if enc is None:
        sep = ",\n" + "  " * level
        enc = _make_c_encoder(sep)
        if enc is None:
            enc = json.JSONEncoder(sort_keys=True, separators=(sep, ": ")).encode
        _encoders[level] = enc
    return enc


quote = json.encoder.encode_basestring_ascii


def all_scalars(values) -> bool:
    return _SCALARS.issuperset(map(type, values))


class NotPlain(Exception):
    """Raised by ``dumps_plain`` for data that ``flatten`` would change."""


def _check_plain(obj, seen):
    """Raise NotPlain unless ``obj`` (a dict or list) is plain JSON for jsonpickle.

    Plain: exact dicts with str keys that do not look like jsonpickle tags, and no container
    reached twice (jsonpickle would write a ``py/id`` reference for the second one).
    """
    if id(obj) in seen:
        raise NotPlain
    seen.add(id(obj))
    if type(obj) is dict and obj:
        if not _STR_ONLY.issuperset(map(type, obj)):
            raise NotPlain
        keys = "\0" + "\0".join(obj)
        if "\0py/" in keys or "\0json://" in keys:
            raise NotPlain


_STR_ONLY = frozenset({str})


def is_plain(obj) -> bool:
    """Whether ``flatten(obj)`` would give ``obj`` back unchanged."""
    try:
        _walk_plain(obj, set())
    except NotPlain:
        return False
    return True


def _walk_plain(obj, seen):
    kind = type(obj)
    if kind in _SCALARS:
        return
    if kind is not dict and kind is not list:
        raise NotPlain
    _check_plain(obj, seen)
    values = obj.values() if kind is dict else obj
    if not all_scalars(values):
        for v in values:
            _walk_plain(v, seen)


def encode_items(items, level, seen=None):
    """The items of a list, one per line at ``level``, without the brackets ("" if empty)."""
    if not items:
        return ""
    if all_scalars(items):
        return _scalar_encoder(level)(items)[1:-1]
    return (",\n" + "  " * level).join([_encode(x, level, seen) for x in items])


def _encode(obj, level, seen):
    kind = type(obj)
    if kind in _SCALARS:
        return _SCALAR_ENC[kind](obj)
    if kind is dict or kind is list:
        if seen is not None:
            _check_plain(obj, seen)
        if not obj:
            return "{}" if kind is dict else "[]"
        inner = "  " * (level + 1)
        values = obj.values() if kind is dict else obj
        if all_scalars(values):
            body = _scalar_encoder(level + 1)(obj)[1:-1]
        elif kind is list:
            body = encode_items(obj, level + 1, seen)
        elif _STR_ONLY.issuperset(map(type, obj)):
            parts = []
            for k in sorted(obj):
                v = obj[k]
                scalar = _SCALAR_ENC.get(type(v))  # inline: most values are scalars
                parts.append(
                    quote(k) + ": " + (_encode(v, level + 1, seen) if scalar is None else scalar(v))
                )
            body = (",\n" + inner).join(parts)
        else:  # non-str keys: let the standard encoder convert (or reject) them
            return _stdlib(obj, level)
        if kind is dict:
            return "{\n" + inner + body + "\n" + "  " * level + "}"
        return "[\n" + inner + body + "\n" + "  " * level + "]"
    if seen is not None:
        raise NotPlain
    return _stdlib(obj, level)


def _stdlib(obj, level):
    # Newlines in indented JSON only come from indentation, so shifting is safe.
    return json.dumps(obj, sort_keys=True, indent=2).replace("\n", "\n" + "  " * level)


def dumps(obj) -> str:
    """Same as ``json.dumps(obj, sort_keys=True, indent=2)``, but much faster on big data."""
    return _encode(obj, 0, None)


def dumps_plain(obj) -> str:
    """``dumps(obj)`` for data that ``flatten`` leaves unchanged; else raises NotPlain.

    Checking while encoding saves a second walk over big data.
    """
    return _encode(obj, 0, set())


def dumps_plain_at(obj, level: int, seen: set) -> str:
    """``dumps_plain`` of a value nested at ``level``; ``seen`` collects its containers."""
    return _encode(obj, level, seen)


def check_plain_container(obj, seen: set) -> None:
    """Raise NotPlain unless the dict or list ``obj`` itself is plain (see _check_plain)."""
    _check_plain(obj, seen)


# ---------------------------------------------------------------- timestamps
_ONE_HOUR = _dt.timedelta(hours=1)
_TEN_HOURS = _dt.timedelta(hours=10)
_ELEVEN_HOURS = _dt.timedelta(hours=11)


def _hour_start(t):
    return t.replace(minute=0, second=0, microsecond=0)


def isoformat_items(timestamps, level):
    """Like ``encode_items([t.isoformat() for t in timestamps], level)``, about 2x faster.

    ``str(timedelta)`` is much cheaper than ``datetime.isoformat`` and prints the time of day
    the same way (``H:MM:SS`` plus ``.ffffff`` unless the microseconds are 0). Relative to
    10 hours before the start of its hour, a timestamp prints as ``10:MM:SS[.ffffff]``; the
    ``10`` is then replaced by the real date and hour, one same-hour group at a time.
    """
    if not timestamps:
        return ""
    first = timestamps[0]
    if (
        type(first) is not _dt.datetime
        or first.tzinfo is not None
        or set(map(type, timestamps)) != {_dt.datetime}
    ):
        return _slow_isoformat_items(timestamps, level)
    sep = '",\n' + "  " * level + '"'
    parts = []
    start, n = 0, len(timestamps)
    try:
        while start < n:
            hour = _hour_start(timestamps[start])
            # usually the whole rest lies in this hour; else cut where the next hour starts
            # (bisect assumes sorted input, which the range check below verifies)
            end = n
            for attempt in range(2):
                deltas = list(map(sub, timestamps[start:end], repeat(hour - _TEN_HOURS)))
                if min(deltas) >= _TEN_HOURS and max(deltas) < _ELEVEN_HOURS:
                    break
                if attempt == 1:
                    return _slow_isoformat_items(timestamps, level)
                end = bisect_left(timestamps, hour + _ONE_HOUR, start, n)
            parts.append(_hour_group(hour, deltas, sep))
            start = end
    except (TypeError, OverflowError):  # naive and aware mixed; dates near year 1
        return _slow_isoformat_items(timestamps, level)
    return sep[1:-1].join(parts)


def _hour_group(hour, deltas, sep):
    text = '"' + sep.join(map(str, deltas)) + '"'
    return text.replace('"10:', '"' + hour.isoformat()[:13] + ":")


def _slow_isoformat_items(timestamps, level):
    return encode_items(
        [t.isoformat() if hasattr(t, "isoformat") else t for t in timestamps], level
    )


# ---------------------------------------------------------------- files
def write_atomic(path, text) -> os.stat_result:
    """Replace the file at ``path`` with ``text`` (a str or a list of str) in one step.

    Returns the ``os.stat`` of the new file as written (taken before the rename, so that
    a change by someone else right after the rename is not mistaken for this write).
    """
    path = os.fspath(path)
    directory, name = os.path.split(path)
    tmp = os.path.join(directory, f".{name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        if isinstance(text, str):
            f.write(text)
        else:
            f.writelines(text)
        f.flush()
        st = os.fstat(f.fileno())
    for attempt in range(10):
        try:
            os.replace(tmp, path)
            return st
        except PermissionError:  # Windows: a reader holds the target open for a moment
            if attempt == 9:
                raise
            time.sleep(0.01)
