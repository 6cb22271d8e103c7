"""The query language of the read side: parsed by us into a small AST, never run as code.

Text form (one line, or several)::

    config.optimizer.lr <= 0.01 and status in ["COMPLETED", "RUNNING"]
    lr > 0.1 or not (info.best exists)          # a bare "lr" means "config.lr"
    experiment.name =~ "^mnist" and start_time > -1d
    metrics.loss.min < 0.2 and host.hostname != "gpu3"

Sacredboard's JSON filter tree ``{"type": "and"|"or", "filters": [...]}`` with terminal
clauses ``{"field", "operator", "value"}`` is accepted too (a leading dot in a field means a
path from the root of the run record; otherwise the shorthand rule below applies).

A field path is names joined by dots: no empty part (``a..b``, ``a.``) and no ``$``
anywhere, so the operators of a database query only ever come from the translators
(``sacred.store.mongo_query``), never from a field name. ``Field`` itself checks this.

Semantics, the same on every backend:

* a field path selects the value at that path of the run record (no implicit search inside
  lists); ``metrics.<name>.<min|max|first|last|count>`` selects a summary of a metric;
* a missing field never matches a comparison (``x != 1`` is false when x is missing; only
  ``not exists`` and ``not (...)`` are true for it);
* ``==``/``!=``/``in`` compare like JSON values, with ``1 == 1.0`` but ``true != 1``;
  ``< <= > >=`` only compare numbers with numbers, strings with strings, dates with dates
  and booleans with booleans;
* ``=~`` / ``regex`` is an unanchored, case-sensitive search in string values. In Python
  (folder, TinyDB and SQLite stores) RE2 (``google-re2``) matches it, in time linear in the
  text, so what needs backtracking is refused: backreferences, lookahead/lookbehind, atomic
  groups, possessive quantifiers (a pattern must be valid for Python's ``re`` too). ``$`` is
  the end of the text and ``\\d \\w \\s \\b`` are ASCII. MongoDB and PostgreSQL match the
  (same, checked) pattern themselves, stopped after ``QUERY_TIMEOUT`` seconds;
* the virtual field ``live_state`` is the status, except that a RUNNING run whose last
  heartbeat is older than ``dead_after`` seconds is ``"PROBABLY_DEAD"``.
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Optional, Union

from sacred.utils import SacredError

__all__ = (
    "QueryError",
    "Node",
    "MatchAll",
    "And",
    "Or",
    "Not",
    "Compare",
    "Exists",
    "Field",
    "Visitor",
    "parse",
    "parse_field",
    "parse_sort",
    "matches",
    "compile_query",
    "regex_searcher",
    "get_value",
    "sort_key",
    "MISSING",
    "ROOTS",
    "DATE_FIELDS",
    "METRIC_AGGREGATES",
    "QUERY_TIMEOUT",
)

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


# ---------------------------------------------------------------------------- tokenizer
_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<date>\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)?(?:Z|[+-]\d{2}:?\d{2})?)
        (?![\w.:-])
  | (?P<rel>[+-]\d+(?:\.\d+)?[smhdw])(?![\w.])
  | (?P<num>[+-]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?)(?![\w.])
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<op>==|!=|<=|>=|=~|<|>|=)
  | (?P<punct>[()\[\],])
  | (?P<name>\.?[A-Za-z_$][\w$-]*(?:\.[\w$-]+)*)
    """,
    re.VERBOSE,
)
_KEYWORDS = {
    "and": "and",
    "or": "or",
    "not": "not",
    "in": "in",
    "exists": "exists",
    "regex": "regex",
    "true": True,
    "false": False,
    "null": None,
}
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'"}


@dataclass
class _Token:
    kind: str  # name keyword num str date rel op punct eof
    value: Any
    pos: int
    text: str


def _unescape(body: str) -> str:
    # known escapes are replaced; any other backslash is kept (so regexes like "\d" work)
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(0)), body, flags=re.S)


def _tokenize(text: str) -> list:
    tokens = []
    pos = 0
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if m is None:
            if text[pos] in "\"'":
                raise QueryError("unterminated string", text, pos)
            raise QueryError(f"unexpected character {text[pos]!r}", text, pos)
        kind = m.lastgroup
        raw = m.group()
        if kind == "ws":
            pos = m.end()
            continue
        if kind == "name":
            kw = raw.lower()
            if kw in _KEYWORDS and not raw.startswith("."):
                value = _KEYWORDS[kw]
                kind = "keyword" if isinstance(value, str) else "literal"
            else:
                value = raw
        elif kind == "num":
            value = float(raw) if any(c in raw for c in ".eE") else int(raw)
        elif kind == "str":
            value = _unescape(raw[1:-1])
        elif kind == "date":
            value = _parse_date(raw, text, pos)
        elif kind == "rel":
            value = _relative_delta(raw, text, pos)
        else:
            value = raw
        tokens.append(_Token(kind, value, pos, raw))
        pos = m.end()
    tokens.append(_Token("eof", None, len(text), ""))
    return tokens


def _relative_delta(raw: str, text=None, pos=None) -> _dt.timedelta:
    """``-1d`` as a timedelta; one that no date can be shifted by is a QueryError."""
    sign = -1 if raw[0] == "-" else 1
    try:
        return _dt.timedelta(seconds=sign * float(raw[1:-1]) * _UNITS[raw[-1]])
    except OverflowError:
        raise QueryError(f"relative time {raw!r} is out of range", text, pos) from None


def _parse_date(raw: str, text=None, pos=None) -> _dt.datetime:
    """An ISO date or date-time as a naive UTC datetime."""
    value = raw[:-1] + "+00:00" if raw.endswith("Z") else raw
    try:
        result = _dt.datetime.fromisoformat(value)
    except ValueError:
        raise QueryError(f"invalid date {raw!r}", text, pos) from None
    if result.tzinfo is not None:
        result = result.astimezone(_dt.timezone.utc).replace(tzinfo=None)
    return result


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


# ---------------------------------------------------------------------------- parser
class _Parser:
    def __init__(self, text: str, now: _dt.datetime, dead_after: float):
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0
        self.now = now
        self.dead_after = dead_after
        self.depth = 0

    def enter(self):
        """One nesting level deeper (a parenthesis, ``not`` or list): refused past the limit."""
        self.depth += 1
        if self.depth > MAX_NESTING:
            # no caret: the line would repeat the whole (long) query
            raise QueryError(f"the query nests deeper than {MAX_NESTING} levels")

    @property
    def tok(self) -> _Token:
        return self.tokens[self.i]

    def error(self, message, token=None):
        token = token or self.tok
        raise QueryError(message, self.text, token.pos)

    def advance(self) -> _Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def at_keyword(self, word) -> bool:
        return self.tok.kind == "keyword" and self.tok.value == word

    def expect_punct(self, char):
        if self.tok.kind == "punct" and self.tok.value == char:
            return self.advance()
        self.error(f"expected {char!r}" + self._found())

    def _found(self):
        tok = self.tok
        return " but the query ends" if tok.kind == "eof" else f", found {tok.text!r}"

    def parse(self) -> Node:
        if self.tok.kind == "eof":
            return MatchAll()
        node = self.parse_or()
        if self.tok.kind != "eof":
            if self.tok.kind == "punct" and self.tok.value == ")":
                self.error("unbalanced ')'")
            self.error(f"expected 'and', 'or' or the end of the query, found {self.tok.text!r}")
        return node

    def parse_or(self) -> Node:
        items = [self.parse_and()]
        while self.at_keyword("or"):
            self.advance()
            items.append(self.parse_and())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def parse_and(self) -> Node:
        items = [self.parse_not()]
        while self.at_keyword("and"):
            self.advance()
            items.append(self.parse_not())
        return items[0] if len(items) == 1 else And(tuple(items))

    def parse_not(self) -> Node:
        if self.at_keyword("not"):
            self.enter()
            self.advance()
            node = Not(self.parse_not())
            self.depth -= 1
            return node
        return self.parse_primary()

    def parse_primary(self) -> Node:
        tok = self.tok
        if tok.kind == "punct" and tok.value == "(":
            self.enter()
            self.advance()
            if self.tok.kind == "punct" and self.tok.value == ")":
                self.error("expected a condition inside the parentheses")
            node = self.parse_or()
            self.expect_punct(")")
            self.depth -= 1
            return node
        if tok.kind != "name":
            what = "the query ends" if tok.kind == "eof" else f"found {tok.text!r}"
            self.error(f"expected a field name, but {what}")
        self.advance()
        fld = parse_field(tok.value, self.text, tok.pos)
        return self.parse_predicate(fld, tok)

    def parse_predicate(self, fld: Field, field_tok: _Token) -> Node:
        tok = self.tok
        if tok.kind == "op":
            if tok.value == "=":
                self.error("use '==' to compare")
            self.advance()
            if tok.value == "=~":
                return self.regex(fld, tok)
            op = tok.value
            value_tok = self.tok
            value = self.parse_value()
            return build_compare(fld, op, value, self, value_tok)
        if tok.kind == "keyword":
            if tok.value == "exists":
                self.advance()
                return Exists(fld, True)
            if tok.value == "regex":
                self.advance()
                return self.regex(fld, tok)
            if tok.value == "in":
                self.advance()
                value_tok = self.tok
                return build_compare(fld, "in", self.parse_list(), self, value_tok)
            if tok.value == "not":
                self.advance()
                if self.at_keyword("in"):
                    self.advance()
                    value_tok = self.tok
                    return build_compare(fld, "nin", self.parse_list(), self, value_tok)
                if self.at_keyword("exists"):
                    self.advance()
                    return Exists(fld, False)
                self.error("expected 'in' or 'exists' after 'not'")
        self.error(
            f"expected an operator (== != < <= > >= =~ in, not in, exists) after {fld}"
            + self._found()
        )

    def regex(self, fld, op_tok) -> Node:
        tok = self.tok
        if tok.kind != "str":
            self.error("a regular expression must be a quoted string")
        self.advance()
        return build_compare(fld, "regex", tok.value, self, tok)

    def parse_value(self):
        tok = self.tok
        if tok.kind in ("num", "str", "date", "literal"):
            self.advance()
            return tok.value
        if tok.kind == "rel":
            self.advance()
            try:
                return self.now + tok.value
            except OverflowError:
                self.error(f"relative time {tok.text!r} is out of range", tok)
        if tok.kind == "punct" and tok.value == "[":
            return self.parse_list()
        if tok.kind == "name":
            self.error(f'expected a value; quote strings: "{tok.text}"')
        self.error("expected a value" + self._found())

    def parse_list(self) -> list:
        if not (self.tok.kind == "punct" and self.tok.value == "["):
            self.error("expected a list like [1, 2]" + self._found())
        self.enter()
        self.advance()
        values = []
        while not (self.tok.kind == "punct" and self.tok.value == "]"):
            values.append(self.parse_value())
            if self.tok.kind == "punct" and self.tok.value == ",":
                self.advance()
            elif not (self.tok.kind == "punct" and self.tok.value == "]"):
                self.error("expected ',' or ']'" + self._found())
        self.advance()
        self.depth -= 1
        return values


def _is_number(v) -> bool:
    return type(v) in (int, float)


def build_compare(fld: Field, op: str, value, parser, value_tok=None) -> Node:
    """A comparison node, checked and with values coerced (dates), or live_state expanded."""

    def fail(message):
        if parser is None:
            raise QueryError(message)
        parser.error(message, value_tok)

    if op == "regex":
        if not isinstance(value, str):
            fail("a regular expression must be a string")
        try:
            re.compile(value)
        except re.error as e:
            fail(f"invalid regular expression: {e}")
        except (RecursionError, OverflowError):
            fail("invalid regular expression: too deeply nested or too large")
        try:
            regex_searcher(value)
        except QueryError as e:
            fail(e.reason)
    if _operator_key(value):
        # compared literally anyway; refused so that no "$" key ever reaches a database
        fail("a value may not hold an object key that starts with '$'")
    if fld.root in DATE_FIELDS:
        value = _coerce_date(value, fail)
    if op in ("<", "<=", ">", ">="):
        if value is None or isinstance(value, (list, dict)):
            fail(f"'{op}' needs a number, string, date or boolean")
    if op in ("in", "nin") and not isinstance(value, list):
        fail("'in' needs a list like [1, 2]")
    if fld.root == "live_state":
        if parser is None:
            now, dead_after = _utcnow(), DEFAULT_DEAD_AFTER
        else:
            now, dead_after = parser.now, parser.dead_after
        return _expand_live_state(op, value, now, dead_after, fail)
    return Compare(fld, op, value)


def _operator_key(value) -> bool:
    """Whether a (JSON) value holds an object key starting with ``$`` at any depth."""
    stack, seen = [value], set()
    while stack:  # no recursion: a value may nest deeper than the stack
        item = stack.pop()
        if isinstance(item, (dict, list, tuple)):
            if id(item) in seen:
                continue
            seen.add(id(item))
            if isinstance(item, dict):
                if any(str(k).startswith("$") for k in item):
                    return True
                stack.extend(item.values())
            else:
                stack.extend(item)
    return False


def _coerce_date(value, fail):
    if isinstance(value, list):
        return [_coerce_date(v, fail) for v in value]
    if isinstance(value, str):
        try:
            return _parse_date(value)
        except QueryError:
            fail(f"{value!r} is not a date (use 2026-11-27 or 2026-11-27T10:00:00)")
    return value


_STATUS = Field(("status",))
_HEARTBEAT = Field(("heartbeat",))
_START = Field(("start_time",))


def _expand_live_state(op, value, now, dead_after, fail) -> Node:
    cutoff = now - _dt.timedelta(seconds=dead_after)
    recent = Or((Compare(_HEARTBEAT, ">=", cutoff), Compare(_START, ">=", cutoff)))

    def state_is(v):
        if v == "PROBABLY_DEAD":
            return And((Compare(_STATUS, "==", "RUNNING"), Not(recent)))
        if v == "RUNNING":
            return And((Compare(_STATUS, "==", "RUNNING"), recent))
        return Compare(_STATUS, "==", v)

    if op == "==":
        return state_is(value)
    if op == "!=":
        return And((Exists(_STATUS), Not(state_is(value))))
    if op in ("in", "nin"):
        node = Or(tuple(state_is(v) for v in value)) if value else Or(())
        return node if op == "in" else And((Exists(_STATUS), Not(node)))
    if op == "regex":
        search = regex_searcher(value)
        return Or(tuple(state_is(v) for v in _ALL_STATES if search(v)))
    fail(f"live_state supports == != in and regex, not '{op}'")


def _utcnow() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)


# ---------------------------------------------------------------------------- JSON trees
_SB_OPERATORS = {
    "==": "==",
    "!=": "!=",
    "<": "<",
    "<=": "<=",
    ">": ">",
    ">=": ">=",
    "regex": "regex",
}


def _parse_tree(tree, now, dead_after, where="query", depth=0) -> Node:
    if depth > MAX_NESTING:
        raise QueryError(f"the filter tree nests deeper than {MAX_NESTING} levels")
    if not isinstance(tree, dict):
        raise QueryError(f"{where}: a filter clause must be an object, not {tree!r}")
    if "type" in tree:
        kind = tree["type"]
        if kind not in ("and", "or"):
            raise QueryError(f"{where}.type: must be 'and' or 'or', not {kind!r}")
        filters = tree.get("filters", [])
        if not isinstance(filters, list):
            raise QueryError(f"{where}.filters: must be a list")
        items = tuple(
            _parse_tree(f, now, dead_after, f"{where}.filters[{i}]", depth + 1)
            for i, f in enumerate(filters)
        )
        if not items:
            return MatchAll()
        if len(items) == 1:
            return items[0]
        return And(items) if kind == "and" else Or(items)
    missing = [k for k in ("field", "operator", "value") if k not in tree]
    if missing:
        raise QueryError(f"{where}: a terminal clause needs {', '.join(missing)}")
    name, op, value = tree["field"], tree["operator"], tree["value"]
    if op not in _SB_OPERATORS:
        raise QueryError(f"{where}.operator: unknown operator {op!r}")
    if not isinstance(name, str):
        raise QueryError(f"{where}.field: must be a string")
    try:
        fld = parse_field(name)
    except QueryError as e:
        raise QueryError(f"{where}.field: {e.reason}") from None
    if tree.get("valueType") == "DateTime" and isinstance(value, str):
        value = _parse_date(value)

    class _Ctx:  # what build_compare needs of a parser
        pass

    ctx = _Ctx()
    ctx.now, ctx.dead_after = now, dead_after

    def error(message, token=None):
        raise QueryError(f"{where}: {message}")

    ctx.error = error
    if fld.path == ("status",) and value in ("RUNNING", "DEAD"):
        # Sacredboard's pseudo-statuses: RUNNING means alive, DEAD a stale heartbeat
        fld = Field(("live_state",))
        value = "PROBABLY_DEAD" if value == "DEAD" else value
    return build_compare(fld, _SB_OPERATORS[op], value, ctx)


# ---------------------------------------------------------------------------- entry points
QueryLike = Union[None, str, dict, Node]


def parse(
    query: QueryLike, now: Optional[_dt.datetime] = None, dead_after: float = DEFAULT_DEAD_AFTER
) -> Node:
    """Parse a text query, a Sacredboard JSON tree (dict or JSON text) or pass a Node through.

    ``now`` (naive UTC, default the current time) anchors relative times like ``-1d``;
    ``dead_after`` is the heartbeat age in seconds after which ``live_state`` is PROBABLY_DEAD.
    """
    if query is None:
        return MatchAll()
    if isinstance(query, Node):
        return query
    now = now or _utcnow()
    if isinstance(query, dict):
        return _parse_tree(query, now, dead_after)
    if not isinstance(query, str):
        raise QueryError(f"a query is a string or a JSON filter tree, not {type(query).__name__}")
    stripped = query.strip()
    if stripped.startswith("{"):
        try:
            tree = json.loads(stripped)
        except ValueError as e:
            pos = query.index("{") + getattr(e, "pos", 0)
            raise QueryError(f"invalid JSON filter tree: {e.msg}", query, pos) from None
        except RecursionError:
            raise QueryError("the JSON filter tree nests too deeply") from None
        return _parse_tree(tree, now, dead_after)
    return _Parser(query, now, dead_after).parse()


def parse_sort(sort) -> list:
    """``"-config.lr"``, ``"a,-b"`` or a list of those -> ``[(Field, descending), ...]``."""
    if not sort:
        return []
    items = sort.split(",") if isinstance(sort, str) else list(sort)
    result = []
    for item in items:
        item = item.strip()
        descending = item.startswith("-")
        name = item.lstrip("+-").strip()
        if not name or not re.fullmatch(r"\.?[A-Za-z_$][\w$-]*(?:\.[\w$-]+)*", name):
            raise QueryError(f"invalid sort field {item!r}")
        result.append((parse_field(name), descending))
    return result


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


def matches(node: QueryLike, record: dict, metric_summaries: Optional[dict] = None) -> bool:
    """Whether ``record`` satisfies the query (``metric_summaries``: name -> summary dict)."""
    return compile_query(parse(node))(record, metric_summaries)


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
