#!/usr/bin/env bash
# The main job on the embedded default: runs an example experiment and records it
# in ./runs with the FileStorageObserver (no database server needed).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q -e ".[board]"  # with the dashboard (Flask) to look at it
.venv/bin/python examples/03_hello_config_scope.py -F runs with recipient=Bob
run=$(ls runs | grep -E '^[0-9]+$' | sort -n | tail -1)
echo "Stored in ./runs: $run"
echo "See it in the dashboard:  .venv/bin/sacredboard -F runs   (then open run $run)"
echo "Or list the runs:         .venv/bin/sacred runs list runs"
