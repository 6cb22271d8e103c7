"""LabAssistant.optimize's progress bar: finished trials and the best cost so far, on a
terminal (or with ``progress=True``), never in a pipe; nothing breaks without tqdm."""

import textwrap

from tests.terminal import in_a_pipe, on_a_terminal

SCRIPT = textwrap.dedent(
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
        return (x - 0.25) ** 2 + 1
    """
)


def search(tmp_path, progress):
    script = tmp_path / "quadratic.py"
    script.write_text(SCRIPT.format(location=str(tmp_path / "runs")))
    return (
        "import runpy\n"
        f"a = runpy.run_path({str(script)!r}, run_name='__sacred_script__')['a']\n"
        f"trials = a.optimize(3, progress={progress!r})\n"
        "print([t['status'] for t in trials])\n"
        "print(f\"best={min(t['result'] for t in trials):.6g}\")\n"
    )


def added(err):
    """stderr without the runs' own log lines."""
    return "".join(line for line in err.splitlines(True) if not line.startswith("INFO - "))


STATUSES = "['COMPLETED', 'COMPLETED', 'COMPLETED']"


def check(out):
    """The trials' statuses printed by the search; the best cost as the bar shows it."""
    statuses, best = out.splitlines()
    assert statuses == STATUSES and best.startswith("best=1.")
    return best


def test_on_a_terminal_a_bar_of_trials_with_the_best_cost(tmp_path):
    code, out, shown = on_a_terminal(search(tmp_path, None))
    assert code == 0, shown
    best = check(out)
    assert "optimize: 100%" in shown and "3/3" in shown and best in shown


def test_in_a_pipe_nothing_unless_asked(tmp_path):
    code, out, err = in_a_pipe(search(tmp_path, None))
    assert (code, added(err)) == (0, "")
    check(out)
    code, out, err = in_a_pipe(search(tmp_path, True))
    assert code == 0, err
    best = check(out)
    assert "optimize: 100%" in err and "3/3 [" in err and best in err
    code, out, shown = on_a_terminal(search(tmp_path, False))
    assert code == 0 and "optimize" not in shown
    check(out)


def test_without_tqdm_the_search_runs_and_asking_is_one_hint(tmp_path):
    code, out, err = in_a_pipe(search(tmp_path, True), without_tqdm=True)
    check(out)
    assert (code, added(err)) == (
        0,
        "sacred: warning: progress=True needs tqdm, which is not installed: "
        'pip install "sacred[progress]"\n',
    )
