"""The original's dependencies stay installed: tools built on Sacred import them."""

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _declared_dependencies():
    try:
        import tomllib
    except ImportError:  # Python < 3.11: the installed metadata says the same
        from importlib import metadata

        requirements = [r for r in metadata.requires("sacred") or [] if "extra ==" not in r]
    else:
        with open(REPO / "pyproject.toml", "rb") as f:
            requirements = tomllib.load(f)["project"]["dependencies"]
    return {re.split(r"[<>=!~;\[ ]", r, maxsplit=1)[0].lower() for r in requirements}


def test_munch_and_wrapt_are_dependencies_as_in_the_original():
    assert {"munch", "wrapt"} <= _declared_dependencies()


def test_a_tool_built_on_sacred_uses_munch_beside_it(tmp_path):
    # seml's pattern: munchify a config and hand it to an experiment
    script = tmp_path / "tool.py"
    script.write_text(
        "from munch import munchify\n"
        "from sacred import Experiment, SETTINGS\n"
        "ex = Experiment('tool')\n"
        "@ex.config\n"
        "def cfg():\n"
        "    model = {'depth': 2}\n"
        "@ex.main\n"
        "def main(model):\n"
        "    return model['depth']\n"
        "updates = munchify({'model': {'depth': 5}})\n"
        "SETTINGS.HOST_INFO = munchify(dict(SETTINGS.HOST_INFO))  # a Munch fits a group\n"
        "print(updates.model.depth, ex.run(config_updates=updates).result)\n"
    )
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "5 5\n"
