"""The query AST as SQLAlchemy expressions over the SqlObserver's tables.

``SqlTranslator(dialect, tables).where(node)`` gives ``(where, residual)``: ``where`` is an
expression for the database (or None) and ``residual`` the part of the query the database
cannot answer, to be checked in Python on the rows ``where`` selects (or None). Only
top-level ``and`` parts are split off; an ``or``/``not`` with an untranslatable part is
residual as a whole. Values only ever reach the database as bound parameters.

Translated (the same answers as ``sacred.store.query.matches``):

* columns: ``_id`` (``== != in``), ``status``, ``command``, ``captured_out``, the times,
  ``experiment.name``/``base_dir``, ``host.hostname``/``cpu``/``python_version``;
* JSON paths in ``config``, ``info`` and ``result`` (SQLite ``json_type``/``json_extract``,
  PostgreSQL ``jsonb_typeof``/``jsonb_extract_path`` on the Text column cast to JSONB),
  with the type checks of the query semantics (``1 == 1.0``, ``true != 1``, ordering only
  within a type, a missing field never matches);
* metric summaries ``metrics.<name>.<count|min|max|first|last>`` as correlated subqueries
  on the ``metric`` table (first/last in the order of ``step``, then insertion);
* regular expressions: PostgreSQL ``~`` (``SqlStore`` bounds its time with
  ``statement_timeout``); SQLite ``regexp()``, which ``SqlStore`` registers on each
  connection as an RE2 search (``query.regex_searcher``: linear time).

Left to Python: comparisons with lists or objects, ordering and regex on ``_id``, JSON
paths with a numeric part on SQLite (``layers.0``: a list index or a key) or a name that
holds ``"``, a backslash or a control character (JSON filter trees may name such keys),
the bare roots
``config``/``info``, and every other field (``meta``, ``host.os``, ``experiment.sources``,
``fail_trace``, ``resources``, ...). Every expression built here is NULL-free (true or
false, never SQL NULL), so ``not`` is plain ``NOT``.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import re

import sqlalchemy as sa

from sacred.observers.sql.output import output_expression
from sacred.store import query as q

__all__ = ("SqlTranslator", "Untranslatable")

_DATE_COLUMNS = ("start_time", "stop_time", "heartbeat", "queue_time")
_ORDER_OPS = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}
_EQ_OPS = {"==": lambda a, b: a == b}
# Mongo's order of types, as in query.sort_key: missing/null < numbers < strings < objects
# < lists < booleans
_RANKS_SQLITE = {"null": 1, "integer": 2, "real": 2, "text": 3, "object": 4, "array": 5}
_RANKS_PG = {"null": 1, "number": 2, "string": 3, "object": 4, "array": 5, "boolean": 8}


class Untranslatable(Exception):
    """A part of a query the database cannot evaluate (it is evaluated in Python)."""


def _kind(value) -> str:
    if type(value) is bool:
        return "bool"
    if type(value) in (int, float):
        return "num"
    if type(value) is str:
        return "str"
    if value is None:
        return "null"
    if isinstance(value, _dt.datetime):
        return "date"
    if isinstance(value, (list, tuple, dict)):
        return "composite"
    return "other"


class SqlTranslator(q.Visitor):
    """Translates query nodes for one dialect (``"sqlite"``, ``"postgresql"``, ...).

    ``tables`` is a namespace with ``run``, ``host``, ``experiment``, ``metric`` and
    ``output_chunk`` (Table objects); queries are meant for ``run LEFT JOIN host LEFT JOIN
    experiment``. ``has_output_chunks()`` says whether the database has the
    ``output_chunk`` table (the text of ``captured_out`` joins it then).
    """

    def __init__(self, dialect: str, tables, has_output_chunks=lambda: False):
        self.dialect = dialect
        self.pg = dialect == "postgresql"
        if dialect not in ("sqlite", "postgresql"):
            self.json = False  # other databases: columns and metrics only
        else:
            self.json = True
        self.t = tables
        self.has_output_chunks = has_output_chunks

    # ------------------------------------------------------------------ entry points
    def where(self, node: q.Node):
        """``(expression or None, residual node or None)`` for a parsed query."""
        if isinstance(node, q.MatchAll):
            return None, None
        items = node.items if isinstance(node, q.And) else (node,)
        done, rest = [], []
        for item in items:
            try:
                done.append(self.visit(item))
            except Untranslatable:
                rest.append(item)
        where = sa.and_(*done) if done else None
        residual = None
        if rest:
            residual = rest[0] if len(rest) == 1 else q.And(tuple(rest))
        return where, residual

    def order_by(self, sort: list) -> list:
        """ORDER BY terms for ``[(Field, descending), ...]`` plus the ``_id`` tie-breaker."""
        terms = []
        for fld, descending in sort:
            for key in self.sort_keys(fld):
                terms.append(key.desc() if descending else key.asc())
        terms.extend(k.asc() for k in self._id_keys())
        return terms

    # ------------------------------------------------------------------ boolean nodes
    def visit_MatchAll(self, node):  # noqa: N802
        return sa.true()

    def visit_And(self, node):  # noqa: N802
        return sa.and_(*[self.visit(n) for n in node.items]) if node.items else sa.true()

    def visit_Or(self, node):  # noqa: N802
        return sa.or_(*[self.visit(n) for n in node.items]) if node.items else sa.false()

    def visit_Not(self, node):  # noqa: N802
        return sa.not_(self.visit(node.item))

    def visit_Exists(self, node):  # noqa: N802
        kind, target = self._resolve(node.field)
        if kind == "metric":
            present = self._metric_exists(*target)
        elif kind == "json":
            present = self._json_type(*target) != ""
        else:
            present = target.isnot(None)
        return present if node.exists else sa.not_(present)

    def visit_Compare(self, node):  # noqa: N802
        kind, target = self._resolve(node.field)
        op, value = node.op, node.value
        if op == "!=":
            return sa.and_(
                self.visit_Exists(q.Exists(node.field)),
                sa.not_(self._compare(kind, target, "==", value)),
            )
        if op in ("in", "nin"):
            positive = sa.or_(*[self._compare(kind, target, "==", v) for v in value])
            if not value:
                positive = sa.false()
            if op == "in":
                return positive
            return sa.and_(self.visit_Exists(q.Exists(node.field)), sa.not_(positive))
        return self._compare(kind, target, op, value)

    # ------------------------------------------------------------------ fields
    def _resolve(self, fld: q.Field):
        """``("column", expr)``, ``("id", expr)``, ``("json", (doc, path))`` or ``("metric", ...)``."""
        t = self.t
        if fld.metric is not None:
            return "metric", fld.metric
        path = fld.path
        root = path[0]
        if len(path) == 1:
            if root == "_id":
                return "id", t.run.c.run_id
            if root in ("status", "command"):
                column = t.run.c[root]
                return "str", sa.cast(column, sa.Text) if self.pg else column
            if root == "captured_out":
                chunk = t.output_chunk if self.has_output_chunks() else None
                text = output_expression(self.dialect, t.run, chunk)
                if text is None:
                    raise Untranslatable(fld)
                return "str", text
            if root in _DATE_COLUMNS:
                return "date", t.run.c[root]
        if path in (("experiment", "name"), ("experiment", "base_dir")):
            return "str", t.experiment.c[path[1]]
        if path in (("host", "hostname"), ("host", "cpu"), ("host", "python_version")):
            return "str", t.host.c[path[1]]
        if not self.json:
            raise Untranslatable(fld)
        if root == "result":
            return "json", (self._result_doc(), path[1:])
        if root in ("config", "info") and len(path) > 1:
            column = t.run.c[root]
            return "json", (sa.cast(column, _jsonb()) if self.pg else column, path[1:])
        raise Untranslatable(fld)

    def _result_doc(self):
        run = self.t.run.c
        if self.pg:
            return sa.func.coalesce(
                sa.cast(run.result_json, _jsonb()),
                sa.func.to_jsonb(run.result),
                sa.cast(sa.literal("null"), _jsonb()),
            )
        return sa.func.coalesce(run.result_json, sa.cast(run.result, sa.Text), "null")

    # ------------------------------------------------------------------ JSON paths
    def _path_parts(self, path):
        for part in path:
            if self.pg:
                if re.fullmatch(r"-\d+", part):  # PostgreSQL would count from the end
                    raise Untranslatable(part)
            elif part.isdigit():  # a list index or a key: unknown before reading the value
                raise Untranslatable(part)
            elif _UNQUOTABLE.search(part):  # no way to write it in a quoted path label
                raise Untranslatable(part)

    def _json_paths(self, path) -> list:
        """SQLite's paths to the value at ``path``, for each way the JSON text may write
        the keys. SQLite (before 3.45) compares a path's quoted label with the key as it is
        written in the text, escapes and all: the SqlObserver writes ``"gr\\u00f6\\u00dfe"``
        (``json.dumps``), another writer ``"größe"``. Both are tried, the escaped form
        first; the same path when every name is ASCII."""
        escaped = "$" + "".join(f'."{json.dumps(p)[1:-1]}"' for p in path)
        raw = "$" + "".join(f'."{p}"' for p in path)
        return [escaped] if escaped == raw else [escaped, raw]

    def _json_type(self, doc, path):
        """The JSON type of the value at ``path`` ('' when missing; never NULL)."""
        self._path_parts(path)
        if self.pg:
            value = sa.func.jsonb_extract_path(doc, *[sa.literal(p) for p in path]) if path else doc
            return sa.func.coalesce(sa.func.jsonb_typeof(value), "")
        types = [sa.func.json_type(doc, p) for p in self._json_paths(path)]
        return sa.func.coalesce(*types, "")

    def _json_text(self, doc, path):
        """The value at ``path``: SQLite's SQL value, PostgreSQL's text form."""
        if self.pg:
            if not path:  # the whole document (``result``) as text
                return sa.func.jsonb_build_array(doc).op("->>")(0)
            return sa.func.jsonb_extract_path_text(doc, *[sa.literal(p) for p in path])
        paths = self._json_paths(path)
        if len(paths) == 1:
            return sa.func.json_extract(doc, paths[0])
        escaped, raw = paths
        return sa.case(
            (sa.func.json_type(doc, escaped).isnot(None), sa.func.json_extract(doc, escaped)),
            else_=sa.func.json_extract(doc, raw),
        )

    def _json_compare(self, doc, path, op, value):
        kind = _kind(value)
        type_ = self._json_type(doc, path)
        text = self._json_text(doc, path)
        if kind == "composite" or kind == "other":
            raise Untranslatable(value)
        if op == "regex":
            if self.pg:
                _check_pg_regex(value)
                return sa.and_(type_ == "string", text.regexp_match(value))
            return sa.and_(type_ == "text", sa.func.regexp(value, text) == 1)
        if kind == "null":
            return type_ == "null" if op == "==" else sa.false()
        if kind == "date":
            return sa.false()  # JSON holds no dates
        if kind == "num" and math.isnan(value):
            return sa.false()
        compare = _EQ_OPS.get(op) or _ORDER_OPS[op]
        if self.pg:
            if kind == "num":
                number = sa.case((type_ == "number", sa.cast(text, sa.Float)), else_=None)
                return sa.and_(type_ == "number", sa.func.coalesce(compare(number, value), False))
            if kind == "bool":  # 'false' < 'true', like False < True
                value = "true" if value else "false"
                return sa.and_(type_ == "boolean", compare(sa.collate(text, "C"), value))
            return sa.and_(type_ == "string", compare(sa.collate(text, "C"), value))
        if kind == "num":
            return sa.and_(type_.in_(["integer", "real"]), compare(text, value))
        if kind == "bool":  # json_extract gives 1/0 for true/false
            return sa.and_(type_.in_(["true", "false"]), compare(text, int(value)))
        return sa.and_(type_ == "text", compare(text, value))

    # ------------------------------------------------------------------ comparisons
    def _compare(self, kind, target, op, value):
        if kind == "json":
            return self._json_compare(*target, op, value)
        if kind == "metric":
            return self._metric_compare(*target, op, value)
        if kind == "id":
            return self._id_compare(target, op, value)
        want = "date" if kind == "date" else "str"
        if _kind(value) != want:
            return sa.false()
        if op == "regex":
            if self.pg:
                _check_pg_regex(value)
                return sa.and_(target.isnot(None), target.regexp_match(value))
            return sa.and_(target.isnot(None), sa.func.regexp(value, target) == 1)
        compare = _EQ_OPS.get(op) or _ORDER_OPS[op]
        if self.pg and want == "str" and op != "==":
            target = sa.collate(target, "C")
        return sa.and_(target.isnot(None), compare(target, value))

    def _id_compare(self, column, op, value):
        if op != "==":
            raise Untranslatable(op)
        if type(value) is int:
            return column == str(value) if value >= 0 else sa.false()
        if type(value) is str and value and not value.isdigit():
            return column == value
        return sa.false()  # a digit string is an int _id in the records

    # ------------------------------------------------------------------ metrics
    def _metric_rows(self, name):
        m = self.t.metric.c
        return sa.and_(m.run_id == self.t.run.c.run_id, m.name == name)

    def metric_value(self, name, agg):
        """A correlated scalar subquery: the summary, NULL when it does not exist."""
        m = self.t.metric.c
        rows = self._metric_rows(name)
        if agg == "count":
            return sa.select(sa.func.count()).where(rows).scalar_subquery()
        if agg in ("min", "max"):
            fn = sa.func.min if agg == "min" else sa.func.max
            if self.pg:  # PostgreSQL orders NaN above all numbers; summaries ignore NaN
                rows = sa.and_(rows, m.value != sa.literal(float("nan"), sa.Float))
            return sa.select(fn(m.value)).where(rows).scalar_subquery()
        order = (m.step, m.metric_id) if agg == "first" else (m.step.desc(), m.metric_id.desc())
        return sa.select(m.value).where(rows).order_by(*order).limit(1).scalar_subquery()

    def _metric_exists(self, name, agg):
        if agg in ("min", "max"):
            return self.metric_value(name, agg).isnot(None)
        return sa.exists().where(self._metric_rows(name))

    def _metric_compare(self, name, agg, op, value):
        if op == "regex" or _kind(value) != "num" or math.isnan(value):
            return sa.false()  # metric summaries are numbers
        compare = _EQ_OPS.get(op) or _ORDER_OPS[op]
        summary = self.metric_value(name, agg)
        if agg == "count" and value > 0 and op in ("==", ">", ">="):
            return compare(summary, value)  # an absent metric has count 0 (missing)
        return sa.and_(
            self._metric_exists(name, agg), sa.func.coalesce(compare(summary, value), False)
        )

    # ------------------------------------------------------------------ sorting
    def sort_keys(self, fld: q.Field) -> list:
        """Expressions to ORDER BY (all ascending for ascending order) for one field."""
        kind, target = self._resolve(fld)
        if kind == "metric":
            value = self.metric_value(*target)
            return [sa.case((value.is_(None), 0), else_=1), value]
        if kind == "id":
            return self._id_keys()
        if kind in ("str", "date"):
            if self.pg and kind == "str":
                target = sa.collate(target, "C")
            return [sa.case((target.is_(None), 0), else_=1), target]
        doc, path = target
        type_ = self._json_type(doc, path)
        text = self._json_text(doc, path)
        ranks = _RANKS_PG if self.pg else _RANKS_SQLITE
        whens = [(type_ == name, rank) for name, rank in ranks.items()]
        if not self.pg:
            whens += [(type_ == "true", 8), (type_ == "false", 8)]
        rank = sa.case(*whens, else_=1)
        if self.pg:
            number = sa.case((type_ == "number", sa.cast(text, sa.Float)), else_=None)
            other = sa.case((type_ != "number", sa.collate(text, "C")), else_=None)
            return [rank, number, other]
        return [rank, text]

    def _id_keys(self) -> list:
        """Run ids as query.sort_key orders ``_id``: numbers first (numerically), then text."""
        run_id = self.t.run.c.run_id
        if self.pg:
            digits = run_id.regexp_match("^[0-9]+$")
            text = sa.collate(run_id, "C")
        else:
            digits = sa.and_(
                run_id != "", sa.not_(run_id.op("GLOB", is_comparison=True)("*[^0-9]*"))
            )
            text = run_id
        return [
            sa.case((digits, 0), else_=1),
            sa.case((digits, sa.func.length(run_id)), else_=0),
            text,
        ]


# what a quoted label of an SQLite JSON path cannot hold: it ends at the next '"', and a
# backslash (an escape from SQLite 3.45 on) or a control character (escaped in the JSON
# text) would not compare with the key as written
_UNQUOTABLE = re.compile(r'["\\\x00-\x1f]')

# escapes that mean the same in RE2 (query.regex_searcher) and PostgreSQL's regular
# expressions
_PG_SAFE_ESCAPE = re.compile(r"\\[dDwWsSntr.^$*+?()\[\]{}|\\/-]")


def _check_pg_regex(pattern: str) -> None:
    """Untranslatable unless the pattern means the same to PostgreSQL as to RE2, which
    answers the query in Python (``\\b`` is a backspace there, ``(?...)`` groups differ...)."""
    if "(?" in pattern or "\\" in _PG_SAFE_ESCAPE.sub("", pattern):
        raise Untranslatable(pattern)


def _jsonb():
    from sqlalchemy.dialects.postgresql import JSONB

    return JSONB
