"""``sacred.rerun`` in a process that holds other things: modules of the same names, a git
repository, sources outside the base folder, records without a main file."""

import os
import subprocess
import sys

import pytest

import sacred
from sacred.reproduce import RerunWarning, rerun
from sacred.reproduce.sources import SourceError
from sacred.store import open_store
from tests.sacred.reproduce.conftest import dedent, edit, run_script


def test_sacred_rerun_is_the_function():
    assert sacred.rerun is rerun


def test_modules_of_the_same_names_from_elsewhere_are_not_used_and_come_back(
    project, folder_store, tmp_path, monkeypatch
):
    original = run_script(project / "exp.py", folder_store)
    other = tmp_path / "other"
    (other / "lib").mkdir(parents=True)
    (other / "lib" / "__init__.py").write_text("")
    (other / "lib" / "model.py").write_text("def score(x, scale):\n    return -1.0\n")
    monkeypatch.syspath_prepend(str(other))
    for name in ("lib", "lib.model"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    import lib.model

    assert lib.model.score(1, 1) == -1.0
    path_before = list(sys.path)
    monkeypatch.chdir(tmp_path)

    result = rerun(folder_store, original._id, check=True)

    assert result.matched and result.result == original.result  # the recorded lib.model ran
    assert sys.modules["lib.model"] is lib.model and sys.modules["lib"].model is lib.model
    assert sys.path == path_before
    left = [
        name
        for name, module in list(sys.modules.items())
        if "sacred-rerun-" in str(getattr(module, "__file__", None) or "")
    ]
    assert left == []


def test_a_source_outside_the_base_folder_is_laid_out_beside_it(
    tmp_path, folder_store, monkeypatch
):
    app = tmp_path / "project" / "app"
    shared = tmp_path / "project" / "shared"
    app.mkdir(parents=True)
    shared.mkdir()
    (shared / "util.py").write_text("def twice(x):\n    return 2 * x\n")
    (app / "exp.py").write_text(
        dedent(
            """
            import os
            import sys

            sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "shared"))

            from sacred import Experiment
            from util import twice

            ex = Experiment("outside")
            ex.add_source_file(os.path.join(os.path.dirname(__file__), "..", "shared", "util.py"))


            @ex.automain
            def main():
                return twice(21)
            """
        )
    )
    original = run_script(app / "exp.py", folder_store)
    with open_store(folder_store) as store:
        assert sorted(store.sources(original._id)) == ["../shared/util.py", "exp.py"]
    (shared / "util.py").write_text("def twice(x):\n    return 0\n")  # not what ran
    monkeypatch.chdir(tmp_path)

    result = rerun(folder_store, original._id, check=True)

    assert result.result == 42 and result.matched


def _two_scripts(project):
    (project / "other.py").write_text(
        dedent(
            """
            from sacred import Experiment

            ex = Experiment("other")
            """
        )
    )
    edit(
        project / "exp.py",
        "from lib.model import score\n",
        "from lib.model import score\nimport other  # noqa\n",
    )


def test_a_record_without_main_file_needs_script_when_several_sources_create_experiments(
    project, tmp_path, monkeypatch
):
    import json

    url = str(tmp_path / "runs")
    _two_scripts(project)
    original = run_script(project / "exp.py", url)
    # a record without its main file (as SQL records written before mainfile was stored)
    run_json = tmp_path / "runs" / str(original._id) / "run.json"
    record = json.loads(run_json.read_text())
    del record["experiment"]["mainfile"]
    run_json.write_text(json.dumps(record))
    monkeypatch.chdir(tmp_path)

    with pytest.raises(SourceError) as e:
        rerun(url, original._id)
    assert str(e.value) == (
        "Run 1 records no main file, and several sources create an Experiment "
        "(exp.py, other.py): name one with --script"
    )
    result = rerun(url, original._id, check=True, script="exp.py")
    assert result.matched


def test_an_unknown_script_name_is_one_line(project, folder_store, monkeypatch):
    original = run_script(project / "exp.py", folder_store)
    with pytest.raises(SourceError) as e:
        rerun(folder_store, original._id, script="train.py")
    assert str(e.value) == (
        "'train.py' is no recorded source of run 1 (recorded: exp.py, lib/__init__.py, "
        "lib/model.py)"
    )


def test_here_without_the_script_in_the_current_folder(
    project, folder_store, tmp_path, monkeypatch
):
    original = run_script(project / "exp.py", folder_store)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SourceError) as e:
        rerun(folder_store, original._id, here=True)
    assert str(e.value) == (
        f"exp.py (the script of run 1) is not in {tmp_path}: run from the run's folder, or "
        "give --script"
    )
    result = rerun(folder_store, original._id, here=True, script=str(project / "exp.py"))
    assert result.changed_sources == [] and result.status == "COMPLETED"


def test_a_missing_source_is_listed(project, folder_store, monkeypatch):
    original = run_script(project / "exp.py", folder_store)
    (project / "lib" / "__init__.py").unlink()  # lib becomes a namespace package
    monkeypatch.chdir(project)
    result = rerun(folder_store, original._id, check=True, here=True)
    [change] = result.changed_sources
    assert (change.name, change.status, change.current) == ("lib/__init__.py", "missing", None)
    assert result.matched


def _git(folder, *args):
    env = dict(
        os.environ,
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@example.org",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@example.org",
    )
    out = subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_git_commit_and_dirty_tree_are_warned_about(project, folder_store, monkeypatch):
    import sacred.dependencies

    monkeypatch.setattr(sacred.dependencies, "_GIT_INFO_TTL", 0.0)
    _git(project, "init", "-q")
    _git(project, "remote", "add", "origin", "https://example.org/project.git")
    _git(project, "add", ".")
    _git(project, "commit", "-q", "-m", "first")
    first = _git(project, "rev-parse", "HEAD")
    original = run_script(project / "exp.py", folder_store)
    (project / "notes.txt").write_text("later\n")
    _git(project, "add", "notes.txt")
    _git(project, "commit", "-q", "-m", "second")
    second = _git(project, "rev-parse", "HEAD")
    (project / "notes.txt").write_text("changed\n")  # dirty
    monkeypatch.chdir(project)

    with pytest.warns(RerunWarning):
        result = rerun(folder_store, original._id, here=True)

    assert result.warnings == [
        f"git commit differs for https://example.org/project.git: the run used {first[:12]}, "
        f"{second[:12]} is checked out",
        "the working tree of https://example.org/project.git has uncommitted changes",
    ]


def test_a_run_recorded_from_a_dirty_tree_is_warned_about(project, folder_store, monkeypatch):
    import sacred.dependencies

    monkeypatch.setattr(sacred.dependencies, "_GIT_INFO_TTL", 0.0)
    _git(project, "init", "-q")
    _git(project, "add", ".")
    _git(project, "commit", "-q", "-m", "first")
    commit = _git(project, "rev-parse", "HEAD")
    edit(project / "lib" / "model.py", "x * scale", "x * scale * 3")  # not committed
    original = run_script(project / "exp.py", folder_store)
    monkeypatch.chdir(project.parent)

    with pytest.warns(RerunWarning):
        result = rerun(folder_store, original._id)

    assert result.warnings == [
        f"run 1 was recorded from a dirty working tree of git:/{project} (commit "
        f"{commit[:12]}): files that are not its sources may have held uncommitted changes"
    ]
    assert result.status == "COMPLETED" and result.result == original.result


def test_an_open_store_and_an_observer_as_target(project, folder_store, tmp_path, monkeypatch):
    from sacred.observers import FileStorageObserver

    original = run_script(project / "exp.py", folder_store)
    monkeypatch.chdir(tmp_path)
    with open_store(folder_store) as store:
        result = rerun(store, original._id, check=True)  # written into the same store
        assert store.get(result.run_id)["meta"]["rerun_of"]["id"] == 1
    copies = tmp_path / "copies"
    result = rerun(folder_store, original._id, target=FileStorageObserver(str(copies)))
    with open_store(str(copies)) as store:
        [record] = store.find()
    assert record["meta"]["rerun_of"] == {"store": folder_store, "id": 1}
    assert result.status == "COMPLETED"


def test_a_run_that_has_not_finished_is_warned_about(project, folder_store, monkeypatch):
    import json

    original = run_script(project / "exp.py", folder_store)
    path = os.path.join(folder_store, "1", "run.json")
    with open(path) as f:
        record = json.load(f)
    record["status"] = "RUNNING"
    with open(path, "w") as f:
        json.dump(record, f)
    monkeypatch.chdir(project.parent)
    with pytest.warns(RerunWarning):
        result = rerun(folder_store, original._id, check=True)
    assert result.warnings == ["run 1 is RUNNING: it has not finished"]
    assert [r.item for r in result.comparison.differences()] == ["status"]
