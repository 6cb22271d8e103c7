"""SqlStore beyond the shared suite: what the database answers, injection, fallbacks,
long metrics, delete and import, on SQLite and on a real PostgreSQL server."""

import datetime as dt
import math
import os

import pytest

sa = pytest.importorskip("sqlalchemy")

from sacred.observers.sql import store_metrics  # noqa: E402
from sacred.store import RunNotFoundError, StoreError, open_store  # noqa: E402
from sacred.store import query as q  # noqa: E402
from sacred.store.base import metric_summary  # noqa: E402
from sacred.store.downsample import downsample_indices  # noqa: E402

from .conftest import (  # noqa: E402
    STORE_KINDS,
    _file_observer,
    _file_store,
    _postgres_url,
    _sqlite_url,
    run_experiments,
    tags,
)

KINDS = {"sqlite": _sqlite_url, "postgresql": _postgres_url}


def _fill(kind, tmp_path):
    make_observer, open_ = STORE_KINDS[kind]
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        run_experiments(make_observer, tmp_path)
    finally:
        os.chdir(cwd)
    return open_(tmp_path)


@pytest.fixture(scope="module", params=sorted(KINDS))
def store(request, tmp_path_factory):
    """Runs a..e (see conftest.py) in SQLite / PostgreSQL; not modified by tests."""
    s = _fill(request.param, tmp_path_factory.mktemp(f"sql_{request.param}"))
    yield s
    s.close()


@pytest.fixture(params=sorted(KINDS))
def fresh_store(request, tmp_path):
    """Runs a..e in a new database that a test may modify."""
    s = _fill(request.param, tmp_path)
    yield s
    s.close()


@pytest.fixture(params=sorted(KINDS))
def empty_url(request, tmp_path):
    """The URL of a new, empty database."""
    url = KINDS[request.param](tmp_path)
    if request.param == "sqlite":
        sa.create_engine(url).connect().close()  # the file exists, without tables
    return url


def _python_only(store, monkeypatch):
    """Make any fallback to Python filtering fail the test."""

    def no_scan(*args, **kwargs):
        raise AssertionError("answered in Python, not by the database")

    monkeypatch.setattr(store, "_scan", no_scan)


# queries of the shared suite that the database answers on its own
SQL_ONLY = [
    ("lr < 0.05", "bc"),
    ("config.optimizer.name == 'adam'", "acd"),
    ("optimizer.name == 'adam' and lr > 0.01 and status == 'COMPLETED'", "a"),
    ("status in ['COMPLETED'] and experiment.name =~ '^mn'", "abc"),
    ("metrics.loss.min < 0.5", "ab"),
    ("metrics.loss.count >= 4", "bc"),
    ("metrics.loss.first == 8", "d"),
    ("metrics.acc.max > 0.75", "bc"),
    ("not metrics.loss.last exists", "e"),
    ("info.best < 0.39", "a"),
    ("result > 0.35", "bc"),
    ("result =~ 'o'", "e"),
    ("not optimizer.beta == 0.9", "bce"),
    ("start_time > -1d and stop_time exists", "abcde"),
    ("host.hostname exists and command == 'train'", "abcd"),
    ("lr not in [0.1, 0.5]", "bce"),
    ("live_state == 'COMPLETED'", "abce"),
    ("captured_out =~ 'trained [ab]'", "ab"),
    ("tag > 'b' and tag <= 'd'", "cd"),
    ("_id == 1 or _id in [5]", "ae"),  # the observer numbers runs 1, 2, 3, 4, 5
    ("lr == true or lr == '0.1'", ""),
]


@pytest.mark.parametrize("query, expected", SQL_ONLY)
def test_queries_are_answered_by_the_database(store, monkeypatch, query, expected):
    where, residual = store.translator.where(q.parse(query))
    assert residual is None and where is not None
    _python_only(store, monkeypatch)
    assert "".join(tags(store.find(query))) == expected
    assert store.count(query) == len(expected)


@pytest.mark.parametrize(
    "sort, expected",
    [
        ("-lr", "daebc"),
        ("metrics.loss.min", "eabcd"),
        ("experiment.name, -lr", "edabc"),
        ("result", "dabce"),
        ("-result", "ecbad"),
        ("tag", "abcde"),
        ("-status, lr", "dcbea"),
        ("-_id", "edcba"),
        ("info.best", "deabc"),
    ],
)
def test_sorting_and_paging_by_the_database(store, monkeypatch, sort, expected):
    store.translator.order_by(q.parse_sort(sort))  # translatable
    _python_only(store, monkeypatch)
    assert "".join(tags(store.find(sort=sort))) == expected
    assert "".join(tags(store.find(sort=sort, skip=1, limit=3))) == expected[1:4]


def test_untranslatable_parts_are_checked_in_python(store):
    node = q.parse("layers == [64, 32] and status == 'COMPLETED'")
    where, residual = store.translator.where(node)
    assert where is not None and residual == q.parse("layers == [64, 32]")
    assert tags(store.find(node)) == ["a", "b"]
    assert store.count(node) == 2
    # an 'or' with an untranslatable side is checked in Python as a whole
    assert tags(store.find("layers == [64, 32] or lr < 0.005")) == ["a", "b", "c", "d"]
    assert tags(store.find("meta.command == 'train'", sort="-lr", limit=2)) == ["d", "a"]
    # sorting by a field the database cannot sort by
    assert tags(store.find("status == 'COMPLETED'", sort="-host.os")) == ["a", "b", "c", "e"]
    assert tags(store.find(sort="layers.0, -lr")) == ["e", "d", "a", "b", "c"]


def test_injection_in_a_query_is_only_data(store):
    evil = "x' OR '1'='1"
    assert store.find(f'status == "{evil}"') == []
    assert store.find(f'tag == "{evil}"') == []
    assert store.count(f'experiment.name =~ "{evil}"') == 0
    drop = "a'; DROP TABLE run; --"
    assert store.find(f'tag == "{drop}" or command == "{drop}"') == []
    assert store.count() == 5  # the table is still there
    # every value travels as a bound parameter: the SQL text holds none of them
    node = q.parse(f'tag == "{drop}" and metrics.loss.min < 1 and host.hostname == "{evil}"')
    where, _ = store.translator.where(node)
    sql = str(where.compile(store.engine))
    assert "DROP" not in sql and "OR '1'" not in sql and "loss" not in sql
    # field names cannot carry SQL either: the parser only accepts [\w$-] in them
    with pytest.raises(q.QueryError):
        store.find('config."x\') or 1=1 --" == 1')


def test_config_the_database_cannot_read_as_json_falls_back_to_python(empty_url):
    store = open_store(empty_url) if empty_url.startswith("postgresql") else None
    store = store or _sql_store(empty_url)
    base = {"_id": 1, "status": "COMPLETED", "experiment": {"name": "x"}, "host": {}}
    store.import_run(dict(base, config={"x": float("nan"), "y": 1}))
    store.import_run(dict(base, _id=2, config={"x": 2.0, "y": 2}))
    assert [r["_id"] for r in store.find("y >= 1", sort="-y")] == [2, 1]
    assert store.count("x > 1") == 1
    assert math.isnan(store.get(1)["config"]["x"])
    store.close()


def _sql_store(url):
    from sacred.observers.sql.store import SqlStore

    return SqlStore(url)


def test_records(store):
    (d,) = store.find("tag == 'd'")
    assert d["status"] == "FAILED"
    assert d["fail_trace"][0] == "Traceback (most recent call last):\n"
    assert d["fail_trace"][-1] == "ValueError: run d diverged\n"
    assert "stop_time" in d and d["result"] is None
    (a,) = store.find("tag == 'a'")
    assert a["_id"] == 1 and isinstance(a["_id"], int)
    assert a["experiment"]["name"] == "mnist"
    assert any(s[0].endswith("conftest.py") for s in a["experiment"]["sources"])
    assert a["host"]["hostname"] and len(a["host"]["os"]) == 2
    assert a["meta"]["command"] == "train"
    assert a["resources"][0][0].endswith("data.csv") and len(a["resources"][0][1]) == 32
    (e,) = store.find("tag == 'e'")
    assert e["result"] == "ok" and e["info"] == {"note": "no metrics"}
    assert store.summaries("tag == 'e'")[0].get("captured_out") is None
    assert store.get("5") == store.get(5) == e


def test_missing_database_and_unknown_runs(tmp_path, store):
    with pytest.raises(StoreError, match="There is no SQLite database at"):
        open_store(f"sqlite:///{tmp_path / 'nothing.db'}")
    assert not (tmp_path / "nothing.db").exists()
    for call in (store.get, store.metrics, store.artifacts, store.delete):
        with pytest.raises(RunNotFoundError):
            call(999)
    with pytest.raises(RunNotFoundError):
        store.open_source(0, "nope.py")
    with pytest.raises(RunNotFoundError):
        store.open_resource(0, "nope.csv")


def test_database_without_tables_is_empty_until_written(empty_url):
    store = _sql_store(empty_url)
    assert store.find() == [] and store.count("lr > 1") == 0
    with pytest.raises(RunNotFoundError):
        store.get(0)
    assert store.import_run({"_id": 7, "status": "COMPLETED", "config": {"lr": 2}}) == 7
    assert [r["_id"] for r in store.find("lr > 1")] == [7]
    store.close()


def test_long_metric_downsampled_cached_and_ordered_by_step(empty_url, monkeypatch):
    store = _sql_store(empty_url)
    n = 60_000
    values = [math.sin(i / 100.0) * (1 + i % 7) for i in range(n)]
    t0 = dt.datetime(2026, 1, 1)
    metrics = {
        "loss": {
            "steps": list(range(n)),
            "values": values,
            "timestamps": [t0 + dt.timedelta(milliseconds=i) for i in range(n)],
        },
        "acc": {"steps": [2, 0, 1], "values": [0.3, 0.1, 0.2], "timestamps": [t0, t0, t0]},
    }
    store.import_run({"_id": 1, "status": "COMPLETED", "config": {}}, metrics=metrics)
    m = store.metrics(1, max_points=500)
    idx = downsample_indices(values, 500)
    assert m["loss"]["steps"] == idx
    assert m["loss"]["values"] == [values[i] for i in idx]
    assert m["loss"]["timestamps"][:2] == [t0 + dt.timedelta(milliseconds=i) for i in idx[:2]]
    assert m["acc"] == {"steps": [0, 1, 2], "values": [0.1, 0.2, 0.3], "timestamps": [t0] * 3}
    assert store.metric_summaries(1)["acc"] == {
        "count": 3,
        "first": 0.1,
        "last": 0.3,
        "min": 0.1,
        "max": 0.3,
    }
    assert store.metric_summaries(1)["loss"] == metric_summary(values)
    assert [
        r["_id"] for r in store.find("metrics.acc.first == 0.1 and metrics.acc.last > 0.25")
    ] == [1]

    # read again: from memory, unless rows were added
    fetched, reduced = [], []
    original = store._fetch_metric
    monkeypatch.setattr(store, "_fetch_metric", lambda *a: fetched.append(a[2]) or original(*a))
    reduce = store_metrics._reduce_in_sql
    monkeypatch.setattr(
        store_metrics, "_reduce_in_sql", lambda *a: reduced.append(a[2]) or reduce(*a)
    )
    assert store.metrics(1, "loss", max_points=500) == {"loss": m["loss"]}
    assert fetched == reduced == []
    with store.engine.begin() as conn:
        conn.execute(
            sa.text(
                'INSERT INTO metric (run_id, name, step, value, "timestamp") '
                "VALUES ('1', 'loss', :n, -100.0, 0)"
            ),
            {"n": n},
        )
    again = store.metrics(1, "loss", max_points=500)["loss"]
    assert fetched + reduced == ["loss"]  # SQLite downsamples in the database
    assert again["steps"][-1] == n and again["values"][-1] == -100.0
    store.close()


def test_artifacts_sources_resources(store):
    assert store.artifacts(1) == ["model.txt"]
    with store.open_artifact(1, "model.txt") as f:
        assert f.read() == b"weights of a\n"
    (source,) = [s for s in store.sources(1) if s.endswith("conftest.py")]
    with store.open_source(1, source) as f:
        assert b"Stores filled by REAL runs" in f.read()


def _count(store, sql):
    with store.engine.connect() as conn:
        return conn.execute(sa.text(sql)).scalar()


def test_delete_removes_what_only_the_run_owns(fresh_store):
    s = fresh_store
    assert _count(s, "SELECT count(*) FROM metric WHERE run_id = '1'") == 6
    s.delete(1)  # run a: artifact, resource, metrics; its experiment is shared with b, c, d
    assert tags(s.find()) == ["b", "c", "d", "e"]
    assert _count(s, "SELECT count(*) FROM metric WHERE run_id = '1'") == 0
    assert _count(s, "SELECT count(*) FROM artifact") == 0
    assert _count(s, "SELECT count(*) FROM runs_resources") == 0
    assert _count(s, "SELECT count(*) FROM resource") == 0
    experiments = _count(s, "SELECT count(*) FROM experiment")
    s.delete(5)  # run e: the only cifar run
    assert _count(s, "SELECT count(*) FROM experiment") == experiments - 1
    assert tags(s.find()) == ["b", "c", "d"]
    (source,) = [x for x in s.sources(2) if x.endswith("conftest.py")]
    with s.open_source(2, source) as f:  # sources shared with other experiments stay
        assert b"REAL runs" in f.read()
    for run_id in (2, 3, 4):
        s.delete(run_id)
    for table in ("run", "metric", "experiment", "host", "source", "experiments_sources"):
        assert _count(s, f"SELECT count(*) FROM {table}") == 0, table
    with pytest.raises(RunNotFoundError):
        s.delete(2)


def test_export_file_to_sql_and_back_keeps_the_runs(tmp_path, empty_url):
    from sacred.cli import copy_runs

    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        run_experiments(_file_observer, tmp_path)
    finally:
        os.chdir(cwd)
    files = _file_store(tmp_path)
    sql = _sql_store(empty_url)
    copied = copy_runs(files, sql)
    assert [new for _, new in copied] == [1, 2, 3, 4, 5]
    with pytest.raises(StoreError, match="is already in the destination"):
        copy_runs(files, sql, "tag == 'a'")
    assert copy_runs(files, sql, "tag == 'a'", new_ids=True) == [(1, 6)]
    sql.delete(6)
    back_dir = tmp_path / "back"
    back_dir.mkdir()
    back = open_store(str(back_dir))
    copy_runs(sql, back)
    for run_id in range(1, 6):
        src, mid, dst = files.get(run_id), sql.get(run_id), back.get(run_id)
        for key in ("config", "info", "result", "status", "command", "captured_out"):
            assert src[key] == mid[key] == dst[key], key
        for key in ("start_time", "stop_time", "heartbeat"):
            assert src[key] == mid[key] == dst[key], key
        assert "".join(src.get("fail_trace") or []) == "".join(dst.get("fail_trace") or [])
        assert files.metrics(run_id) == sql.metrics(run_id) == back.metrics(run_id)
        assert files.artifacts(run_id) == sql.artifacts(run_id) == back.artifacts(run_id)
    with back.open_artifact(1, "model.txt") as f:
        assert f.read() == b"weights of a\n"
    (resource,) = back.resources(1)
    with back.open_resource(1, resource) as f:
        assert f.read() == b"x,y\n1,2\n"
    assert sorted(files.sources(1)) == sorted(sql.sources(1))
    sql.close()


def test_running_run_has_no_stop_time_and_a_live_state(empty_url):
    store = _sql_store(empty_url)
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    old = now - dt.timedelta(hours=1)
    store.import_run({"_id": 1, "status": "RUNNING", "start_time": old, "heartbeat": now})
    store.import_run({"_id": 2, "status": "RUNNING", "start_time": old, "heartbeat": old})
    assert "stop_time" not in store.get(1)
    assert [r["_id"] for r in store.find("live_state == 'RUNNING'")] == [1]
    assert [r["_id"] for r in store.find("live_state == 'PROBABLY_DEAD'")] == [2]
    assert store.count("stop_time exists") == 0
    store.close()


@pytest.mark.parametrize(
    "query, expected, in_database",
    [
        ("tag =~ '^[a-c]$'", "abc", True),
        (r"experiment.name =~ '\\w+ar'", "e", True),
        (r"tag =~ '\\ba'", "a", False),  # \b: a word boundary in Python, a backspace in PostgreSQL
        ("tag =~ '(?i)A'", "a", False),
    ],
)
def test_regex_means_what_python_means(store, query, expected, in_database):
    _, residual = store.translator.where(q.parse(query))
    if store.dialect == "postgresql":
        assert (residual is None) is in_database
    else:
        assert residual is None  # SQLite calls Python's re
    assert "".join(tags(store.find(query))) == expected


def test_sacred_command_line_over_sql(store, capsys):
    import json

    from sacred.cli import main

    url = store.engine.url.render_as_string(hide_password=False)
    assert main(["runs", "list", url, "-q", "lr <= 0.05", "--sort", "-lr", "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["config"]["tag"] for r in records] == ["e", "b", "c"]
    assert main(["runs", "list", url, "-q", "metrics.loss.min < 0.5", "--csv"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 3 and "mnist" in out


@pytest.mark.parametrize("packed", [True, False])
def test_long_metric_with_nan_and_ties_reduced_in_the_database(tmp_path, packed):
    """Long metrics read from their packed chunks, or (a database written before
    ``metric_chunk``) downsampled and summarized by SQLite itself: same points as in Python."""
    (tmp_path / "runs.db").touch()  # an empty file is an empty SQLite database
    store = open_store(f"sqlite:///{tmp_path / 'runs.db'}")
    n = 60_000
    values = [float(i % 50) for i in range(n)]  # many ties
    values[0] = float("nan")  # a NaN first point, and a NaN stretch longer than a bucket
    values[1000:1500] = [float("nan")] * 500
    values[-1] = float("nan")
    t0 = dt.datetime(2026, 1, 1)
    stamps = [t0 + dt.timedelta(milliseconds=i) for i in range(n)]
    metrics = {"loss": {"steps": list(range(n)), "values": values, "timestamps": stamps}}
    store.import_run({"_id": 1, "status": "COMPLETED", "config": {}}, metrics=metrics)
    if not packed:
        with store.engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE metric_chunk"))
        store = open_store(f"sqlite:///{tmp_path / 'runs.db'}")
    for max_points in (500, 301, 3, 1):
        m = store.metrics(1, "loss", max_points=max_points)["loss"]
        idx = downsample_indices(values, max_points)
        assert m["steps"] == idx
        assert m["timestamps"] == [stamps[i] for i in idx]
        assert [v if v == v else "nan" for v in m["values"]] == [
            values[i] if values[i] == values[i] else "nan" for i in idx
        ]
    summary = store.metric_summaries(1)["loss"]
    expected = metric_summary(values)
    assert math.isnan(summary.pop("first")) and math.isnan(summary.pop("last"))
    assert summary == {k: v for k, v in expected.items() if k not in ("first", "last")}
    store.close()


def _nan_as_str(metrics):
    """``metrics`` or summaries with NaN as "nan" (NaN != NaN)."""

    def fix(v):
        return [fix(x) for x in v] if isinstance(v, list) else v if v == v else "nan"

    return {name: {k: fix(v) for k, v in m.items()} for name, m in metrics.items()}


def test_packed_metrics_read_as_the_rows(empty_url):
    store = _sql_store(empty_url)
    t0 = dt.datetime(2026, 1, 1)
    metrics = {
        "loss": {
            "steps": [3, 1, 2, 2, 7],  # out of order, a repeated step
            "values": [0.5, float("nan"), 2, -1.25, 1e300],
            "timestamps": [t0 + dt.timedelta(seconds=i) for i in range(5)],
        },
        "odd": {"steps": [0, 1.5], "values": [1.0, 2.0], "timestamps": [t0, t0]},  # not packed
    }
    store.import_run({"_id": 1, "status": "COMPLETED", "config": {}}, metrics=metrics)
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM metric_chunk")).scalar() == 2
    packed = store.metrics(1)
    odd_step = 1.5 if store.dialect == "sqlite" else 2
    assert _nan_as_str(packed) == {
        "loss": {
            "steps": [1, 2, 2, 3, 7],
            "values": ["nan", 2.0, -1.25, 0.5, 1e300],
            "timestamps": [t0 + dt.timedelta(seconds=i) for i in (1, 2, 3, 0, 4)],
        },
        # as the step column holds it (PostgreSQL's BIGINT rounds)
        "odd": {"steps": [0, odd_step], "values": [1.0, 2.0], "timestamps": [t0, t0]},
    }
    summaries = store.metric_summaries(1)
    with store.engine.begin() as conn:  # as a database written before metric_chunk
        conn.execute(sa.text("DELETE FROM metric_chunk"))
    rows_only = _sql_store(empty_url)
    assert _nan_as_str(rows_only.metrics(1)) == _nan_as_str(packed)
    assert _nan_as_str(rows_only.metric_summaries(1)) == _nan_as_str(summaries)
    store.close()
    rows_only.close()


def test_chunks_that_do_not_cover_the_rows_are_not_read(empty_url):
    store = _sql_store(empty_url)
    t0 = dt.datetime(2026, 1, 1)

    def points(values):
        n = len(values)
        return {"loss": {"steps": list(range(n)), "values": values, "timestamps": [t0] * n}}

    run = {"_id": 1, "status": "COMPLETED", "config": {}}
    store.import_run(run, metrics=points([1.0, 2.0, 3.0]))
    # an older SqlStore.delete removed the rows and the run but left the chunks
    with store.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM metric"))
        conn.execute(sa.text("DELETE FROM run"))
    store.import_run(run, metrics=points([7.0, 8.0]))
    assert store.metrics(1)["loss"]["values"] == [7.0, 8.0]
    # a row added by an older observer
    with store.engine.begin() as conn:
        conn.execute(
            sa.text(
                'INSERT INTO metric (run_id, name, step, value, "timestamp") '
                "VALUES ('1', 'loss', 2, 9.0, 0)"
            )
        )
    assert store.metrics(1)["loss"]["values"] == [7.0, 8.0, 9.0]
    store.delete(1)
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM metric_chunk")).scalar() == 0
    store.close()


def test_consecutive_steps_read_from_chunks_as_from_rows(empty_url, monkeypatch):
    """Consecutive steps are packed as the first step alone; later batches and their
    mix with packed steps read like the rows (with numpy and without it)."""
    store = _sql_store(empty_url)
    t0 = dt.datetime(2026, 1, 1)
    steps = list(range(5, 60_005))  # long: cached, and read as arrays
    values = [float(i % 7) for i in range(len(steps))]
    stamps = [t0 + dt.timedelta(milliseconds=i) for i in range(len(steps))]
    store.import_run(
        {"_id": 1, "status": "COMPLETED", "config": {}},
        metrics={"loss": {"steps": steps, "values": values, "timestamps": stamps}},
    )
    with store.engine.connect() as conn:
        chunk = conn.execute(sa.text("SELECT first_step, steps FROM metric_chunk")).one()
    assert chunk == (5, None)
    read = store.metrics(1)["loss"]
    assert (read["steps"], read["values"], read["timestamps"]) == (steps, values, stamps)
    idx = downsample_indices(values, 300)
    assert store.metrics(1, "loss", max_points=300)["loss"]["steps"] == [steps[i] for i in idx]

    short = {"steps": [0, 1, 2], "values": [1.0, 2.0, 3.0], "timestamps": [t0] * 3}
    store.import_run({"_id": 2, "status": "COMPLETED", "config": {}}, metrics={"m": short})
    # a second batch with packed steps, as the observer's next write
    from sacred.observers.sql.rows import insert_points, sqlite_insert

    with store.engine.begin() as conn:
        points = ("2", "m", [9, 3], [4.0, 5.0], [0.0, 0.0])
        if store.dialect == "sqlite":
            sqlite_insert(conn.connection.dbapi_connection, *points)
        else:
            insert_points(conn, *points)
        firsts = conn.execute(sa.text("SELECT first_step FROM metric_chunk WHERE run_id = '2'"))
        assert sorted(firsts.scalars(), key=str) == [0, None]
    expected = {"steps": [0, 1, 2, 3, 9], "values": [1.0, 2.0, 3.0, 5.0, 4.0]}
    assert {k: v for k, v in _sql_store(empty_url).metrics(2)["m"].items() if k in expected} == (
        expected
    )
    monkeypatch.setattr(store_metrics, "_numpy", lambda: None)
    assert {k: v for k, v in _sql_store(empty_url).metrics(2)["m"].items() if k in expected} == (
        expected
    )
    store.close()
