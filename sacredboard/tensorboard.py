"""Starting TensorBoard on a run's log directories (``info.tensorflow.logdirs``)."""

from __future__ import annotations

import atexit
import os
import re
import select
import shutil
import subprocess
import time

__all__ = (
    "TENSORBOARD_BINARY",
    "TensorboardError",
    "TensorboardNotFoundError",
    "run_tensorboard",
    "stop_all",
    "parse_port",
)

#: the program that is started; tests replace it with a small fake
TENSORBOARD_BINARY = "tensorboard"
_PORT_RE = re.compile(r"at http://[^:]+:([0-9]+)")
_running: list = []


class TensorboardError(Exception):
    pass


class TensorboardNotFoundError(TensorboardError):
    def __init__(self):
        super().__init__(
            "Tensorboard not found on your system. Please install tensorflow first "
            "(pip install tensorboard)."
        )


def parse_port(line: str):
    """The port in a TensorBoard banner line (``... at http://host:6006/``), else None."""
    m = _PORT_RE.search(line)
    return int(m.group(1)) if m else None


def run_tensorboard(
    logdir: str, host: str = "127.0.0.1", port: int = 0, timeout: float = 10
) -> int:
    """Start TensorBoard on ``logdir``; returns the port it listens on."""
    binary = shutil.which(TENSORBOARD_BINARY) or (
        TENSORBOARD_BINARY if os.path.isfile(TENSORBOARD_BINARY) else None
    )
    if binary is None:
        raise TensorboardNotFoundError()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [binary, "--logdir", logdir, "--host", host, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    _running.append(proc)
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stderr], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        line = proc.stderr.readline().decode("utf-8", errors="replace")
        if not line:
            break
        seen.append(line)
        found = parse_port(line)
        if found is not None:
            return found
        if "TensorBoard attempted to bind to port" in line:
            break
    _stop(proc)
    if proc in _running:
        _running.remove(proc)
    output = "".join(seen).strip()
    if time.monotonic() >= deadline:
        raise TensorboardError(f"TensorBoard did not start within {timeout} s. Output: {output!r}")
    raise TensorboardError(f"TensorBoard did not start. Output: {output!r}")


def _stop(proc) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stderr:
        proc.stderr.close()


def stop_all() -> int:
    """Stop every TensorBoard started by this process; returns how many were running."""
    count = 0
    while _running:
        proc = _running.pop()
        count += proc.poll() is None
        _stop(proc)
    return count


atexit.register(stop_all)
