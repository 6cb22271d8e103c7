"""A SqlObserver whose PostgreSQL is away from the run's start, where each connection attempt
takes long (here: a local server that accepts and says nothing for HOLD seconds, then hangs
up, as a database host that is restarting or behind a stuck proxy).

Before the backoff each event tried the database again and the run waited for it at every
heartbeat; now it is tried with the next event, then after 1, 2, 4, ... seconds (up to
``SqlObserver.outage_retry_interval``), and events in between only go to the journal.
``outage_retry_interval = 0`` gives the old behaviour (a try at every event) for comparison.

    .venv/bin/python bench/bench_sql_outage.py [--beats 20] [--every 0.1] [--hold 1.0]

Prints, for each mode, the median and total time the run's heartbeats took (the run calls
them itself, so it waits for them) and the number of connection attempts the server saw.
Only 127.0.0.1 is used; the server stops when the benchmark ends.
"""

import argparse
import logging
import os
import socket
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sacred import Experiment  # noqa: E402
from sacred.observers import SqlObserver  # noqa: E402


class SlowServer:
    """Accepts connections on 127.0.0.1, holds each ``hold`` seconds, then closes it."""

    def __init__(self, hold):
        self.hold = hold
        self.accepted = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        deadline = time.monotonic() + 600  # bounded, whatever happens
        while not self.stopped.is_set() and time.monotonic() < deadline:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            self.accepted += 1
            threading.Timer(self.hold, conn.close).start()
        self.sock.close()

    def stop(self):
        self.stopped.set()
        self.thread.join()


def run_once(port, beats, every, retry_interval, failure_dir):
    obs = SqlObserver(
        f"postgresql://postgres@127.0.0.1:{port}/postgres",
        failure_dir=failure_dir,
        retry_timeout=0.0,  # the end of the run is not what is measured
    )
    obs.outage_retry_interval = retry_interval
    times = []
    ex = Experiment("outage")
    ex.observers.append(obs)

    @ex.main
    def main(_run):
        for i in range(beats):
            _run.log_scalar("loss", 1.0 / (i + 1), i)
            start = time.perf_counter()
            _run._emit_heartbeat()
            times.append(time.perf_counter() - start)
            time.sleep(every)

    ex.run(options={"--capture": "sys"})
    return times


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--beats", type=int, default=20)
    parser.add_argument("--every", type=float, default=0.1, help="seconds between beats")
    parser.add_argument("--hold", type=float, default=1.0, help="seconds a connection hangs")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for name, interval in (("a try at every event (before)", 0.0), ("backoff (now)", 30.0)):
        server = SlowServer(args.hold)
        try:
            with tempfile.TemporaryDirectory() as failure_dir:
                accepted_before = server.accepted
                times = run_once(server.port, args.beats, args.every, interval, failure_dir)
                tries = server.accepted - accepted_before
        finally:
            server.stop()
        print(
            f"{name:32s} {args.beats} beats: median {statistics.median(times) * 1000:8.1f} ms, "
            f"total {sum(times):6.2f} s, {tries} connections"
        )


if __name__ == "__main__":
    main()
