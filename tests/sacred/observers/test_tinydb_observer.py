"""TinyDbObserver, TinyDbReader and the serializers of tinydb_hashfs.bases, on real files."""

import copy
import datetime
import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from sacred import Experiment
from sacred.__about__ import __version__
from sacred.observers.tinydb_hashfs import TinyDbObserver, TinyDbReader
from sacred.observers.tinydb_hashfs.bases import (
    BufferedReaderWrapper,
    DataFrameSerializer,
    DateTimeSerializer,
    FileSerializer,
    NdArraySerializer,
    SeriesSerializer,
    get_db_file_manager,
)

T0 = datetime.datetime(2026, 11, 27, 22, 43, 50, 227301)
T1 = datetime.datetime(2026, 11, 27, 22, 43, 51, 231358)
T2 = datetime.datetime(2026, 11, 27, 22, 43, 53, 533106)
HOST = {"hostname": "vm", "os": ["Linux", "Linux-6"], "python_version": "3.11.7", "cpu": "x"}


@pytest.fixture
def source_file(tmp_path):
    path = tmp_path / "src" / "demo.py"
    path.parent.mkdir()
    path.write_text("print('demo')\n")
    return path


def md5(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


def ex_info(source_file):
    return {
        "name": "demo",
        "base_dir": str(source_file.parent),
        "sources": [("demo.py", md5(source_file))],
        "dependencies": ["numpy==2.4.6", "sacred==0.8.7"],
        "repositories": [],
        "mainfile": "demo.py",
    }


def start(obs, source_file, _id=None, config=None):
    return obs.started_event(
        ex_info=ex_info(source_file),
        command="main",
        host_info=HOST,
        start_time=T0,
        config=config if config is not None else {"b": [1, 2], "a": 1.5, "seed": 7},
        meta_info={"comment": ""},
        _id=_id,
    )


# ---------------------------------------------------------------- serializers
def test_datetime_serializer_format():
    s = DateTimeSerializer()
    assert s.OBJ_CLASS is datetime.datetime
    assert s.encode(T0) == "2026-11-27T22:43:50.227301"
    assert s.decode("2026-11-27T22:43:50.227301") == T0
    assert s.decode(s.encode(datetime.datetime(2020, 1, 2))) == datetime.datetime(2020, 1, 2)


def test_numpy_and_pandas_serializers_round_trip():
    arr = np.arange(6).reshape(2, 3)
    s = NdArraySerializer()
    assert s.OBJ_CLASS is np.ndarray
    assert s.encode(arr) == "[[0, 1, 2], [3, 4, 5]]"
    np.testing.assert_array_equal(s.decode(s.encode(arr)), arr)

    df = pd.DataFrame({"x": [1, 2], "y": [0.5, 1.5]})
    s = DataFrameSerializer()
    assert s.OBJ_CLASS is pd.DataFrame
    pd.testing.assert_frame_equal(s.decode(s.encode(df)), df)

    series = pd.Series([1.0, 2.5], index=["a", "b"])
    s = SeriesSerializer()
    assert s.OBJ_CLASS is pd.Series
    pd.testing.assert_series_equal(s.decode(s.encode(series)), series)


def test_buffered_reader_wrapper_can_be_copied(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"content")
    handle = BufferedReaderWrapper(open(path, "rb"))
    assert handle.read() == b"content"
    for other in (copy.copy(handle), copy.deepcopy({"h": handle})["h"]):
        assert other is not handle and other.name == str(path)
        assert other.read() == b"content"
        other.close()
    handle.close()


def test_file_serializer_uses_the_hashfs_id(tmp_path):
    db, fs = get_db_file_manager(str(tmp_path))
    src = tmp_path / "data.txt"
    src.write_text("hello")
    address = fs.put(str(src))
    assert address.id == md5(src)
    assert address.relpath.split("/")[:3] == [address.id[:2], address.id[2:4], address.id[4:6]]
    s = FileSerializer(fs)
    handle = BufferedReaderWrapper(open(address.abspath, "rb"))
    assert s.encode(handle) == address.id
    decoded = s.decode(address.id)
    assert isinstance(decoded, BufferedReaderWrapper) and decoded.read() == b"hello"
    decoded.close()
    handle.close()


def test_stored_values_are_tagged_strings_in_metadata_json(tmp_path):
    db, fs = get_db_file_manager(str(tmp_path))
    db.table("runs").insert(
        {
            "t": T0,
            "arr": np.array([1, 2]),
            "df": pd.DataFrame({"x": [1]}),
            "s": pd.Series([3]),
        }
    )
    raw = json.loads((tmp_path / "metadata.json").read_text())
    doc = raw["runs"]["1"]
    assert doc["t"] == "{TinyDate}:2026-11-27T22:43:50.227301"
    assert doc["arr"] == "{TinyArray}:[1, 2]"
    assert doc["df"].startswith("{TinyDataFrame}:")
    assert doc["s"].startswith("{TinySeries}:")
    back = db.table("runs").all()[0]
    assert back["t"] == T0
    np.testing.assert_array_equal(back["arr"], [1, 2])
    assert back["df"]["x"].tolist() == [1]


def test_importing_the_package_imports_no_backend_library():
    code = (
        "import sys, sacred.observers.tinydb_hashfs; "
        "print(sorted(m for m in ('tinydb', 'hashfs', 'numpy', 'pandas') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "[]", out.stderr


# ---------------------------------------------------------------- observer
def test_observer_creates_the_store_and_the_entry(tmp_path, source_file):
    root = tmp_path / "db" / "nested"
    obs = TinyDbObserver(str(root))
    assert (obs.root, obs.overwrite, obs.db_run_id) == (str(root), None, None)
    assert obs.VERSION == f"TinyDbObserver-{__version__}"
    run_id = start(obs, source_file)
    assert isinstance(run_id, str) and len(run_id) == 32 and int(run_id, 16) >= 0
    assert (root / "metadata.json").exists() and (root / "hashfs").is_dir()

    entry = TinyDbReader(str(root)).runs.all()[0]
    assert sorted(entry) == sorted(
        [
            "_id",
            "experiment",
            "format",
            "command",
            "host",
            "start_time",
            "config",
            "meta",
            "status",
            "resources",
            "artifacts",
            "captured_out",
            "info",
            "heartbeat",
        ]
    )
    assert entry["_id"] == run_id
    assert entry["format"] == obs.VERSION
    assert entry["start_time"] == T0
    assert entry["config"] == {"b": [1, 2], "a": 1.5, "seed": 7}
    assert (entry["status"], entry["captured_out"], entry["heartbeat"]) == ("RUNNING", "", None)
    [[name, file_id, handle]] = entry["experiment"]["sources"]
    assert (name, file_id) == ("demo.py", md5(source_file))
    assert handle.read() == b"print('demo')\n"

    raw = json.loads((root / "metadata.json").read_text())["runs"]["1"]
    assert raw["start_time"] == "{TinyDate}:2026-11-27T22:43:50.227301"
    assert raw["experiment"]["sources"] == [["demo.py", file_id, "{TinyFile}:" + file_id]]


def test_given_id_events_files_and_report(tmp_path, source_file):
    obs = TinyDbObserver(str(tmp_path / "db"))
    assert start(obs, source_file, _id="run-a") == "run-a"
    obs.heartbeat_event(info={"k": 1}, captured_out="out\n", beat_time=T1, result=None)
    resource = tmp_path / "data.csv"
    resource.write_text("1,2\n")
    obs.resource_event(str(resource))
    obs.resource_event(str(resource))  # not twice
    artifact = tmp_path / "model.txt"
    artifact.write_text("weights")
    obs.artifact_event("model.txt", str(artifact))
    obs.completed_event(stop_time=T2, result=0.25)

    reader = TinyDbReader(str(tmp_path / "db"))
    [entry] = reader.fetch_metadata(exp_name="dem")
    assert entry["_id"] == "run-a"
    assert (entry["status"], entry["result"], entry["stop_time"]) == ("COMPLETED", 0.25, T2)
    assert (entry["info"], entry["captured_out"], entry["heartbeat"]) == ({"k": 1}, "out\n", T1)
    assert [r[:2] for r in entry["resources"]] == [[str(resource), md5(resource)]]
    assert [a[:3] for a in entry["artifacts"]] == [["model.txt", str(artifact), md5(artifact)]]

    [files] = reader.fetch_files(indices=0)
    assert sorted(files) == ["artifacts", "date", "exp_id", "exp_name", "resources", "sources"]
    assert (files["exp_name"], files["exp_id"], files["date"]) == ("demo", "run-a", T0)
    assert files["artifacts"]["model.txt"].read() == b"weights"
    assert files["resources"][str(resource)].read() == b"1,2\n"
    assert files["sources"]["demo.py"].read() == b"print('demo')\n"

    [report] = reader.fetch_report(indices=-1)
    # like the original's, a report starts with an empty line before its first rule
    assert report == (
        "\n"
        "-------------------------------------------------\n"
        "Experiment: demo\n"
        "-------------------------------------------------\n"
        "ID: run-a\n"
        "Date: Fri 27 Nov 2026    Duration: 0:00:03.3\n"
        "\n"
        "Parameters:\n"
        "    a: 1.5\n"
        "    b: [1, 2]\n"
        "    seed: 7\n"
        "\n"
        "Result:\n"
        "    0.25\n"
        "\n"
        "Dependencies:\n"
        "    numpy==2.4.6\n"
        "    sacred==0.8.7\n"
        "\n"
        "Resources:\n"
        f"    {resource}\n"
        "\n"
        "Source Files:\n"
        "    demo.py\n"
        "\n"
        "Outputs:\n"
        "    model.txt\n"
    )


def test_report_of_a_run_with_empty_sections(tmp_path, source_file):
    obs = TinyDbObserver(str(tmp_path / "db"))
    info = dict(ex_info(source_file), dependencies=[], sources=[])
    obs.started_event(info, "main", HOST, T0, {}, {}, "r1")
    obs.failed_event(fail_time=T0 + datetime.timedelta(hours=1, seconds=2), fail_trace=["x"])
    [report] = TinyDbReader(str(tmp_path / "db")).fetch_report(exp_name="^demo$")
    assert "Duration: 1:00:02.0\n" in report
    for section in ("Parameters", "Result", "Dependencies", "Resources", "Source Files"):
        assert f"\n{section}:\n    None\n" in report
    assert report.endswith("Outputs:\n    None\n")
    files = TinyDbReader(str(tmp_path / "db")).fetch_files(indices=[0])
    assert files == [{"exp_name": "demo", "exp_id": "r1", "date": T0}]


def test_reader_selection_rules(tmp_path, source_file):
    from tinydb import Query

    obs = TinyDbObserver(str(tmp_path / "db"))
    for i, name in enumerate(["alpha", "beta", "alphabet"]):
        info = dict(ex_info(source_file), name=name)
        obs.started_event(info, "main", HOST, T0, {"i": i}, {}, f"id{i}")
    reader = TinyDbReader(str(tmp_path / "db"))
    assert [e["_id"] for e in reader.fetch_metadata(exp_name="alpha")] == ["id0", "id2"]
    assert [e["_id"] for e in reader.fetch_metadata(exp_name="^beta$")] == ["id1"]
    assert [e["_id"] for e in reader.fetch_metadata(indices=[2, -3])] == ["id2", "id0"]
    assert [e["_id"] for e in reader.fetch_metadata(query=Query().config.i >= 1)] == [
        "id1",
        "id2",
    ]
    assert [e["_id"] for e in reader.search(Query()._id == "id1")] == ["id1"]
    with pytest.raises(ValueError) as e:
        reader.fetch_metadata(indices=3)
    assert str(e.value) == "Index value (3) must be less than number of records (3)"
    with pytest.raises(ValueError):
        reader.fetch_metadata()
    with pytest.raises(OSError):
        TinyDbReader(str(tmp_path / "missing"))


def test_queued_runs_are_stored(tmp_path, source_file):
    """Sacred 0.8.7 raises NotImplementedError here; this TinyDbObserver stores a QUEUED
    entry (see "Beyond the original" in docs/observers.md)."""
    obs = TinyDbObserver(str(tmp_path / "db"))
    run_id = obs.queued_event(
        ex_info=ex_info(source_file),
        command="main",
        host_info=HOST,
        queue_time=T0,
        config={"a": 1, "seed": 7},
        meta_info={"comment": "", "queue_time": T0},
        _id=None,
    )
    (entry,) = TinyDbReader(str(tmp_path / "db")).runs.all()
    assert entry["_id"] == run_id and len(run_id) == 32
    assert entry["status"] == "QUEUED" and "start_time" not in entry
    assert (entry["command"], entry["config"], entry["host"]) == ("main", {"a": 1, "seed": 7}, HOST)
    assert entry["meta"] == {"comment": "", "queue_time": T0}
    ((name, file_id, handle),) = entry["experiment"]["sources"]
    assert (name, file_id, handle.read()) == ("demo.py", md5(source_file), b"print('demo')\n")
    handle.close()


def test_overwrite_reuses_an_existing_entry(tmp_path, source_file):
    obs = TinyDbObserver(str(tmp_path / "db"))
    start(obs, source_file, _id="keep")
    again = TinyDbObserver(str(tmp_path / "db"), overwrite="keep")
    assert start(again, source_file, config={"new": 1}) == "keep"
    entries = TinyDbReader(str(tmp_path / "db")).runs.all()
    assert [(e["_id"], e["config"]) for e in entries] == [("keep", {"new": 1})]
    with pytest.raises(RuntimeError, match="Couldn't find run to overwrite with _id='nope'"):
        start(TinyDbObserver(str(tmp_path / "db"), overwrite="nope"), source_file)


def test_create_is_deprecated_and_create_from_takes_db_and_fs(tmp_path):
    with pytest.warns(DeprecationWarning) as record:
        obs = TinyDbObserver.create(str(tmp_path / "a"))
    assert isinstance(obs, TinyDbObserver)
    # attributed to Sacred's own module (hidden by Python's default filters), as the original
    [warning] = record
    assert warning.filename.endswith(os.path.join("tinydb_hashfs", "observer.py"))
    db, fs = get_db_file_manager(str(tmp_path / "b"))
    obs = TinyDbObserver.create_from(db, fs, root=str(tmp_path / "b"))
    assert (obs.db, obs.fs, obs.root) == (db, fs, str(tmp_path / "b"))
    assert obs == TinyDbObserver(str(tmp_path / "b"))  # both empty


# ---------------------------------------------------------------- whole experiments
def make_experiment(tmp_path):
    ex = Experiment("tinydemo", base_dir=str(tmp_path))

    @ex.config
    def cfg():
        n = 3  # noqa: F841

    @ex.main
    def main(n, _run):
        for i in range(n):
            print(f"step {i}")
        path = tmp_path / "out.txt"
        path.write_text("result file")
        _run.add_artifact(str(path))
        return {"arr": np.arange(n), "when": T0}

    return ex


def test_experiment_run_is_stored_and_read_back(tmp_path):
    ex = make_experiment(tmp_path)
    ex.observers.append(TinyDbObserver(str(tmp_path / "db")))
    run = ex.run(config_updates={"n": 4}, options={"--capture": "sys"})
    [entry] = TinyDbReader(str(tmp_path / "db")).fetch_metadata(exp_name="tinydemo")
    assert entry["_id"] == run._id and entry["status"] == "COMPLETED"
    assert entry["captured_out"] == "step 0\nstep 1\nstep 2\nstep 3\n"
    np.testing.assert_array_equal(entry["result"]["arr"], [0, 1, 2, 3])
    assert entry["result"]["when"] == T0
    assert entry["config"]["n"] == 4
    assert entry["start_time"] == run.start_time and entry["stop_time"] == run.stop_time
    [files] = TinyDbReader(str(tmp_path / "db")).fetch_files(exp_name="tinydemo")
    assert files["artifacts"]["out.txt"].read() == b"result file"


def test_command_line_option(tmp_path):
    ex = make_experiment(tmp_path)
    db = str(tmp_path / "cli_db")
    run = ex.run_commandline(["demo.py", "-C", "sys", "-t", db, "with", "n=1"])
    [entry] = TinyDbReader(db).fetch_metadata(indices=0)
    assert entry["_id"] == run._id
    assert entry["meta"]["options"]["--tiny_db"] == db
    assert entry["captured_out"] == "step 0\n"


def test_missing_library_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.delitem(sys.modules, "sacred.observers.tinydb_hashfs.bases")
    monkeypatch.setitem(sys.modules, "hashfs", None)
    with pytest.raises(ImportError, match=r'pip install "sacred\[tinydb\]"'):
        TinyDbObserver(str(tmp_path / "db"))
    with pytest.raises(ImportError, match=r'pip install "sacred\[tinydb\]"'):
        TinyDbReader(str(tmp_path))
