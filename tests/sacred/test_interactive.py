"""An experiment defined and run in notebook cells (a real IPython shell)."""

import json
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("IPython", reason="IPython is part of the dev extra")

SCRIPT = textwrap.dedent(
    '''
    import sys
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    cells = [
        """import sys
    from sacred import Experiment
    from sacred.observers import FileStorageObserver
    ex = Experiment("notebook", interactive=True)
    ex.observers.append(FileStorageObserver(sys.argv[1]))

    @ex.config
    def cfg():
        a = 2  # the factor
        b = a * 10
    """,
        """@ex.main
    def main(a, b, _run):
        _run.log_scalar("loss", 0.5)
        print("in main", a, b)
        return a + b
    """,
        """r = ex.run(config_updates={"a": 3})
    print("RESULT", r.result, r.config["b"], r.status, r._id)
    """,
        """ex.run_commandline("notebook print_config with a=5 -u")""",
    ]
    for cell in cells:
        if not shell.run_cell(cell).success:
            raise SystemExit("cell failed: " + cell)
    '''
)


def test_experiment_defined_in_notebook_cells(tmp_path):
    runs = tmp_path / "runs"
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(runs)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "RESULT 33 30 COMPLETED 1" in proc.stdout
    # print_config from the notebook: the comment became the doc, the update is marked
    assert "\x1b[34m  a = 5                              \x1b[2m# the factor\x1b[0m\x1b[0m" in (
        proc.stdout
    )
    assert "  b = 50\n" in proc.stdout
    run = json.loads((runs / "1" / "run.json").read_text())
    assert run["status"] == "COMPLETED" and run["result"] == 33
    assert run["experiment"]["name"] == "notebook"
    assert run["experiment"]["mainfile"] is None
    assert json.loads((runs / "1" / "config.json").read_text())["b"] == 30
    metrics = json.loads((runs / "1" / "metrics.json").read_text())
    assert metrics["loss"]["values"] == [0.5]
    assert "in main 3 30" in (runs / "1" / "cout.txt").read_text()
