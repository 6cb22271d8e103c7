"""Indented JSON, written fast and atomically, for the observers that store files.

``dumps(obj)`` returns exactly ``json.dumps(obj, sort_keys=True, indent=2)``. The standard
library only uses its C encoder when ``indent`` is None, so a big ``info`` or metric list
would go through the slow pure-Python encoder. Here every container whose children are all
scalars is encoded by the C encoder in one call, with the item separator set to
``",\\n" + indentation``: JSON strings never contain a raw newline, so the output is the
same byte for byte.

When orjson is installed (a dependency; the pure-Python path stays for platforms without
it), containers of scalars and lists of timestamps are encoded by it, about 20x faster for
floats. Its text is used only where it equals the standard library's: it differs for
non-ASCII and DEL characters (not escaped), NaN and infinities (``null``), floats below
1e-4 (``0.00001``, ``1e-7`` instead of ``1e-05``, ``1e-07``) and ints beyond 64 bits
(an error); those cases are fixed up or go the standard way (see ``_fast_scalars``).

``write_atomic(path, text)`` writes a temp file in the same directory and renames it over
``path``, so a reader sees the old file or the new one, never half of one.
"""

import datetime as _dt
import json
import os
import threading
import time
from bisect import bisect_left
from itertools import chain
from operator import attrgetter

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
    kind = type(obj)
    if kind in _SCALARS:
        return True
    try:
        if kind is not dict and kind is not list:
            raise NotPlain
        _walk_plain(obj, set(), set())
    except NotPlain:
        return False
    return True


def _walk_plain(obj, seen, local):
    """Raise NotPlain unless the dict or list ``obj`` is plain (see ``_check_plain``),
    with none of its containers in ``seen``; those met go to ``local``."""
    if id(obj) in seen:
        raise NotPlain
    _check_plain(obj, local)
    values = obj.values() if type(obj) is dict else obj
    if not _SCALARS.issuperset(map(type, values)):
        for v in values:
            kind = type(v)
            if kind is dict or kind is list:
                _walk_plain(v, seen, local)
            elif kind not in _SCALARS:
                raise NotPlain


_orjson = None  # the module once imported, False where it is missing (tests set False)


def _fast():
    global _orjson
    if _orjson is None:
        try:
            import orjson
        except ImportError:
            orjson = False
        _orjson = orjson
    return _orjson


_DIGITS = frozenset(b"0123456789")


def _fix_small_floats(out, limit=None, strings=False):
    """orjson's JSON text with its floats below 1e-4 written as ``repr`` does, or None
    if more than ``limit`` need it (the standard encoder is then cheaper).

    orjson writes ``0.0000123`` (from 1e-5) and ``1.5e-7``, repr ``1.23e-05`` and
    ``1.5e-07``: the digits are the same (both are the shortest that read back). Found
    with ``bytes.find``, which is far quicker than a regular expression here. Where the
    text may hold ``strings`` (indented JSON), a number is told from text in a string
    by what surrounds it: a space before it (or before its minus), and right after it
    a newline or a comma and a newline, which a string cannot hold.
    """

    def is_number(start, end):  # out[start:end]: a number's digits, "." and "e-"
        before = out[start - 1] if out[start - 1] != 45 else out[start - 2]  # 45: "-"
        if not strings:
            return before not in _DIGITS and before != 46  # not inside 10.00001 (46: ".")
        return before == 32 and (out[end] == 10 or (out[end] == 44 and out[end + 1] == 10))

    parts, pos = [], 0
    i = out.find(b"0.0000")
    while i != -1:
        end = i + 6
        while out[end] in _DIGITS:  # the text goes on after every number ("]", "\n")
            end += 1
        if is_number(i, end):
            parts += (out[pos:i], float.__repr__(float(out[i:end])).encode())
            pos = end
            if limit is not None and len(parts) > 2 * limit:
                return None
        i = out.find(b"0.0000", end)
    if parts:
        out = b"".join(parts) + out[pos:]
    if b"e" not in out:  # one byte: a much quicker search than for "e-"
        return out
    parts, pos = [], 0
    i = out.find(b"e-")
    while i != -1:
        start = i
        while out[start - 1] in _DIGITS or out[start - 1] == 46:
            start -= 1
        if out[i + 3] not in _DIGITS and is_number(start, i + 3):  # one exponent digit
            parts += (out[pos : i + 2], b"0")
            pos = i + 2
        i = out.find(b"e-", i + 2)
    if parts:
        out = b"".join(parts) + out[pos:]
    return out


def _fast_scalars(obj, level, kinds):
    """``_scalar_encoder(level)(obj)[1:-1]`` for a non-empty container of scalars, encoded
    by orjson; None where orjson is missing or its text would differ."""
    orjson = _fast()
    if not orjson or len(obj) <= 8 or (float in kinds and _NONE in kinds):
        return None  # below 9 items the C encoder is as fast; None and NaN: see below
    compact = type(obj) is list and str not in kinds  # then no item holds a comma
    try:
        out = orjson.dumps(obj, option=0 if compact else _INDENT_SORTED)
    except TypeError:  # ints beyond 64 bits, non-str keys
        return None
    if (str in kinds or type(obj) is dict) and (not out.isascii() or b"\x7f" in out):
        return None  # text that json.dumps would escape (in a value or a key)
    if float in kinds:
        # NaN and infinities are written as null. A one-byte search is much quicker, and
        # in a list of numbers only null has an "n"
        if (b"n" if compact else b"null") in out:
            return None
        if compact:
            out = _fix_small_floats(out, len(obj) // 16)
            if out is None:
                return None
        elif b"0.0000" in out or b"e-" in out:  # could be inside a string: go slow
            return None
    if compact:
        return memoryview(out.replace(b",", b",\n" + b"  " * level))[1:-1]
    if level != 1:
        out = out.replace(b"\n  ", b"\n" + b"  " * level)
    return memoryview(out)[2 + 2 * level : -2]  # without "[\n  " and "\n]" (or braces)


_NONE = type(None)
_INDENT_SORTED = 0x1 | 0x20  # orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS, checked in tests


def scalar_items(obj, level, kinds=None):
    """The items of a non-empty container of scalars, one per line at ``level``."""
    if kinds is None:
        kinds = set(map(type, obj.values() if type(obj) is dict else obj))
    text = _fast_scalars(obj, level, kinds)
    return _scalar_encoder(level)(obj)[1:-1] if text is None else str(text, "ascii")


def scalar_items_bytes(obj, level, kinds):
    """``scalar_items`` as ASCII bytes (or a memoryview of them), without a copy to str."""
    text = _fast_scalars(obj, level, kinds)
    return _scalar_encoder(level)(obj)[1:-1].encode("ascii") if text is None else text


def encode_items(items, level, seen=None):
    """The items of a list, one per line at ``level``, without the brackets ("" if empty)."""
    if not items:
        return ""
    kinds = set(map(type, items))
    if _SCALARS.issuperset(kinds):
        return scalar_items(items, level, kinds)
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
        kinds = set(map(type, values))
        if _SCALARS.issuperset(kinds):
            body = scalar_items(obj, level + 1, kinds)
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
    return dumps_plain_at(obj, 0, set())


def dumps_plain_at(obj, level: int, seen: set) -> str:
    """``dumps_plain`` of a value nested at ``level``; ``seen`` collects its containers."""
    kind = type(obj)
    if kind is dict or kind is list:
        text = _fast_plain(obj, level, seen)
        if text is not None:
            return text
    return _encode(obj, level, seen)


def _fast_plain(obj, level, seen):
    """``_encode(obj, level, seen)`` of a plain dict or list with containers inside, by
    orjson; None where orjson is missing, the data is not plain (the caller's ``_encode``
    then raises NotPlain) or orjson's text would differ.

    A walk in Python checks that the data is plain. orjson writes NaN and infinities
    as null, like None: where null occurs, a second walk makes sure it is None only.
    Floats below 1e-4 are fixed up in the text.
    """
    orjson = _fast()
    if not orjson or _SCALARS.issuperset(map(type, obj.values() if type(obj) is dict else obj)):
        return None  # also for no container inside: the scalar path is as quick
    local = set()
    try:
        _walk_plain(obj, seen, local)
        out = orjson.dumps(obj, option=_INDENT_SORTED)
    except (NotPlain, TypeError):  # TypeError: ints beyond 64 bits, nested too deep
        return None
    if not out.isascii() or b"\x7f" in out:
        return None  # text that json.dumps escapes
    if b"null" in out and not _all_finite(obj):
        return None
    if b"0.0000" in out or b"e-" in out:
        out = _fix_small_floats(out, strings=True)
    if level:
        out = out.replace(b"\n", b"\n" + b"  " * level)
    seen |= local
    return out.decode("ascii")


def _all_finite(obj):
    """Whether every float in the plain dict or list ``obj`` is finite."""
    values = obj.values() if type(obj) is dict else obj
    floats = [v for v in values if type(v) is float]
    total = sum(floats)
    if total - total != 0:  # NaN or infinite (or an overflowing sum: then just slower)
        return False
    return all(_all_finite(v) for v in values if type(v) is dict or type(v) is list)


def check_plain_container(obj, seen: set) -> None:
    """Raise NotPlain unless the dict or list ``obj`` itself is plain (see _check_plain)."""
    _check_plain(obj, seen)


# ---------------------------------------------------------------- timestamps
_ONE_HOUR = _dt.timedelta(hours=1)
_MINUTE_SECOND_MICRO = attrgetter("minute", "second", "microsecond")
ISO_WIDTH = 26  # len("YYYY-MM-DDTHH:MM:SS.ffffff")


def isoformat_items_fixed(timestamps, level):
    """``(text, fixed)``, both ASCII bytes (or memoryviews of them).

    ``text`` is ``encode_items([t.isoformat() for t in timestamps], level)``, made faster.

    ``fixed`` is every ISO string at the full width of ``ISO_WIDTH`` ASCII bytes (``.000000``
    written out), one after the other, when all timestamps are naive datetimes; else None.

    orjson writes naive datetimes as ``isoformat`` does. Without it, they are written a
    group at a time by a single ``%`` format with the common part in the format string:
    the date and hour, or for dense data (many points a second) everything up to the
    fraction. That is much cheaper than a call per timestamp. Then ``.000000`` is removed
    for the JSON text, as ``isoformat`` leaves it out (a ``.`` only occurs in front of the
    six fraction digits).
    """
    if not timestamps:
        return b"", b""
    first = timestamps[0]
    if (
        type(first) is not _dt.datetime
        or first.tzinfo is not None
        or set(map(type, timestamps)) != {_dt.datetime}
    ):
        return _slow_isoformat_items(timestamps, level), None
    sep = ",\n" + "  " * level
    fast = _fast_isoformat_items_fixed(timestamps, sep)
    if fast is not None:
        return fast
    try:
        texts = None
        if len(timestamps) >= _DENSE * (abs(timestamps[-1] - first).total_seconds() + 1):
            groups = list(_same_span(timestamps, _ONE_SECOND, _second_floor))
            if None not in groups:
                texts = [_format_second(g, sep) for g in groups]
        if texts is None:
            groups = list(_same_span(timestamps, _ONE_HOUR, _hour_floor))
            if None in groups:  # not sorted
                return _slow_isoformat_items(timestamps, level), _slow_fixed(timestamps)
            texts = [_format_hour(g, sep) for g in groups]
    except (TypeError, OverflowError):  # naive and aware mixed; the last hour of year 9999
        return _slow_isoformat_items(timestamps, level), None
    fixed = b"".join([t.encode("ascii").translate(None, b'",\n ') for t, _ in texts])
    # isoformat leaves out a zero fraction
    text = sep.join([t.replace('.000000"', '"') if zero else t for t, zero in texts])
    return text.encode("ascii"), fixed


def _fast_isoformat_items_fixed(timestamps, sep):
    """``isoformat_items_fixed`` by orjson for naive datetimes, else None."""
    orjson = _fast()
    if not orjson:
        return None
    out = orjson.dumps(timestamps)  # ["2026-11-28T03:14:54.123456",...], the isoformat text
    if b"+" in out or out.count(b"-") != 2 * len(timestamps):  # a timezone (or a year < 1)
        return None
    fixed = memoryview(out.replace(b'","', b""))[2:-2]
    missing = ISO_WIDTH * len(timestamps) - len(fixed)
    if missing:  # isoformat leaves out a zero fraction: write out the few there are
        if missing > 7 * 64:
            return None
        fixed = _write_out_zero_fractions(bytes(fixed))
    return memoryview(out.replace(b",", sep.encode()))[1:-1], fixed


def _write_out_zero_fractions(fixed):
    """``fixed`` (ISO strings of 26 bytes, or 19 without a fraction, one after the other)
    with every missing ``.000000`` put back.

    Byte 19 of a string with a fraction is its ".": a strided slice finds the first
    string without one, which is then extended and the search goes on after it.
    """
    parts, pos = [], 0
    while True:
        marks = fixed[pos + 19 :: ISO_WIDTH]
        start = pos + ISO_WIDTH * (len(marks) - len(marks.lstrip(b".")))  # first without
        if start >= len(fixed):
            break
        parts += (fixed[pos : start + 19], b".000000")
        pos = start + 19
    return b"".join(parts) + fixed[pos:]


_ONE_SECOND = _dt.timedelta(seconds=1)
_DENSE = 8  # points a second from which a format a second is cheaper than one an hour
# (a guess from the first and last timestamp: both ways give the same text)


def _hour_floor(t):
    return t.replace(minute=0, second=0, microsecond=0)


def _second_floor(t):
    return t.replace(microsecond=0)


def _same_span(timestamps, span, floor):
    """Consecutive runs of ``timestamps`` that each lie in one ``span`` (from ``floor`` of
    their first item), or None for one that does not (bisect assumes sorted input; min
    and max verify it, and raise TypeError for naive and aware datetimes mixed)."""
    start, n = 0, len(timestamps)
    while start < n:
        begin = floor(timestamps[start])
        end = n  # often the whole rest lies in this span; else cut where the next starts
        if not timestamps[n - 1] < begin + span:
            end = bisect_left(timestamps, begin + span, start, n)
        group = timestamps[start:end]
        if not (min(group) >= begin and max(group) < begin + span):
            yield None
            return
        yield group
        start = end


def _format_hour(group, sep):
    """(text with every fraction written out, whether a fraction is zero)"""
    item = '"' + group[0].isoformat()[:14] + '%02d:%02d.%06d"'
    values = tuple(chain.from_iterable(map(_MINUTE_SECOND_MICRO, group)))
    return sep.join([item] * len(group)) % values, 0 in values[2::3]


def _format_second(group, sep):
    item = '"' + group[0].replace(microsecond=0).isoformat() + '.%06d"'
    micros = tuple(map(_MICRO, group))
    return sep.join([item] * len(group)) % micros, 0 in micros


_MICRO = attrgetter("microsecond")


def _slow_fixed(timestamps):
    if any(map(_TZINFO, timestamps)):
        return None
    return "".join([t.isoformat(timespec="microseconds") for t in timestamps]).encode("ascii")


_TZINFO = attrgetter("tzinfo")


def _slow_isoformat_items(timestamps, level):
    return encode_items(
        [t.isoformat() if hasattr(t, "isoformat") else t for t in timestamps], level
    ).encode("ascii")


# ---------------------------------------------------------------- files
def stat_key(st) -> tuple:
    """What changes whenever a file is replaced (a new inode) or rewritten in place."""
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def file_key(path):
    """``stat_key`` of the file at ``path``, None if there is none."""
    try:
        return stat_key(os.stat(path))
    except OSError:
        return None


def write_atomic(path, text) -> os.stat_result:
    """Replace the file at ``path`` with ``text`` in one step.

    ``text`` is a str, a list of str, or a list of UTF-8 bytes-like pieces (written as
    they are, without a copy).

    Returns the ``os.stat`` of the new file as written (taken before the rename, so that
    a change by someone else right after the rename is not mistaken for this write).
    """
    path = os.fspath(path)
    directory, name = os.path.split(path)
    tmp = os.path.join(directory, f".{name}.{os.getpid()}.{threading.get_ident()}.tmp")
    binary = not isinstance(text, str) and bool(text) and not isinstance(text[0], str)
    with open(tmp, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8"})) as f:
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
