"""The RunStore interface over stores filled by real runs (parametrised over backends).

Every test here uses ``filled_store`` (see conftest.py for the runs a..e) and must give
the same answers on every backend.
"""

import datetime as dt

import pytest

from sacred.store import QueryError, RunNotFoundError, RunStore, StoreError

from .conftest import TAGS, tags


def _tag_of(store):
    return {r["_id"]: r["config"]["tag"] for r in store.find()}


@pytest.mark.parametrize(
    "query, expected",
    [
        (None, "abcde"),
        ("", "abcde"),
        ("lr < 0.05", "bc"),
        ("config.optimizer.name == 'adam'", "acd"),
        ("optimizer.name == 'adam' and lr > 0.01 and status == 'COMPLETED'", "a"),
        ("status == 'FAILED'", "d"),
        ("status in ['COMPLETED'] and experiment.name =~ '^mn'", "abc"),
        ("experiment.name == 'cifar'", "e"),
        ("metrics.loss.min < 0.5", "ab"),
        ("metrics.loss.count >= 4", "bc"),
        ("metrics.loss.first == 8", "d"),
        ("metrics.acc.max > 0.75", "bc"),
        ("metrics.loss.last exists", "abcd"),
        ("not metrics.loss.last exists", "e"),
        ("info.best < 0.39", "a"),
        ("info.note exists", "e"),
        ("result > 0.35", "bc"),  # the string result of e is not a number
        ("result =~ 'o'", "e"),
        ("optimizer.momentum exists", "b"),
        ("optimizer.beta != 0.9", "c"),
        ("not optimizer.beta == 0.9", "bce"),
        ("layers == [64, 32]", "abd"),
        ("layers.0 == 128", "c"),
        ("start_time > -1d", "abcde"),
        ("start_time < 2000-01-01", ""),
        ("stop_time exists", "abcde"),
        ("host.hostname exists and command == 'train'", "abcd"),
        ("lr in [0.1, 0.5]", "ad"),
        ("lr not in [0.1, 0.5]", "bce"),
        ("(lr == 0.1 or lr == 0.01) and not status == 'FAILED'", "ab"),
        ("live_state == 'COMPLETED'", "abce"),
        ("live_state == 'PROBABLY_DEAD'", ""),
        (
            {
                "type": "and",
                "filters": [
                    {"field": "lr", "operator": "<", "value": 0.05},
                    {"field": ".status", "operator": "==", "value": "COMPLETED"},
                ],
            },
            "bc",
        ),
        (
            '{"type": "or", "filters": [{"field": "tag", "operator": "regex", "value": "[ae]"}]}',
            "ae",
        ),
    ],
)
def test_find_and_count(filled_store, query, expected):
    assert "".join(tags(filled_store.find(query))) == expected
    assert filled_store.count(query) == len(expected)


@pytest.mark.parametrize(
    "sort, skip, limit, expected",
    [
        ("-lr", 0, None, "daebc"),
        ("lr", 0, None, "cbead"),
        ("lr", 1, 2, "be"),
        ("metrics.loss.min", 0, None, "eabcd"),  # missing sorts first, like null in Mongo
        ("-metrics.loss.min", 0, 2, "dc"),
        ("experiment.name, -lr", 0, None, "edabc"),
        ("result", 0, None, "dabce"),  # null < numbers < strings
        (None, 3, None, "de"),
        (None, 0, 0, ""),
        ("-start_time", 0, 1, "e"),
    ],
)
def test_sort_skip_limit(filled_store, sort, skip, limit, expected):
    assert "".join(tags(filled_store.find(sort=sort, skip=skip, limit=limit))) == expected
    ids = filled_store.find_ids(sort=sort, skip=skip, limit=limit)
    assert [_tag_of(filled_store)[i] for i in ids] == list(expected)


def test_find_with_query_sort_and_page(filled_store):
    records = filled_store.find("status == 'COMPLETED'", sort="-metrics.loss.last", limit=2)
    assert tags(records) == ["c", "b"]


def test_records_are_shaped_like_mongo_documents(filled_store):
    (a,) = filled_store.find("tag == 'a'")
    for key in (
        "_id",
        "experiment",
        "command",
        "host",
        "start_time",
        "stop_time",
        "heartbeat",
        "config",
        "meta",
        "status",
        "resources",
        "artifacts",
        "captured_out",
        "info",
        "result",
    ):
        assert key in a, key
    assert a["status"] == "COMPLETED"
    assert a["command"] == "train"
    assert a["experiment"]["name"] == "mnist"
    assert a["config"]["optimizer"] == {"name": "adam", "beta": 0.9}
    assert a["result"] == pytest.approx(1 / 3)
    assert a["info"]["best"] == pytest.approx(1 / 3)
    assert "trained a" in a["captured_out"]
    for key in ("start_time", "stop_time", "heartbeat"):
        assert isinstance(a[key], dt.datetime) and a[key].tzinfo is None
    assert a["start_time"] <= a["stop_time"]
    assert abs(dt.datetime.utcnow() - a["start_time"]) < dt.timedelta(hours=1)
    assert [x["name"] for x in a["artifacts"]] == ["model.txt"]
    assert filled_store.get(a["_id"]) == a
    (d,) = filled_store.find("tag == 'd'")
    assert d["status"] == "FAILED"
    trace = d["fail_trace"]
    trace = "".join(trace) if isinstance(trace, list) else trace
    assert "ValueError: run d diverged" in trace


def test_get_unknown_run(filled_store):
    with pytest.raises(RunNotFoundError) as info:
        filled_store.get(999)
    assert isinstance(info.value, StoreError) and isinstance(info.value, KeyError)


def test_metrics(filled_store):
    ids = {r["config"]["tag"]: r["_id"] for r in filled_store.find()}
    m = filled_store.metrics(ids["b"])
    assert sorted(m) == ["acc", "loss"]
    assert m["loss"]["steps"] == [0, 1, 2, 3, 4]
    assert m["loss"]["values"] == [2.0, 1.0, 2 / 3, 0.5, 0.4]
    assert all(isinstance(t, dt.datetime) for t in m["loss"]["timestamps"])
    assert len(m["loss"]["timestamps"]) == 5
    assert filled_store.metrics(ids["b"], names=["acc"]).keys() == {"acc"}
    assert filled_store.metrics(ids["b"], names="loss").keys() == {"loss"}
    small = filled_store.metrics(ids["b"], max_points=2)["loss"]
    assert small["steps"] == [0, 4] and small["values"] == [2.0, 0.4]
    assert len(small["timestamps"]) == 2
    assert filled_store.metrics(ids["e"]) == {}
    summary = filled_store.metric_summaries(ids["d"])
    assert summary["loss"] == {"count": 2, "first": 8.0, "last": 4.0, "min": 4.0, "max": 8.0}


def test_artifacts_sources_resources(filled_store):
    ids = {r["config"]["tag"]: r["_id"] for r in filled_store.find()}
    a = ids["a"]
    assert filled_store.artifacts(a) == ["model.txt"]
    with filled_store.open_artifact(a, "model.txt") as f:
        assert f.read() == b"weights of a\n"
    assert filled_store.artifacts(ids["b"]) == []
    with pytest.raises(RunNotFoundError):
        filled_store.open_artifact(a, "../../etc/passwd")
    (source,) = [s for s in filled_store.sources(a) if s.endswith("conftest.py")]
    with filled_store.open_source(a, source) as f:
        assert b"Stores filled by REAL runs" in f.read()
    (resource,) = filled_store.resources(a)
    assert resource.endswith("data.csv")
    with filled_store.open_resource(a, resource) as f:
        assert f.read() == b"x,y\n1,2\n"


def test_live_state(filled_store):
    (a,) = filled_store.find("tag == 'a'")
    assert RunStore.live_state(a) == "COMPLETED"
    running = dict(a, status="RUNNING")
    beat = a["heartbeat"]
    assert filled_store.live_state(running, now=beat + dt.timedelta(seconds=119)) == "RUNNING"
    assert filled_store.live_state(running, now=beat + dt.timedelta(seconds=121)) == (
        "PROBABLY_DEAD"
    )
    assert (
        filled_store.live_state(running, now=beat + dt.timedelta(seconds=121), dead_after=600)
        == "RUNNING"
    )


def test_bad_paging_and_queries(filled_store):
    with pytest.raises(StoreError, match="skip must be an integer >= 0, not -1"):
        filled_store.find(skip=-1)
    with pytest.raises(StoreError, match="limit must be an integer >= 0 or None, not 'x'"):
        filled_store.find(limit="x")
    with pytest.raises(QueryError):
        filled_store.find("lr >")


def test_to_frame(filled_store):
    pd = pytest.importorskip("pandas")
    frame = filled_store.to_frame()
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns[:8]) == [
        "_id",
        "experiment.name",
        "command",
        "status",
        "start_time",
        "stop_time",
        "heartbeat",
        "result",
    ]
    assert {"config.lr", "config.optimizer.name", "config.tag"} <= set(frame.columns)
    assert list(frame["config.tag"]) == TAGS
    picked = filled_store.to_frame(
        "status == 'COMPLETED'",
        columns=["tag", "lr", "metrics.loss.min", "info.best"],
        sort="lr",
    )
    assert list(picked.columns) == ["tag", "lr", "metrics.loss.min", "info.best"]
    assert picked["tag"].tolist() == ["c", "b", "e", "a"]
    assert picked["metrics.loss.min"].tolist()[:2] == [1.0, 0.4]
    assert picked["metrics.loss.min"].isna().tolist() == [False, False, True, False]


def test_metrics_frame(filled_store):
    pytest.importorskip("pandas")
    frame = filled_store.metrics_frame("tag in ['a', 'd']", names=["loss"])
    assert list(frame.columns) == ["run_id", "name", "step", "timestamp", "value"]
    assert frame["value"].tolist() == [1.0, 0.5, 1 / 3, 8.0, 4.0]
    assert frame["step"].tolist() == [0, 1, 2, 0, 1]
    assert set(frame["name"]) == {"loss"}
    empty = filled_store.metrics_frame("tag == 'zzz'")
    assert len(empty) == 0 and list(empty.columns)[:2] == ["run_id", "name"]
