"""info.json across heartbeats: only changed parts are re-encoded, the file is always exact.

Every beat's file is compared with what the original writes for the same ``info``:
``json.dumps(flatten(info), sort_keys=True, indent=2)``.
"""

import json
import os

import pytest

from sacred.observers.file_storage import FileStorageObserver
from sacred.serializer import flatten
from tests.sacred.observers.test_file_storage import DEMO_SOURCE, T1, read, start


def expected(info):
    return json.dumps(flatten(info), sort_keys=True, indent=2)


@pytest.fixture
def beat(tmp_path, monkeypatch):
    (tmp_path / "demo.py").write_text(DEMO_SOURCE)
    monkeypatch.chdir(tmp_path)
    obs = FileStorageObserver("runs")
    start(obs, str(tmp_path))

    def beat(info):
        obs.heartbeat_event(info=info, captured_out="", beat_time=T1, result=None)
        assert read("runs/1/info.json") == expected(info)

    return beat


def test_in_place_changes_between_beats_are_written(beat):
    info = {"history": [{"loss": 0.5}], "best": 1, "cfg": {"lr": 0.1, "tags": ["a"]}}
    beat(info)
    beat(info)  # unchanged
    info["history"].append({"loss": 0.25})  # a list grows
    beat(info)
    info["history"][0]["loss"] = 0.75  # an old item changes in place
    beat(info)
    info["cfg"]["tags"].append("b")  # nested change
    beat(info)
    info["history"].append({"loss": 0.125, "note": 'a "quoted"\nline'})
    info["history"].append([1, [2, {"x": None}]])
    beat(info)
    del info["history"][1:]  # a list shrinks
    beat(info)
    info["history"].clear()
    beat(info)
    info["history"].append(1.5)  # grows again from empty
    beat(info)
    info["extra"] = "new key"
    del info["best"]
    beat(info)


def test_equal_values_of_another_type_are_rewritten(beat):
    info = {"x": 1, "ys": [1, 2]}
    beat(info)
    for x in (1.0, True, "1", None, 1):
        info["x"] = x
        info["ys"] = [x, 2]
        beat(info)
    assert json.loads(read("runs/1/info.json")) == {"x": 1, "ys": [1, 2]}


def test_values_that_are_not_plain_json_are_flattened(beat):
    info = {"t": (1, 2), "n": 1}
    beat(info)  # jsonpickle tags, as the original writes them
    assert json.loads(read("runs/1/info.json"))["t"] == {"py/tuple": [1, 2]}
    info["t"] = [1, 2]
    beat(info)
    info["t"] = {1: "int key"}
    beat(info)
    info["t"] = float("nan")
    beat(info)


def test_a_container_shared_by_two_keys_is_written_as_the_original_does(beat):
    shared = [1, 2]
    info = {"a": shared}
    beat(info)
    info["b"] = shared  # reached twice: jsonpickle writes a reference the second time
    beat(info)
    assert "py/id" in read("runs/1/info.json")
    del info["b"]
    beat(info)
    info["a"].append(info["a"][:])  # a copy is not a reference
    beat(info)
    item = {"k": 1}
    info["a"].append(item)
    beat(info)
    info["a"].append(item)  # the same dict appended twice to a growing list
    beat(info)


def test_unchanged_info_json_replaced_by_someone_else_is_written_again(beat):
    info = {"a": [1, 2, 3]}
    beat(info)
    with open("runs/1/info.json", "w") as f:
        f.write("{}")
    beat(info)


def test_info_json_is_not_rewritten_when_nothing_changed(beat):
    info = {"a": [1, 2, 3]}
    beat(info)
    before = os.stat("runs/1/info.json")
    beat(info)
    after = os.stat("runs/1/info.json")
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)
