"""Progress bars of long operations: ``sacred export``, ``sacred sync``, ``sacred sweep``
(and ``sacred.launch.sweep.sweep``), ``LabAssistant.optimize`` and ``backfill_metric_chunks``.

A bar is drawn on stderr by tqdm when stderr is a terminal, or when ``--progress`` (or
``progress=True`` in Python) asks for one; in a pipe (CI, scripts) nothing is drawn, and
``progress=False`` never draws one. tqdm is optional (``pip install "sacred[progress]"``)
and imported only when a bar is drawn: without it there is no bar, and asking for one says
so in one line.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shutil
import socket
import sys
import tempfile
import threading

__all__ = ("progress_bar", "bar_for", "above_bars", "OutputRelay", "relayed", "relay_for_tasks")


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        pass

    def external_write_mode(self, file=None, nolock: bool = False):
        return contextlib.nullcontext()

    def close(self) -> None:
        pass


def progress_bar(
    total, desc: str, asked: bool = False, unit: str = "run", *, option: str = "--progress"
):
    """An object with ``update(n)`` and ``close()``: a tqdm bar on stderr, or nothing.

    ``total`` is a number, or a function giving it (called only if a bar is drawn). Also
    ``set_postfix_str(text)``, and ``external_write_mode()``: a context in which lines can be
    printed to stdout or stderr without garbling the bar. ``option`` names what asked for
    the bar in the warning given without tqdm.
    """
    stream = sys.stderr
    on_terminal = hasattr(stream, "isatty") and stream.isatty()
    if not (asked or on_terminal):
        return _NoBar()
    try:
        from tqdm import tqdm
    except ImportError:
        if asked:
            stream.write(
                f"sacred: warning: {option} needs tqdm, which is not installed: "
                'pip install "sacred[progress]"\n'
            )
        return _NoBar()
    if callable(total):
        total = total()
    return tqdm(total=total, desc=desc, unit=unit, file=stream, leave=True, dynamic_ncols=True)


def bar_for(progress, total, desc: str, unit: str = "run", option: str = "progress=True"):
    """The bar of a Python function's ``progress`` argument: ``None`` draws one when stderr
    is a terminal, ``True`` always, ``False`` never; a bar (from ``progress_bar``) is used
    as it is."""
    if progress is None or isinstance(progress, bool):
        if progress is False:
            return _NoBar()
        return progress_bar(total, desc, asked=progress is True, unit=unit, option=option)
    return progress


# Output of other processes (runs in a launcher's workers) while a bar is drawn. Those
# processes would write to the same terminal, in the middle of the bar's line; instead, for
# the length of a task, their fds 1 and 2 go to a socket of an ``OutputRelay`` here, which
# writes whole lines above the bar. Without a bar nothing is relayed: output goes as before.


def drawing() -> bool:
    """Whether a tqdm bar is drawn in this process now."""
    tqdm = getattr(sys.modules.get("tqdm"), "tqdm", None)
    return bool(getattr(tqdm, "_instances", None))


def above_bars(stream=None):
    """A context in which this process can write to ``stream`` (default stderr) without
    garbling a bar drawn now."""
    if not drawing():
        return contextlib.nullcontext()
    return sys.modules["tqdm"].tqdm.external_write_mode(file=stream or sys.stderr)


def _write_lines(stream, data: bytes) -> None:
    if stream is None:
        return
    with above_bars(stream):
        buffer = getattr(stream, "buffer", None)
        try:
            if buffer is not None:
                stream.flush()
                buffer.write(data)
                buffer.flush()
            else:
                stream.write(data.decode("utf-8", "replace"))
                stream.flush()
        except (OSError, ValueError):  # the terminal is gone: nowhere to write
            pass


def _same_file(fd_a: int, fd_b: int) -> bool:
    try:
        a, b = os.fstat(fd_a), os.fstat(fd_b)
    except OSError:
        return False
    return (a.st_dev, a.st_ino, a.st_rdev) == (b.st_dev, b.st_ino, b.st_rdev)


class _Pipe:
    """One connection of a task's process: which fds it stands for, and a partial line."""

    def __init__(self):
        self.fds = None  # b"1" (stdout), b"2" (stderr) or b"3" (both, one terminal)
        self.tail = b""

    def write(self, data: bytes, end: bool = False) -> None:
        data = self.tail + data
        if not data:
            return
        cut = len(data) if end or len(data) > _MAX_LINE else data.rfind(b"\n") + 1
        self.tail = data[cut:]
        if cut:
            out = data[:cut]
            stream = sys.stdout if self.fds == b"1" else sys.stderr
            _write_lines(stream, out if out.endswith(b"\n") else out + b"\n")


_MAX_LINE = 1 << 16  # a longer "line" (a child's own bar, binary output) is written as it is


class OutputRelay:
    """Writes here, line by line above the bars, what tasks in other processes of this
    machine write to their fds 1 and 2 while they run inside ``relayed(relay.spec)``.

    ``drain()`` writes all that has arrived: called when a task is reported finished, its
    lines are shown before the report. ``close()`` writes the rest and stops."""

    def __init__(self):
        self._dir = tempfile.mkdtemp(prefix="sacred-out-")
        path = os.path.join(self._dir, "relay")
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(path)
        self._listener.listen(64)
        self._listener.setblocking(False)
        # one connection for both fds when they go to the same file (a terminal), so that
        # the task's stdout and stderr lines keep their order
        self.spec = (path, _same_file(1, 2))
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ, None)
        self._lock = threading.Lock()
        self._stop = False
        self._thread = threading.Thread(target=self._serve, name="sacred-relay", daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stop:
            events = self._selector.select(0.2)
            with self._lock:
                for key, _ in events:
                    self._handle(key)

    def drain(self) -> None:
        with self._lock:
            for _ in range(1000):  # bounded: a task may write without end
                events = self._selector.select(0)
                if not events:
                    return
                for key, _ in events:
                    self._handle(key)

    def _handle(self, key) -> None:
        if key.data is None:  # a task connects
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            conn.setblocking(False)
            self._selector.register(conn, selectors.EVENT_READ, _Pipe())
            return
        conn, pipe = key.fileobj, key.data
        if conn.fileno() < 0:  # closed in the other thread
            return
        try:
            data = conn.recv(1 << 16)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:  # the task ended (and whatever it started that held the fds)
            self._end(conn, pipe)
            return
        if pipe.fds is None:
            pipe.fds, data = data[:1], data[1:]
        pipe.write(data)

    def _end(self, conn, pipe) -> None:
        pipe.write(b"", end=True)
        self._selector.unregister(conn)
        conn.close()

    def close(self) -> None:
        self._stop = True
        self._thread.join()
        self.drain()
        with self._lock:
            for key in list(self._selector.get_map().values()):
                if key.data is not None:
                    self._end(key.fileobj, key.data)
            self._selector.close()
            self._listener.close()
        shutil.rmtree(self._dir, ignore_errors=True)


def relay_for_tasks(relay):
    """``(relay, spec)`` for the next task a launcher submits: while a bar is drawn, a relay
    (``relay`` if there is one already) and the spec a task gives to ``relayed``; else
    ``(relay, None)``."""
    if not drawing() or not hasattr(socket, "AF_UNIX") or os.name == "nt":
        return relay, None
    if relay is None:
        try:
            relay = OutputRelay()
        except OSError:  # no socket here (a read-only temp folder...): output as before
            return None, None
    return relay, relay.spec


@contextlib.contextmanager
def relayed(spec):
    """In a task's process: its fds 1 and 2 go to the ``OutputRelay`` of ``spec`` (None:
    nothing changes) until the end of the block."""
    saved = []
    if spec is not None:
        path, together = spec
        _flush()
        try:
            for fds, name in [((1, 2), b"3")] if together else [((1,), b"1"), ((2,), b"2")]:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
                    conn.connect(path)
                    conn.sendall(name)
                    for fd in fds:
                        saved.append((fd, os.dup(fd)))
                        os.dup2(conn.fileno(), fd)
        except OSError:  # the relay is gone: the output goes where it went
            _restore(saved)
            saved = []
    try:
        yield
    finally:
        if saved:
            _flush()
            _restore(saved)


def call_relayed(spec, fn, args, kwargs):
    """``fn(*args, **kwargs)`` inside ``relayed(spec)``: a top-level function for engines."""
    with relayed(spec):
        return fn(*args, **kwargs)


def _flush():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):
            pass


def _restore(saved):
    for fd, copy in reversed(saved):
        os.dup2(copy, fd)
        os.close(copy)
