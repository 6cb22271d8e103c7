"""The test suite's own configuration, as pytest reads it."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_the_slow_marker_is_registered_in_pyproject():
    # registered for every test folder (pyproject.toml), not by one folder's conftest
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--markers", "-p", "no:cacheprovider"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stdout.splitlines() if line.startswith("@pytest.mark.slow:")]
    assert lines == ["@pytest.mark.slow: a long test (more than about 10 s); still run in CI"]
