"""The Mongo translation gives the same answers as ``matches`` (checked with mongomock)."""

import datetime as dt
import json

import pytest

from sacred.observers.mongo.query import metric_pipeline, mongo_sort, translate
from sacred.store.query import QueryError, matches, parse

mongomock = pytest.importorskip("mongomock")

NOW = dt.datetime(2026, 11, 27, 12)

# records with every awkward kind of value at config.x
EDGE_VALUES = [
    3,
    [3, 4],
    None,
    "missing",
    "3",
    True,
    False,
    float("nan"),
    1.5,
    [None],
    {"a": 1},
    1,
    0,
    "abc",
    [],
    dt.datetime(2026, 1, 1),
]


def _edge_records():
    records = []
    for i, value in enumerate(EDGE_VALUES):
        config = {} if value == "missing" else {"x": value}
        records.append(
            {
                "_id": i,
                "status": "RUNNING" if i % 3 else "COMPLETED",
                "config": config,
                "heartbeat": NOW - dt.timedelta(seconds=60 * i),
                "start_time": NOW - dt.timedelta(hours=1),
            }
        )
    return records


EDGE_QUERIES = [
    "x == 3",
    "x == 1",
    "x == 0",
    "x == true",
    "x == false",
    "x == null",
    "x == '3'",
    "x == [3, 4]",
    "x == []",
    "x != 3",
    "x != null",
    "x != true",
    "x < 5",
    "x <= 1",
    "x > 0",
    "x >= false",
    "x > 'a'",
    "x < 2026-06-01",
    "x in [3, '3']",
    "x in [null, 1]",
    "x in [true]",
    "x in []",
    "x not in [3]",
    "x not in [null]",
    "x not in []",
    "x =~ '3'",
    "x =~ '^a'",
    "x exists",
    "not x exists",
    "x.a == 1",
    "x.0 == 3",
    "x.1 exists",
    "not x == 3",
    "x == 3 or x == 'abc'",
    "not (x > 0 and x < 2)",
    "live_state == 'PROBABLY_DEAD'",
    "live_state == 'RUNNING'",
    "live_state != 'RUNNING'",
    "live_state in ['COMPLETED', 'PROBABLY_DEAD']",
    "_id in [1, 2, 3] and x exists",
]


@pytest.fixture(scope="module")
def edge_collection():
    collection = mongomock.MongoClient().db.runs
    collection.insert_many(_edge_records())
    return collection


@pytest.mark.parametrize("text", EDGE_QUERIES)
def test_translation_agrees_with_matches_on_awkward_values(edge_collection, text):
    node = parse(text, now=NOW)
    filt = translate(node)
    got = sorted(d["_id"] for d in edge_collection.find(filt))
    want = [r["_id"] for r in _edge_records() if matches(node, r)]
    assert got == want


def _no_javascript(obj):
    text = json.dumps(obj, default=str)
    return not any(op in text for op in ("$where", "$function", "$expr", "$accumulator"))


@pytest.mark.parametrize("text", EDGE_QUERIES)
def test_filters_never_contain_javascript(text):
    assert _no_javascript(translate(parse(text, now=NOW)))


def test_translated_shapes():
    assert translate("") == {}
    assert translate("status == 'FAILED'") == {"status": {"$eq": "FAILED"}}
    f = translate("lr < 0.1")["config.lr"]  # {"$lt": 0.1, "$not": ..., "$ne": NaN}
    assert set(f) == {"$lt", "$not", "$ne"}
    assert f["$lt"] == 0.1 and f["$not"] == {"$type": "array"} and f["$ne"] != f["$ne"]
    assert translate("not a exists") == {"$nor": [{"config.a": {"$exists": True}}]}
    assert translate("a exists or b exists") == {
        "$or": [{"config.a": {"$exists": True}}, {"config.b": {"$exists": True}}]
    }


def test_metric_queries_need_a_resolver():
    with pytest.raises(QueryError, match="metrics.loss.min is a metric summary"):
        translate("metrics.loss.min < 1")


def _mongo_docs(store):
    runs, metrics = [], []
    for record in store.find():
        runs.append(record)
        for name, m in store.metrics(record["_id"]).items():
            metrics.append({"run_id": record["_id"], "name": name, **m})
    return runs, metrics


STORE_QUERIES = [
    "lr < 0.05",
    "optimizer.name == 'adam' and status == 'COMPLETED'",
    "status == 'FAILED'",
    "experiment.name =~ '^mn'",
    "metrics.loss.min < 0.5",
    "metrics.loss.count >= 4",
    "metrics.acc.last > 0.75 or result == 'ok'",
    "not metrics.loss.last exists",
    "metrics.loss.first exists and lr > 0.05",
    "info.best < 0.39",
    "result > 0.35",
    "optimizer.momentum exists",
    "not optimizer.beta == 0.9",
    "layers == [64, 32]",
    "layers.0 == 128",
    "start_time > -1d",
    "lr not in [0.1, 0.5]",
    "host.hostname exists",
    '{"type": "and", "filters": [{"field": "lr", "operator": "<", "value": 0.05}]}',
]


@pytest.mark.parametrize("text", STORE_QUERIES)
def test_translation_agrees_on_real_runs(filled_store, text):
    runs, metric_docs = _mongo_docs(filled_store)
    db = mongomock.MongoClient().db
    db.runs.insert_many([dict(r) for r in runs])
    if metric_docs:
        db.metrics.insert_many(metric_docs)

    def metric_filter(node):
        ids = [d["run_id"] for d in db.metrics.aggregate(metric_pipeline(node))]
        return {"_id": {"$in": ids}}

    node = parse(text)
    filt = translate(node, metric_filter)
    assert _no_javascript(filt)
    got = sorted(d["_id"] for d in db.runs.find(filt))
    assert got == sorted(filled_store.find_ids(node))


@pytest.mark.parametrize("sort", ["lr", "-lr", "-start_time", "experiment.name,-lr"])
def test_sort_agrees(filled_store, sort):
    db = mongomock.MongoClient().db
    db.runs.insert_many([dict(r) for r in filled_store.find()])
    got = [d["_id"] for d in db.runs.find({}, sort=mongo_sort(sort))]
    assert got == filled_store.find_ids(sort=sort)


def test_mongo_sort_adds_the_id_tie_breaker():
    assert mongo_sort("-lr") == [("config.lr", -1), ("_id", 1)]
    assert mongo_sort("-_id") == [("_id", -1)]
    with pytest.raises(QueryError, match="sorting by a metric summary"):
        mongo_sort("metrics.loss.min")
