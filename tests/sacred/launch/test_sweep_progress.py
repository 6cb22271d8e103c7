"""A sweep's progress bar: on a terminal (or with ``--progress`` / ``progress=True``), never
in a pipe, the per-run lines unchanged; nothing breaks without tqdm."""

import os
import re

from tests.terminal import in_a_pipe, on_a_terminal

PROBE = os.path.join(os.path.dirname(__file__), "fixtures", "sweep_probe.py")

QUEUED = ["     1  QUEUED       lr=1", "     2  QUEUED       lr=2", "     3  QUEUED       lr=3"]


def added(err):
    """stderr without the experiment's own log lines (the queue launcher runs it here)."""
    return "".join(line for line in err.splitlines(True) if not line.startswith("INFO - probe"))


def cli(location, *options):
    argv = ["sweep", location, PROBE, "--grid", "lr=[1,2,3]", "--launcher", "queue", *options]
    return f"import sys; from sacred.store.cli import main; sys.exit(main({argv!r}))"


def check_out(out):
    lines = out.splitlines()
    assert lines[:3] == QUEUED
    assert re.match(r"^sweep [0-9a-f]{12}: 3 runs in [0-9.]+ s: 3 QUEUED$", lines[3])
    assert len(lines) == 5


def test_sweep_in_a_pipe_adds_nothing_to_stderr(tmp_path):
    code, out, err = in_a_pipe(cli(str(tmp_path / "runs")))
    assert (code, added(err)) == (0, "")
    check_out(out)


def test_sweep_on_a_terminal_shows_a_bar_of_finished_runs(tmp_path):
    code, out, shown = on_a_terminal(cli(str(tmp_path / "runs")))
    assert code == 0, shown
    check_out(out)  # the lines go to stdout as before
    assert "sweep: 100%" in shown and "3/3" in shown


def test_sweep_with_progress_in_a_pipe_shows_a_bar(tmp_path):
    code, out, err = in_a_pipe(cli(str(tmp_path / "runs"), "--progress"))
    assert code == 0, err
    check_out(out)
    assert "sweep: 100%" in err and "3/3 [" in err


def test_without_tqdm_the_sweep_runs_and_progress_is_one_hint(tmp_path):
    code, out, err = in_a_pipe(cli(str(tmp_path / "runs"), "--progress"), without_tqdm=True)
    assert code == 0
    check_out(out)
    assert added(err) == (
        "sacred: warning: --progress needs tqdm, which is not installed: "
        'pip install "sacred[progress]"\n'
    )
    code, out, err = in_a_pipe(cli(str(tmp_path / "again")), without_tqdm=True)
    assert (code, added(err)) == (0, "")
    check_out(out)


def python_sweep(location, progress):
    return (
        "from sacred.launch.script import load_experiment\n"
        "from sacred.launch.sweep import sweep\n"
        f"ex = load_experiment({PROBE!r})\n"
        f"results = sweep(ex, [{{'lr': 1}}, {{'lr': 2}}], store={location!r}, launcher='queue',"
        f" progress={progress!r}, on_result=lambda e: print(e['index'], e['status']))\n"
        "print([e['status'] for e in results])\n"
    )


def test_python_sweep_progress_argument(tmp_path):
    location = str(tmp_path / "runs")
    expected = "0 QUEUED\n1 QUEUED\n['QUEUED', 'QUEUED']\n"
    code, out, shown = on_a_terminal(python_sweep(location, None))  # default: on a terminal
    assert (code, out) == (0, expected)
    assert "sweep: 100%" in shown and "2/2" in shown
    code, out, shown = on_a_terminal(python_sweep(location, False))
    assert (code, out) == (0, expected) and "sweep" not in shown
    code, out, err = in_a_pipe(python_sweep(location, None))
    assert (code, out, added(err)) == (0, expected, "")
    code, out, err = in_a_pipe(python_sweep(location, True))
    assert (code, out) == (0, expected) and "sweep: 100%" in err and "2/2 [" in err
    code, out, err = in_a_pipe(python_sweep(location, True), without_tqdm=True)
    assert (code, out, added(err)) == (
        0,
        expected,
        "sacred: warning: progress=True needs tqdm, which is not installed: "
        'pip install "sacred[progress]"\n',
    )
