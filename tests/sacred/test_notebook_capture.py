"""A run started in a Jupyter kernel records what the notebook shows.

The notebook is executed by a real kernel (nbclient + ipykernel). There ``sys.stdout`` is
ipykernel's ``OutStream``, which sends text to the notebook and not to fd 1, so the fd
capture (the default on Linux) would record nothing: the default capture is ``sys`` there.
"""

import json
import textwrap

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

CELLS = [
    """
    import json
    from sacred import Experiment
    from sacred.observers import FileStorageObserver
    from labwatch import LabAssistant
    from labwatch.hyperparameters import UniformFloat

    ex = Experiment("notebook", interactive=True)
    ex.observers.append(FileStorageObserver(RUNS))

    @ex.config
    def cfg():
        lr = 0.5

    @ex.main
    def main(lr):
        print(f"training with lr={lr}")
        return lr
    """,
    """
    run = ex.run()
    """,
    """
    print("captured:", json.dumps(run.captured_out))
    """,
    """
    assistant = LabAssistant(ex, store=RUNS)

    @assistant.search_space
    def space():
        lr = UniformFloat(0.001, 0.1)

    searched = assistant.run_suggestion()
    print("searched:", json.dumps(searched.captured_out))
    """,
]


def test_a_run_in_a_jupyter_kernel_records_its_printed_output(tmp_path):
    runs = tmp_path / "runs"
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(f"RUNS = {str(runs)!r}")] + [
        nbformat.v4.new_code_cell(textwrap.dedent(code).strip()) for code in CELLS
    ]
    client = nbclient.NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    )
    client.execute()

    def shown(cell):  # what the notebook shows of a cell's stdout (the log goes to stderr)
        return "".join(o.text for o in cell.outputs if o.get("name") == "stdout")

    # the print inside the main function shows in the cell that ran it...
    assert "training with lr=0.5\n" in shown(notebook.cells[2])
    # ...and is in the run's record
    assert shown(notebook.cells[3]) == 'captured: "training with lr=0.5\\n"\n'
    cout = (runs / "1" / "cout.txt").read_text()
    assert cout.endswith("training with lr=0.5\n")

    # a Labwatch search run from the notebook too
    printed, searched = shown(notebook.cells[4]).splitlines()
    assert printed.startswith("training with lr=0.0")
    assert searched == f"searched: {json.dumps(printed + chr(10))}"
    record = json.loads((runs / "2" / "config.json").read_text())
    assert (runs / "2" / "cout.txt").read_text() == f"training with lr={record['lr']}\n"
