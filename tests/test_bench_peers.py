"""bench/bench_peers.py runs (at a tiny size) and says which peers are not installed."""

import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

RUNNER = (
    "import os, runpy, sys\n"
    "sys.modules['mlflow'] = None  # a peer that is not installed\n"
    "sys.argv = ['bench_peers.py'] + sys.argv[1:]\n"
    "runpy.run_path(os.path.abspath('bench/bench_peers.py'), run_name='__main__')\n"
)


def test_the_peer_bench_measures_this_project_and_names_missing_peers(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", RUNNER, "--here", "--peers", "sacred,mlflow"]
        + ["--starts", "2", "--scalars", "50", "--runs", "5", "--points", "1000"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, XDG_CACHE_HOME=str(tmp_path)),
    )
    assert done.returncode == 0, done.stderr
    rows = {
        tuple(cell.strip() for cell in line.strip("|").split("|")[:3]): line.split("|")[4].strip()
        for line in done.stdout.splitlines()
        if line.startswith("| ") and not line.startswith("| benchmark")
    }
    number = r"[0-9.]+ m?s"
    for store in ("folder", "sqlite"):
        assert re.fullmatch(f"{number} per run", rows["start-up of an empty run", "sacred", store])
        assert re.fullmatch(rf"{number} \([0-9,]+/s\)", rows["50 scalars", "sacred", store])
        assert re.fullmatch(
            f"cold {number}, warm {number}, result < 0.5: {number}",
            rows["list 5 runs", "sacred", store],
        )
        assert re.fullmatch(
            rf"{number} \({number} with the process and imports\); written: {number} "
            r"\([0-9,]+/s\)",
            rows["cold read of 1,000 points", "sacred", store],
        )
        assert rows[
            "start-up of an empty run", "mlflow", "file" if store == "folder" else store
        ] == ("not installed (mlflow)")
    assert not [row for row in rows if row[1] == "optuna"]  # left out by --peers
    assert "`python bench/bench_peers.py --here --peers sacred,mlflow" in done.stdout
