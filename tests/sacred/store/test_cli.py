"""The ``sacred`` console command, end to end in subprocesses."""

import datetime as dt
import json
import os
import subprocess
import sys

import pytest

from sacred.observers.file_storage.store import FileStore

T0 = dt.datetime(2026, 11, 27, 10, 0, 0)


def sacred(*args, cwd=None):
    proc = subprocess.run(
        [sys.executable, "-m", "sacred.cli", *args], capture_output=True, text=True, cwd=cwd
    )
    return proc.returncode, proc.stdout, proc.stderr


def _record(i, name, status, lr, result, **extra):
    record = {
        "_id": i,
        "experiment": {
            "name": name,
            "base_dir": "/x",
            "sources": [],
            "dependencies": [],
            "repositories": [],
            "mainfile": "x.py",
        },
        "command": "main",
        "host": {"hostname": "box"},
        "start_time": T0 + dt.timedelta(minutes=i),
        "stop_time": T0 + dt.timedelta(minutes=i, seconds=30),
        "heartbeat": T0 + dt.timedelta(minutes=i, seconds=30),
        "meta": {},
        "status": status,
        "resources": [],
        "artifacts": [],
        "config": {"lr": lr, "opt": {"name": "adam" if i % 2 else "sgd"}},
        "info": {},
        "captured_out": f"out {i}\n",
        "result": result,
    }
    record.update(extra)
    return record


@pytest.fixture
def fixed_store(tmp_path):
    """Three runs written through import_run with fixed times (exact output)."""
    store = FileStore(str(tmp_path))
    store.import_run(
        _record(1, "mnist", "COMPLETED", 0.1, 0.25),
        metrics={
            "loss": {"steps": [0, 1, 2], "values": [3.0, 2.0, 2.5], "timestamps": [T0, T0, T0]}
        },
        artifacts={"model.bin": b"\x00\x01"},
    )
    store.import_run(
        _record(
            2,
            "mnist",
            "FAILED",
            0.01,
            None,
            fail_trace=["Traceback (most recent call last):\n", "ValueError: boom\n"],
        )
    )
    running = _record(3, "cifar", "RUNNING", 0.5, "n/a")
    running.pop("stop_time")
    store.import_run(running)
    return str(tmp_path)


def test_runs_list_table(fixed_store):
    code, out, err = sacred("runs", "list", fixed_store)
    assert (code, err) == (0, "")
    assert out == (
        "ID  EXPERIMENT  COMMAND  STATUS         STARTED              RESULT\n"
        "1   mnist       main     COMPLETED      2026-11-27 10:01:00  0.25\n"
        "2   mnist       main     FAILED         2026-11-27 10:02:00  -\n"
        "3   cifar       main     PROBABLY_DEAD  2026-11-27 10:03:00  n/a\n"
    )


def test_runs_list_query_sort_paging_columns(fixed_store):
    code, out, err = sacred(
        "runs",
        "list",
        fixed_store,
        "-q",
        "lr < 0.4",
        "--sort",
        "-lr",
        "--columns",
        "_id,lr,opt.name,metrics.loss.min,result",
    )
    assert (code, err) == (0, "")
    assert out == (
        "_id  lr    opt.name  metrics.loss.min  result\n"
        "1    0.1   adam      2.0               0.25\n"
        "2    0.01  sgd       -                 -\n"
    )
    code, out, _ = sacred(
        "runs",
        "list",
        fixed_store,
        "--sort",
        "lr",
        "--skip",
        "1",
        "--limit",
        "1",
        "--columns",
        "_id",
    )
    assert out == "_id\n1\n"
    code, out, _ = sacred("runs", "list", fixed_store, "-q", "lr > 5")
    assert (code, out) == (0, "No runs.\n")


def test_runs_list_json_and_csv(fixed_store):
    code, out, _ = sacred("runs", "list", fixed_store, "--columns", "_id,lr,start_time", "--json")
    assert json.loads(out) == [
        {"_id": 1, "lr": 0.1, "start_time": "2026-11-27T10:01:00"},
        {"_id": 2, "lr": 0.01, "start_time": "2026-11-27T10:02:00"},
        {"_id": 3, "lr": 0.5, "start_time": "2026-11-27T10:03:00"},
    ]
    code, out, _ = sacred("runs", "list", fixed_store, "-q", "status == 'FAILED'", "--json")
    (record,) = json.loads(out)
    assert record["_id"] == 2 and record["config"] == {"lr": 0.01, "opt": {"name": "sgd"}}
    assert record["captured_out"] == "out 2\n"
    code, out, _ = sacred("runs", "list", fixed_store, "--csv", "--columns", "_id,opt.name,result")
    assert out == "_id,opt.name,result\n1,adam,0.25\n2,sgd,\n3,adam,n/a\n"
    code, out, _ = sacred("runs", "list", fixed_store, "--csv", "--limit", "1")
    assert out == (
        "ID,EXPERIMENT,COMMAND,STATUS,STARTED,RESULT\n"
        "1,mnist,main,COMPLETED,2026-11-27T10:01:00,0.25\n"
    )


def test_runs_show(fixed_store):
    code, out, err = sacred("runs", "show", fixed_store, "1")
    assert (code, err) == (0, "")
    assert out == (
        "Run 1 (mnist)\n"
        "  command    main\n"
        "  status     COMPLETED\n"
        "  started    2026-11-27 10:01:00\n"
        "  stopped    2026-11-27 10:01:30\n"
        "  heartbeat  2026-11-27 10:01:30\n"
        "  result     0.25\n"
        "  host       box\n"
        "config:\n"
        "  lr = 0.1\n"
        "  opt.name = adam\n"
        "info:\n"
        "  -\n"
        "metrics:\n"
        "  loss: 3 points, last 2.5, min 2.0, max 3.0\n"
        "artifacts:\n"
        "  model.bin\n"
        "captured output:\n"
        "  out 1\n"
    )
    code, out, _ = sacred("runs", "show", fixed_store, "2")
    assert "fail trace:\n  Traceback (most recent call last):\n  ValueError: boom\n" in out
    code, out, _ = sacred("runs", "show", fixed_store, "3", "--json")
    record = json.loads(out)
    assert record["status"] == "RUNNING" and record["heartbeat"] == "2026-11-27T10:03:30"


def test_runs_export(fixed_store, tmp_path):
    target = tmp_path / "out.json"
    code, out, err = sacred(
        "runs", "export", fixed_store, "-q", "_id == 1", "--json", "-o", str(target)
    )
    assert (code, out, err) == (0, "", "")
    (record,) = json.loads(target.read_text())
    assert record["metrics"]["loss"]["values"] == [3.0, 2.0, 2.5]
    assert record["metrics"]["loss"]["timestamps"] == ["2026-11-27T10:00:00"] * 3
    code, out, _ = sacred("runs", "export", fixed_store, "--csv", "--sort", "-_id")
    lines = out.splitlines()
    header = lines[0].split(",")
    assert header[:3] == ["_id", "artifacts", "command"]
    assert "config.lr" in header and "config.opt.name" in header
    assert [line.split(",")[0] for line in lines[1:]] == ["3", "2", "1"]


@pytest.mark.parametrize("filled_store", ["file"], indirect=True)  # a folder path
def test_export_between_stores(filled_store, tmp_path):
    dst = tmp_path / "copy"
    code, out, err = sacred("export", filled_store.basedir, str(dst), "-q", "status == 'COMPLETED'")
    assert (code, err) == (0, "")
    assert out == "run 1 -> 1\nrun 2 -> 2\nrun 3 -> 3\nrun 5 -> 5\nCopied 4 runs.\n"
    code, out, _ = sacred("runs", "list", str(dst), "--columns", "tag,lr,metrics.loss.min,result")
    assert out == (  # the id column comes first even when --columns leaves it out
        "id  tag  lr     metrics.loss.min  result\n"
        "1   a    0.1    0.333333          0.333333\n"
        "2   b    0.01   0.4               0.4\n"
        "3   c    0.001  1.0               1.0\n"
        "5   e    0.05   -                 ok\n"
    )
    code, out, err = sacred("export", filled_store.basedir, str(dst), "-q", "tag == 'a'")
    assert code == 1 and out == ""
    assert err == (
        f"sacred: error: Run 1 is already in {dst}; nothing was copied. "
        "Copy under new ids with --new-ids (new_ids=True).\n"
    )
    code, out, _ = sacred("export", filled_store.basedir, str(dst), "-q", "tag == 'a'", "--new-ids")
    assert out == "run 1 -> 6\nCopied 1 run.\n"


@pytest.mark.parametrize("filled_store", ["file"], indirect=True)  # a folder path
def test_real_runs_table(filled_store):
    code, out, _ = sacred(
        "runs",
        "list",
        filled_store.basedir,
        "--sort",
        "-metrics.loss.last",
        "--columns",
        "_id,tag,status,optimizer.name,metrics.loss.count",
    )
    assert out == (
        "_id  tag  status     optimizer.name  metrics.loss.count\n"
        "4    d    FAILED     adam            2\n"
        "3    c    COMPLETED  adam            4\n"
        "2    b    COMPLETED  sgd             5\n"
        "1    a    COMPLETED  adam            3\n"
        "5    e    COMPLETED  -               -\n"
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["runs", "list", "{store}", "-q", "lr >"],
            "sacred: error: expected a value but the query ends\n    lr >\n        ^\n",
        ),
        (["runs", "list", "{store}", "--sort", "a b"], "sacred: error: invalid sort field 'a b'\n"),
        (
            ["runs", "list", "{store}", "--limit", "-1"],
            "sacred: error: limit must be an integer >= 0 or None, not -1\n",
        ),
        (["runs", "show", "{store}", "42"], "sacred: error: There is no run '42' in {store}\n"),
        (
            ["runs", "list", "{store}/nope"],
            "sacred: error: There is no FileStorageObserver folder at '{store}/nope': it does not "
            "exist or is not a directory.\n",
        ),
        (
            ["runs", "list", "sqlite:///x.db"],
            "sacred: error: There is no SQLite database at 'x.db'.\n",
        ),
        (
            ["runs", "list", "ftp://x"],
            "sacred: error: Unknown store scheme 'ftp'; known schemes: file, gs, mongodb, "
            "mongodb+srv, mysql, postgres, postgresql, s3, sqlite, tinydb.\n",
        ),
    ],
)
def test_errors_are_one_paragraph_with_exit_code_1(fixed_store, args, message):
    code, out, err = sacred(*[a.replace("{store}", fixed_store) for a in args])
    assert (code, out) == (1, "")
    assert err == message.replace("{store}", fixed_store)


def test_usage_errors_exit_1(fixed_store):
    code, out, err = sacred("runs", "list")
    assert code == 1 and out == ""
    assert err.startswith(
        "sacred: error: the following arguments are required: LOCATION\nusage: sacred runs list"
    )
    code, _, err = sacred("runs", "export", fixed_store)
    assert code == 1 and "one of the arguments --json --csv is required" in err
    code, _, err = sacred("frobnicate")
    assert code == 1 and "invalid choice: 'frobnicate'" in err


def test_console_script_is_installed(fixed_store):
    script = os.path.join(os.path.dirname(sys.executable), "sacred")
    if not os.path.exists(script):
        pytest.skip("the package is not installed with its console scripts")
    proc = subprocess.run(
        [script, "runs", "list", fixed_store, "--columns", "_id"], capture_output=True, text=True
    )
    assert (proc.returncode, proc.stdout) == (0, "_id\n1\n2\n3\n")


def test_importing_the_read_side_stays_light():
    code = (
        "import sys, sacred.store, sacred.cli, sacred.observers.mongo.query, "
        "sacred.observers.file_storage.store; "
        "print(sorted(m for m in ('numpy', 'pandas', 'pymongo', 'sqlalchemy', 'mongomock') "
        "if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.stdout == "[]\n", proc.stderr


def test_columns_id_and_fields_no_run_has(fixed_store):
    code, out, err = sacred("runs", "list", fixed_store, "--columns", "id,lr", "--limit", "2")
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == "id  lr" and out.splitlines()[1].split()[0] != "-"
    code, out, err = sacred("runs", "list", fixed_store, "-q", "lrr < 0.1")
    assert (code, out) == (0, "No runs.\n")
    assert err == "sacred: warning: no run has the field config.lrr (did you mean config.lr?)\n"
    code, out, err = sacred("runs", "list", fixed_store, "--columns", "lr,op.nme", "--limit", "1")
    assert code == 0 and out.splitlines()[0].split() == ["id", "lr", "op.nme"]
    assert (
        err
        == "sacred: warning: no run has the field config.op.nme (did you mean config.opt.name?)\n"
    )
    # a field some runs have is no typo, even when the answer is empty
    code, out, err = sacred("runs", "list", fixed_store, "-q", "lr > 1000")
    assert (code, out, err) == (0, "No runs.\n", "")
