"""kill -9 in the middle of a run: what the store got up to the last heartbeat is there."""

import datetime as dt
import os
import signal

import pytest

from sacred.store.base import DEFAULT_DEAD_AFTER
from tests.conformance.backends import MONGOMOCK_IN_MEMORY, kinds, start_child, wait_for

POINTS = 20


@pytest.mark.parametrize(
    "kind", kinds(mongomock=MONGOMOCK_IN_MEMORY, mongomock_queued=MONGOMOCK_IN_MEMORY)
)
def test_a_run_killed_with_sigkill_is_read_back(backend):
    child = start_child(backend, "crash", POINTS)
    try:
        wait_for(backend.path / "ready", [child])
        run_id = (backend.path / "ready").read_text()
        os.kill(child.pid, signal.SIGKILL)
        child.communicate(timeout=30)
    finally:
        child.kill()
    assert child.returncode == -signal.SIGKILL

    with backend.store() as store:
        (found,) = store.find_ids()
        assert str(found) == run_id
        record = store.get(found)
        assert record["status"] == "RUNNING"
        assert record["captured_out"] == "".join(f"step {i}\n" for i in range(POINTS))
        loss = store.metrics(found)["loss"]
        assert loss["steps"] == list(range(POINTS))
        assert loss["values"] == [1 / (i + 1) for i in range(POINTS)]
        assert isinstance(record["heartbeat"], dt.datetime)
        assert store.live_state(record) == "RUNNING"  # it beat a moment ago
        later = record["heartbeat"] + dt.timedelta(seconds=DEFAULT_DEAD_AFTER + 1)
        assert store.live_state(record, now=later) == "PROBABLY_DEAD"
        assert store.find_ids("status == 'RUNNING'") == [found]
