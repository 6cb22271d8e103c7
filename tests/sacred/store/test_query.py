"""The query language: tokens, grammar, precedence, errors with a caret, and matching."""

import datetime as dt

import pytest

from sacred.store.query import (
    And,
    Compare,
    Exists,
    Field,
    MatchAll,
    Not,
    Or,
    QueryError,
    matches,
    parse,
    parse_field,
    parse_sort,
    sort_key,
)
from sacred.utils import SacredError

NOW = dt.datetime(2026, 11, 27, 12, 0, 0)


def F(*path):
    return Field(tuple(path))


def C(path, op, value):
    return Compare(F(*path.split(".")), op, value)


# ----------------------------------------------------------------------------- parsing
@pytest.mark.parametrize(
    "text, expected",
    [
        ("", MatchAll()),
        ("   ", MatchAll()),
        ("config.lr == 0.1", C("config.lr", "==", 0.1)),
        ("lr != 1", C("config.lr", "!=", 1)),
        ("a.b.c < -2.5e3", C("config.a.b.c", "<", -2500.0)),
        ("x <= 3", C("config.x", "<=", 3)),
        ("x > .5", C("config.x", ">", 0.5)),
        ("x >= +7", C("config.x", ">=", 7)),
        ("info.best < 1", C("info.best", "<", 1)),
        ("host.hostname == 'gpu1'", C("host.hostname", "==", "gpu1")),
        ('experiment.name == "it\'s \\"x\\""', C("experiment.name", "==", 'it\'s "x"')),
        ('status == "FAILED"', C("status", "==", "FAILED")),
        ("result == null", C("result", "==", None)),
        ("x == true", C("config.x", "==", True)),
        ("x == False", C("config.x", "==", False)),
        ("x == [1, 'a', [2], null,]", C("config.x", "==", [1, "a", [2], None])),
        ("x in [1, 2]", C("config.x", "in", [1, 2])),
        ("x not in []", C("config.x", "nin", [])),
        ("x =~ '^a\\d+'", C("config.x", "regex", "^a\\d+")),
        ('x regex "b$"', C("config.x", "regex", "b$")),
        ("x exists", Exists(F("config", "x"), True)),
        ("x not exists", Exists(F("config", "x"), False)),
        (".seed == 1", C("seed", "==", 1)),
        ("config.layers.0 == 64", C("config.layers.0", "==", 64)),
        ("batch-size == 3", C("config.batch-size", "==", 3)),
        (
            "start_time >= 2026-11-27",
            Compare(F("start_time"), ">=", dt.datetime(2026, 11, 27)),
        ),
        (
            "stop_time < 2026-11-27T10:30:00.5",
            Compare(F("stop_time"), "<", dt.datetime(2026, 11, 27, 10, 30, 0, 500000)),
        ),
        (
            "heartbeat < 2026-11-27T10:30:00+02:00",
            Compare(F("heartbeat"), "<", dt.datetime(2026, 11, 27, 8, 30)),
        ),
        (
            "start_time > '2026-11-27T10:00:00Z'",
            Compare(F("start_time"), ">", dt.datetime(2026, 11, 27, 10)),
        ),
        ("start_time > -1d", Compare(F("start_time"), ">", NOW - dt.timedelta(days=1))),
        ("start_time > -90s", Compare(F("start_time"), ">", NOW - dt.timedelta(seconds=90))),
        ("start_time > -1.5h", Compare(F("start_time"), ">", NOW - dt.timedelta(minutes=90))),
        ("start_time < +2w", Compare(F("start_time"), "<", NOW + dt.timedelta(weeks=2))),
        ("stop_time > -5m", Compare(F("stop_time"), ">", NOW - dt.timedelta(minutes=5))),
        (
            "metrics.loss.min < 0.2",
            Compare(Field(("metrics", "loss", "min"), ("loss", "min")), "<", 0.2),
        ),
        (
            "metrics.train.loss.last >= 1",
            Compare(Field(("metrics", "train", "loss", "last"), ("train.loss", "last")), ">=", 1),
        ),
    ],
)
def test_parse(text, expected):
    assert parse(text, now=NOW) == expected


def test_leading_dot_in_text_is_absolute():
    assert parse(".result > 1") == C("result", ">", 1)
    assert parse(".foo.bar == 1") == C("foo.bar", "==", 1)  # any path from the root
    assert parse("foo.bar == 1") == C("config.foo.bar", "==", 1)


def test_precedence_not_binds_tighter_than_and_tighter_than_or():
    a, b, c, d = (C(f"config.{n}", "==", 1) for n in "abcd")
    assert parse("a == 1 or b == 1 and c == 1") == Or((a, And((b, c))))
    assert parse("a == 1 and b == 1 or c == 1 and d == 1") == Or((And((a, b)), And((c, d))))
    assert parse("not a == 1 and b == 1") == And((Not(a), b))
    assert parse("not (a == 1 and b == 1)") == Not(And((a, b)))
    assert parse("(a == 1 or b == 1) and c == 1") == And((Or((a, b)), c))
    assert parse("not not a == 1") == Not(Not(a))
    assert parse("a == 1 AND b == 1 OR c == 1") == Or((And((a, b)), c))


def test_keywords_are_not_fields_but_may_be_path_parts():
    assert parse("config.in == 1") == C("config.in", "==", 1)
    assert parse("x.not == 1") == C("config.x.not", "==", 1)


def _error(text):
    with pytest.raises(QueryError) as info:
        parse(text)
    return str(info.value)


@pytest.mark.parametrize(
    "text, message",
    [
        ("lr >", "expected a value but the query ends\n    lr >\n        ^"),
        ("lr = 1", "use '==' to compare\n    lr = 1\n       ^"),
        ("(a == 1", "expected ')' but the query ends\n    (a == 1\n           ^"),
        ("a == 1)", "unbalanced ')'\n    a == 1)\n          ^"),
        ("a == foo", 'expected a value; quote strings: "foo"\n    a == foo\n         ^'),
        (
            "a == 1 b == 2",
            "expected 'and', 'or' or the end of the query, found 'b'\n"
            "    a == 1 b == 2\n           ^",
        ),
        ('a == "abc', 'unterminated string\n    a == "abc\n         ^'),
        (
            "a == 1 and",
            "expected a field name, but the query ends\n    a == 1 and\n              ^",
        ),
        ("a ? 1", "unexpected character '?'\n    a ? 1\n      ^"),
        ("== 1", "expected a field name, but found '=='\n    == 1\n    ^"),
        (
            "a",
            "expected an operator (== != < <= > >= =~ in, not in, exists) after config.a "
            "but the query ends\n    a\n     ^",
        ),
        ("a not 1", "expected 'in' or 'exists' after 'not'\n    a not 1\n          ^"),
        ("a in 1", "expected a list like [1, 2], found '1'\n    a in 1\n         ^"),
        ("a in [1 2]", "expected ',' or ']', found '2'\n    a in [1 2]\n            ^"),
        ("a =~ 1", "a regular expression must be a quoted string\n    a =~ 1\n         ^"),
        (
            'a =~ "("',
            "invalid regular expression: missing ), unterminated subpattern at "
            'position 0\n    a =~ "("\n         ^',
        ),
        ("a < null", "'<' needs a number, string, date or boolean\n    a < null\n        ^"),
        ("a > [1]", "'>' needs a number, string, date or boolean\n    a > [1]\n        ^"),
        (
            "metrics.loss < 1",
            "a metric field is metrics.<name>.<summary> with summary one of "
            "min, max, first, last, count\n    metrics.loss < 1\n    ^",
        ),
        (
            "metrics.loss.avg < 1",
            "a metric field is metrics.<name>.<summary> with summary one "
            "of min, max, first, last, count\n    metrics.loss.avg < 1\n    ^",
        ),
        ("status.x == 1", "status has no sub-fields\n    status.x == 1\n    ^"),
        (
            "start_time > 'yesterday'",
            "'yesterday' is not a date (use 2026-11-27 or "
            "2026-11-27T10:00:00)\n    start_time > 'yesterday'\n                 ^",
        ),
        (
            "start_time > 2026-13-01",
            "invalid date '2026-13-01'\n    start_time > 2026-13-01\n                 ^",
        ),
        ("()", "expected a condition inside the parentheses\n    ()\n     ^"),
        ("a == 1 and\nb ==", "expected a value but the query ends\n    b ==\n        ^"),
    ],
)
def test_errors_point_at_the_problem(text, message):
    assert _error(text) == message


def test_query_error_is_a_sacred_error_and_a_value_error():
    with pytest.raises(QueryError) as info:
        parse("a ==")
    assert isinstance(info.value, SacredError)
    assert isinstance(info.value, ValueError)
    assert info.value.position == 4 and info.value.query == "a =="


def test_no_code_is_ever_evaluated():
    # things that would do something if they reached eval are plain syntax errors here
    for text in ["__import__('os').system('true')", "a == (1).__class__", "a == 1; b"]:
        with pytest.raises(QueryError):
            parse(text)


# ----------------------------------------------------------------------------- JSON trees
def test_sacredboard_tree_and_its_leading_dot_convention():
    tree = {
        "type": "and",
        "filters": [
            {"field": "seed", "operator": "==", "value": 3},
            {"field": ".info.loss", "operator": "<", "value": 1},
            {"field": "host.hostname", "operator": "regex", "value": "^gpu"},
            {
                "type": "or",
                "filters": [
                    {"field": ".status", "operator": "==", "value": "COMPLETED"},
                    {"field": ".result", "operator": ">=", "value": 0.5},
                ],
            },
        ],
    }
    expected = And(
        (
            C("config.seed", "==", 3),
            C("info.loss", "<", 1),
            C("host.hostname", "regex", "^gpu"),
            Or((C("status", "==", "COMPLETED"), C("result", ">=", 0.5))),
        )
    )
    assert parse(tree) == expected
    import json

    assert parse(json.dumps(tree)) == expected  # the wire format is a JSON string
    assert parse({"type": "and", "filters": []}) == MatchAll()


def test_sacredboard_pseudo_statuses_use_the_heartbeat():
    node = parse(
        {
            "type": "or",
            "filters": [
                {"field": "status", "operator": "==", "value": "DEAD"},
            ],
        },
        now=NOW,
    )
    stale = {
        "status": "RUNNING",
        "heartbeat": NOW - dt.timedelta(seconds=121),
        "start_time": NOW - dt.timedelta(hours=1),
    }
    fresh = dict(stale, heartbeat=NOW - dt.timedelta(seconds=5))
    assert matches(node, stale) and not matches(node, fresh)
    alive = parse({"field": "status", "operator": "==", "value": "RUNNING"}, now=NOW)
    assert matches(alive, fresh) and not matches(alive, stale)
    date = parse(
        {
            "field": ".start_time",
            "operator": ">",
            "value": "2026-11-27T00:00:00",
            "valueType": "DateTime",
        }
    )
    assert date == Compare(F("start_time"), ">", dt.datetime(2026, 11, 27))


@pytest.mark.parametrize(
    "tree, message",
    [
        ({"type": "xor", "filters": []}, "query.type: must be 'and' or 'or', not 'xor'"),
        (
            {"type": "and", "filters": [{"field": "a", "operator": "~", "value": 1}]},
            "query.filters[0].operator: unknown operator '~'",
        ),
        (
            {"type": "and", "filters": [{"field": "a", "value": 1}]},
            "query.filters[0]: a terminal clause needs operator",
        ),
        (
            {"type": "and", "filters": [{"field": "a", "operator": "regex", "value": 1}]},
            "query.filters[0]: a regular expression must be a string",
        ),
        (
            {"type": "and", "filters": [1]},
            "query.filters[0]: a filter clause must be an object, not 1",
        ),
        ([1], "a query is a string or a JSON filter tree, not list"),
    ],
)
def test_tree_errors_name_the_clause(tree, message):
    with pytest.raises(QueryError) as info:
        parse(tree)
    assert str(info.value) == message


def test_broken_json_text_points_into_it():
    assert _error('{"type": "and", "filters": [}') == (
        "invalid JSON filter tree: Expecting value\n"
        '    {"type": "and", "filters": [}\n'
        "                                ^"
    )


# ----------------------------------------------------------------------------- matching
RECORD = {
    "_id": 7,
    "status": "COMPLETED",
    "result": 0.25,
    "start_time": dt.datetime(2026, 11, 27, 10),
    "heartbeat": None,
    "config": {
        "lr": 0.1,
        "n": 3,
        "flag": True,
        "name": "adam-2",
        "layers": [64, 32],
        "opt": {"beta": 0.9},
        "none": None,
        "nan": float("nan"),
    },
    "info": {"best": 1},
    "host": {"hostname": "gpu1"},
}
SUMMARIES = {"loss": {"count": 3, "first": 1.0, "last": 0.2, "min": 0.1, "max": 1.0}}


@pytest.mark.parametrize(
    "text, expected",
    [
        ("lr == 0.1", True),
        ("n == 3.0", True),  # numbers compare as numbers
        ("n == '3'", False),  # but not with strings
        ("flag == 1", False),  # and true is not 1
        ("flag == true", True),
        ("n != 4", True),
        ("missing != 4", False),  # a missing field never matches a comparison
        ("not missing == 4", True),  # but "not" is plain negation
        ("missing exists", False),
        ("missing not exists", True),
        ("none exists", True),
        ("none == null", True),
        ("missing == null", False),
        ("none != null", False),
        ("lr != null", True),
        ("n < 'z'", False),  # ordering only within a type
        ("name < 'b'", True),
        ("name > 3", False),
        ("flag > false", True),
        ("nan < 1", False),
        ("nan > 1", False),
        ("nan == 1", False),
        ("layers == [64, 32]", True),
        ("layers == 64", False),  # no search inside lists
        ("layers.0 == 64", True),
        ("layers.5 exists", False),
        ("opt.beta in [0.9, 1]", True),
        ("opt.beta not in [0.9]", False),
        ("missing not in [1]", False),
        ("name =~ 'dam'", True),  # unanchored search
        ("name =~ '^dam'", False),
        ("name =~ 'ADAM'", False),  # case-sensitive
        ("n =~ '3'", False),  # only strings
        ("info.best >= 1 and host.hostname == 'gpu1'", True),
        ("status in ['FAILED', 'COMPLETED'] and not result > 0.3", True),
        ("start_time < 2026-11-27T10:00:01 and start_time > 2026-11-26", True),
        ("start_time > '2026-11-27T10:00:00'", False),
        ("heartbeat < 2030-01-01", False),  # null is not a date
        ("metrics.loss.min < 0.2", True),
        ("metrics.loss.last == 0.2 and metrics.loss.count == 3", True),
        ("metrics.acc.min exists", False),
        ("not metrics.acc.min < 1", True),
        ("_id == 7", True),
        ("_id in [1, 2]", False),
    ],
)
def test_matches(text, expected):
    assert matches(text, RECORD, SUMMARIES) is expected


def test_live_state_field():
    now = dt.datetime(2026, 11, 27, 12)
    running = {
        "status": "RUNNING",
        "start_time": now - dt.timedelta(hours=2),
        "heartbeat": now - dt.timedelta(seconds=30),
    }
    stale = dict(running, heartbeat=now - dt.timedelta(seconds=600))
    never_beat = dict(running, heartbeat=None)
    young = dict(running, heartbeat=None, start_time=now - dt.timedelta(seconds=3))
    done = {"status": "COMPLETED", "heartbeat": now - dt.timedelta(days=3)}
    dead = parse("live_state == 'PROBABLY_DEAD'", now=now)
    assert [matches(dead, r) for r in (running, stale, never_beat, young, done)] == [
        False,
        True,
        True,
        False,
        False,
    ]
    alive = parse("live_state == 'RUNNING'", now=now)
    assert [matches(alive, r) for r in (running, stale, never_beat, young, done)] == [
        True,
        False,
        False,
        True,
        False,
    ]
    strict = parse("live_state == 'PROBABLY_DEAD'", now=now, dead_after=10)
    assert matches(strict, running)
    assert matches(parse("live_state in ['COMPLETED', 'PROBABLY_DEAD']", now=now), done)
    assert matches(parse("live_state != 'RUNNING'", now=now), stale)
    assert matches(parse("live_state =~ 'DEAD'", now=now), stale)
    assert not matches(parse("live_state =~ 'DEAD'", now=now), running)
    with pytest.raises(QueryError, match="live_state supports == != in and regex, not '<'"):
        parse("live_state < 'x'")


# ----------------------------------------------------------------------------- fields, sort
def test_parse_field_shorthand():
    assert parse_field("lr") == F("config", "lr")
    assert parse_field("config.lr") == F("config", "lr")
    assert parse_field(".lr") == F("lr")
    assert parse_field("info.x") == F("info", "x")
    assert parse_field("experiment.name") == F("experiment", "name")
    assert parse_field("metrics.a.b.max").metric == ("a.b", "max")


def test_parse_sort():
    assert parse_sort("-lr") == [(F("config", "lr"), True)]
    assert parse_sort("status, -metrics.loss.min") == [
        (F("status"), False),
        (Field(("metrics", "loss", "min"), ("loss", "min")), True),
    ]
    assert parse_sort(["+result", "-_id"]) == [(F("result"), False), (F("_id"), True)]
    assert parse_sort(None) == []
    with pytest.raises(QueryError, match="invalid sort field 'a b'"):
        parse_sort("a b")


def test_sort_key_orders_types_like_mongodb():
    from sacred.store.query import MISSING

    values = [
        dt.datetime(2020, 1, 1),
        True,
        [1],
        {"a": 1},
        "b",
        "a",
        2,
        1.5,
        float("nan"),
        None,
        MISSING,
    ]
    ordered = sorted(values, key=sort_key)
    kinds = [type(v).__name__ for v in ordered]
    assert kinds[:2] in (["NoneType", "_Missing"], ["_Missing", "NoneType"])
    assert ordered[3:] == [1.5, 2, "a", "b", {"a": 1}, [1], True, dt.datetime(2020, 1, 1)]
    assert ordered[2] != ordered[2]  # NaN comes before the other numbers
