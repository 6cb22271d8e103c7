"""Sacred's background threads leave SIGINT and SIGTERM to the main thread, so that a signal
always interrupts the user's blocking call (a long sleep) at once."""

import signal
import sys
import threading

import pytest

from sacred import Experiment
from sacred.observers import FileStorageObserver

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def _blocked(native_id) -> set:
    with open(f"/proc/self/task/{native_id}/status") as f:
        for line in f:
            if line.startswith("SigBlk:"):
                mask = int(line.split()[1], 16)
    return {sig for sig in (signal.SIGINT, signal.SIGTERM) if mask & (1 << (sig - 1))}


def test_heartbeat_and_capture_threads_block_sigint_and_sigterm(tmp_path):
    ex = Experiment("signals")
    ex.observers.append(FileStorageObserver(str(tmp_path / "runs")))
    seen = {}

    @ex.main
    def main():
        import time

        time.sleep(0.3)  # the threads have started
        for thread in threading.enumerate():
            if thread.name in ("sacred-heartbeat", "sacred-fd-capture"):
                seen[thread.name] = _blocked(thread.native_id)
        seen["main"] = _blocked(threading.get_native_id())

    ex.run(options={"--capture": "fd"})
    assert seen["sacred-heartbeat"] == {signal.SIGINT, signal.SIGTERM}
    assert seen["sacred-fd-capture"] == {signal.SIGINT, signal.SIGTERM}
    assert seen["main"] == set()
