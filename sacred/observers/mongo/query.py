"""The query AST as a MongoDB filter document (no ``$where``, ``$function`` or JavaScript).

Every ``$`` key of a filter is an operator written here: field paths never hold a ``$`` and
have no empty part (``sacred.store.query.Field`` refuses them), so a field name cannot
become ``$expr``, ``$where``, ``$function`` or ``$accumulator``. Values go to operators that
take them literally (``$eq``, ``$in``, ``$regex`` with a pattern RE2 accepted, ...).

The filters give the same answers as ``sacred.store.query.matches`` on the same records:

* a comparison never matches a missing field, so ``!=`` and ``not in`` add ``$exists``;
* values are compared as whole values: Mongo would also match a list that merely contains
  the value, so comparisons on fields that can hold lists exclude arrays (``$type``);
* ``== null`` matches an explicit null only (Mongo's ``{x: None}`` also matches missing);
* ordering never matches NaN (Mongo orders NaN below every number).

Metric summaries (``metrics.loss.min``) live in the metrics collection; ``translate`` turns
them into ``{"_id": {"$in": [...]}}`` through a callback, and ``metric_pipeline`` gives the
aggregation pipeline a reader runs on its metrics collection to get those ids.
"""

from __future__ import annotations

import datetime as _dt
import math
from typing import Callable, Optional

from sacred.store import query as q

__all__ = ("translate", "metric_pipeline", "mongo_sort", "MongoTranslator")

#: top-level fields that never hold lists, so need no guard against array matching
_SCALAR_ROOTS = frozenset(
    {"_id", "status", "command", "start_time", "stop_time", "heartbeat", "queue_time", "format"}
)
_ORDER = {"<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte"}
_NOT_ARRAY = {"$not": {"$type": "array"}}


class MongoTranslator(q.Visitor):
    """``MongoTranslator(metric_filter).visit(node)`` -> a filter document.

    ``metric_filter(compare_node)`` returns a filter for a metric-summary comparison, e.g.
    ``{"_id": {"$in": run_ids}}``; without it such queries raise QueryError.
    """

    def __init__(self, metric_filter: Optional[Callable] = None):
        self.metric_filter = metric_filter

    def visit_MatchAll(self, node):  # noqa: N802
        return {}

    def visit_And(self, node):  # noqa: N802
        parts = [self.visit(n) for n in node.items]
        return parts[0] if len(parts) == 1 else {"$and": parts}

    def visit_Or(self, node):  # noqa: N802
        if not node.items:
            return {"_id": {"$in": []}}  # matches nothing
        parts = [self.visit(n) for n in node.items]
        return parts[0] if len(parts) == 1 else {"$or": parts}

    def visit_Not(self, node):  # noqa: N802
        return {"$nor": [self.visit(node.item)]}

    def visit_Exists(self, node):  # noqa: N802
        if node.field.metric is not None:
            return self._metric(node)
        return {node.field.dotted: {"$exists": node.exists}}

    def visit_Compare(self, node):  # noqa: N802
        if node.field.metric is not None:
            return self._metric(node)
        return compare_filter(node.field.dotted, node.op, node.value, _guarded(node.field))

    def _metric(self, node):
        if self.metric_filter is None:
            raise q.QueryError(f"{node.field} is a metric summary, which this backend cannot query")
        if isinstance(node, q.Exists) and not node.exists:
            return {"$nor": [self.metric_filter(q.Exists(node.field, True))]}
        return self.metric_filter(node)


def _guarded(fld: q.Field) -> bool:
    return fld.root not in _SCALAR_ROOTS


def _eq(path, value, guard):
    not_array = _NOT_ARRAY if guard else {}
    if value is None:
        # {x: None} would also match a missing x
        return {path: {"$in": [None], "$exists": True, **not_array}}
    if isinstance(value, float) and math.isnan(value):
        return {"_id": {"$in": []}}  # NaN equals nothing (as in Python)
    if isinstance(value, (list, dict)):
        return {path: {"$eq": value}}
    cond = {"$eq": value, **not_array}
    if isinstance(value, bool):  # true is not 1 (said explicitly for mongomock's sake)
        cond["$type"] = "bool"
    elif isinstance(value, (int, float)):
        cond["$type"] = "number"
    return {path: cond}


def compare_filter(path: str, op: str, value, guard: bool = True) -> dict:
    """Filter for one comparison of the value at ``path``."""
    if op == "==":
        return _eq(path, value, guard)
    if op == "!=":
        return {"$and": [{path: {"$exists": True}}, {"$nor": [_eq(path, value, guard)]}]}
    if op in ("in", "nin"):
        if all(type(v) is str or isinstance(v, _dt.datetime) for v in value) and value:
            cond = {"$in": list(value), **(_NOT_ARRAY if guard else {})}
            positive = {path: cond}
        else:
            positive = {"$or": [_eq(path, v, guard) for v in value]} if value else None
        if op == "in":
            return positive if positive is not None else {"_id": {"$in": []}}
        if positive is None:
            return {path: {"$exists": True}}
        return {"$and": [{path: {"$exists": True}}, {"$nor": [positive]}]}
    if op == "regex":
        return {path: {"$regex": value, **(_NOT_ARRAY if guard else {})}}
    cond = {_ORDER[op]: value}
    if guard:
        cond.update(_NOT_ARRAY)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        cond["$ne"] = float("nan")  # Mongo orders NaN below every number
    return {path: cond}


def translate(node, metric_filter: Optional[Callable] = None) -> dict:
    """A Mongo filter for a query (text, JSON tree or AST)."""
    return MongoTranslator(metric_filter).visit(q.parse(node))


_AGG = {
    "min": lambda: {"$min": "$values"},
    "max": lambda: {"$max": "$values"},
    "first": lambda: {"$arrayElemAt": ["$values", 0]},
    "last": lambda: {"$arrayElemAt": ["$values", -1]},
    "count": lambda: {"$size": "$values"},
}


def metric_pipeline(node) -> list:
    """Aggregation pipeline on a metrics collection giving ``{"run_id"}`` of matching runs.

    ``node`` is a Compare or Exists on ``metrics.<name>.<summary>``; documents are the
    MongoObserver's ``{run_id, name, steps, values, timestamps}``.
    """
    name, agg = node.field.metric
    project = {"$project": {"run_id": 1, "v": _AGG[agg]()}}
    if isinstance(node, q.Exists):
        cond = {"v": {"$exists": True, "$ne": None}}
    else:
        cond = compare_filter("v", node.op, node.value, guard=False)
    return [{"$match": {"name": name}}, project, {"$match": cond}, {"$project": {"run_id": 1}}]


def mongo_sort(sort) -> list:
    """``[(path, 1|-1), ...]`` for ``find(sort=...)``, with ``_id`` as the tie-breaker."""
    result = []
    for fld, descending in q.parse_sort(sort):
        if fld.metric is not None:
            raise q.QueryError(f"sorting by a metric summary ({fld}) needs the reader's help")
        result.append((fld.dotted, -1 if descending else 1))
    if not any(path == "_id" for path, _ in result):
        result.append(("_id", 1))
    return result
