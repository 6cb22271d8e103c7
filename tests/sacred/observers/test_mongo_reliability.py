"""MongoDB going away during a run: the run completes, nothing is lost, failure files replay."""

import json
import logging
import os
import threading

import mongomock
import mongomock.gridfs
import pymongo
import pytest

from sacred import Experiment
from sacred.observers.mongo import MongoObserver, read_metrics, read_run, replay_failure_file

mongomock.gridfs.enable_gridfs_integration()

_METHODS = (
    "insert_one",
    "insert_many",
    "update_one",
    "update_many",
    "replace_one",
    "find",
    "find_one",
    "delete_one",
    "delete_many",
    "count_documents",
)


class FailingClient(mongomock.MongoClient):
    """A mongomock client whose server can be switched off (every call then fails)."""

    down = False


@pytest.fixture
def failing_client(monkeypatch):
    collection_cls = mongomock.collection.Collection

    def wrap(name):
        original = getattr(collection_cls, name)

        def method(self, *args, **kwargs):
            client = self.database.client
            if isinstance(client, FailingClient) and client.down:
                raise pymongo.errors.AutoReconnect("connection refused (server is down)")
            return original(self, *args, **kwargs)

        return method

    for name in _METHODS:
        monkeypatch.setattr(collection_cls, name, wrap(name))
    return FailingClient()


def make_observer(client, failure_dir, **kwargs):
    obs = MongoObserver(client=client, db_name="rel", failure_dir=str(failure_dir), **kwargs)
    obs.retry_delay = 0.0
    obs.retry_interval = 0.0
    return obs


def make_experiment(tmp_path, obs, body):
    ex = Experiment("reliable", base_dir=str(tmp_path))
    ex.observers.append(obs)
    ex.main(body)
    return ex


def test_backend_down_mid_run_then_back(failing_client, tmp_path, caplog):
    obs = make_observer(failing_client, tmp_path / "failures")
    artifact = tmp_path / "weights.txt"

    def main(_run):
        print("before outage")
        _run.log_scalar("loss", 1.0)
        _run._emit_heartbeat()  # a periodic beat while the server is up
        failing_client.down = True
        print("during outage")
        for i in range(100):
            _run.log_scalar("loss", float(i))
        _run.info["phase"] = "outage"
        _run._emit_heartbeat()
        artifact.write_text("v1")
        _run.add_artifact(str(artifact))
        artifact.write_text("v2 written after the artifact was added")
        failing_client.down = False
        print("after outage")
        return "ok"

    ex = make_experiment(tmp_path, obs, main)
    with caplog.at_level(logging.WARNING):
        run = ex.run(options={"--capture": "sys"})
    assert run.status == "COMPLETED" and run._failed_observers == []
    assert "writing to MongoDB at" in caplog.text and "AutoReconnect" in caplog.text
    doc = read_run(failing_client.rel.runs, run._id)
    assert doc["status"] == "COMPLETED" and doc["result"] == "ok"
    assert "before outage\nduring outage\n" in doc["captured_out"]
    assert "after outage\n" in doc["captured_out"]
    assert doc["info"]["phase"] == "outage"
    assert read_metrics(failing_client.rel.metrics, run._id)["loss"]["values"] == [1.0] + [
        float(i) for i in range(100)
    ]
    (art,) = doc["artifacts"]
    assert obs.fs.get(art["file_id"]).read() == b"v1"  # the content at add_artifact time
    assert not os.listdir(tmp_path / "failures") or all(
        not os.listdir(tmp_path / "failures" / d) for d in os.listdir(tmp_path / "failures")
    )


def test_backend_gone_until_the_end_writes_a_failure_file_that_replays(
    failing_client, tmp_path, caplog
):
    obs = make_observer(failing_client, tmp_path / "failures")
    artifact = tmp_path / "result.json"
    resource = tmp_path / "input.csv"
    resource.write_text("a,b\n")

    def main(_run):
        print("up")
        _run.log_scalar("acc", 0.1)
        _run._emit_heartbeat()
        failing_client.down = True  # and it never comes back during the run
        print("down")
        for i in range(50):
            _run.log_scalar("acc", i / 50)
            _run.log_scalar("new_metric", i)
        _run.info["x"] = [1, 2, 3]
        artifact.write_text(json.dumps({"score": 0.9}))
        _run.add_artifact(str(artifact))
        _run.add_resource(str(resource))
        return {"score": 0.9}

    ex = make_experiment(tmp_path, obs, main)
    with caplog.at_level(logging.WARNING):
        run = ex.run(options={"--capture": "sys"})
    assert run.status == "COMPLETED" and run.result == {"score": 0.9}
    assert run._failed_observers == []
    path = obs.failure_file
    assert path.endswith(".jsonl") and os.path.basename(path).startswith(
        f"sacred_mongo_fail_{run._id}_"
    )
    assert path in caplog.text and f"sacred sync {path}" in caplog.text
    pickles = [f for f in os.listdir(tmp_path / "failures") if f.endswith(".pickle")]
    assert len(pickles) == 1
    with open(path) as f:
        events = [json.loads(line)["event"] for line in f]
    assert events[0] == "started_event" and events[-1] == "completed_event"

    failing_client.down = False
    assert failing_client.rel.runs.find_one({"_id": run._id})["status"] == "RUNNING"
    replay_failure_file(path, MongoObserver(client=failing_client, db_name="rel"))

    doc = read_run(failing_client.rel.runs, run._id)
    assert doc["status"] == "COMPLETED" and doc["result"] == {"score": 0.9}
    assert doc["captured_out"].startswith("up\ndown\n")
    assert doc["info"]["x"] == [1, 2, 3]
    metrics = read_metrics(failing_client.rel.metrics, run._id)
    assert metrics["acc"]["values"] == [0.1] + [i / 50 for i in range(50)]
    assert metrics["new_metric"]["values"] == list(range(50))
    assert {m["name"] for m in doc["info"]["metrics"]} == {"acc", "new_metric"}
    ids = {m["name"]: m["id"] for m in doc["info"]["metrics"]}
    assert ids["acc"] == str(failing_client.rel.metrics.find_one({"name": "acc"})["_id"])
    (art,) = doc["artifacts"]
    gfile = MongoObserver(client=failing_client, db_name="rel").fs.get(art["file_id"])
    assert gfile.filename == f"artifact://runs/{run._id}/result.json"
    assert json.loads(gfile.read()) == {"score": 0.9}
    assert doc["resources"][0][0] == str(resource)


def test_outage_during_heartbeats_does_not_block_the_run(failing_client, tmp_path):
    """Periodic beats from the heartbeat thread while the server is down."""
    obs = make_observer(failing_client, tmp_path / "failures")
    beats = threading.Event()

    def main(_run):
        failing_client.down = True
        for i in range(3):
            _run.log_scalar("m", i)
            _run._emit_heartbeat()
        beats.set()
        failing_client.down = False

    ex = make_experiment(tmp_path, obs, main)
    run = ex.run()
    assert beats.is_set() and run.status == "COMPLETED"
    assert read_metrics(failing_client.rel.metrics, run._id)["m"]["values"] == [0, 1, 2]


def test_full_save_after_an_outage_keeps_meta_keys_others_set(failing_client, tmp_path):
    """After an error the observer sends every field again, but ``meta`` only key by key:
    Sacredboard's tags (``MongoStore.update_meta``) set during the run survive it."""
    from sacred.observers.mongo.store import MongoStore

    obs = make_observer(failing_client, tmp_path / "failures")
    store = MongoStore(failing_client.rel)

    def main(_run):
        _run._emit_heartbeat()
        store.update_meta(_run._id, {"tags": ["kept"], "notes": "set mid-run"})
        failing_client.down = True
        _run._emit_heartbeat()  # fails: the next save is a full one
        failing_client.down = False
        _run.info["after"] = True
        _run._emit_heartbeat()
        return 1

    ex = make_experiment(tmp_path, obs, main)
    run = ex.run(options={"--capture": "sys", "--comment": "own"})
    assert run.status == "COMPLETED"
    meta = store.get(run._id)["meta"]
    assert meta["tags"] == ["kept"] and meta["notes"] == "set mid-run"
    assert meta["comment"] == "own" and meta["command"] == "main"
    assert store.get(run._id)["info"]["after"] is True
