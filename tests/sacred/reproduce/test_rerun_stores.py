"""``sacred.rerun`` on every store kind: a run, its rerun with ``check=True``, and a rerun of
a changed working copy (``here=True``), read back from the store."""

import hashlib
import os
import subprocess
import sys

import pytest

from sacred.reproduce import rerun
from sacred.store import open_store
from tests.sacred.reproduce.conftest import KINDS, edit, make_location, run_script

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def _read(location, run_id):
    with open_store(location) as store:
        return store.get(run_id), store.metrics(run_id)


def test_rerun_check_matches_on_every_store(location, project, monkeypatch):
    original = run_script(project / "exp.py", location, config_updates={"scale": 2.0})
    assert original.status == "COMPLETED"
    monkeypatch.chdir(project.parent)  # not the project: the code comes from the store

    result = rerun(location, original._id, check=True)

    assert result.status == "COMPLETED" and result.error is None
    assert str(result.run_id) != str(original._id) and str(result.rerun_of) == str(original._id)
    assert result.matched, result.comparison
    assert result.comparison.row("output").recorded == "3 lines"
    assert [(r.item, r.matched) for r in result.comparison.rows] == [
        ("status", True),
        ("result", True),
        ("metric acc", True),
        ("metric loss", True),
        ("output", True),
    ]
    assert result.result == original.result
    old, old_metrics = _read(location, original._id)
    new, new_metrics = _read(location, result.run_id)
    assert new["config"] == old["config"]  # the seed too
    assert new["config"]["scale"] == 2.0
    assert new["command"] == "main" and new["status"] == "COMPLETED"
    assert new["meta"]["rerun_of"] == {"store": result.store, "id": old["_id"]}
    assert new["result"] == old["result"]
    assert new_metrics["loss"]["values"] == old_metrics["loss"]["values"]
    # the new run recorded the same sources (laid out from the store) with the same digests
    with open_store(location) as store:
        assert sorted(store.sources(result.run_id)) == ["exp.py", "lib/__init__.py", "lib/model.py"]
        for name in store.sources(original._id):
            with (
                store.open_source(original._id, name) as a,
                store.open_source(result.run_id, name) as b,
            ):
                assert a.read() == b.read()


def test_here_lists_the_changed_source_and_the_result_differs(location, project, monkeypatch):
    original = run_script(project / "exp.py", location)
    model = project / "lib" / "model.py"
    recorded = hashlib.md5(model.read_bytes()).hexdigest()
    edit(model, "x * scale", "x * scale + 1")
    monkeypatch.chdir(project)

    result = rerun(location, original._id, check=True, here=True)

    [change] = result.changed_sources
    assert (change.name, change.status, change.recorded) == ("lib/model.py", "changed", recorded)
    assert change.current == hashlib.md5(model.read_bytes()).hexdigest()
    assert not result.matched
    assert not result.comparison.row("result").matched
    assert not result.comparison.row("metric loss").matched
    assert result.comparison.row("output").matched is False  # it prints the final value
    new, _ = _read(location, result.run_id)
    assert str(new["meta"]["rerun_of"]["id"]) == str(original._id)
    assert new["result"] == pytest.approx(original.result + 1)


# a mongomock client exists only in this process: it is covered through sacred.rerun above
@pytest.mark.parametrize("kind", [k for k in KINDS if k != "mongomock"])
def test_the_sacred_tool_reruns_with_check_and_exits_0(kind, project, tmp_path, monkeypatch):
    location = make_location(kind, tmp_path, monkeypatch)  # the child inherits the environment
    original = run_script(project / "exp.py", location)
    out = subprocess.run(
        [sys.executable, "-m", "sacred.store.cli", "rerun", location, str(original._id), "--check"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=ROOT),
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.splitlines()[-1] == "All 5 checks matched."
    with open_store(location) as store:
        [new] = [r for r in store.find() if (r.get("meta") or {}).get("rerun_of")]
    assert str(new["meta"]["rerun_of"]["id"]) == str(original._id)
