"""SqlStore answers queries on field names beyond ASCII itself, on SQLite and PostgreSQL, as a
folder does: SQLite's json_extract compares a path's names with the key as it is written in
the JSON text, and the SqlObserver writes ``"gr\\u00f6\\u00dfe"`` (ASCII escapes)."""

import json

import pytest

sa = pytest.importorskip("sqlalchemy")

from sacred import Experiment  # noqa: E402
from sacred.observers import FileStorageObserver, SqlObserver  # noqa: E402
from sacred.store import open_store  # noqa: E402

from .conftest import STORE_KINDS, _postgres_url, _sqlite_url  # noqa: E402

NFD = "gro\u0308ße"  # a combining diaeresis: another key than "größe"
CONFIGS = [
    {"größe": 2, "ключ": {"値": "x"}, "naïve": "ü", "𝑥": 1.5, NFD: 1, "ok": True},
    {"größe": 5, "ключ": {"値": "y"}, "naïve": "a", "𝑥": -1, "ok": False},
    {"größe": "groß", "ключ": {"andere": 1}, NFD: 2},
]
QUERIES = [
    "config.größe == 2",
    "größe < 3",
    "größe >= 2",
    "größe == 'groß'",
    "größe exists",
    "not (größe exists)",
    "ключ.値 == 'x'",
    "ключ.値 != 'x'",
    "ключ.値 in ['x', 'y']",
    "config.ключ.値 =~ '^y'",
    "ключ.値 not exists",
    "naïve > 'b'",
    "𝑥 < 0",
    "𝑥 == 1.5",
    f"{NFD} == 1",
    f"{NFD} exists",
    "ok == true",
    "größe < 3 or ключ.andere == 1",
]
SORTS = ["größe", "-größe", "ключ.値", "-𝑥,größe"]


def _fill(observer_factory):
    ids = []
    for config in CONFIGS:
        ex = Experiment("unicode")
        ex.add_config(config)
        ex.main(lambda: None)
        ex.observers.append(observer_factory())
        ids.append(ex.run(options={"--capture": "no"})._id)
    return ids


@pytest.fixture(scope="module")
def expected(tmp_path_factory):
    """What a folder answers, by run index (0, 1, 2)."""
    folder = tmp_path_factory.mktemp("unicode_folder") / "runs"
    ids = _fill(lambda: FileStorageObserver(str(folder)))
    store = open_store(str(folder))
    index = {str(i): n for n, i in enumerate(ids)}
    answers = {query: sorted(index[str(i)] for i in store.find_ids(query)) for query in QUERIES}
    orders = {s: [index[str(i)] for i in store.find_ids(sort=s)] for s in SORTS}
    return answers, orders


SQL = [k for k in ("sqlite", "postgresql") if k in STORE_KINDS]
URLS = {"sqlite": _sqlite_url, "postgresql": _postgres_url}


@pytest.fixture(scope="module", params=SQL)
def sql(request, tmp_path_factory):
    url = URLS[request.param](tmp_path_factory.mktemp(f"unicode_{request.param}"))
    ids = _fill(lambda: SqlObserver(url))
    return url, {str(i): n for n, i in enumerate(ids)}


def _database_only(store, monkeypatch):
    def no_scan(*args, **kwargs):
        raise AssertionError("answered in Python, not by the database")

    monkeypatch.setattr(store, "_scan", no_scan)


def test_the_folder_answers_something_for_each_query(expected):
    answers, orders = expected
    assert answers["größe < 3"] == [0] and answers["ключ.値 == 'x'"] == [0]
    assert answers[f"{NFD} == 1"] == [0] and answers[f"{NFD} exists"] == [0, 2]
    assert answers["𝑥 < 0"] == [1] and answers["ключ.値 not exists"] == [2]
    assert orders["ключ.値"] == [2, 0, 1]  # missing first


@pytest.mark.parametrize("query", QUERIES)
def test_sql_answers_non_ascii_fields_as_a_folder(sql, expected, query, monkeypatch):
    url, index = sql
    with open_store(url) as store:
        _database_only(store, monkeypatch)
        assert sorted(index[str(i)] for i in store.find_ids(query)) == expected[0][query]


@pytest.mark.parametrize("sort", SORTS)
def test_sql_sorts_by_non_ascii_fields_as_a_folder(sql, expected, sort):
    url, index = sql
    with open_store(url) as store:
        assert [index[str(i)] for i in store.find_ids(sort=sort)] == expected[1][sort]


def test_sqlite_also_finds_keys_written_without_escapes(tmp_path, monkeypatch):
    # another writer (or a hand edit) may keep UTF-8 in the JSON text: found the same
    url = _sqlite_url(tmp_path)
    _fill(lambda: SqlObserver(url))
    engine = sa.create_engine(url)
    with engine.begin() as con:
        for run_id, config in con.execute(sa.text("select run_id, config from run")).all():
            raw = json.dumps(json.loads(config), ensure_ascii=False)
            assert raw != config
            con.execute(
                sa.text("update run set config = :c where run_id = :i"), {"c": raw, "i": run_id}
            )
    engine.dispose()
    with open_store(url) as store:
        _database_only(store, monkeypatch)
        assert len(store.find_ids("größe < 3")) == 1
        assert len(store.find_ids("ключ.値 in ['x', 'y']")) == 2
        assert len(store.find_ids(f"{NFD} exists")) == 2


@pytest.mark.parametrize("kind", SQL)
def test_a_field_name_with_a_quote_is_not_a_json_path(kind, tmp_path):
    # a JSON filter tree may name any key: 'a"."b' is one key, not the path a.b
    url = URLS[kind](tmp_path)
    ex = Experiment("quotes")
    ex.add_config({"a": {"b": 1}})
    ex.main(lambda: None)
    ex.observers.append(SqlObserver(url))
    ex.run(options={"--capture": "no"})
    with open_store(url) as store:
        assert store.find_ids({"field": "config.a.b", "operator": "==", "value": 1})
        for name in ('config.a"."b', 'config.a\\"."b', "config.a\nb"):
            assert store.find_ids({"field": name, "operator": "==", "value": 1}) == [], name
