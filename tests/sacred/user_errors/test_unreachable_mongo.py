"""A MongoDB server that cannot be reached: the readers wait a few seconds (configurable),
then say so in one line."""

import os
import subprocess
import sys
import time

import pytest

from sacred.store import StoreError, open_store

pytest.importorskip("pymongo")

URL = "mongodb://127.0.0.1:1/db"  # loopback, a port nothing listens on: refused at once
REASON = "127.0.0.1:1: [Errno 111] Connection refused"


def sacred_tool(*argv, **env):
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "sacred.store.cli", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, **env),
    )
    return done, time.monotonic() - started


def test_runs_list_gives_up_after_a_few_seconds_in_one_line():
    done, took = sacred_tool("runs", "list", URL)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == (
        f"sacred: error: Cannot reach MongoDB at {URL}: {REASON} "
        "(waited 5 s; SACRED_MONGO_TIMEOUT sets how long)\n"
    )
    assert 4 < took < 15


def test_the_wait_is_set_by_an_environment_variable():
    done, took = sacred_tool("runs", "list", URL, SACRED_MONGO_TIMEOUT="1")
    assert done.stderr == (
        f"sacred: error: Cannot reach MongoDB at {URL}: {REASON} "
        "(waited 1 s; SACRED_MONGO_TIMEOUT sets how long)\n"
    )
    assert took < 8


def test_a_bad_wait_is_one_line():
    done, _ = sacred_tool("runs", "list", URL, SACRED_MONGO_TIMEOUT="soon")
    assert done.returncode == 1
    assert done.stderr == (
        "sacred: error: SACRED_MONGO_TIMEOUT must be a number of seconds, not 'soon'\n"
    )


def test_the_url_and_keyword_arguments_win_over_the_default():
    started = time.monotonic()
    with pytest.raises(StoreError) as e:
        open_store(URL + "?serverSelectionTimeoutMS=1500")
    assert time.monotonic() - started < 4
    assert str(e.value) == (
        f"Cannot reach MongoDB at {URL}: {REASON} "
        "(waited 1.5 s; SACRED_MONGO_TIMEOUT sets how long)"
    )
    with pytest.raises(StoreError, match=r"\(waited 0.5 s;"):
        open_store(URL, serverSelectionTimeoutMS=500)


def test_sacredboard_says_it_in_one_line():
    done = subprocess.run(
        [sys.executable, "-m", "sacredboard.cli", "-m", "127.0.0.1:1:db"],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, SACRED_MONGO_TIMEOUT="1"),
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        "Cannot open mongodb://127.0.0.1:1/db: Cannot reach MongoDB at "
        f"mongodb://127.0.0.1:1/db: {REASON} (waited 1 s; SACRED_MONGO_TIMEOUT sets how long)"
    )
