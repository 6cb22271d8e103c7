"""A run whose observer cannot record its start stops with one line (issue 18)."""

import subprocess
import sys

SCRIPT = """
from sacred import Experiment
ex = Experiment("start_errors")

@ex.automain
def main():
    return 1
"""


def test_an_observer_folder_under_a_file_is_one_line(tmp_path):
    (tmp_path / "exp.py").write_text(SCRIPT)
    (tmp_path / "afile").write_text("not a folder")
    proc = subprocess.run(
        [sys.executable, "exp.py", "-F", str(tmp_path / "afile" / "runs")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "Failed after" not in proc.stderr
    assert "NoneType" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "Error" in line]
    assert errors == [
        "sacred.observers.file_storage.observer.RunFolderError: Cannot make the "
        f"FileStorageObserver folder '{tmp_path / 'afile' / 'runs'}': Not a directory"
    ]


def test_the_observers_that_did_record_the_start_hear_of_the_failure(tmp_path):
    import pytest

    from sacred import Experiment
    from sacred.observers import FileStorageObserver
    from sacred.store import open_store

    (tmp_path / "afile").write_text("")
    ex = Experiment("two_observers")
    ex.main(lambda: 1)
    good = FileStorageObserver(str(tmp_path / "runs"))
    bad = FileStorageObserver(str(tmp_path / "afile" / "runs"))
    bad.priority = good.priority - 1  # after the good one
    ex.observers[:] = [good, bad]
    with pytest.raises(Exception, match="Not a directory"):
        ex.run()
    assert open_store(str(tmp_path / "runs")).get(1)["status"] == "FAILED"
