#!/usr/bin/env bash
# The main job on the embedded default: runs an example experiment and records it
# in ./runs with the FileStorageObserver (no database server needed).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q -e .
.venv/bin/python examples/03_hello_config_scope.py -F runs with recipient=Bob
echo "Stored in ./runs: $(ls runs | grep -E '^[0-9]+$' | sort -n | tail -1)"
