"""QueueObserver: ordered background delivery, retries, bounded join, failure file and replay."""

import datetime
import json
import logging
import os
import threading
import time

import pytest

from sacred import Experiment
from sacred.observers import FileStorageObserver, RunObserver
from sacred.observers.queue import QueueObserver, WrappedEvent, replay

T1 = datetime.datetime(2020, 1, 2, 3, 4, 5)


class Recorder(RunObserver):
    """Records the events it gets; fails while ``down`` is set."""

    def __init__(self):
        self.events = []
        self.down = threading.Event()
        self.threads = set()

    def _record(self, event, **kwargs):
        if self.down.is_set():
            raise ConnectionError("backend unreachable")
        self.threads.add(threading.current_thread().name)
        self.events.append((event, kwargs))

    def started_event(self, ex_info, command, host_info, start_time, config, meta_info, _id):
        self.threads.add(threading.current_thread().name)
        self.events.append(("started_event", {"_id": _id}))
        return 17 if _id is None else _id

    def heartbeat_event(self, info, captured_out, beat_time, result):
        self._record("heartbeat_event", captured_out=captured_out, result=result)

    def log_metrics(self, metric_name, metric_values, info):
        self._record("log_metrics", name=metric_name, values=list(metric_values["values"]))

    def artifact_event(self, name, filename, metadata=None, content_type=None):
        with open(filename) as f:
            self._record("artifact_event", name=name, content=f.read())

    def completed_event(self, stop_time, result):
        self._record("completed_event", result=result)

    def failed_event(self, fail_time, fail_trace):
        self._record("failed_event", fail_trace=fail_trace)


START = {
    "ex_info": {"name": "q", "base_dir": "/", "sources": [], "dependencies": []},
    "command": "main",
    "host_info": {},
    "start_time": T1,
    "config": {"a": 1},
    "meta_info": {},
    "_id": None,
}


def test_events_are_delivered_in_order_from_a_background_thread():
    rec = Recorder()
    obs = QueueObserver(rec, interval=0.01, retry_interval=0.01)
    assert obs.started_event(**START) == 17
    obs.log_metrics(
        {"a": {"values": [1, 2], "steps": [0, 1], "timestamps": [T1, T1]}, "b": {"values": [3]}},
        {},
    )
    obs.heartbeat_event(info={}, captured_out="out", beat_time=T1, result=None)
    obs.completed_event(stop_time=T1, result=5)
    assert [e[0] for e in rec.events] == [
        "started_event",
        "log_metrics",
        "log_metrics",
        "heartbeat_event",
        "completed_event",
    ]
    assert rec.events[1][1] == {"name": "a", "values": [1, 2]}
    assert rec.events[-1][1] == {"result": 5}
    assert "sacred-queue-observer" in rec.threads


def test_failing_events_are_retried_until_the_backend_is_back(caplog):
    rec = Recorder()
    obs = QueueObserver(rec, interval=0.01, retry_interval=0.01)
    obs.started_event(**START)
    rec.down.set()
    obs.heartbeat_event(info={}, captured_out="1", beat_time=T1, result=None)
    threading.Timer(0.2, rec.down.clear).start()
    with caplog.at_level(logging.WARNING):
        obs.completed_event(stop_time=T1, result=1)
    assert [e[0] for e in rec.events] == ["started_event", "heartbeat_event", "completed_event"]
    assert "Delivering heartbeat_event" in caplog.text and "backend unreachable" in caplog.text


def test_join_is_bounded_and_undelivered_events_go_to_a_file(tmp_path, caplog):
    rec = Recorder()
    obs = QueueObserver(
        rec, interval=0.01, retry_interval=0.01, join_timeout=0.3, failure_dir=str(tmp_path)
    )
    obs.started_event(**START)
    rec.down.set()
    art = tmp_path / "art.txt"
    art.write_text("content at add time")
    obs.artifact_event(name="art.txt", filename=str(art))
    obs.log_metrics({"loss": {"values": [0.5], "steps": [0], "timestamps": [T1]}}, {})
    obs.heartbeat_event(info={"i": 1}, captured_out="old", beat_time=T1, result=None)
    obs.heartbeat_event(info={"i": 2}, captured_out="new", beat_time=T1, result=None)
    start = time.monotonic()
    with caplog.at_level(logging.WARNING):
        obs.completed_event(stop_time=T1, result=3)
    assert time.monotonic() - start < 3
    path = obs.failure_file
    assert path and os.path.dirname(path) == str(tmp_path) and path in caplog.text
    assert "could not be delivered" in caplog.text
    art.write_text("changed later")
    with open(path) as f:
        lines = [json.loads(line) for line in f]
    assert [(r["event"], r.get("delivered")) for r in lines] == [
        ("started_event", True),
        ("artifact_event", None),
        ("log_metrics", None),
        ("heartbeat_event", None),  # the older undelivered beat was superseded
        ("completed_event", None),
    ]
    assert lines[0]["kwargs"]["_id"] == 17

    target = Recorder()
    assert replay(path, target) == 5
    names = [e[0] for e in target.events]
    assert names == [
        "started_event",
        "artifact_event",
        "log_metrics",
        "heartbeat_event",
        "completed_event",
    ]
    assert target.events[0][1] == {"_id": 17}
    assert target.events[1][1] == {"name": "art.txt", "content": "content at add time"}
    assert target.events[2][1] == {"name": "loss", "values": [0.5]}  # per-metric signature
    assert target.events[3][1] == {"captured_out": "new", "result": None}
    assert target.events[4][1] == {"result": 3}


def test_forwarding_equality_and_priority():
    rec = Recorder()
    rec.custom = "value"
    obs = QueueObserver(rec)
    assert obs.custom == "value"
    assert obs == rec
    assert obs.priority == 0
    assert WrappedEvent("a", [1], {"b": 2}) == ("a", [1], {"b": 2})
    with pytest.raises(AttributeError):
        obs.no_such_attribute  # noqa: B018


def test_queue_observer_around_file_storage_in_an_experiment(tmp_path):
    ex = Experiment("queued_fs", base_dir=str(tmp_path))
    ex.observers.append(QueueObserver(FileStorageObserver(str(tmp_path / "runs")), interval=0.01))

    @ex.main
    def main(_run):
        _run.log_scalar("m", 1.5)
        print("printed")
        return 7

    run = ex.run(options={"--capture": "sys"})
    run_dir = tmp_path / "runs" / str(run._id)
    doc = json.loads((run_dir / "run.json").read_text())
    assert doc["status"] == "COMPLETED" and doc["result"] == 7
    assert json.loads((run_dir / "metrics.json").read_text())["m"]["values"] == [1.5]
    assert (run_dir / "cout.txt").read_text().startswith("printed")
