"""A database written by the original SqlObserver (no ``result_json``, no ``metric`` table)
is read as it is, and upgraded additively when a new run is written to it."""

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
        conn.execute(sa.text("DROP TABLE metric"))
        conn.execute(
            sa.text(
                "INSERT INTO run (id, run_id, command, status, config, result, start_time) "
                "VALUES (1, '0', 'main', 'COMPLETED', '{\"a\": 1}', 3.5, "
                "'2026-01-01 10:00:00.000000')"
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
    assert "result_json" in columns
