"""A database written by the original SqlObserver (no ``result_json``/``meta_json``, no
``metric`` table) is read as it is, and upgraded additively when a new run is written to it
or a run's meta is changed."""

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
