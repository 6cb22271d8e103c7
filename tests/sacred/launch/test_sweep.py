"""``sacred sweep`` and ``sacred.launch.sweep``: grids, lists, records read back from the store.

The engines' own sweeps are in test_launchers_*.py; here the local launcher (a process pool)
and the queue launcher.
"""

import json
import os
import re

import pytest

from sacred.launch.script import load_experiment
from sacred.launch.sweep import SweepError, grid, parse_grid, sweep
from sacred.store import open_store
from sacred.store.cli import main

PROBE = os.path.join(os.path.dirname(__file__), "fixtures", "sweep_probe.py")


def store_location(tmp_path, kind):
    return str(tmp_path / "runs") if kind == "folder" else f"sqlite:///{tmp_path}/runs.db"


def check_sweep(location, points, results=None, status="COMPLETED"):
    """One run per point, with its config, ``status`` and ``meta.sweep``; the records by index."""
    records = open_store(location).find()
    assert len(records) == len(points)
    sweeps = {r["meta"]["sweep"]["id"] for r in records}
    assert len(sweeps) == 1
    by_index = {}
    for record in records:
        meta = record["meta"]["sweep"]
        assert meta["size"] == len(points)
        by_index[meta["index"]] = record
    assert sorted(by_index) == list(range(len(points)))
    for i, point in enumerate(points):
        record = by_index[i]
        assert record["status"] == status, record.get("fail_trace")
        for name, value in point.items():
            config = record["config"]
            for part in name.split("."):
                config = config[part]
            assert config == value, (name, record["config"])
        if results is not None:
            assert str(results[i]["run_id"]) == str(
                record["_id"]
            )  # folder ids: "3" (as the original)
            assert results[i]["status"] == status
            assert results[i]["updates"] is not None
    return by_index


# ------------------------------------------------------------------ grid syntax
def test_grid_items_are_python_list_literals_and_multiply():
    assert parse_grid(["lr=[0.1, 0.01]", "net.width=[8]", "opt=['adam', 'sgd']"]) == {
        "lr": [0.1, 0.01],
        "net.width": [8],
        "opt": ["adam", "sgd"],
    }
    assert grid(parse_grid(["lr=[0.1,0.01]", "depth=[2,3]"])) == [
        {"lr": 0.1, "depth": 2},
        {"lr": 0.1, "depth": 3},
        {"lr": 0.01, "depth": 2},
        {"lr": 0.01, "depth": 3},
    ]
    # a list of lists tries lists
    assert grid(parse_grid(["layers=[[64, 64], [128]]"])) == [
        {"layers": [64, 64]},
        {"layers": [128]},
    ]


@pytest.mark.parametrize(
    "item, message",
    [
        ("lr=0.1", "Bad --grid item 'lr=0.1': the values must be a Python list, e.g. lr=[0.1]"),
        ("lr=[0.1", "Bad --grid item 'lr=[0.1': '[0.1' is not a Python list literal"),
        ("lr=[]", "Bad --grid item 'lr=[]': the list of values is empty"),
        ("lr", "Bad --grid item 'lr': expected name=[value, ...], e.g. lr=[0.1, 0.01]"),
        ("2x=[1]", "Bad --grid item '2x=[1]': expected name=[value, ...], e.g. lr=[0.1, 0.01]"),
        ("lr=[os.sep]", "Bad --grid item 'lr=[os.sep]': '[os.sep]' is not a Python list literal"),
    ],
)
def test_bad_grid_text_is_one_line(item, message, tmp_path, capsys):
    with pytest.raises(SweepError) as e:
        parse_grid([item])
    assert str(e.value) == message
    assert main(["sweep", str(tmp_path / "runs"), PROBE, "--grid", item]) == 1
    out, err = capsys.readouterr()
    assert (out, err) == ("", f"sacred: error: {message}\n")
    assert not os.path.exists(tmp_path / "runs")


def test_cli_errors_are_one_line(tmp_path, capsys):
    runs = str(tmp_path / "runs")
    cases = [
        (["--grid", "lr=[1]", "lr=[2]"], "Bad --grid: 'lr' is given twice"),
        ([], "Nothing to sweep: give --grid NAME=[VALUES] ... and/or --list FILE"),
        (["nope", "--grid", "lr=[1]"], 'Command "nope" not found. Available commands are: '
         "print_config, print_dependencies, save_config, print_named_configs, main"),
        (["--launcher", "slurm", "--grid", "lr=[1]"],
         "Unknown launcher 'slurm' (known: local, submitit, dask, ray, queue)"),
        (["with", "named_cfg", "--grid", "lr=[1]"],
         "Named configs are not supported in a sweep (got named_cfg)"),
        (["--list", str(tmp_path / "missing.jsonl")],
         f"Cannot read the updates file {tmp_path / 'missing.jsonl'}: No such file or directory"),
    ]  # fmt: skip
    for argv, message in cases:
        assert main(["sweep", runs, PROBE, *argv]) == 1, argv
        assert capsys.readouterr() == ("", f"sacred: error: {message}\n")
    assert main(["sweep", runs, str(tmp_path / "nope.py"), "--grid", "lr=[1]"]) == 1
    assert capsys.readouterr().err == (
        f"sacred: error: Cannot load the experiment script {tmp_path / 'nope.py'}: "
        "No such file or directory\n"
    )
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"lr": 1}\n\n[1, 2]\n')
    assert main(["sweep", runs, PROBE, "--list", str(bad)]) == 1
    assert capsys.readouterr().err == (
        f"sacred: error: {bad}, line 3: expected a JSON object of config updates\n"
    )
    assert not os.path.exists(runs)


# ------------------------------------------------------------------ the command
LINE = re.compile(r"^ +(\d+)  (COMPLETED|FAILED|QUEUED) +  (.*)$")


@pytest.mark.parametrize("kind", ["folder", "sqlite"])
def test_cli_sweep_with_the_local_pool(kind, tmp_path, capsys):
    location = store_location(tmp_path, kind)
    argv = ["sweep", location, PROBE, "with", "net.width=16", "--grid", "lr=[0.1,0.01]",
            "depth=[2,3]", "-j", "2"]  # fmt: skip
    assert main(argv) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 6
    shown = sorted(LINE.match(line).group(3) for line in lines[:4])
    assert shown == [
        "lr=0.01 depth=2",
        "lr=0.01 depth=3",
        "lr=0.1 depth=2",
        "lr=0.1 depth=3",
    ]
    assert all(LINE.match(line).group(2) == "COMPLETED" for line in lines[:4])
    summary = re.match(r"^sweep ([0-9a-f]{12}): 4 runs in [0-9.]+ s: 4 COMPLETED$", lines[4])
    assert summary, lines[4]
    sweep_id = summary.group(1)
    assert lines[5] == f"(sacred runs list {location} -q \"meta.sweep.id == '{sweep_id}'\")"
    points = grid({"lr": [0.1, 0.01], "depth": [2, 3]})
    records = check_sweep(location, points)
    for i, record in records.items():
        assert record["meta"]["sweep"] == {"id": sweep_id, "index": i, "size": 4}
        assert record["config"]["net"] == {"width": 16}  # the fixed 'with' update
        assert record["result"]["width"] == 16
        assert record["result"]["engine"]["pid"] != os.getpid()
    # every line names the run the store has for it
    for line in lines[:4]:
        run_id, _, shown = LINE.match(line).groups()
        record = open_store(location).get(int(run_id))
        assert shown == f"lr={record['config']['lr']!r} depth={record['config']['depth']!r}"
    # the tool lists the sweep with the query it printed
    assert main(["runs", "list", location, "-q", f"meta.sweep.id == '{sweep_id}'"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 5


def test_cli_list_file_nested_names_and_a_failing_run(tmp_path, capsys):
    location = store_location(tmp_path, "folder")
    updates = tmp_path / "updates.jsonl"
    updates.write_text(
        json.dumps({"lr": 0.5, "net": {"width": 4}}) + "\n\n"
        + json.dumps({"lr": 0.25, "fail": True}) + "\n"
    )  # fmt: skip
    argv = [
        "sweep",
        location,
        PROBE,
        "--list",
        str(updates),
        "--grid",
        "net.width=[1,2]",
        "-j",
        "1",
    ]
    assert main(argv) == 1  # one run failed
    out, _ = capsys.readouterr()
    lines = out.splitlines()
    assert lines[:4] == [
        "     1  COMPLETED    lr=0.5 net.width=1",
        "     2  COMPLETED    lr=0.5 net.width=2",
        "     3  FAILED       lr=0.25 fail=True net.width=1  (ValueError: asked to fail)",
        "     4  FAILED       lr=0.25 fail=True net.width=2  (ValueError: asked to fail)",
    ]
    assert re.match(r"^sweep [0-9a-f]{12}: 4 runs in [0-9.]+ s: 2 COMPLETED, 2 FAILED$", lines[4])
    store = open_store(location)
    got = {r["meta"]["sweep"]["index"]: r for r in store.find()}
    assert [(got[i]["status"], got[i]["config"]["lr"], got[i]["config"]["net"]["width"])
            for i in range(4)] == [
        ("COMPLETED", 0.5, 1), ("COMPLETED", 0.5, 2), ("FAILED", 0.25, 1), ("FAILED", 0.25, 2)
    ]  # fmt: skip
    assert "ValueError: asked to fail" in got[2]["fail_trace"][-1]


@pytest.mark.parametrize("kind", ["folder", "sqlite"])
def test_cli_queue_launcher_leaves_queued_runs(kind, tmp_path, capsys):
    location = store_location(tmp_path, kind)
    argv = ["sweep", location, PROBE, "--grid", "lr=[1,2,3]", "--launcher", "queue"]
    assert main(argv) == 0
    out, _ = capsys.readouterr()
    assert out.splitlines()[:3] == [
        "     1  QUEUED       lr=1",
        "     2  QUEUED       lr=2",
        "     3  QUEUED       lr=3",
    ]
    check_sweep(location, [{"lr": 1}, {"lr": 2}, {"lr": 3}], status="QUEUED")


def test_python_sweep_returns_entries_in_order(tmp_path):
    ex = load_experiment(PROBE)
    location = store_location(tmp_path, "sqlite")
    seen = []
    points = [{"lr": 0.3}, {"lr": 0.2, "fail": True}, {"net": {"width": 3}}]
    results = sweep(ex, points, store=location, launcher="local", n_jobs=2, on_result=seen.append)
    assert [e["index"] for e in results] == [0, 1, 2]
    assert sorted(e["index"] for e in seen) == [0, 1, 2]
    assert [e["status"] for e in results] == ["COMPLETED", "FAILED", "COMPLETED"]
    assert results[1]["error"] == "ValueError: asked to fail"
    assert results[0]["result"]["lr"] == 0.3 and results[2]["result"]["width"] == 3
    assert {e["pid"] for e in results}.isdisjoint({os.getpid()})
    store = open_store(location)
    for entry in results:
        record = store.get(entry["run_id"])
        assert record["status"] == entry["status"]
        assert record["meta"]["sweep"]["index"] == entry["index"]
        assert record["meta"]["sweep"]["size"] == 3


def test_python_sweep_checks_before_launching(tmp_path):
    ex = load_experiment(PROBE)
    with pytest.raises(SweepError, match="^The sweep has no runs"):
        sweep(ex, [], store=str(tmp_path / "runs"))
    with pytest.raises(SweepError, match='^Command "nope" not found'):
        sweep(ex, [{}], store=str(tmp_path / "runs"), command="nope")
    assert not os.path.exists(tmp_path / "runs")


def test_ctrl_c_interrupts_the_runs_in_flight_and_starts_no_more(tmp_path):
    """Ctrl-C in the terminal (SIGINT to the process group): the two runs in flight end
    INTERRUPTED, the waiting ones never start, and the command exits with 130."""
    import signal
    import subprocess
    import sys
    import time

    location = str(tmp_path / "runs")
    argv = [sys.executable, "-m", "sacred.store.cli", "sweep", location, PROBE,
            "--grid", "sleep=[60,60,60,60]", "-j", "2"]  # fmt: skip
    proc = subprocess.Popen(
        argv, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert time.monotonic() < deadline, "the runs never started"
            if os.path.isdir(location):
                running = [r for r in open_store(location).find() if r["status"] == "RUNNING"]
                if len(running) == 2:
                    break
            time.sleep(0.1)
        started = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130
    assert time.monotonic() - started < 30
    assert err.splitlines()[-1] == "sacred: sweep interrupted"
    records = open_store(location).find()
    assert [r["status"] for r in records] == ["INTERRUPTED", "INTERRUPTED"]
