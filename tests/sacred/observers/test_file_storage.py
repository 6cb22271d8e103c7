"""FileStorageObserver driven directly with the events (and keyword arguments) a Run sends."""

import datetime
import hashlib
import json
import os
import random
import warnings

import pytest

from sacred.observers._jsonio import isoformat_items_fixed
from sacred.observers.file_storage import (
    DEFAULT_FILE_STORAGE_PRIORITY,
    FileStorageObserver,
)

T0 = datetime.datetime(2026, 11, 27, 22, 43, 50, 227301)
T1 = datetime.datetime(2026, 11, 27, 22, 43, 50, 231358)
T2 = datetime.datetime(2026, 11, 27, 22, 43, 50, 233106)

DEMO_SOURCE = 'from sacred import Experiment\nex = Experiment("demo")\n'

HOST = {
    "ENV": {},
    "cpu": "AMD EPYC",
    "hostname": "vm",
    "os": ["Linux", "Linux-6.18.44-fc-v657-x86_64-with-glibc2.36"],
    "python_version": "3.11.7",
}
OPTIONS = {
    "--beat-interval": None,
    "--capture": None,
    "--comment": "my comment",
    "--debug": False,
    "--enforce_clean": False,
    "--file_storage": "runs",
    "--force": False,
    "--help": False,
    "--id": None,
    "--loglevel": None,
    "--mongo_db": None,
    "--name": None,
    "--pdb": False,
    "--print-config": False,
    "--priority": None,
    "--queue": False,
    "--s3": None,
    "--sql": None,
    "--tiny_db": None,
    "--unobserved": False,
    "COMMAND": None,
    "UPDATE": ["a=4"],
    "help": False,
    "with": True,
}
CONFIG = {
    "__doc__": "This is my demo configuration",
    "a": 4,
    "dataset": {"filename": "foo.npy", "normalize": True},
    "foo": {"a_squared": 16, "bar": "my_string4"},
    "lst": [1, 2, 3],
    "seed": 654000886,
}


def md5(text):
    return hashlib.md5(text.encode()).hexdigest()


@pytest.fixture(autouse=True)
def cache_home(tmp_path, monkeypatch):
    """The user's cache directory (where the run id hints live), private to the test."""
    cache = tmp_path / "user_cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    return cache


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A probe directory with demo.py, as cwd (the CLI is run from there)."""
    (tmp_path / "demo.py").write_text(DEMO_SOURCE)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def ex_info(base_dir):
    return {
        "name": "demo",
        "base_dir": str(base_dir),
        "sources": [("demo.py", md5(DEMO_SOURCE))],
        "dependencies": ["numpy==2.4.6", "sacred==0.8.7"],
        "repositories": [],
        "mainfile": "demo.py",
    }


def meta_info():
    return {
        "command": "main",
        "comment": "my comment",
        "config_updates": {"a": 4},
        "named_configs": [],
        "options": dict(OPTIONS),
    }


def start(obs, base_dir, _id=None, config=CONFIG, start_time=T0):
    return obs.started_event(
        ex_info=ex_info(base_dir),
        command="main",
        host_info=dict(HOST),
        start_time=start_time,
        config=config,
        meta_info=meta_info(),
        _id=_id,
    )


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def files_under(root):
    return sorted(
        os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs
    )


# The run.json the original wrote for `python demo.py -F runs -c 'my comment' with a=4`
# (sacred_cli_samples.txt); only the md5 differs because our demo.py differs.
ORIGINAL_RUN_JSON = """{
  "artifacts": [],
  "command": "main",
  "experiment": {
    "base_dir": "BASE_DIR",
    "dependencies": [
      "numpy==2.4.6",
      "sacred==0.8.7"
    ],
    "mainfile": "demo.py",
    "name": "demo",
    "repositories": [],
    "sources": [
      [
        "demo.py",
        "_sources/demo_MD5.py"
      ]
    ]
  },
  "heartbeat": "2026-11-27T22:43:50.233106",
  "host": {
    "ENV": {},
    "cpu": "AMD EPYC",
    "hostname": "vm",
    "os": [
      "Linux",
      "Linux-6.18.44-fc-v657-x86_64-with-glibc2.36"
    ],
    "python_version": "3.11.7"
  },
  "meta": {
    "command": "main",
    "comment": "my comment",
    "config_updates": {
      "a": 4
    },
    "named_configs": [],
    "options": {
      "--beat-interval": null,
      "--capture": null,
      "--comment": "my comment",
      "--debug": false,
      "--enforce_clean": false,
      "--file_storage": "runs",
      "--force": false,
      "--help": false,
      "--id": null,
      "--loglevel": null,
      "--mongo_db": null,
      "--name": null,
      "--pdb": false,
      "--print-config": false,
      "--priority": null,
      "--queue": false,
      "--s3": null,
      "--sql": null,
      "--tiny_db": null,
      "--unobserved": false,
      "COMMAND": null,
      "UPDATE": [
        "a=4"
      ],
      "help": false,
      "with": true
    }
  },
  "resources": [],
  "result": 8,
  "start_time": "2026-11-27T22:43:50.227301",
  "status": "COMPLETED",
  "stop_time": "2026-11-27T22:43:50.231358"
}"""

ORIGINAL_CONFIG_JSON = """{
  "__doc__": "This is my demo configuration",
  "a": 4,
  "dataset": {
    "filename": "foo.npy",
    "normalize": true
  },
  "foo": {
    "a_squared": 16,
    "bar": "my_string4"
  },
  "lst": [
    1,
    2,
    3
  ],
  "seed": 654000886
}"""


def test_a_completed_run_writes_the_files_of_the_original(project):
    obs = FileStorageObserver("runs")
    assert start(obs, project) == "1"
    obs.log_metrics(metrics_by_name={}, info={})
    obs.heartbeat_event(info={}, captured_out="", beat_time=T2, result=8)
    obs.completed_event(stop_time=T1, result=8)

    assert files_under("runs") == [
        "1/config.json",
        "1/cout.txt",
        "1/metrics.json",
        "1/run.json",
        f"_sources/demo_{md5(DEMO_SOURCE)}.py",
    ]
    expected = ORIGINAL_RUN_JSON.replace("BASE_DIR", str(project)).replace("MD5", md5(DEMO_SOURCE))
    assert read("runs/1/run.json") == expected
    assert read("runs/1/config.json") == ORIGINAL_CONFIG_JSON
    assert read("runs/1/cout.txt") == ""
    assert read("runs/1/metrics.json") == "{}"
    assert read(f"runs/_sources/demo_{md5(DEMO_SOURCE)}.py") == DEMO_SOURCE


def test_run_json_while_running(project):
    obs = FileStorageObserver("runs")
    start(obs, project)
    entry = json.loads(read("runs/1/run.json"))
    assert entry["status"] == "RUNNING"
    assert entry["heartbeat"] is None
    assert entry["start_time"] == "2026-11-27T22:43:50.227301"
    assert "result" not in entry and "stop_time" not in entry
    assert sorted(entry) == [
        "artifacts",
        "command",
        "experiment",
        "heartbeat",
        "host",
        "meta",
        "resources",
        "start_time",
        "status",
    ]


def test_construction_creates_nothing_and_sets_attributes(tmp_path):
    obs = FileStorageObserver(tmp_path / "runs")
    assert not (tmp_path / "runs").exists()
    assert obs.basedir == str(tmp_path / "runs")
    assert obs.resource_dir == os.path.join(str(tmp_path / "runs"), "_resources")
    assert obs.source_dir == os.path.join(str(tmp_path / "runs"), "_sources")
    assert obs.template is None
    assert obs.priority == DEFAULT_FILE_STORAGE_PRIORITY == 20
    assert obs.copy_artifacts is True and obs.copy_sources is True
    assert obs.dir is None and obs.run_entry is None
    assert obs.cout == "" and obs.cout_write_cursor == 0
    assert FileStorageObserver.VERSION == "FileStorageObserver-0.7.0"


def test_custom_directories_and_priority(tmp_path):
    obs = FileStorageObserver(
        str(tmp_path / "r"), resource_dir="res", source_dir="src", priority=5, copy_sources=False
    )
    assert (obs.resource_dir, obs.source_dir, obs.priority, obs.copy_sources) == (
        "res",
        "src",
        5,
        False,
    )


def test_equality_compares_basedir(tmp_path):
    assert FileStorageObserver(tmp_path) == FileStorageObserver(str(tmp_path))
    assert FileStorageObserver(tmp_path / "a") != FileStorageObserver(tmp_path / "b")
    assert FileStorageObserver(tmp_path) != str(tmp_path)


def test_create_is_deprecated(tmp_path):
    with pytest.warns(DeprecationWarning) as record:
        obs = FileStorageObserver.create(str(tmp_path))
    assert obs == FileStorageObserver(str(tmp_path))
    # attributed to Sacred's own module, as in the original: Python's default filters hide
    # it, so an older script does not print it on every run
    [warning] = record
    module = FileStorageObserver.__module__.replace(".", os.sep)
    assert warning.filename.endswith(module + ".py")


def test_create_from_takes_directories_as_given(tmp_path):
    obs = FileStorageObserver.create_from(str(tmp_path), "res", "src", None, priority=3)
    assert (obs.basedir, obs.resource_dir, obs.source_dir, obs.template, obs.priority) == (
        str(tmp_path),
        "res",
        "src",
        None,
        3,
    )


def test_missing_template_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.html"):
        FileStorageObserver(tmp_path, template=str(tmp_path / "nope.html"))


def test_template_html_in_basedir_is_used(tmp_path):
    (tmp_path / "template.html").write_text("x")
    assert FileStorageObserver(tmp_path).template == str(tmp_path / "template.html")


def test_report_rendered_from_template(project):
    (project / "report.tmpl.txt").write_text(
        "${run['status']} a=${config['a']} info=${info['x']} out=${cout}dir=${savedir}"
    )
    obs = FileStorageObserver("runs", template=str(project / "report.tmpl.txt"))
    start(obs, project)
    obs.heartbeat_event(info={"x": 1}, captured_out="hi\n", beat_time=T2, result=None)
    obs.failed_event(fail_time=T1, fail_trace=["Traceback\n", "RuntimeError: bad\n"])
    report = os.path.join("runs", "1", "report.txt")
    assert read(report) == f"FAILED a=4 info=1 out=hi\ndir={os.path.join('runs', '1')}"


# ------------------------------------------------------------------ run ids
def test_ids_count_up_as_strings(project):
    obs = FileStorageObserver("runs")
    assert [start(obs, project) for _ in range(3)] == ["1", "2", "3"]
    # the base folder holds only what the original puts there
    assert sorted(os.listdir("runs")) == ["1", "2", "3", "_sources"]


def test_given_id_is_used_unchanged(project):
    obs = FileStorageObserver("runs")
    assert start(obs, project, _id="myid") == "myid"
    assert start(obs, project, _id=17) == 17
    assert os.path.isdir("runs/myid") and os.path.isdir("runs/17")
    assert obs.dir == os.path.join("runs", "17")
    with pytest.raises(FileExistsError):
        start(obs, project, _id="myid")


def test_new_id_follows_the_highest_existing_run(project):
    for name in ("3", "10", "_sources", "notes", "7x"):
        os.makedirs(os.path.join("runs", name))
    (project / "runs" / "99").write_text("a file, not a run")
    obs = FileStorageObserver("runs")
    assert start(obs, project) == "11"
    assert sorted(os.listdir("runs")) == ["10", "11", "3", "7x", "99", "_sources", "notes"]


def _no_listing(monkeypatch):
    from sacred.observers.file_storage import _run_ids

    def refuse(basedir):
        raise AssertionError("the folder was listed")

    monkeypatch.setattr(_run_ids, "scan_max_id", refuse)


def test_a_new_id_does_not_list_the_folder(project, monkeypatch, cache_home):
    obs = FileStorageObserver("runs")
    assert [start(obs, project) for _ in range(2)] == ["1", "2"]
    with monkeypatch.context() as m:
        _no_listing(m)
        assert [start(obs, project) for _ in range(3)] == ["3", "4", "5"]
    # the hint lives in the user's cache directory, not in the base folder
    hints = os.listdir(cache_home / "sacred" / "run_ids")
    assert len(hints) == 1 and not hints[0].endswith(".tmp")
    assert sorted(os.listdir("runs")) == ["1", "2", "3", "4", "5", "_sources"]


def test_runs_made_elsewhere_are_seen(project):
    # runs made by another tool (e.g. the original sacred) do not update the hint
    obs = FileStorageObserver("runs")
    assert start(obs, project) == "1"
    for i in range(2, 61):
        os.makedirs(os.path.join("runs", str(i)))
    assert start(obs, project) == "61"
    os.makedirs(os.path.join("runs", "100"))
    assert start(obs, project) == "101"


def test_removed_runs_give_their_ids_back_as_in_the_original(project):
    import shutil

    obs = FileStorageObserver("runs")
    assert [start(obs, project) for _ in range(3)] == ["1", "2", "3"]
    shutil.rmtree(os.path.join("runs", "3"))
    shutil.rmtree(os.path.join("runs", "2"))
    assert start(obs, project) == "2"


def test_a_folder_made_anew_starts_at_one(project):
    import shutil

    obs = FileStorageObserver("runs")
    assert [start(obs, project) for _ in range(3)] == ["1", "2", "3"]
    shutil.rmtree("runs")
    assert start(obs, project) == "1"


@pytest.mark.parametrize("content", ["garbage", "1 2 3 4 5", ""])
def test_broken_hint_falls_back_to_listing(project, cache_home, content):
    obs = FileStorageObserver("runs")
    assert start(obs, project) == "1"
    folder = cache_home / "sacred" / "run_ids"
    for name in os.listdir(folder):
        (folder / name).write_text(content)
    assert start(obs, project) == "2"


def test_a_wrong_hint_that_looks_right_still_gives_the_next_id(project):
    from sacred.observers.file_storage import _run_ids

    obs = FileStorageObserver("runs")
    assert [start(obs, project) for _ in range(40)][-1] == "40"
    st = os.stat("runs")
    _run_ids._write_hint(_run_ids._hint_file(st), _run_ids._state(st), 1)
    assert start(obs, project) == "41"


def test_no_usable_cache_directory_still_gives_ids(project, monkeypatch, tmp_path):
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("x")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    obs = FileStorageObserver("runs")
    assert [start(obs, project) for _ in range(3)] == ["1", "2", "3"]
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")  # not absolute: ~/.cache
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert start(obs, project) == "4"
    assert os.listdir(tmp_path / "home" / ".cache" / "sacred" / "run_ids")


# ------------------------------------------------------------------ heartbeats
def test_heartbeat_updates_run_json_info_and_cout(project):
    obs = FileStorageObserver("runs")
    start(obs, project)
    obs.heartbeat_event(info={}, captured_out="line 1\n", beat_time=T1, result=None)
    assert not os.path.exists("runs/1/info.json")  # only written when info is non-empty
    entry = json.loads(read("runs/1/run.json"))
    assert entry["heartbeat"] == "2026-11-27T22:43:50.231358"
    assert entry["result"] is None
    assert read("runs/1/cout.txt") == "line 1\n"

    obs.heartbeat_event(
        info={"foo": {"bar": [1, 2]}}, captured_out="line 1\nline 2 é\n", beat_time=T2, result=3
    )
    assert (
        read("runs/1/info.json") == '{\n  "foo": {\n    "bar": [\n      1,\n      2\n    ]\n  }\n}'
    )
    assert read("runs/1/cout.txt") == "line 1\nline 2 é\n"
    assert obs.cout_write_cursor == len("line 1\nline 2 é\n")
    assert json.loads(read("runs/1/run.json"))["result"] == 3


def test_cout_only_appends_the_new_suffix(project):
    obs = FileStorageObserver("runs")
    start(obs, project)
    obs.heartbeat_event(info={}, captured_out="abc", beat_time=T1, result=None)
    # what was written is never rewritten: mark the file to see that
    with open("runs/1/cout.txt", "a") as f:
        f.write("|")
    obs.heartbeat_event(info={}, captured_out="abcdef", beat_time=T2, result=None)
    assert read("runs/1/cout.txt") == "abc|def"


def test_non_json_values_are_flattened(project):
    obs = FileStorageObserver("runs")
    start(obs, project, config={"t": (1, 2), "d": {3: "x"}})
    obs.heartbeat_event(info={"when": (1,)}, captured_out="", beat_time=T1, result=(5, 6))
    assert json.loads(read("runs/1/config.json")) == {
        "d": {"json://3": "x"},
        "t": {"py/tuple": [1, 2]},
    }
    assert json.loads(read("runs/1/info.json")) == {"when": {"py/tuple": [1]}}
    assert json.loads(read("runs/1/run.json"))["result"] == {"py/tuple": [5, 6]}


def test_times_without_microseconds(project):
    obs = FileStorageObserver("runs")
    start(obs, project, start_time=datetime.datetime(2020, 5, 6, 7, 8, 9))
    assert json.loads(read("runs/1/run.json"))["start_time"] == "2020-05-06T07:08:09"


# ------------------------------------------------------------------ endings
def test_interrupted(project):
    obs = FileStorageObserver("runs")
    start(obs, project)
    obs.interrupted_event(interrupt_time=T1, status="TIMEOUT")
    entry = json.loads(read("runs/1/run.json"))
    assert (entry["status"], entry["stop_time"]) == ("TIMEOUT", "2026-11-27T22:43:50.231358")
    assert "result" not in entry


def test_failed(project):
    obs = FileStorageObserver("runs")
    start(obs, project)
    trace = ["Traceback (most recent call last):\n", "RuntimeError: bad\n"]
    obs.failed_event(fail_time=T1, fail_trace=trace)
    entry = json.loads(read("runs/1/run.json"))
    assert (entry["status"], entry["fail_trace"]) == ("FAILED", trace)
    assert entry["stop_time"] == "2026-11-27T22:43:50.231358"


# ------------------------------------------------------------------ metrics
def points(name, steps, values, timestamps):
    return {name: {"name": name, "steps": steps, "values": values, "timestamps": timestamps}}


ORIGINAL_METRICS_JSON = """{
  "acc": {
    "steps": [
      0,
      5,
      10
    ],
    "timestamps": [
      "2026-11-27T22:43:51.757104",
      "2026-11-27T22:43:51.757111",
      "2026-11-27T22:43:51.757118"
    ],
    "values": [
      0,
      10,
      20
    ]
  },
  "loss": {
    "steps": [
      0,
      1,
      2
    ],
    "timestamps": [
      "2026-11-27T22:43:51.757085",
      "2026-11-27T22:43:51.757108",
      "2026-11-27T22:43:51.757115"
    ],
    "values": [
      1.0,
      0.5,
      0.3333333333333333
    ]
  }
}"""


def ts(micro):
    return datetime.datetime(2026, 11, 27, 22, 43, 51, micro)


def test_metrics_are_merged_over_beats(project):
    obs = FileStorageObserver("runs")
    start(obs, project)
    obs.log_metrics(
        metrics_by_name={
            **points("loss", [0], [1.0], [ts(757085)]),
            **points("acc", [0, 5], [0, 10], [ts(757104), ts(757111)]),
        },
        info={},
    )
    obs.log_metrics(metrics_by_name={}, info={})
    obs.log_metrics(
        metrics_by_name={
            **points("loss", [1, 2], [0.5, 1 / 3], [ts(757108), ts(757115)]),
            **points("acc", [10], [20], [ts(757118)]),
        },
        info={},
    )
    assert read("runs/1/metrics.json") == ORIGINAL_METRICS_JSON


def test_metrics_json_is_empty_object_without_metrics(project):
    obs = FileStorageObserver("runs")
    start(obs, project)
    obs.log_metrics(metrics_by_name={}, info={})
    assert read("runs/1/metrics.json") == "{}"


def test_existing_metrics_file_is_read_once_and_merged(project):
    obs = FileStorageObserver("runs")
    start(obs, project)
    with open("runs/1/metrics.json", "w") as f:
        json.dump(
            {"old": {"steps": [7], "timestamps": ["2020-01-01T00:00:00"], "values": [{"k": 1}]}}, f
        )
    obs.log_metrics(
        metrics_by_name=points("old", [8], [2], [datetime.datetime(2020, 1, 1, 0, 0, 1)]), info={}
    )
    os.remove("runs/1/metrics.json")  # not read again: the merged metrics live in memory
    obs.log_metrics(
        metrics_by_name=points("new", [0], [None], [datetime.datetime(2020, 1, 1)]), info={}
    )
    assert json.loads(read("runs/1/metrics.json")) == {
        "new": {"steps": [0], "timestamps": ["2020-01-01T00:00:00"], "values": [None]},
        "old": {
            "steps": [7, 8],
            "timestamps": ["2020-01-01T00:00:00", "2020-01-01T00:00:01"],
            "values": [{"k": 1}, 2],
        },
    }


def test_metric_values_are_flattened(project):
    np = pytest.importorskip("numpy")
    obs = FileStorageObserver("runs")
    start(obs, project)
    obs.log_metrics(metrics_by_name=points("m", [np.int64(1)], [np.int64(3)], [ts(1)]), info={})
    metrics = json.loads(read("runs/1/metrics.json"))
    assert metrics["m"]["values"] == [{"py/object": "numpy.int64", "dtype": "int64", "value": 3}]


def test_metrics_written_like_json_dumps_across_hours_and_days(project):
    obs = FileStorageObserver("runs")
    start(obs, project)
    start_ts = datetime.datetime(2026, 12, 31, 22, 59, 59, 999_000)
    stamps = [start_ts + datetime.timedelta(seconds=7 * i) for i in range(1000)]
    stamps[3] = stamps[3].replace(microsecond=0)
    values = [i / 7 for i in range(1000)]
    obs.log_metrics(metrics_by_name=points("x", list(range(1000)), values, stamps), info={})
    expected = {
        "x": {
            "steps": list(range(1000)),
            "timestamps": [t.isoformat() for t in stamps],
            "values": values,
        }
    }
    assert read("runs/1/metrics.json") == json.dumps(expected, sort_keys=True, indent=2)


@pytest.mark.parametrize("fast", [True, False], ids=["orjson", "pure Python"])
def test_metrics_json_over_many_beats_is_json_dumps_of_all_points(project, monkeypatch, fast):
    import orjson

    from sacred.observers import _jsonio

    monkeypatch.setattr(_jsonio, "_orjson", orjson if fast else False)
    rng = random.Random(5)
    obs = FileStorageObserver("runs")
    start(obs, project)
    expected = {}
    t0 = datetime.datetime(2026, 11, 28, 3, 59, 59, 999_990)
    kinds = {
        "loss": lambda i: rng.random(),
        "lr": lambda i: 1e-5 * 0.999**i,  # below 1e-4: repr writes 1e-05, not 0.00001
        "wide": lambda i: rng.uniform(-1, 1) * 10.0 ** rng.randint(-9, 20),
        "odd": lambda i: [float("nan"), None, 2**70, True, -0.0, 7][i % 6],
        "count": lambda i: i * 3,
    }
    step = 0
    for beat in range(6):  # the sidecar starts at 2,000 points, in the fourth beat
        batch = {}
        for name, value in kinds.items():
            n = [1, 7, 600, 900, 3000, 0][beat]
            steps = list(range(step, step + n))
            stamps = [t0 + datetime.timedelta(microseconds=3 * s) for s in steps]
            batch.update(points(name, steps, [value(s) for s in steps], stamps))
            entry = expected.setdefault(name, {"steps": [], "timestamps": [], "values": []})
            entry["steps"] += steps
            entry["timestamps"] += [t.isoformat() for t in stamps]
            entry["values"] += batch[name]["values"]
        step += n
        obs.log_metrics(metrics_by_name=batch, info={})
        assert read("runs/1/metrics.json") == json.dumps(expected, sort_keys=True, indent=2)


def test_a_new_run_starts_with_fresh_metrics(project):
    obs = FileStorageObserver("runs")
    start(obs, project)
    obs.log_metrics(metrics_by_name=points("a", [0], [1], [ts(0)]), info={})
    start(obs, project)
    obs.log_metrics(metrics_by_name={}, info={})
    assert read("runs/2/metrics.json") == "{}"


# ------------------------------------------------------------------ artifacts, resources
def test_artifacts_are_copied_into_the_run_dir(project):
    (project / "out.txt").write_text("artifact content\n")
    obs = FileStorageObserver("runs")
    start(obs, project)
    obs.artifact_event(name="out.txt", filename=str(project / "out.txt"))
    obs.artifact_event(
        name="renamed.txt", filename="out.txt", metadata={"a": 1}, content_type="text/plain"
    )
    assert read("runs/1/out.txt") == read("runs/1/renamed.txt") == "artifact content\n"
    assert json.loads(read("runs/1/run.json"))["artifacts"] == ["out.txt", "renamed.txt"]


@pytest.mark.parametrize("name", ["run.json", "config.json", "cout.txt", "metrics.json"])
def test_artifacts_cannot_overwrite_the_observers_files(project, name):
    (project / "x.txt").write_text("x")
    obs = FileStorageObserver("runs")
    start(obs, project)
    with pytest.raises(FileExistsError) as excinfo:
        obs.artifact_event(name=name, filename="x.txt")
    assert str(excinfo.value).startswith(
        "You are trying to overwrite a file necessary for the FileStorageObserver."
    )
    assert not os.path.exists(f"runs/1/{name}") or read(f"runs/1/{name}") != "x"


def test_artifact_already_in_place_is_fine(project):
    obs = FileStorageObserver("runs")
    start(obs, project)
    with open("runs/1/plot.png", "w") as f:
        f.write("png")
    obs.artifact_event(name="plot.png", filename="runs/1/plot.png")
    assert json.loads(read("runs/1/run.json"))["artifacts"] == ["plot.png"]


def test_resources_are_stored_once_by_content(project):
    (project / "res.txt").write_text("resource\n")
    obs = FileStorageObserver("runs")
    start(obs, project)
    obs.resource_event(filename=str(project / "res.txt"))
    stored = os.path.join("runs", "_resources", f"res_{md5('resource' + chr(10))}.txt")
    assert read(stored) == "resource\n"
    assert json.loads(read("runs/1/run.json"))["resources"] == [[str(project / "res.txt"), stored]]
    start(obs, project)
    obs.resource_event(filename=str(project / "res.txt"))
    assert os.listdir(os.path.join("runs", "_resources")) == [os.path.basename(stored)]


def test_resource_inside_basedir_is_not_copied_without_copy_artifacts(project):
    obs = FileStorageObserver("runs", copy_artifacts=False)
    start(obs, project)
    os.makedirs("runs/data")
    (project / "runs" / "data" / "d.csv").write_text("1,2\n")
    path = str(project / "runs" / "data" / "d.csv")
    obs.resource_event(filename=path)
    assert json.loads(read("runs/1/run.json"))["resources"] == [[path, path]]
    assert not os.path.exists("runs/_resources")


def test_sources_not_copied_with_copy_sources_false(project):
    obs = FileStorageObserver("runs", copy_sources=False)
    start(obs, project)
    sources = json.loads(read("runs/1/run.json"))["experiment"]["sources"]
    assert sources == [["demo.py", os.path.join(str(project), "demo.py")]]
    assert not os.path.exists("runs/_sources")


def test_started_event_does_not_modify_ex_info(project):
    info = ex_info(project)
    FileStorageObserver("runs").started_event(
        ex_info=info, command="main", host_info={}, start_time=T0, config={}, meta_info={}, _id=None
    )
    assert info == ex_info(project)


# ------------------------------------------------------------------ queued runs
def test_queued_run(project):
    obs = FileStorageObserver("runs")
    meta = meta_info()
    meta["queue_time"] = "2026-11-27T22:43:50"
    run_id = obs.queued_event(
        ex_info=ex_info(project),
        command="main",
        host_info=dict(HOST),
        queue_time=T0,
        config=CONFIG,
        meta_info=meta,
        _id=None,
    )
    assert run_id == "1"
    assert files_under("runs") == ["1/config.json", "1/demo.py", "1/run.json"]
    entry = json.loads(read("runs/1/run.json"))
    assert sorted(entry) == ["command", "experiment", "host", "meta", "status"]
    assert entry["status"] == "QUEUED"
    assert entry["experiment"]["sources"] == [{"py/tuple": ["demo.py", md5(DEMO_SOURCE)]}]
    assert read("runs/1/config.json") == ORIGINAL_CONFIG_JSON
    assert read("runs/1/demo.py") == DEMO_SOURCE


# ------------------------------------------------------------------ files stay whole
def test_no_temporary_files_are_left(project):
    (project / "out.txt").write_text("x")
    obs = FileStorageObserver("runs")
    start(obs, project)
    obs.resource_event(filename="out.txt")
    obs.artifact_event(name="out.txt", filename="out.txt")
    obs.log_metrics(metrics_by_name=points("a", [0], [1], [ts(0)]), info={})
    obs.heartbeat_event(info={"a": 1}, captured_out="x", beat_time=T1, result=None)
    obs.completed_event(stop_time=T2, result=None)
    assert [f for f in files_under("runs") if f.endswith(".tmp")] == []


def test_warnings_free(project):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        obs = FileStorageObserver("runs")
        start(obs, project)
        obs.completed_event(stop_time=T1, result=1)


# ------------------------------------------------------------------ binary metric sidecar
def _long_points(first, n, name="loss", value=lambda i: (i * 7919 % 1000) / 7):
    t = datetime.datetime(2026, 11, 27, 23, 59, 59)
    steps = list(range(first, first + n))
    # 0.5 ms apart: crosses a second, an hour and a day; some fractions are .000000
    stamps = [t + datetime.timedelta(microseconds=500 * i) for i in steps]
    return points(name, steps, [value(i) for i in steps], stamps)


def _json_metrics(path):
    """What metrics.json says, in the shape FileStore.metrics returns it."""
    from sacred.store.base import to_naive_utc

    with open(path) as f:
        saved = json.load(f)
    return {
        name: {
            "steps": m["steps"],
            "timestamps": [to_naive_utc(t) for t in m["timestamps"]],
            "values": m["values"],
        }
        for name, m in saved.items()
    }


def _sidecar_file(obs, name):
    manifest = json.loads(read(os.path.join(obs.dir, ".sacred_metrics", "manifest.json")))
    return manifest["metrics"][name]["file"]


def _write_long_run(project, beats=3, per_beat=4000, **kwargs):
    obs = FileStorageObserver("runs")
    start(obs, project)
    for b in range(beats):
        obs.log_metrics(metrics_by_name=_long_points(b * per_beat, per_beat, **kwargs), info={})
    return obs


def test_sidecar_gives_what_metrics_json_says(project):
    from sacred.observers.file_storage import _metric_sidecar
    from sacred.observers.file_storage.store import FileStore

    obs = _write_long_run(project)
    obs.log_metrics(metrics_by_name=_long_points(0, 5000, name="acc", value=int), info={})
    obs.completed_event(stop_time=T2, result=None)
    path = os.path.join(obs.dir, "metrics.json")
    st = os.stat(path)
    assert st.st_size > 256 * 1024  # big enough for FileStore to look at the sidecar
    side = _metric_sidecar.read(obs.dir, st.st_size, st.st_mtime_ns)
    assert sorted(side) == ["acc", "loss"]
    expected = _json_metrics(path)
    assert len(expected["loss"]["values"]) == 12000
    assert len(side["loss"]["values"]) == 12000
    assert side["acc"]["values"].typecode == "q"  # ints stay ints

    store = FileStore("runs")
    assert store.metrics(1) == expected
    assert type(store.metrics(1)["acc"]["values"][0]) is int
    # downsampled the same way as from metrics.json
    small = store.metrics(1, names=["loss"], max_points=100)["loss"]
    idx = [expected["loss"]["steps"].index(s) for s in small["steps"]]
    assert small == {k: [expected["loss"][k][i] for i in idx] for k in expected["loss"]}
    assert min(expected["loss"]["values"]) in small["values"]
    # a timestamp with a zero fraction comes back as metrics.json has it
    assert '"2026-11-27T23:59:59",' in read(path)
    stamps = side["loss"]["timestamps"]
    assert (stamps[0], stamps[1]) == ("2026-11-27T23:59:59", "2026-11-27T23:59:59.000500")
    assert stamps.tolist()[:2] == stamps[0:2] == [stamps[0], stamps[-12000 + 1]]


def test_sidecar_is_hidden_and_no_artifact(project):
    from sacred.observers.file_storage.store import FileStore

    (project / "out.txt").write_text("x")
    obs = _write_long_run(project, beats=1, per_beat=2500)
    obs.artifact_event(name="out.txt", filename="out.txt")
    obs.completed_event(stop_time=T2, result=None)
    assert json.loads(read("runs/1/run.json"))["artifacts"] == ["out.txt"]
    assert FileStore("runs").artifacts(1) == ["out.txt"]
    base = _sidecar_file(obs, "loss")
    assert sorted(os.listdir("runs/1/.sacred_metrics")) == [
        base + ".steps",
        base + ".timestamps",
        base + ".values",
        "manifest.json",
    ]
    assert {f for f in os.listdir("runs/1") if not f.startswith(".")} == {
        "config.json",
        "cout.txt",
        "metrics.json",
        "out.txt",
        "run.json",
    }


def test_points_written_to_the_sidecar_before_a_crash_are_not_read(project):
    """A crash after appending to the sidecar and before metrics.json was replaced."""
    from sacred.observers.file_storage.store import FileStore

    obs = _write_long_run(project, beats=2)
    more = _long_points(8000, 4000)["loss"]
    fixed = isoformat_items_fixed(more["timestamps"], 3)[1]
    obs._sidecar.append("loss", more["steps"], fixed, [-1e9] * 4000)  # then the crash
    values_file = os.path.join(obs.dir, ".sacred_metrics", _sidecar_file(obs, "loss") + ".values")
    assert os.path.getsize(values_file) == 8 * 12000
    expected = _json_metrics(os.path.join(obs.dir, "metrics.json"))
    got = FileStore("runs").metrics(1)
    assert got == expected
    assert len(got["loss"]["values"]) == 8000 and min(got["loss"]["values"]) >= 0


def test_metrics_json_changed_by_others_is_read_instead_of_the_sidecar(project):
    from sacred.observers.file_storage.store import FileStore

    obs = _write_long_run(project, beats=2)
    path = os.path.join(obs.dir, "metrics.json")
    saved = json.loads(read(path))
    saved["loss"]["values"][5] = 123.5
    with open(path, "w") as f:
        json.dump(saved, f, sort_keys=True, indent=2)
    assert FileStore("runs").metrics(1)["loss"]["values"][5] == 123.5
    # a crash after metrics.json was replaced and before the manifest: the same
    obs.log_metrics(metrics_by_name=_long_points(8000, 10), info={})
    manifest = os.path.join(obs.dir, ".sacred_metrics", "manifest.json")
    old = read(manifest)
    obs.log_metrics(metrics_by_name=_long_points(8010, 10, value=lambda i: -5.0), info={})
    with open(manifest, "w") as f:
        f.write(old)
    got = FileStore("runs").metrics(1)["loss"]["values"]
    assert len(got) == 8020 and got[-1] == -5.0


def test_points_that_are_no_plain_numbers_leave_the_metric_out_of_the_sidecar(project):
    from sacred.observers.file_storage.store import FileStore

    obs = _write_long_run(project, beats=2)
    t = _long_points(0, 3)["loss"]["timestamps"]
    obs.log_metrics(
        metrics_by_name={
            **points("loss", [8000, 8001, 8002], [1, 2, 3], t),  # ints after floats
            **points("tag", [0, 1, 2], ["a", "b", None], t),
            **points("half", [0.5, 1.5, 2.5], [1.0, 2.0, 3.0], t),
            **points("nan", [0, 1, 2], [float("nan"), float("inf"), 1.0], t),
            **points("flag", [0, 1, 2], [True, False, True], t),
        },
        info={},
    )
    manifest = json.loads(read(os.path.join(obs.dir, ".sacred_metrics", "manifest.json")))
    assert {n for n, e in manifest["metrics"].items() if e is None} == {
        "loss",
        "tag",
        "half",
        "flag",
    }
    got = FileStore("runs").metrics(1)
    assert got["loss"]["values"][-4:] == [(7999 * 7919 % 1000) / 7, 1, 2, 3]
    assert got["tag"]["values"] == ["a", "b", None]
    assert got["half"]["steps"] == [0.5, 1.5, 2.5]
    assert got["flag"]["values"] == [True, False, True]
    nan = got["nan"]["values"]
    assert nan[0] != nan[0] and nan[1:] == [float("inf"), 1.0]


def test_a_new_observer_on_an_existing_metrics_json_starts_with_its_points(project):
    from sacred.observers.file_storage.store import FileStore

    obs = _write_long_run(project, beats=2)
    expected = _json_metrics(os.path.join(obs.dir, "metrics.json"))
    other = FileStorageObserver("runs")
    other.dir = obs.dir
    other.log_metrics(metrics_by_name=_long_points(0, 10, name="new"), info={})
    # the first observer's manifest no longer matches metrics.json
    got = FileStore("runs").metrics(1)
    assert got == _json_metrics(os.path.join(obs.dir, "metrics.json"))
    assert len(got["new"]["steps"]) == 10
    other.log_metrics(metrics_by_name=_long_points(8000, 3000), info={})
    manifest = json.loads(read(os.path.join(obs.dir, ".sacred_metrics", "manifest.json")))
    assert (manifest["metrics"]["loss"]["count"], manifest["metrics"]["new"]["count"]) == (
        11000,
        10,
    )
    got = FileStore("runs").metrics(1)
    assert got == _json_metrics(os.path.join(obs.dir, "metrics.json"))
    assert got["loss"]["timestamps"][:8000] == expected["loss"]["timestamps"]
    # the new writer's own files only (a reader of the old ones keeps what it opened)
    assert len(os.listdir(os.path.join(obs.dir, ".sacred_metrics"))) == 1 + 2 * 3


def test_runs_with_few_points_get_no_sidecar(project):
    obs = FileStorageObserver("runs")
    start(obs, project)
    for b in range(3):
        obs.log_metrics(metrics_by_name=_long_points(b * 600, 600), info={})
    assert not os.path.exists(os.path.join(obs.dir, ".sacred_metrics"))
    obs.log_metrics(metrics_by_name=_long_points(1800, 600), info={})  # 2400 points now
    manifest = json.loads(read(os.path.join(obs.dir, ".sacred_metrics", "manifest.json")))
    assert manifest["metrics"]["loss"]["count"] == 2400
    st = os.stat(os.path.join(obs.dir, "metrics.json"))
    assert manifest["metrics.json"] == [st.st_size, st.st_mtime_ns]


def test_an_unwritable_sidecar_folder_only_turns_the_sidecar_off(project):
    from sacred.observers.file_storage.store import FileStore

    obs = FileStorageObserver("runs")
    start(obs, project)
    with open(os.path.join(obs.dir, ".sacred_metrics"), "w") as f:
        f.write("an artifact of that name")
    for b in range(2):
        obs.log_metrics(metrics_by_name=_long_points(b * 4000, 4000), info={})
    assert read(os.path.join(obs.dir, ".sacred_metrics")) == "an artifact of that name"
    assert len(FileStore("runs").metrics(1)["loss"]["values"]) == 8000


def test_a_manifest_pointing_outside_its_folder_is_not_followed(project):
    from sacred.observers.file_storage.store import FileStore

    obs = _write_long_run(project, beats=2)
    path = os.path.join(obs.dir, ".sacred_metrics", "manifest.json")
    manifest = json.loads(read(path))
    manifest["metrics"]["loss"]["file"] = os.path.join("..", "..", "elsewhere")
    for suffix in (".steps", ".values", ".timestamps"):
        with open(os.path.join("runs", "elsewhere" + suffix), "wb") as f:
            f.write(b"\0" * 26 * 8000)
    with open(path, "w") as f:
        json.dump(manifest, f)
    assert FileStore("runs").metrics(1) == _json_metrics(os.path.join(obs.dir, "metrics.json"))
