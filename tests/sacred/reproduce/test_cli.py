"""``sacred rerun`` end to end: scripts run from the shell, reruns through the ``sacred`` tool
in a new process; exact output and exit codes."""

import hashlib
import json
import os
import subprocess
import sys
from importlib import metadata

import pytest

from sacred.store import open_store
from tests.sacred.reproduce.conftest import dedent, edit

SCRIPT = dedent(
    """
    from sacred import Experiment

    from lib.model import score

    ex = Experiment("train")


    @ex.config
    def cfg():
        scale = 1.5


    @ex.automain
    def main(_run, _rnd, scale):
        value = 0.0
        for step in range(3):
            value = score(_rnd.random(), scale)
            _run.log_scalar("loss", value, step)
        print("final", value)
        return value
    """
)


@pytest.fixture
def project(tmp_path):
    folder = tmp_path / "project"
    (folder / "lib").mkdir(parents=True)
    (folder / "lib" / "__init__.py").write_text("")
    (folder / "lib" / "model.py").write_text("def score(x, scale):\n    return x * scale\n")
    (folder / "exp.py").write_text(SCRIPT)
    return folder


def _env():
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    return env


def shell(args, cwd):
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=_env(), timeout=120)


def sacred(*args, cwd):
    return shell([sys.executable, "-m", "sacred.store.cli", *args], cwd)


def run_exp(project, *args):
    out = shell([sys.executable, "exp.py", *args], project)
    assert out.returncode == 0, out.stderr
    return out


def _table(result, value):
    width = max(len("COMPLETED"), len(repr(value)), len("RECORDED"))
    rows = [
        ("CHECK", "MATCH", "RECORDED", "RERUN"),
        ("status", "yes", "COMPLETED", "COMPLETED"),
        ("result", "yes", repr(value), repr(value)),
        ("metric loss", "yes", repr(value), repr(value)),
        ("output", "yes", "1 line", "1 line"),
    ]
    widths = [11, 5, width, width]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    return "\n".join(lines) + "\nAll 4 checks matched.\n"


def test_rerun_check_from_the_shell_on_a_folder(project, tmp_path):
    run_exp(project, "-F", str(tmp_path / "runs"))
    with open_store(str(tmp_path / "runs")) as store:
        value = store.get(1)["result"]
        seed = store.get(1)["config"]["seed"]

    out = sacred("rerun", str(tmp_path / "runs"), "1", "--check", cwd=tmp_path)

    assert out.returncode == 0, out.stderr
    assert out.stdout == (
        f"Rerunning run 1 of {tmp_path / 'runs'} (command main, seed {seed}) from its "
        "recorded sources\n"
        f"final {value}\n"
        "Run 2 reran run 1: COMPLETED\n" + _table(out, value)
    )
    assert "sacred: warning" not in out.stderr
    with open_store(str(tmp_path / "runs")) as store:
        new = store.get(2)
    assert new["meta"]["rerun_of"] == {"store": str(tmp_path / "runs"), "id": 1}
    assert new["config"] == {"scale": 1.5, "seed": new["config"]["seed"]}
    assert new["result"] == value


def test_rerun_check_from_the_shell_on_sqlite(project, tmp_path):
    pytest.importorskip("sqlalchemy")
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    run_exp(project, "-s", url)  # SQL records no main file: the script is found by its content

    out = sacred("rerun", url, "1", "--check", cwd=tmp_path)

    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.splitlines()[-1] == "All 4 checks matched."
    with open_store(url) as store:
        assert store.get(2)["meta"]["rerun_of"] == {"store": url, "id": 1}


def test_here_lists_the_changed_file_and_exits_1_when_results_differ(project, tmp_path):
    run_exp(project, "-F", str(tmp_path / "runs"))
    model = project / "lib" / "model.py"
    recorded = hashlib.md5(model.read_bytes()).hexdigest()
    edit(model, "x * scale", "x * scale * 2")
    now = hashlib.md5(model.read_bytes()).hexdigest()

    out = sacred("rerun", str(tmp_path / "runs"), "1", "--check", "--here", cwd=project)

    assert out.returncode == 1
    lines = out.stdout.splitlines()
    assert lines[0].startswith(f"Rerunning run 1 of {tmp_path / 'runs'} (command main, seed ")
    assert lines[0].endswith(") from the working copy")
    i = lines.index("Sources that differ from run 1:")
    assert lines[i + 1] == f"  changed  lib/model.py  recorded {recorded}, here {now}"
    assert lines[i + 2] == "Run 2 reran run 1: COMPLETED"
    assert lines[i + 3].split() == ["CHECK", "MATCH", "RECORDED", "RERUN"]
    assert [line.split()[:2] for line in lines[i + 4 : i + 8]] == [
        ["status", "yes"],
        ["result", "NO"],
        ["metric", "loss"],
        ["output", "NO"],
    ]
    assert lines[i + 6].split()[2] == "NO"
    assert lines[-1] == "3 of 4 checks differ."


def test_here_with_an_unchanged_copy_matches(project, tmp_path):
    run_exp(project, "-F", str(tmp_path / "runs"))
    out = sacred("rerun", str(tmp_path / "runs"), "1", "--check", "--here", cwd=project)
    assert out.returncode == 0, out.stderr
    assert "The working copy's sources match run 1's." in out.stdout.splitlines()


def test_a_tampered_stored_copy_is_one_line_naming_the_file(project, tmp_path):
    run_exp(project, "-F", str(tmp_path / "runs"))
    recorded = hashlib.md5((project / "lib" / "model.py").read_bytes()).hexdigest()
    [copy] = (tmp_path / "runs" / "_sources").glob("model_*.py")
    copy.write_text("def score(x, scale):\n    return 0\n")
    stored = hashlib.md5(copy.read_bytes()).hexdigest()

    out = sacred("rerun", str(tmp_path / "runs"), "1", cwd=tmp_path)

    assert out.returncode == 1
    assert out.stderr == (
        "sacred: error: The stored copy of source lib/model.py of run 1 does not match its "
        f"recorded digest (recorded {recorded}, stored copy {stored})\n"
    )
    with open_store(str(tmp_path / "runs")) as store:
        assert store.find_ids() == [1]  # nothing ran


def test_an_absolute_source_name_is_refused(project, tmp_path):
    run_exp(project, "-F", str(tmp_path / "runs"))
    path = tmp_path / "runs" / "1" / "run.json"
    record = json.loads(path.read_text())
    record["experiment"]["sources"].append(["/etc/passwd", "_sources/passwd_x.py"])
    path.write_text(json.dumps(record))

    out = sacred("rerun", str(tmp_path / "runs"), "1", cwd=tmp_path)

    assert out.returncode == 1
    assert out.stderr == (
        "sacred: error: Refused: run 1 names a source by an absolute path: '/etc/passwd'\n"
    )


def test_an_unknown_run_is_one_line(project, tmp_path):
    run_exp(project, "-F", str(tmp_path / "runs"))
    out = sacred("rerun", str(tmp_path / "runs"), "7", cwd=tmp_path)
    assert out.returncode == 1
    assert out.stderr.startswith("sacred: error: ") and out.stderr.count("\n") == 1
    assert out.stdout == ""


def test_package_versions_that_differ_are_warned_about(project, tmp_path):
    run_exp(project, "-F", str(tmp_path / "runs"))
    path = tmp_path / "runs" / "1" / "run.json"
    record = json.loads(path.read_text())
    record["experiment"]["dependencies"] = [
        "sacred==0.0.1",
        f"packaging=={metadata.version('packaging')}",
        "no-such-package-here==1.0",
    ]
    path.write_text(json.dumps(record))

    out = sacred("rerun", str(tmp_path / "runs"), "1", cwd=tmp_path)

    assert out.returncode == 0, out.stderr
    warnings = [line for line in out.stderr.splitlines() if line.startswith("sacred: warning")]
    assert warnings == [
        f"sacred: warning: package sacred: the run used 0.0.1, {metadata.version('sacred')} "
        "is installed",
        "sacred: warning: package no-such-package-here 1.0 was used by the run and is not "
        "installed",
    ]


def test_the_rerun_goes_to_another_store_with_F(project, tmp_path):
    run_exp(project, "-F", str(tmp_path / "runs"))
    out = sacred("rerun", "runs", "1", "-F", "copies", "--check", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    with open_store(str(tmp_path / "copies")) as store:
        [record] = store.find()
    assert record["meta"]["rerun_of"] == {"store": str(tmp_path / "runs"), "id": 1}
    with open_store(str(tmp_path / "runs")) as store:
        assert store.find_ids() == [1]


def test_bad_rtol_is_one_line(project, tmp_path):
    out = sacred("rerun", "runs", "1", "--rtol", "abc", cwd=tmp_path)
    assert out.returncode == 1
    assert out.stderr.splitlines()[0] == (
        "sacred: error: argument --rtol: invalid --rtol 'abc': give a number"
    )


def test_help_lists_the_options(tmp_path):
    out = sacred("rerun", "--help", cwd=tmp_path)
    assert out.returncode == 0
    for option in ("--check", "--rtol", "--here", "--script", "-F", "-s", "-m", "--to"):
        assert option in out.stdout
