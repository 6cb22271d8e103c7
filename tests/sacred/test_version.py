"""This project's version: told apart from the original's 0.8.7, yet at least 0.8.7 for code
that compares versions, and recorded as such in every run."""

import json
import subprocess
import sys
from importlib import metadata

from packaging.version import Version

import sacred
from sacred.__about__ import __version__


def test_the_version_is_not_the_originals_but_compares_above_it():
    assert sacred.__version__ == __version__ == "0.9.0"
    assert Version(__version__) > Version("0.8.7")
    assert Version(__version__) < Version("1")


def test_the_installed_distribution_carries_the_same_version():
    # what run.json records comes from the distribution's metadata (pip install -e . writes it)
    assert metadata.version("sacred") == __version__


def test_a_run_records_this_version_among_its_dependencies(tmp_path):
    script = tmp_path / "exp.py"
    script.write_text(
        "from sacred import Experiment\n"
        "ex = Experiment('v')\n"
        "@ex.automain\n"
        "def main():\n"
        "    return 1\n"
    )
    done = subprocess.run(
        [sys.executable, str(script), "-F", str(tmp_path / "runs")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    run = json.loads((tmp_path / "runs" / "1" / "run.json").read_text())
    assert "sacred==0.9.0" in run["experiment"]["dependencies"]


def test_the_tinydb_observer_names_this_version():
    from sacred.observers.tinydb_hashfs.observer import TinyDbObserver

    assert TinyDbObserver.VERSION == "TinyDbObserver-0.9.0"
