"""The query language's vocabulary: the AST, field paths, the error, and the fixed names.

``sacred.store.query`` is the module to import; this one and ``query_eval`` hold its parts
(the grammar is in ``query``, evaluation in Python in ``query_eval``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from sacred.utils import SacredError

#: top-level keys of a run record; any other bare field name means ``config.<name>``
ROOTS = frozenset(
    {
        "_id",
        "config",
        "info",
        "host",
        "experiment",
        "meta",
        "metrics",
        "result",
        "status",
        "command",
        "start_time",
        "stop_time",
        "heartbeat",
        "queue_time",
        "captured_out",
        "fail_trace",
        "resources",
        "artifacts",
        "format",
        "live_state",
    }
)
DATE_FIELDS = frozenset({"start_time", "stop_time", "heartbeat", "queue_time"})
METRIC_AGGREGATES = ("min", "max", "first", "last", "count")
_ALL_STATES = (
    "RUNNING",
    "PROBABLY_DEAD",
    "COMPLETED",
    "FAILED",
    "INTERRUPTED",
    "TIMEOUT",
    "QUEUED",
)
DEFAULT_DEAD_AFTER = 120.0
#: seconds a database may work on one query (MongoDB ``maxTimeMS``, PostgreSQL
#: ``statement_timeout``); a store's ``query_timeout`` overrides it, and more time is a
#: QueryError. (Regular expressions evaluated in Python use RE2, which needs no limit.)
QUERY_TIMEOUT = 10.0
#: how deep parentheses, ``not`` and lists (and JSON filter trees) may nest in one query
MAX_NESTING = 100


class QueryError(SacredError, ValueError):
    """A malformed query; the message shows the query with a caret under the problem."""

    def __init__(self, message: str, query: Optional[str] = None, position: Optional[int] = None):
        self.reason = message
        self.query = query
        self.position = position
        super().__init__(self._render(), print_traceback=False)

    def _render(self) -> str:
        if self.query is None or self.position is None:
            return self.reason
        start = self.query.rfind("\n", 0, self.position) + 1
        end = self.query.find("\n", self.position)
        line = self.query[start : end if end >= 0 else len(self.query)]
        caret = " " * (self.position - start) + "^"
        return f"{self.reason}\n    {line}\n    {caret}"


class _Missing:
    __slots__ = ()

    def __repr__(self):
        return "MISSING"


#: what ``get_value`` returns for a path that is not in the record
MISSING = _Missing()


# ---------------------------------------------------------------------------- the AST
class Node:
    """Base of the query AST. Nodes are immutable and compare by value."""

    def accept(self, visitor: Visitor):
        return getattr(visitor, "visit_" + type(self).__name__)(self)


@dataclass(frozen=True)
class Field:
    """A field path. ``metric`` is ``(name, aggregate)`` for ``metrics.<name>.<aggregate>``."""

    path: tuple
    metric: Optional[tuple] = None

    def __post_init__(self):
        problem = _path_problem(self.path)
        if problem:
            raise QueryError(f"invalid field {'.'.join(map(str, self.path))!r}: {problem}")

    @property
    def dotted(self) -> str:
        return ".".join(self.path)

    @property
    def root(self) -> str:
        return self.path[0]

    def __str__(self):
        return self.dotted


@dataclass(frozen=True)
class MatchAll(Node):
    """The empty query."""


@dataclass(frozen=True)
class And(Node):
    items: tuple


@dataclass(frozen=True)
class Or(Node):
    items: tuple


@dataclass(frozen=True)
class Not(Node):
    item: Node


@dataclass(frozen=True)
class Compare(Node):
    """``field <op> value`` with op one of == != < <= > >= in nin regex."""

    field: Field
    op: str
    value: Any


@dataclass(frozen=True)
class Exists(Node):
    field: Field
    exists: bool = True


class Visitor:
    """Walks the AST: ``visitor.visit(node)`` calls ``visit_<NodeClass>(node)``."""

    def visit(self, node: Node):
        return node.accept(self)


class _FieldFinder(Visitor):
    def __init__(self, test):
        self.test = test

    def visit_MatchAll(self, node):  # noqa: N802
        return False

    def visit_And(self, node):  # noqa: N802
        return any(self.visit(n) for n in node.items)

    visit_Or = visit_And  # noqa: N815

    def visit_Not(self, node):  # noqa: N802
        return self.visit(node.item)

    def visit_Compare(self, node):  # noqa: N802
        return self.test(node.field)

    visit_Exists = visit_Compare  # noqa: N815


def any_field(node: Node, test) -> bool:
    """Whether ``test(field)`` holds for any field the query ``node`` looks at."""
    return _FieldFinder(test).visit(node)


# ---------------------------------------------------------------------------- fields
def _path_problem(parts) -> Optional[str]:
    """What is wrong with a field path (a tuple of names), or None: the one check of field
    names, so that no ``$`` operator and no odd path reaches a database through them."""
    if not parts or any(type(p) is not str or not p for p in parts):
        return "a field is names joined by dots, with no empty name (like config.a.b)"
    if any("$" in p for p in parts):
        return "'$' is not allowed in a field name"
    return None


def parse_field(name: str, text: Optional[str] = None, pos: Optional[int] = None) -> Field:
    """A field from its written form: ``.a.b`` is absolute, a bare unknown root means config.

    ``metrics.<name>.<aggregate>`` (the name may contain dots) selects a metric summary.
    """
    absolute = name.startswith(".")
    parts = tuple((name[1:] if absolute else name).split("."))
    problem = _path_problem(parts)
    if problem:
        raise QueryError(f"invalid field {name!r}: {problem}", text, pos)
    if parts[0] not in ROOTS and not absolute:
        parts = ("config",) + parts
    if parts[0] == "metrics":
        if len(parts) < 3 or parts[-1] not in METRIC_AGGREGATES:
            raise QueryError(
                "a metric field is metrics.<name>.<summary> with summary one of "
                + ", ".join(METRIC_AGGREGATES),
                text,
                pos,
            )
        return Field(parts, (".".join(parts[1:-1]), parts[-1]))
    if parts[0] in DATE_FIELDS | {"live_state", "status", "command", "_id"} and len(parts) > 1:
        raise QueryError(f"{parts[0]} has no sub-fields", text, pos)
    return Field(parts)
