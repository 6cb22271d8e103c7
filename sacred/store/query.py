"""The query language of the read side: parsed by us into a small AST, never run as code.

Text form (one line, or several)::

    config.optimizer.lr <= 0.01 and status in ["COMPLETED", "RUNNING"]
    lr > 0.1 or not (info.best exists)          # a bare "lr" means "config.lr"
    experiment.name =~ "^mnist" and start_time > -1d
    metrics.loss.min < 0.2 and host.hostname != "gpu3"

Sacredboard's JSON filter tree ``{"type": "and"|"or", "filters": [...]}`` with terminal
clauses ``{"field", "operator", "value"}`` is accepted too (a leading dot in a field means a
path from the root of the run record; otherwise the shorthand rule below applies).

A field path is names joined by dots. In a text query the first name starts as a Python
identifier does (``str.isidentifier``: a letter, Unicode ones too, or ``_``, as in
``größe < 3`` or ``config.ключ.値 == "x"``); the names go on with letters, digits,
combining marks, ``_`` and ``-``, and a later name may start with a digit (``layers.0``).
No path has an empty part (``a..b``, ``a.``) or a ``$``
anywhere, so the operators of a database query only ever come from the translators
(``sacred.observers.mongo.query``), never from a field name. ``Field`` itself checks this.

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
import json
import re
from dataclasses import dataclass
from typing import Any, Optional, Union

from sacred.store.query_ast import (  # noqa: F401 (the public names of the query language)
    _ALL_STATES,
    DATE_FIELDS,
    DEFAULT_DEAD_AFTER,
    MAX_NESTING,
    METRIC_AGGREGATES,
    MISSING,
    QUERY_TIMEOUT,
    ROOTS,
    And,
    Compare,
    Exists,
    Field,
    MatchAll,
    Node,
    Not,
    Or,
    QueryError,
    Visitor,
    any_field,
    parse_field,
)
from sacred.store.query_eval import (  # noqa: F401
    compile_query,
    get_value,
    regex_searcher,
    sort_key,
    values_equal,
)

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


def _name_start(char: str) -> bool:
    """Whether a field name may start with ``char``: a letter or ``_`` as in a Python
    identifier (``str.isidentifier``: Unicode letters too), or ``$`` (refused later, by the
    one check of field paths, with its own message)."""
    return char == "$" or char.isidentifier()


def _name_part(char: str) -> bool:
    """Whether ``char`` continues a part of a field name: what continues a Python identifier
    (letters, digits, combining marks, ``_``), any other Unicode letter or digit (``\\w``),
    ``-`` or ``$``."""
    return char in "$-" or char.isalnum() or ("_" + char).isidentifier()


def _name_end(text: str, pos: int) -> int:
    """The end of the field name at ``pos`` (``pos`` when there is none): ``.``-joined
    parts, an optional leading ``.``; the first part starts as an identifier does, later
    ones may start with a digit (``layers.0``) or ``-``."""
    i, n = pos, len(text)
    if i < n and text[i] == ".":
        i += 1
    if i >= n or not _name_start(text[i]):
        return pos
    i += 1
    while True:
        while i < n and _name_part(text[i]):
            i += 1
        if i + 1 < n and text[i] == "." and _name_part(text[i + 1]):
            i += 1
            continue
        return i


def _tokenize(text: str) -> list:
    tokens = []
    pos = 0
    while pos < len(text):
        end = _name_end(text, pos)
        if end > pos:
            kind, raw = "name", text[pos:end]
        else:
            m = _TOKEN_RE.match(text, pos)
            if m is None:
                if text[pos] in "\"'":
                    raise QueryError("unterminated string", text, pos)
                raise QueryError(f"unexpected character {text[pos]!r}", text, pos)
            kind, raw, end = m.lastgroup, m.group(), m.end()
        if kind == "ws":
            pos = end
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
        pos = end
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
        if not name or _name_end(name, 0) != len(name):
            raise QueryError(f"invalid sort field {item!r}")
        result.append((parse_field(name), descending))
    return result


def matches(node: QueryLike, record: dict, metric_summaries: Optional[dict] = None) -> bool:
    """Whether ``record`` satisfies the query (``metric_summaries``: name -> summary dict)."""
    return compile_query(parse(node))(record, metric_summaries)
