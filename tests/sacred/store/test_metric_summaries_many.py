"""``RunStore.metric_summaries_many``: the summaries of several runs at once (a table page)
are those of ``metric_summaries`` one run at a time, on every store."""

import datetime as dt
import math

import pytest

from sacred.store import RunNotFoundError

from .conftest import STORE_KINDS, _postgres_url, _sqlite_url


def _nan_as_str(summaries):
    return {
        name: {k: v if v == v else "nan" for k, v in s.items()} for name, s in summaries.items()
    }


def test_many_equal_one_at_a_time(filled_store):
    ids = {r["config"]["tag"]: r["_id"] for r in filled_store.find()}
    order = [ids["d"], ids["a"], ids["e"], ids["b"], ids["c"]]
    many = filled_store.metric_summaries_many(order)
    assert list(many) == order
    assert many == {i: filled_store.metric_summaries(i) for i in order}
    assert many[ids["d"]]["loss"] == {"count": 2, "first": 8.0, "last": 4.0, "min": 4.0, "max": 8.0}
    assert many[ids["a"]]["acc"] == {"count": 3, "first": 0.5, "last": 0.7, "min": 0.5, "max": 0.7}
    assert sorted(many[ids["b"]]) == ["acc", "loss"]
    assert many[ids["e"]] == {}
    assert filled_store.metric_summaries_many([]) == {}


def test_unknown_run_is_not_found(filled_store):
    known = filled_store.find()[0]["_id"]
    with pytest.raises(RunNotFoundError):
        filled_store.metric_summaries_many([known, 987654])


SQL_KINDS = [k for k in ("sqlite", "postgresql") if k in STORE_KINDS]
URLS = {"sqlite": _sqlite_url, "postgresql": _postgres_url}
N_LONG = 60_000  # above the length from which a metric is read as a long one


def _odd_runs(url):
    """Run 1: NaN, steps out of order and repeated, an all-NaN metric, a long metric;
    run 2: no metrics; run 3: one short metric."""
    import sqlalchemy as sa

    from sacred.observers.sql.store import SqlStore

    sa.create_engine(url).connect().close()  # an empty SQLite file
    store = SqlStore(url)
    t0 = dt.datetime(2026, 1, 1)
    nan = float("nan")

    def metric(steps, values):
        stamps = [t0 + dt.timedelta(seconds=i) for i in range(len(steps))]
        return {"steps": steps, "values": values, "timestamps": stamps}

    long_values = [float(i % 50) for i in range(N_LONG)]
    long_values[0] = nan
    metrics = {
        "loss": metric([3, 1, 2, 2, 7], [0.5, nan, 2.0, -1.25, 1e300]),
        "all_nan": metric([0, 1], [nan, nan]),
        "long": metric(list(range(N_LONG)), long_values),
    }
    store.import_run({"_id": 1, "status": "COMPLETED", "config": {}}, metrics=metrics)
    store.import_run({"_id": 2, "status": "COMPLETED", "config": {}})
    store.import_run(
        {"_id": 3, "status": "FAILED", "config": {}}, metrics={"acc": metric([0, 1], [0.25, 0.75])}
    )
    return store


EXPECTED = {
    1: {
        "all_nan": {"count": 2, "first": "nan", "last": "nan"},
        "long": {"count": N_LONG, "first": "nan", "last": 49.0, "min": 0.0, "max": 49.0},
        "loss": {"count": 5, "first": "nan", "last": 1e300, "min": -1.25, "max": 1e300},
    },
    2: {},
    3: {"acc": {"count": 2, "first": 0.25, "last": 0.75, "min": 0.25, "max": 0.75}},
}


@pytest.mark.parametrize("kind", SQL_KINDS)
def test_sql_nan_steps_out_of_order_and_long_metrics(kind, tmp_path):
    from sacred.observers.sql.store import SqlStore

    url = URLS[kind](tmp_path)
    store = _odd_runs(url)
    for _attempt in range(2):  # the long metric read from the database, then from memory
        many = store.metric_summaries_many(["3", 2, 1])
        assert list(many) == ["3", 2, 1]
        assert {k: _nan_as_str(v) for k, v in many.items()} == {
            "3": EXPECTED[3],
            2: EXPECTED[2],
            1: EXPECTED[1],
        }
        assert list(many[1]) == ["all_nan", "long", "loss"]
        one = {i: _nan_as_str(store.metric_summaries(i)) for i in (1, 2, 3)}
        assert one == EXPECTED
    # a database written before metric_chunk: the summaries come from the metric rows
    import sqlalchemy as sa

    with store.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM metric_chunk"))
    store.close()
    rows_only = SqlStore(url)
    many = rows_only.metric_summaries_many([1, 2, 3])
    assert {k: _nan_as_str(v) for k, v in many.items()} == EXPECTED
    assert math.isnan(many[1]["loss"]["first"])
    rows_only.close()
