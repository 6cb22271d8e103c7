"""No MongoDB operator gets in through Sacredboard's filters, sort or columns (issue 13).

A JSON filter ``{"field": ".$expr", ...}`` used to become the top-level ``$expr`` key of the
Mongo filter. Field paths are checked in one place (``sacred.store.query.Field``): no
``$`` anywhere, no empty part. Every request below is refused with a 400, and the only
``$`` keys that reach mongomock are the translator's own operators.
"""

import json
import urllib.parse

import pytest

from sacred import Experiment

pytest.importorskip("flask")
mongomock = pytest.importorskip("mongomock")

BAD_FIELDS = [".$expr", "$where", "config.$function", ".$accumulator", "a..b", "a.", "..a"]
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


class _Recorder:
    """Delegates to a mongomock collection, keeping what was sent to find/count/aggregate."""

    def __init__(self, collection):
        self._collection = collection
        self.specs = []

    def __getattr__(self, name):
        return getattr(self._collection, name)

    def find(self, filter=None, *args, **kwargs):
        self.specs.append(filter)
        return self._collection.find(filter, *args, **kwargs)

    def count_documents(self, filter, **kwargs):
        self.specs.append(filter)
        return self._collection.count_documents(filter, **kwargs)

    def aggregate(self, pipeline, **kwargs):
        self.specs.append([stage for stage in pipeline if "$match" in stage])
        return self._collection.aggregate(pipeline, **kwargs)


def _dollar_keys(obj):
    if isinstance(obj, dict):
        for key, value in obj.items():
            if "$" in key:
                yield key
            yield from _dollar_keys(value)
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            yield from _dollar_keys(item)


@pytest.fixture
def board():
    import mongomock.gridfs

    from sacred.observers import MongoObserver
    from sacred.store import open_store
    from sacredboard.app import create_app

    mongomock.gridfs.enable_gridfs_integration()
    client = mongomock.MongoClient()
    for lr in (0.1, 0.2):
        ex = Experiment("inject")

        @ex.config
        def cfg():
            lr = 0.0  # noqa: F841

        @ex.main
        def main(_run, lr):
            _run.log_scalar("loss", lr, 0)
            return lr

        ex.observers.append(MongoObserver(client=client, db_name="inject"))
        ex.run(config_updates={"lr": lr}, options={"--capture": "sys"})
    store = open_store(client, db_name="inject")
    store.runs = _Recorder(store.runs)
    store.metrics_collection = _Recorder(store.metrics_collection)
    return store, create_app(store).test_client()


def _tree(field, operator="==", value=1):
    filters = [{"field": "lr", "operator": ">", "value": 0}]
    filters.append({"field": field, "operator": operator, "value": value})
    return urllib.parse.quote(json.dumps({"type": "and", "filters": filters}))


@pytest.mark.parametrize("field", BAD_FIELDS)
def test_bad_fields_are_refused_before_reaching_the_database(board, field):
    store, client = board
    quoted = urllib.parse.quote(field)
    urls = [
        f"/api/run?queryFilter={_tree(field)}",
        f"/api/run?queryFilter={_tree(field, 'regex', '.*')}",
        f"/api/run?q={urllib.parse.quote(field + ' == 1')}",
        f"/api/run?q={urllib.parse.quote('not (' + field + ' exists)')}",
        f"/api/run?sort={quoted}",
        f"/api/run?cols={quoted}",
        f"/api/export?format=json&queryFilter={_tree(field)}",
        f"/api/groups?queryFilter={_tree(field)}",
        f"/api/points?fields={quoted}",
    ]
    for url in urls:
        resp = client.get(url)
        assert resp.status_code == 400, (url, resp.data)
        message = resp.get_json()["errorMessage"]
        assert "invalid" in message or "unexpected character" in message, message
    # /api/points reads the (unfiltered) runs before it parses its fields
    assert store.runs.specs in ([], [{}]) and store.metrics_collection.specs == []


def test_operator_keys_in_values_are_refused(board):
    store, client = board
    for value in ({"$where": "sleep(100)"}, [0.1, {"$expr": {"$gt": [1, 0]}}]):
        resp = client.get(f"/api/run?queryFilter={_tree('lr', '==', value)}")
        assert resp.status_code == 400
        assert "starts with '$'" in resp.get_json()["errorMessage"]
    assert store.runs.specs == []


def test_what_reaches_mongo_holds_only_the_translators_operators(board):
    store, client = board
    good = [
        f"/api/run?queryFilter={_tree('.experiment.name', '==', 'inject')}",
        f"/api/run?queryFilter={_tree('.config.lr', 'regex', '$where')}",
        f"/api/run?queryFilter={_tree('lr', '==', {'where': 1, 'x': ['$expr']})}",
        "/api/run?q=" + urllib.parse.quote('lr < 0.15 or experiment.name =~ "^inj"'),
        "/api/run?q=" + urllib.parse.quote("metrics.loss.min > 0.15") + "&sort=-metrics.loss.max",
        "/api/run?status=COMPLETED,PROBABLY_DEAD&cols=config.lr,metrics.loss.last",
    ]
    for url in good:
        assert client.get(url).status_code == 200, url
    assert store.runs.specs
    for spec in store.runs.specs + store.metrics_collection.specs:
        assert set(_dollar_keys(spec)) <= TRANSLATOR_OPERATORS | {"$match"}, spec
    body = client.get(f"/api/run?queryFilter={_tree('.config.lr', '==', 0.2)}").get_json()
    assert [row["id"] for row in body["data"]] == ["2"]
