#!/usr/bin/env bash
# The whole test suite, on a fresh machine: makes .venv, installs the project
# with its test extras, starts the real services the tests use (PostgreSQL,
# a local S3 server, a GCS emulator), then lints and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[dev]"
export PATH="$PWD/.venv/bin:$PATH"

.venv/bin/ruff check --no-cache .
.venv/bin/ruff format --no-cache --check .

# headless Chromium for the dashboard's browser tests (Debian's package; never a download)
if ! command -v chromium >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1; } ||
    echo "could not install chromium" >&2
fi

services=$(mktemp -d)
trap 'scripts/services.sh stop "$services"' EXIT
eval "$(scripts/services.sh start "$services")"
# the services were started above, so a test that needs one must not skip
export SACRED_REQUIRE_SERVICES=1
.venv/bin/python -m pytest "$@"
