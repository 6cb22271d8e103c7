"""Output of runs in other processes while a progress bar is drawn: on a terminal, every line
of the runs (their log lines, prints, output of programs they start) appears whole on its
own line above the bar, and the bar's last state is left intact. Without a bar the runs
write to the terminal or pipe themselves, as they always did."""

import os
import re
import textwrap

import pytest

from tests.terminal import in_a_pipe, in_a_shell

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))

SCRIPT = textwrap.dedent(
    """
    import os, sys
    from sacred import Experiment

    ex = Experiment("chatty")

    @ex.config
    def cfg():
        lr = 0.1

    @ex.main
    def main(lr):
        print(f"printed lr={lr} tty={os.isatty(2)}")
        os.system(f"echo from a shell lr={lr}")  # a program the run starts
        return lr
    """
)

LOG = re.compile(
    r"INFO - chatty - (Running command 'main'|Started run with ID \"\d+\"|Result: [0-9.]+|"
    r"Completed after \d+:\d\d:\d\d)"
)


def screen(shown):
    """The lines a terminal shows: a carriage return goes back to the line's start, where
    what follows overwrites what was there (a bar clears itself with spaces)."""
    lines = []
    for raw in shown.replace("\r\n", "\n").split("\n"):
        cells = []
        for part in raw.split("\r"):
            cells[: len(part)] = part
        lines.append("".join(cells).rstrip())
    return [line for line in lines if line]


def write_script(tmp_path):
    script = tmp_path / "chatty.py"
    script.write_text(SCRIPT)
    return str(script)


def sweep_cli(tmp_path, *options, jobs=2):
    argv = ["sweep", str(tmp_path / "runs"), write_script(tmp_path), "--grid"]
    argv += ["lr=[1.5, 2.5, 3.5, 4.5]", "-j", str(jobs), *options]
    return f"import sys; from sacred.store.cli import main; sys.exit(main({argv!r}))"


def check_runs_lines(lines, values, tty):
    """Each run's lines are whole, each on its own line."""
    for lr in values:
        for expected in (
            f"printed lr={lr} tty={tty}",
            f"from a shell lr={lr}",
        ):
            assert lines.count(expected) == 1, (expected, lines)
    logs = [line for line in lines if "INFO - chatty" in line]
    assert all(LOG.fullmatch(line) for line in logs), logs
    assert len(logs) == 4 * len(values)


@pytest.mark.parametrize("launcher", ["local", "dask", "ray"])
def test_a_sweep_on_a_terminal_writes_the_runs_lines_above_the_bar(tmp_path, launcher):
    pytest.importorskip({"local": "os", "dask": "dask.distributed", "ray": "ray"}[launcher])
    code, shown = in_a_shell(sweep_cli(tmp_path, "--launcher", launcher), cwd=ROOT)
    lines = screen(shown)
    assert code == 0, shown
    values = [1.5, 2.5, 3.5, 4.5]
    check_runs_lines(lines, values, tty=False)
    # the bar is left once, in its last state, after all the runs' lines
    bars = [i for i, line in enumerate(lines) if line.startswith("sweep:")]
    assert len(bars) == 1, lines
    assert re.fullmatch(r"sweep: 100%\|█+\| 4/4 \[.*(run/s|s/run)\]", lines[bars[0]]), lines
    assert all(i < bars[0] for i, line in enumerate(lines) if "lr=" in line or "INFO" in line)
    assert re.fullmatch(r"sweep [0-9a-f]{12}: 4 runs in [0-9.]+ s: 4 COMPLETED", lines[bars[0] + 1])
    # a run's report line comes after the run's own lines
    for run_id in range(1, 5):
        started = lines.index(f'INFO - chatty - Started run with ID "{run_id}"')
        (report,) = [i for i, line in enumerate(lines) if line.startswith(f"     {run_id}  ")]
        assert report > started + 2, lines


def test_without_a_bar_the_runs_write_where_they_always_did(tmp_path):
    # in a pipe: no bar, the runs' own stdout and stderr are the pipes (one run at a time:
    # lines of runs at once may mix there, as they always did)
    code, out, err = in_a_pipe(sweep_cli(tmp_path, jobs=1), cwd=ROOT)
    assert code == 0, err
    check_runs_lines(screen(out + err), [1.5, 2.5, 3.5, 4.5], tty=False)
    assert "from a shell lr=1.5" in out and "sweep:" not in err
    # on a terminal with the bar turned off: the runs' stderr is the terminal itself (seen
    # by a run that does not capture its output)
    code, shown = in_a_shell(
        "from sacred.launch.script import load_experiment\n"
        "from sacred.launch.sweep import sweep\n"
        f"ex = load_experiment({write_script(tmp_path)!r})\n"
        f"sweep(ex, [{{'lr': 1.5}}, {{'lr': 2.5}}], store={str(tmp_path / 'runs')!r}, "
        "n_jobs=1, progress=False, run_options={'--capture': 'no'})\n",
        cwd=ROOT,
    )
    assert code == 0, shown
    assert "%|" not in shown
    check_runs_lines(screen(shown), [1.5, 2.5], tty=True)


def test_with_progress_in_a_pipe_the_lines_stay_whole(tmp_path):
    code, out, err = in_a_pipe(sweep_cli(tmp_path, "--progress"), cwd=ROOT)
    assert code == 0, err
    lines = screen(out + err)
    check_runs_lines(lines, [1.5, 2.5, 3.5, 4.5], tty=False)
    assert "printed lr=1.5 tty=False" in out.splitlines()  # stdout stays stdout
    assert "INFO - chatty - Running command 'main'" in err.splitlines()


OPTIMIZE = textwrap.dedent(
    """
    from sacred import Experiment
    from labwatch import LabAssistant
    from labwatch.hyperparameters import UniformFloat
    from labwatch.optimizers import RandomSearch

    ex = Experiment("quadratic")
    a = LabAssistant(ex, store={location!r}, optimizer=RandomSearch)

    @ex.config
    def cfg():
        x = 0.0

    @a.search_space
    def space():
        x = UniformFloat(-1, 1)

    @ex.main
    def main(x):
        print("trying", x)
        return (x - 0.25) ** 2 + 1
    """
)


def test_optimize_with_a_launcher_writes_the_runs_lines_above_the_bar(tmp_path):
    script = tmp_path / "quadratic.py"
    script.write_text(OPTIMIZE.format(location=str(tmp_path / "runs")))
    code, shown = in_a_shell(
        "import runpy\n"
        f"a = runpy.run_path({str(script)!r}, run_name='__sacred_script__')['a']\n"
        "trials = a.optimize(3, launcher='local', n_workers=2)\n"
        "print([t['status'] for t in trials])\n",
        cwd=ROOT,
    )
    lines = screen(shown)
    assert code == 0, shown
    assert lines[-1] == "['COMPLETED', 'COMPLETED', 'COMPLETED']"
    assert re.fullmatch(
        r"optimize: 100%\|█+\| 3/3 \[.*(trial/s|s/trial), best=1\.[0-9.e-]+\]", lines[-2]
    )
    assert len([line for line in lines if "optimize:" in line]) == 1, lines
    tried = [line for line in lines if "trying" in line]
    assert len(tried) == 3 and all(re.fullmatch(r"trying -?[0-9.e-]+", t) for t in tried), lines
    logs = [line for line in lines if "INFO" in line]
    assert len(logs) == 12 and all(line.startswith("INFO - quadratic - ") for line in logs)


def test_the_queue_launcher_writes_its_lines_above_the_bar(tmp_path):
    code, shown = in_a_shell(sweep_cli(tmp_path, "--launcher", "queue"), cwd=ROOT)
    lines = screen(shown)
    assert code == 0, shown
    queued = [line for line in lines if "INFO" in line]
    assert len(queued) == 8, lines
    assert all(
        re.fullmatch(
            r"INFO - chatty - (Queuing-up command 'main'|Queued-up run with ID \"\d\")", line
        )
        for line in queued
    ), lines
    assert len([line for line in lines if line.startswith("sweep:")]) == 1
