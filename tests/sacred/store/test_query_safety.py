"""Queries cannot freeze a reader (ReDoS) nor smuggle MongoDB operators in (issue 13).

Regular expressions that make a backtracking engine run for many minutes on a value of 35
characters (``(a+)+$`` on ``"a" * 34 + "!"``: some 20 minutes for Python's ``re``) are
answered in milliseconds on every store: Python evaluation (folder, TinyDB and SQLite's
``regexp()``) uses RE2; PostgreSQL matches them itself (its engine is not exponential on
these), within a ``statement_timeout``; MongoDB gets ``maxTimeMS``.

Python's ``re`` holds the GIL while it backtracks, so a regression could not be stopped by a
thread of this test process: the queries run in subprocesses with a timeout, and a
regression fails instead of hanging.

Field paths never carry ``$`` nor empty parts, so the only ``$`` keys of a Mongo filter are
the translator's own operators.
"""

import datetime
import json
import re
import subprocess
import sys
import textwrap

import pytest

from sacred import Experiment
from sacred.observers.mongo.query import translate
from sacred.store import query as q

EVIL = "a" * 34 + "!"
GOOD = "a" * 34
#: pattern -> tags of the runs it matches (each takes minutes for Python's re on EVIL, or is
#: exponential in the length of it)
PATTERNS = {
    r"(a+)+$": ["good"],
    r"(a|a)*$": ["evil", "good"],  # the empty match at the end
    r"(a|aa)+$": ["good"],
    r"(\w+\s?)+$": ["good"],
    r"(.*a){25}": ["evil", "good"],
}
#: seconds one query may take here (RE2 needs well under a millisecond; the issue's >60 s)
PER_QUERY = 2.0
SUBPROCESS_TIMEOUT = 60


def _query(pattern):
    return f"config.b regex {json.dumps(pattern)}"


def _python(code, *args):
    """Runs ``code`` in a fresh interpreter; a regression (minutes in Python's re) fails."""
    try:
        proc = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code), *args],
            capture_output=True,
            text=True,
            timeout=SUBPROCESS_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"more than {SUBPROCESS_TIMEOUT} s (ReDoS)")
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_the_expected_answers_are_right():
    for pattern, expected in PATTERNS.items():
        assert re.search(pattern, GOOD)  # quick: it matches (no backtracking to exhaust)
        assert "good" in expected
        assert q.matches(_query(pattern), {"config": {"b": GOOD}})
    # on EVIL only where a regression cannot freeze this process
    out = _python(
        """
        import json, sys, time
        from sacred.store import query as q
        out = {}
        for pattern in json.loads(sys.argv[1]):
            start = time.perf_counter()
            found = q.matches("b =~ " + json.dumps(pattern), {"config": {"b": sys.argv[2]}})
            out[pattern] = [found, time.perf_counter() - start]
        print(json.dumps(out))
        """,
        json.dumps(list(PATTERNS)),
        EVIL,
    )
    for pattern, (found, seconds) in json.loads(out).items():
        assert found is ("evil" in PATTERNS[pattern]), pattern
        assert seconds < PER_QUERY


# ---------------------------------------------------------------------------- stores
def _experiment():
    ex = Experiment("redos")

    @ex.config
    def cfg():
        tag = "x"  # noqa: F841
        b = ""  # noqa: F841

    @ex.main
    def main(_run, b):
        _run.log_scalar("loss", float(len(b)), 0)
        return len(b)

    return ex


def _fill(observer_factory):
    for tag, value in (("evil", EVIL), ("good", GOOD)):
        ex = _experiment()
        ex.observers.append(observer_factory())
        ex.run(config_updates={"tag": tag, "b": value}, options={"--capture": "sys"})


def _file(tmp_path):
    from sacred.observers import FileStorageObserver

    _fill(lambda: FileStorageObserver(str(tmp_path / "runs")))
    return str(tmp_path / "runs")


def _sqlite(tmp_path):
    from sacred.observers import SqlObserver

    url = f"sqlite:///{tmp_path / 'runs.db'}"
    _fill(lambda: SqlObserver(url))
    return url


def _postgresql(tmp_path):
    pytest.importorskip("psycopg")
    from sacred.observers import SqlObserver
    from tests.sacred.store.conftest import _postgres_url

    url = _postgres_url(tmp_path)
    _fill(lambda: SqlObserver(url))
    return url


def _tinydb(tmp_path):
    pytest.importorskip("tinydb")
    from sacred.observers import TinyDbObserver

    _fill(lambda: TinyDbObserver(str(tmp_path / "tinydb")))
    return str(tmp_path / "tinydb")


KINDS = {"file": _file, "sqlite": _sqlite, "postgresql": _postgresql, "tinydb": _tinydb}

# runs every pattern through find() and count() in a fresh interpreter; prints JSON
_CHILD = textwrap.dedent(
    """
    import json, sys, time
    from sacred.store import open_store

    store = open_store(sys.argv[1])
    store.summaries("config.b exists")  # opening costs (indexes, connections) not timed
    out = {}
    for pattern in json.loads(sys.argv[2]):
        query = "config.b regex " + json.dumps(pattern)
        start = time.perf_counter()
        tags = sorted(r["config"]["tag"] for r in store.find(query))
        count = store.count(query)
        page = [r["config"]["tag"] for r in store.summaries(query, "config.tag", 0, 1)]
        out[pattern] = [tags, count, page, time.perf_counter() - start]
    print(json.dumps(out))
    """
)


def _run_child(location):
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD, location, json.dumps(list(PATTERNS))],
            capture_output=True,
            text=True,
            timeout=SUBPROCESS_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"the regex queries took more than {SUBPROCESS_TIMEOUT} s (ReDoS)")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_pathological_regexes_are_answered_quickly(kind, tmp_path):
    location = KINDS[kind](tmp_path)
    results = _run_child(location)
    for pattern, expected in PATTERNS.items():
        tags, count, page, seconds = results[pattern]
        assert tags == expected, pattern
        assert count == len(expected), pattern
        assert page == expected[:1], pattern
        assert seconds < PER_QUERY, (pattern, seconds)


@pytest.mark.parametrize("kind", ["file", "sqlite"])
def test_the_cli_answers_the_issue_query_quickly(kind, tmp_path):
    location = KINDS[kind](tmp_path)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "sacred.cli", "runs", "list", location, "-q", _query("(a+)+$")],
            capture_output=True,
            text=True,
            timeout=SUBPROCESS_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"sacred runs list took more than {SUBPROCESS_TIMEOUT} s (ReDoS)")
    assert proc.returncode == 0, proc.stderr
    rows = [line.split()[0] for line in proc.stdout.splitlines()[1:] if line.strip()]
    assert rows == ["2"], proc.stdout  # the "good" run only


def test_sqlite_regexp_function_uses_re2():
    out = _python(
        """
        import sys
        from sacred.observers.sql.store import _sqlite_regexp
        print(_sqlite_regexp("(a+)+$", sys.argv[1]))  # ~20 minutes with Python's re
        """,
        EVIL,
    )
    assert out.strip() == "0"
    from sacred.observers.sql.store import _sqlite_regexp

    assert _sqlite_regexp("(a+)+$", GOOD) == 1
    assert _sqlite_regexp("é+$", "x\udcffé") == 1  # lone surrogates of undecodable output
    assert _sqlite_regexp("a", None) == 0


# ---------------------------------------------------------------------------- PostgreSQL
def test_postgresql_statement_timeout_is_a_query_error(tmp_path):
    """A regex PostgreSQL needs longer than ``query_timeout`` for (over 20 million
    characters of output) is stopped by the server and reported as one line."""
    pytest.importorskip("psycopg")
    import sqlalchemy as sa

    from sacred.store import open_store

    url = _postgresql(tmp_path)
    store = open_store(url)
    try:
        with store.engine.begin() as conn:
            conn.execute(sa.text("UPDATE run SET captured_out = repeat('a', 20000000)"))
        store.query_timeout = 0.05
        for call in (store.find, store.count, lambda query: store.summaries(query, None, 0, 5)):
            with pytest.raises(q.QueryError) as info:
                call('captured_out =~ "(a|b)*c"')
            assert "\n" not in str(info.value)
            assert "stopped the query after 0.05 s" in str(info.value)
        # SET LOCAL: the pooled connections keep the server's default afterwards
        with store.engine.connect() as conn:
            assert conn.execute(sa.text("SHOW statement_timeout")).scalar() == "0"
        store.query_timeout = None  # query.QUERY_TIMEOUT: enough for this
        assert store.count('captured_out =~ "(a|b)*c"') == 0
        assert store.count('captured_out =~ "a$"') == 2
    finally:
        store.close()


# ---------------------------------------------------------------------------- MongoDB
class _Recorder:
    """A collection that records the filters, pipelines and time limits it is sent.

    mongomock evaluates ``$regex`` with Python's ``re`` and ignores ``maxTimeMS``, so for
    the pathological patterns it stands in for a server: a query without a time limit is a
    test failure, one with a limit runs out of it (``ExecutionTimeout``) as on MongoDB,
    whose backtracking engine could otherwise take this long."""

    def __init__(self, collection, evil_patterns=()):
        self._collection = collection
        self._evil = set(evil_patterns)
        self.calls = []

    def __getattr__(self, name):
        return getattr(self._collection, name)

    def _check(self, name, spec, limit):
        self.calls.append((name, spec, limit))
        text = json.dumps(spec, default=str)
        if any(json.dumps(p)[1:-1] in text for p in self._evil):
            assert limit, f"{name} was sent without maxTimeMS"
            from pymongo.errors import ExecutionTimeout

            raise ExecutionTimeout("operation exceeded time limit", 50)

    def find(self, filter=None, projection=None, **kwargs):
        self._check("find", filter, kwargs.get("max_time_ms"))
        return self._collection.find(filter, projection, **kwargs)

    def count_documents(self, filter, **kwargs):
        self._check("count_documents", filter, kwargs.get("maxTimeMS"))
        return self._collection.count_documents(filter, **kwargs)

    def aggregate(self, pipeline, **kwargs):
        self._check("aggregate", pipeline, kwargs.get("maxTimeMS"))
        return self._collection.aggregate(pipeline, **kwargs)


@pytest.fixture
def mongo_store():
    pytest.importorskip("mongomock")
    import mongomock
    import mongomock.gridfs

    from sacred.observers import MongoObserver
    from sacred.store import open_store

    mongomock.gridfs.enable_gridfs_integration()
    client = mongomock.MongoClient()
    _fill(lambda: MongoObserver(client=client, db_name="redos"))
    store = open_store(client, db_name="redos")
    store.runs = _Recorder(store.runs, PATTERNS)
    store.metrics_collection = _Recorder(store.metrics_collection, PATTERNS)
    return store


def test_mongo_queries_are_sent_with_max_time_ms(mongo_store):
    store = mongo_store
    runs, metrics = store.runs, store.metrics_collection
    assert sorted(r["config"]["tag"] for r in store.find('b =~ "^a+!"')) == ["evil"]
    assert store.count('b =~ "^a+$"') == 1
    assert store.count("metrics.loss.min > 34.5") == 1  # an aggregation on the metrics
    store.summaries("b exists", "metrics.loss.max")  # sorted by a metric summary
    queried = [c for c in runs.calls if c[0] in ("find", "count_documents")]
    assert queried and all(limit == 10_000 for _, _, limit in queried)
    assert [c[2] for c in metrics.calls if c[0] == "aggregate"][:1] == [10_000]
    store.query_timeout = 2.5
    store.count('b =~ "^a"')
    assert runs.calls[-1] == ("count_documents", {"config.b": {"$regex": "^a", **_NOT_ARRAY}}, 2500)


_NOT_ARRAY = {"$not": {"$type": "array"}}


@pytest.mark.parametrize("pattern", sorted(PATTERNS))
def test_mongo_time_limit_is_a_one_line_query_error(mongo_store, pattern):
    store = mongo_store
    for call in (store.find, store.count, lambda query: store.summaries(query, "_id", 0, 5)):
        with pytest.raises(q.QueryError) as info:
            call(_query(pattern))
        assert str(info.value) == (
            "the database stopped the query after 10 s (query_timeout): "
            "narrow it down or simplify its regular expressions"
        )
    sent = [spec for _, spec, _ in store.runs.calls]
    assert {"config.b": {"$regex": pattern, **_NOT_ARRAY}} in sent  # the pattern, unchanged


# ---------------------------------------------------------------------------- RE2 syntax
@pytest.mark.parametrize(
    "pattern, reason",
    [
        (r"(a)\1", "backreferences (\\1, (?P=name)) are not supported"),
        ("(?P<x>a)(?P=x)", "backreferences (\\1, (?P=name)) are not supported"),
        ("a(?=b)", "lookahead and lookbehind are not supported"),
        ("a(?!b)", "lookahead and lookbehind are not supported"),
        ("(?<=a)b", "lookahead and lookbehind are not supported"),
        ("(?<!a)b", "lookahead and lookbehind are not supported"),
        (r"a\Z", "\\Z is not supported (use $, the end of the text)"),
        ("a++", "RE2 rejects it: bad repetition operator: ++"),
        ("(?>a+)b", "RE2 rejects it: invalid perl operator: (?>"),
        ("a{1001}", "RE2 rejects it: invalid repetition size: {1001}"),
    ],
)
def test_backtracking_syntax_is_a_clear_query_error(pattern, reason):
    message = f"unsupported regular expression: {reason} (queries match with RE2, in linear time)"
    text = f"b =~ {json.dumps(pattern)}"
    with pytest.raises(q.QueryError) as info:
        q.parse(text)
    assert info.value.reason == message
    assert info.value.position == text.index('"')  # the caret points at the pattern
    tree = {"field": "config.b", "operator": "regex", "value": pattern}
    with pytest.raises(q.QueryError) as info:
        q.parse(tree)
    assert str(info.value) == f"query: {message}"


def test_regex_semantics_are_re2s():
    def hit(pattern, value):
        query = f"b =~ {json.dumps(pattern, ensure_ascii=False)}"
        return q.matches(query, {"config": {"b": value}})

    assert hit("^a.c$", "abc") and not hit("^a.c$", "a\nc")
    assert not hit("a$", "a\n")  # $ is the end of the text (Python's re: also before "\n")
    assert hit("(?m)a$", "a\nb") and hit("(?s)a.b", "a\nb") and hit("(?i)ABC", "xabc")
    assert hit(r"\d+", "x12") and not hit(r"^\w+$", "é")  # ASCII classes
    assert hit("é", "café") and hit("^.{4}$", "café")  # characters, not bytes
    assert not q.matches('b =~ "1"', {"config": {"b": 1}})  # strings only
    now = datetime.datetime(2026, 11, 27, 10, 0)
    dead = q.parse('live_state == "PROBABLY_DEAD"', now=now)
    assert q.parse('live_state =~ "DEAD$"', now=now) == q.Or((dead,))


def test_re2_is_imported_by_the_first_regex_query_only():
    code = textwrap.dedent(
        """
        import sys
        import sacred
        from sacred.store import open_store, query
        query.parse("a == 1 and b > 2")
        assert "re2" not in sys.modules, "imported early"
        query.parse('b =~ "x"')
        assert "re2" in sys.modules
        """
    )
    _python(code)


def test_without_re2_a_regex_query_says_what_to_install():
    code = textwrap.dedent(
        """
        import sys
        sys.modules["re2"] = None  # as if google-re2 were not installed
        from sacred.store import query
        assert query.matches("a == 1", {"config": {"a": 1}})  # other queries work
        try:
            query.parse('b =~ "x"')
        except query.QueryError as e:
            print(e)
        """
    )
    assert _python(code).splitlines()[0] == (
        "regular expressions in queries need google-re2: pip install google-re2"
    )


# ---------------------------------------------------------------------------- field paths
BAD_FIELDS = [
    ".$expr",
    "$where",
    "config.$function",
    "config.$accumulator",
    "info.a$b",
    "$",
    "a..b",
    "a.",
    "..a",
    ".",
    "",
    ".a.",
    "metrics.$x.min",
]


@pytest.mark.parametrize("name", BAD_FIELDS)
def test_bad_field_paths_are_refused_everywhere(name):
    with pytest.raises(q.QueryError) as info:
        q.parse_field(name)
    assert "\n" not in info.value.reason
    assert info.value.reason.startswith(f"invalid field {name!r}: ")
    with pytest.raises(q.QueryError) as info:
        q.parse({"field": name, "operator": "==", "value": 1})
    assert "\n" not in str(info.value) and str(info.value).startswith("query.field: invalid field")
    tree = {"type": "or", "filters": [{"field": "lr", "operator": "<", "value": 1}]}
    tree["filters"].append({"field": name, "operator": "regex", "value": "x"})
    with pytest.raises(q.QueryError):
        q.parse(json.dumps(tree))
    if name:
        with pytest.raises(q.QueryError):
            q.parse(f"{name} == 1")  # caret-style, at the field
        with pytest.raises(q.QueryError):
            q.parse(f"not ({name} exists)")
        with pytest.raises(q.QueryError):
            q.parse_sort(f"-{name}")


def test_text_query_errors_point_at_the_field():
    with pytest.raises(q.QueryError) as info:
        q.parse('lr < 1 and config.$where == "x"')
    assert str(info.value) == (
        "invalid field 'config.$where': '$' is not allowed in a field name\n"
        '    lr < 1 and config.$where == "x"\n'
        "               ^"
    )


def test_field_objects_check_their_path():
    for path in [("$where",), ("config", "$expr"), ("config", ""), (), ("a", 1)]:
        with pytest.raises(q.QueryError):
            q.Field(path)
    assert q.Field(("config", "lr")).dotted == "config.lr"


def test_a_leading_dot_is_the_documented_absolute_path():
    # ".a" means the top-level field "a" (Sacredboard's ".experiment.name"): a plain key
    assert q.parse_field(".a") == q.Field(("a",))
    assert translate({"field": ".a", "operator": "==", "value": 1}) == {
        "a": {"$eq": 1, "$not": {"$type": "array"}, "$type": "number"}
    }


#: every operator the translator writes (mongo.query and the store's metric stages)
TRANSLATOR_OPERATORS = {
    "$and",
    "$or",
    "$nor",
    "$not",
    "$eq",
    "$ne",
    "$in",
    "$exists",
    "$type",
    "$regex",
    "$lt",
    "$lte",
    "$gt",
    "$gte",
}


def _dollar_keys(obj):
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key.startswith("$") or "$" in key:
                yield key
            yield from _dollar_keys(value)
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            yield from _dollar_keys(item)


BAD_VALUES = [
    {"$where": "sleep(1000)"},
    ["good", {"$function": {"body": "x"}}],
    {"a": [{"b": {"$expr": 1}}]},
]


@pytest.mark.parametrize("value", BAD_VALUES)
def test_values_with_operator_keys_are_refused(value):
    for op in ("==", "!="):
        with pytest.raises(q.QueryError) as info:
            q.parse({"field": "config.tag", "operator": op, "value": value})
        message = "query: a value may not hold an object key that starts with '$'"
        assert str(info.value) == message


GOOD_QUERIES = [
    'b =~ "^a" and tag in ["evil", "good"]',
    "not (tag != 'good') or lr exists",
    ".experiment.name == 'redos' and status == 'COMPLETED'",
    {"field": ".a", "operator": "==", "value": {"where": "sleep(1000)", "x": ["$expr"]}},
    {"field": "config.tag", "operator": "==", "value": ["$expr", {"function": 1}]},
    {"field": "config.tag", "operator": "regex", "value": "$where"},
    {"field": "status", "operator": "==", "value": "DEAD"},
    'live_state in ["RUNNING", "FAILED"] and start_time > -1d',
]


def test_no_dollar_key_reaches_mongo_but_the_translators_operators(mongo_store):
    store = mongo_store
    for name in BAD_FIELDS:
        tree = {"type": "and", "filters": [{"field": name, "operator": "==", "value": 1}]}
        for call in (store.find, store.count, store.summaries):
            with pytest.raises(q.QueryError):
                call(tree)
        if name:
            with pytest.raises(q.QueryError):
                store.find(sort=name)
    for value in BAD_VALUES:
        tree = {"field": "config.tag", "operator": "==", "value": value}
        for call in (store.find, store.count, store.summaries):
            with pytest.raises(q.QueryError):
                call(tree)
    assert store.runs.calls == [] and store.metrics_collection.calls == []
    for query in GOOD_QUERIES:
        store.find(query)
        store.count(query)
        assert set(_dollar_keys(translate(query))) <= TRANSLATOR_OPERATORS
    for _, spec, _ in store.runs.calls:
        assert set(_dollar_keys(spec)) <= TRANSLATOR_OPERATORS, spec
    # the values are compared literally: no run has these
    assert store.count(GOOD_QUERIES[3]) == 0 and store.count(GOOD_QUERIES[4]) == 0


def test_mongo_store_keys_are_never_query_operators_for_any_valid_field():
    # whatever a valid field is, it becomes a key without "$"
    for name in ["a", ".a", "config.x-y", "info.a_b.c", "metrics.loss.min", "_id", ".meta.x"]:
        fld = q.parse_field(name)
        assert "$" not in fld.dotted and all(fld.path)
