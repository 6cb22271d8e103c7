"""``check=True``: status, result, each metric and the output are compared on their own.

Each mismatch is made by a real edit of the working copy (``here=True``) that changes one
kind only; the other rows still match."""

import re

import pytest

from sacred.reproduce import rerun
from sacred.reproduce.check import compare_values, format_table, stable_output
from tests.sacred.reproduce.conftest import edit, run_script


def _rows(result):
    return {r.item: r.matched for r in result.comparison.rows}


def _rerun_edited(project, folder_store, monkeypatch, old, new, **kwargs):
    original = run_script(project / "exp.py", folder_store)
    edit(project / "exp.py", old, new)
    monkeypatch.chdir(project)
    return rerun(folder_store, original._id, check=True, here=True, **kwargs)


ALL_MATCH = {
    "status": True,
    "result": True,
    "metric acc": True,
    "metric loss": True,
    "output": True,
}


def test_a_result_mismatch_alone(project, folder_store, monkeypatch):
    result = _rerun_edited(project, folder_store, monkeypatch, "return value", "return -value")
    assert _rows(result) == dict(ALL_MATCH, result=False)
    row = result.comparison.row("result")
    assert row.detail == f"{row.recorded} != -{row.recorded}"
    assert not result.matched


def test_a_metric_mismatch_alone(project, folder_store, monkeypatch):
    result = _rerun_edited(
        project, folder_store, monkeypatch, '"acc", 1 - value / 10', '"acc", 1 - value / 5'
    )
    assert _rows(result) == dict(ALL_MATCH, **{"metric acc": False})
    assert not result.matched


def test_a_metric_only_one_run_logs(project, folder_store, monkeypatch):
    result = _rerun_edited(
        project,
        folder_store,
        monkeypatch,
        '    print(f"started',
        '    _run.log_scalar("extra", 1.0)\n    print(f"started',
    )
    assert _rows(result) == dict(ALL_MATCH, **{"metric extra": False})
    assert result.comparison.row("metric extra").detail == "logged by the rerun only"


def test_an_output_mismatch_alone(project, folder_store, monkeypatch):
    result = _rerun_edited(
        project, folder_store, monkeypatch, 'print("final",', 'print("final value",'
    )
    assert _rows(result) == dict(ALL_MATCH, output=False)
    detail = result.comparison.row("output").detail
    assert re.fullmatch(r"line 3: 'final ([\d.]+)' != 'final value \1'", detail), detail


def test_a_status_mismatch(project, folder_store, monkeypatch):
    result = _rerun_edited(
        project, folder_store, monkeypatch, "    return value", "    raise RuntimeError('boom')"
    )
    assert result.status == "FAILED" and isinstance(result.error, RuntimeError)
    rows = _rows(result)
    assert rows["status"] is False and rows["result"] is False
    assert rows["metric loss"] and rows["output"]


def test_rtol_decides_for_floats(project, folder_store, monkeypatch):
    original = run_script(project / "exp.py", folder_store)
    edit(project / "exp.py", "return value", "return value * (1 + 1e-12)")
    monkeypatch.chdir(project)
    assert rerun(folder_store, original._id, check=True, here=True).matched
    strict = rerun(folder_store, original._id, check=True, here=True, rtol=0)
    assert _rows(strict) == dict(ALL_MATCH, result=False)


def test_a_failed_run_reruns_to_the_same_failure(project, folder_store, monkeypatch):
    edit(project / "exp.py", "    return value", "    raise RuntimeError('diverged')")
    original = run_script_failing(project, folder_store)
    monkeypatch.chdir(project.parent)
    result = rerun(folder_store, original, check=True)
    assert result.status == "FAILED" and isinstance(result.error, RuntimeError)
    assert result.matched, format_table(result.comparison)


def run_script_failing(project, folder_store):
    with pytest.raises(RuntimeError):
        run_script(project / "exp.py", folder_store)
    from sacred.store import open_store

    with open_store(folder_store) as store:
        [record] = store.find()
    assert record["status"] == "FAILED"
    return record["_id"]


# ---------------------------------------------------------------- the pieces on their own
def test_volatile_lines_are_left_out():
    text = (
        "INFO - train - Running command 'main'\n"
        'INFO - train - Started run with ID "17"\n'
        "epoch 1 loss 0.5\n"
        " 40%|####      | 4/10 [00:01<00:02,  3.10it/s]\r100%|##########| 10/10 [00:03<00:00]\n"
        "INFO - train - Result: 0.25\n"
        "INFO - train - Completed after 0:00:03\n"
    )
    assert stable_output(text) == ["epoch 1 loss 0.5"]


@pytest.mark.parametrize(
    "line, stable",
    [
        ("at 2024-05-01 12:30:01.123 done", "at <time> done"),
        ("at 2024-05-01T12:30:01Z", "at <time>"),
        ("now 09:15:02", "now <time>"),
        ("epoch took 1.25s, loss 0.5", "epoch took <duration>, loss 0.5"),
        ("step in 30 ms", "step in <duration>"),
        ("waited 2 minutes", "waited <duration>"),
        ("<Model object at 0x7f3a2c1d9e80>", "<Model object at <address>>"),
        ("saved /tmp/tmpab12cd/model.pt.", "saved <tmp>."),
        ("loss 0.5 at 3 samples", "loss 0.5 at 3 samples"),
    ],
)
def test_volatile_parts_are_masked(line, stable):
    assert stable_output(line) == [stable]


def test_the_rerun_folder_stands_for_the_base_dir():
    old = "File /home/me/project/exp.py, line 3\n"
    new = "File /somewhere/else/exp.py, line 3\n"
    assert stable_output(new, {"/somewhere/else": "/home/me/project"}) == stable_output(old)


@pytest.mark.parametrize(
    "old, new, found",
    [
        (1.0, 1.0 + 1e-12, None),
        (1.0, 1.1, "1.0 != 1.1"),
        (float("nan"), float("nan"), None),
        (3, 3, None),
        (3, 4, "3 != 4"),
        ((1, 2), [1, 2], None),
        ({"a": [1, 2.0]}, {"a": [1, 2.5]}, "2.0 != 2.5 at ['a'][1]"),
        ({"a": 1}, {"b": 1}, "keys differ: missing a; new b"),
        ([1, 2], [1, 2, 3], "2 items != 3 items"),
        ("ok", "ok", None),
        ("ok", "no", "'ok' != 'no'"),
        (None, 0, "None != 0"),
        (True, 1, "True != 1"),
    ],
)
def test_compare_values(old, new, found):
    assert compare_values(old, new) == found


def test_numpy_values_compare_as_their_lists():
    np = pytest.importorskip("numpy")
    assert compare_values([1.0, 2.0], np.array([1.0, 2.0])) is None
    assert compare_values(np.float64(0.5), 0.5) is None
    assert compare_values(np.array([1.0, 2.0]), np.array([1.0, 2.5])) == "2.0 != 2.5 at [1]"
