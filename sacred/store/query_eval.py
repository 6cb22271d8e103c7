"""Evaluating a parsed query on run records in Python, and the one sort order of values.

Stores that cannot filter natively (folders, TinyDB) and the fallbacks of the others use this;
the semantics are described in ``sacred.store.query``.
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
import math
import re
from typing import Callable, Optional

from sacred.store.query_ast import (
    MISSING,
    And,
    Compare,
    Exists,
    Field,
    MatchAll,
    Node,
    Not,
    Or,
    QueryError,
)


# ---------------------------------------------------------------------------- evaluation
def get_value(record: dict, fld: Field, metric_summaries: Optional[dict] = None):
    """The value at ``fld`` in ``record`` (or in the metric summaries), else MISSING."""
    if fld.metric is not None:
        name, agg = fld.metric
        summary = (metric_summaries or {}).get(name)
        if not summary or agg not in summary:
            return MISSING
        return summary[agg]
    current = record
    for part in fld.path:
        kind = type(current)
        if kind is dict:
            current = current.get(part, MISSING)
            if current is MISSING:
                return MISSING
        elif kind is list and part.isdigit():
            index = int(part)
            if index >= len(current):
                return MISSING
            current = current[index]
        else:
            return MISSING
    return current


def _kind(v) -> str:
    t = type(v)
    if t is bool:
        return "bool"
    if t is int or t is float:
        return "num"
    if t is str:
        return "str"
    if v is None:
        return "null"
    if isinstance(v, _dt.datetime):
        return "date"
    if isinstance(v, (list, tuple)):
        return "list"
    if isinstance(v, dict):
        return "dict"
    if isinstance(v, (int, float)):  # numpy scalars and other numbers
        return "num"
    return "other"


def values_equal(a, b) -> bool:
    ka, kb = _kind(a), _kind(b)
    if ka != kb:
        return False
    if ka == "list":
        return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b))
    return a == b


_ORDER_OPS = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _compile(node: Node) -> Callable:
    """A predicate ``f(record, metric_summaries) -> bool`` made of closures (no eval)."""
    kind = type(node)
    if kind is MatchAll:
        return lambda r, m: True
    if kind is And:
        parts = [_compile(n) for n in node.items]

        def all_of(r, m):
            for p in parts:
                if not p(r, m):
                    return False
            return True

        return all_of
    if kind is Or:
        parts = [_compile(n) for n in node.items]

        def any_of(r, m):
            for p in parts:
                if p(r, m):
                    return True
            return False

        return any_of
    if kind is Not:
        inner = _compile(node.item)
        return lambda r, m: not inner(r, m)
    if kind is Exists:
        get, want = _getter(node.field), node.exists
        return lambda r, m: (get(r, m) is not MISSING) is want
    if kind is Compare:
        return _compile_compare(node)
    raise TypeError(f"not a query node: {node!r}")


def _getter(fld: Field) -> Callable:
    """``get(record, metric_summaries)``: the value at the field, else MISSING (fast paths
    for the usual one- and two-level paths through dicts)."""
    path = fld.path
    if fld.metric is None and len(path) == 1:
        key = path[0]
        return lambda r, m: r.get(key, MISSING)
    if fld.metric is None and len(path) == 2 and not path[1].isdigit():
        k1, k2 = path

        def get2(r, m):
            v = r.get(k1)
            return v.get(k2, MISSING) if type(v) is dict else MISSING

        return get2
    return lambda r, m: get_value(r, fld, m)


_NUMBER_TYPES = (int, float)


def _compile_compare(node: Compare) -> Callable:
    fld, op, value = node.field, node.op, node.value
    get = _getter(fld)
    if op == "==":
        kind = type(value)
        if kind is str:
            return lambda r, m: type(v := get(r, m)) is str and v == value
        if kind in _NUMBER_TYPES:
            return lambda r, m: type(v := get(r, m)) in _NUMBER_TYPES and v == value
        return lambda r, m: values_equal(get(r, m), value)
    if op == "!=":

        def ne(r, m):
            v = get(r, m)
            return v is not MISSING and not values_equal(v, value)

        return ne
    if op in ("in", "nin"):
        options = list(value)
        positive = op == "in"

        def member(r, m):
            v = get(r, m)
            if v is MISSING:
                return False
            return any(values_equal(v, o) for o in options) is positive

        return member
    if op == "regex":
        found = regex_searcher(value)

        def search(r, m):
            v = get(r, m)
            return type(v) is str and found(v)

        return search
    compare = _ORDER_OPS[op]
    want = _kind(value)
    if want == "num":
        if math.isnan(value):
            return lambda r, m: False

        def order_num(r, m):
            v = get(r, m)
            if type(v) not in _NUMBER_TYPES:
                if _kind(v) != "num":  # numpy scalars and the like
                    return False
            elif v != v:  # NaN
                return False
            return compare(v, value)

        return order_num

    def order(r, m):
        v = get(r, m)
        if _kind(v) != want:
            return False
        return compare(v, value)

    return order


# ---------------------------------------------------------------------------- regex (RE2)
# Python's re backtracks: "(a+)+$" on 34 a's and a "!" takes ~20 min, holding the GIL (so no
# other thread of a dashboard runs meanwhile). RE2 matches in time linear in the text and
# refuses what needs backtracking. It is imported the first time a pattern is compiled.
_RE2 = None


def _re2():
    global _RE2
    if _RE2 is None:
        try:
            import re2
        except ImportError:
            raise QueryError(
                "regular expressions in queries need google-re2: pip install google-re2"
            ) from None
        options = re2.Options()
        options.log_errors = False  # errors become QueryErrors, not lines on stderr
        options.never_capture = True  # only whether it matches counts
        _RE2 = (re2, options)
    return _RE2


def _re2_reason(pattern: str, message: str) -> str:
    if re.search(r"\\[1-9]|\(\?P=", pattern) and ("escape" in message or "(?P" in message):
        what = "backreferences (\\1, (?P=name)) are not supported"
    elif any(op in message for op in ("(?=", "(?!", "(?<=", "(?<!")):
        what = "lookahead and lookbehind are not supported"
    elif message.endswith("\\Z"):
        what = "\\Z is not supported (use $, the end of the text)"
    else:
        what = f"RE2 rejects it: {message}"
    return f"unsupported regular expression: {what} (queries match with RE2, in linear time)"


@functools.lru_cache(maxsize=256)
def regex_searcher(pattern: str) -> Callable[[str], bool]:
    """``search(text) -> bool``: whether ``pattern`` occurs in ``text`` (unanchored), in
    time linear in the text (RE2). A pattern RE2 cannot match that way is a QueryError."""
    re2, options = _re2()
    try:
        compiled = re2.compile(pattern, options)
    except re2.error as e:
        message = e.args[0] if e.args else ""
        if isinstance(message, bytes):
            message = message.decode("utf-8", "replace")
        raise QueryError(_re2_reason(pattern, str(message))) from None
    search = compiled.search

    def found(text: str) -> bool:
        # bytes: RE2 then skips mapping byte offsets back to characters; surrogatepass
        # keeps lone surrogates (undecodable output) searchable instead of an error
        return search(text.encode("utf-8", "surrogatepass")) is not None

    return found


_compiled_cache: dict = {}


def compile_query(node: Node) -> Callable:
    """The predicate of a node, cached by the node's text form."""
    key = repr(node)  # not the node itself: 1 == True == 1.0 would share an entry
    fn = _compiled_cache.get(key)
    if fn is None:
        fn = _compile(node)
        if len(_compiled_cache) > 256:
            _compiled_cache.clear()
        _compiled_cache[key] = fn
    return fn


# Mongo's order of types: null/missing < numbers < strings < objects < arrays < bool < dates
_TYPE_RANK = {"null": 1, "num": 2, "str": 3, "dict": 4, "list": 5, "other": 6, "bool": 8, "date": 9}


def sort_key(value):
    """A key that orders any mix of values like MongoDB does (missing sorts as null)."""
    if value is MISSING:
        return (1, 0, 0)
    kind = _kind(value)
    if kind == "num":
        return (2, 0, 0) if value != value else (2, 1, value)
    if kind in ("str", "bool", "date"):
        return (_TYPE_RANK[kind], 1, value)
    if kind == "null":
        return (1, 0, 0)
    return (_TYPE_RANK[kind], 1, json.dumps(value, sort_keys=True, default=str))
