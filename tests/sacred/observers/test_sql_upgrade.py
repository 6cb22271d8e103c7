"""A database written by the original SqlObserver (no ``result_json``/``meta_json``, no
``metric`` table) is read as it is, and upgraded additively when a new run is written to it
or a run's meta is changed."""

import struct

import pytest
import sqlalchemy as sa

from sacred import Experiment
from sacred.observers import SqlObserver
from sacred.observers.sql_bases import Base
from sacred.store import open_store


def _original_style_database(url):
    engine = sa.create_engine(url)
    Base.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE run DROP COLUMN result_json"))
        conn.execute(sa.text("ALTER TABLE run DROP COLUMN meta_json"))
        conn.execute(sa.text("DROP TABLE metric"))
        conn.execute(
            sa.text(
                "INSERT INTO run (id, run_id, command, status, config, result, start_time, "
                "comment) VALUES (1, '0', 'main', 'COMPLETED', '{\"a\": 1}', 3.5, "
                "'2026-01-01 10:00:00.000000', 'first try')"
            )
        )
    engine.dispose()


def test_original_database_is_read_then_upgraded(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    _original_style_database(url)

    store = open_store(url)
    (old,) = store.find()
    assert (old["_id"], old["result"], old["config"]) == (0, 3.5, {"a": 1})
    assert store.metrics(0) == {}

    ex = Experiment("upgrade")

    @ex.main
    def main(_run):
        _run.log_scalar("loss", 0.25)
        return {"best": 1}

    ex.observers.append(SqlObserver(url))
    run = ex.run()
    assert run.status == "COMPLETED"

    store = open_store(url)
    records = {r["_id"]: r for r in store.find()}
    assert records[0]["result"] == 3.5  # the old run is untouched
    new = records[int(run._id)]
    assert new["result"] == {"best": 1}
    assert store.metrics(new["_id"])["loss"]["values"] == [0.25]
    columns = {c["name"] for c in sa.inspect(sa.create_engine(url)).get_columns("run")}
    assert {"result_json", "meta_json"} <= columns


def test_meta_of_an_original_database_can_be_changed(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    _original_style_database(url)
    store = open_store(url)
    assert store.get(0)["meta"] == {"command": "main", "comment": "first try"}
    meta = store.update_meta(0, {"tags": ["old"], "comment": "second try"})
    assert meta == {"command": "main", "comment": "second try", "tags": ["old"]}
    columns = {c["name"] for c in sa.inspect(sa.create_engine(url)).get_columns("run")}
    assert "meta_json" in columns
    # the comment stays in the original column, which the original readers know
    assert raw_comment(url) == "second try"
    assert open_store(url).find('meta.tags == ["old"]')[0]["_id"] == 0
    assert store.update_meta(0, {"comment": None, "tags": None}) == {"command": "main"}
    assert raw_comment(url) == ""


def raw_comment(url):
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        value = conn.execute(sa.text("SELECT comment FROM run WHERE run_id = '0'")).scalar()
    engine.dispose()
    return value


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'chunks.db'}"
    from tests.sacred.store.conftest import _postgres_url

    return _postgres_url(tmp_path)


def _first_chunk_version(url):
    """The tables as the first version with ``metric_chunk`` made them: no ``first_step``,
    in PostgreSQL the metric index on (run_id, name) only; one run with two metrics."""
    engine = sa.create_engine(url)
    Base.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE metric_chunk DROP COLUMN first_step"))
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("DROP INDEX ix_metric_run_id_name_metric_id"))
            conn.execute(sa.text("CREATE INDEX ix_metric_run_id_name ON metric (run_id, name)"))
        conn.execute(
            sa.text(
                "INSERT INTO run (id, run_id, command, status, config, start_time) "
                "VALUES (1, '0', 'main', 'COMPLETED', '{}', '2026-01-01 10:00:00')"
            )
        )
        conn.execute(
            sa.text(
                'INSERT INTO metric (run_id, name, step, value, "timestamp") '
                "VALUES ('0', 'loss', 0, 0.5, 0), ('0', 'loss', 1, 0.25, 1), ('0', 'acc', 7, 1.0, 2)"
            )
        )
        first, last = conn.execute(
            sa.text("SELECT MIN(metric_id), MAX(metric_id) FROM metric WHERE name = 'loss'")
        ).one()
        assert last == first + 1
        conn.execute(  # the first version packed every step
            sa.text(
                'INSERT INTO metric_chunk (run_id, name, first_id, last_id, count, steps, "values",'
                " timestamps) VALUES ('0', 'loss', :first, :last, 2, :steps, :values, :stamps)"
            ),
            {
                "first": first,
                "last": last,
                "steps": struct.pack("<2q", 0, 1),
                "values": struct.pack("<2d", 0.5, 0.25),
                "stamps": struct.pack("<2d", 0, 1),
            },
        )
    engine.dispose()


def test_first_version_of_metric_chunk_is_read_then_upgraded(empty_url):
    _first_chunk_version(empty_url)
    expected = {"acc": [1.0], "loss": [0.5, 0.25]}
    store = open_store(empty_url)
    assert {k: m["values"] for k, m in store.metrics(0).items()} == expected

    ex = Experiment("upgrade")
    ex.main(lambda _run: _run.log_scalar("loss", 0.125))
    ex.observers.append(SqlObserver(empty_url))
    run = ex.run()

    engine = sa.create_engine(empty_url)
    inspector = sa.inspect(engine)
    assert "first_step" in {c["name"] for c in inspector.get_columns("metric_chunk")}
    indexes = {tuple(i["column_names"]) for i in inspector.get_indexes("metric")}
    if engine.dialect.name == "postgresql":  # added beside the old one
        assert indexes == {("run_id", "name"), ("run_id", "name", "metric_id")}
    else:
        assert indexes == {("run_id", "name")}
    engine.dispose()
    for reader in (store, open_store(empty_url)):
        assert {k: m["values"] for k, m in reader.metrics(0).items()} == expected
        assert reader.metrics(int(run._id))["loss"]["steps"] == [0]


def test_backfill_packs_the_metrics_of_an_older_database(empty_url):
    from sacred.observers.sql import backfill_metric_chunks

    ex = Experiment("backfill")

    @ex.main
    def main(_run):
        for i in range(7):
            _run.log_scalar("loss", 1.0 / (i + 1))
            _run.log_scalar("acc", i / 10, 3 * i)
        _run.log_scalar("odd", 0.5, 1.5)  # cannot be packed: stays rows only

    ex.observers.append(SqlObserver(empty_url))
    run_id = int(ex.run()._id)
    expected = open_store(empty_url).metrics(run_id)
    engine = sa.create_engine(empty_url)
    with engine.begin() as conn:  # as before metric_chunk, and a metric half covered
        conn.execute(sa.text("DELETE FROM metric_chunk WHERE name <> 'acc'"))
        conn.execute(sa.text("UPDATE metric_chunk SET count = 3, last_id = first_id + 2"))

    def chunks():
        with engine.connect() as conn:
            return conn.execute(
                sa.text(
                    'SELECT name, count, first_step, steps IS NULL, "values" IS NULL '
                    "FROM metric_chunk ORDER BY name, chunk_id"
                )
            ).all()

    assert backfill_metric_chunks(empty_url, batch=4) == 3
    postgresql = engine.dialect.name == "postgresql"
    assert chunks() == [
        ("acc", 4, None, False, False),
        ("acc", 3, None, False, False),
        ("loss", 4, 0, True, False),
        ("loss", 3, 4, True, False),
        # PostgreSQL's BIGINT holds the step as 2: a step like any other
        ("odd", 1, 2, True, False) if postgresql else ("odd", 1, None, True, True),
    ]
    assert backfill_metric_chunks(engine=engine) == 0  # all covered now
    assert open_store(empty_url).metrics(run_id) == expected
    engine.dispose()
