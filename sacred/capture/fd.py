"""The ``fd`` capture: file descriptors 1 and 2 go through pipes into the record.

A reader thread copies the bytes to the original descriptors and records them. This
also captures output of C code and of child processes. No external ``tee`` process is
involved. Python's own block-buffered ``sys.stdout``/``sys.stderr`` skip the pipes (see
``_FdTee._bypass_pipes_for_python``).
"""

import codecs
import io
import os
import select
import sys
import threading
import time
import weakref
from contextlib import contextmanager

from sacred.capture.record import CapturedStdout, flush
from sacred.capture.streams import _tee_text_stream, _write_all
from sacred.utils import leave_signals_to_main_thread

# the most read from a pipe at once (also the pipe size we ask for)
_READ_SIZE = 1 << 20
_BATCH_DELAY = 0.002
# how long leaving an fd capture waits for the pipes to close (a child process that
# still holds them, e.g. a backgrounded ``sleep``, would otherwise block forever)
_EOF_TIMEOUT = 1.0
# how long ``get()`` waits for the reader thread to catch up
_SYNC_TIMEOUT = 0.5


class _FdTee:
    """Redirects fds 1 and 2 into pipes; one thread forwards and records the bytes."""

    def __init__(self, out):
        self.out = out
        self.saved = {}  # 1 and 2 -> a copy of the original fd (None if it was closed)
        self.targets = {}  # read end of a pipe -> the saved fd its bytes are copied to
        self.consumed = {}  # read end -> bytes read from it so far
        self.tails = {}  # read end -> bytes after its last newline, not yet recorded
        # held while a chunk is forwarded and recorded (reentrant: a signal handler may
        # print while the main thread is in __enter__)
        self.busy = threading.RLock()
        self.buffer = bytearray(_READ_SIZE)  # reused for every read
        self.thread = None
        self.wake_r = self.wake_w = None
        self.bypassed = {}  # "stdout"/"stderr" -> (the original stream, one to its fd)

    def start(self):
        flush()
        for fd in (1, 2):
            try:
                self.saved[fd] = os.dup(fd)
            except OSError:
                self.saved[fd] = None  # the fd was closed: record, but forward nowhere
        # When stdout and stderr go to the same place (a terminal, `> log 2>&1`), one
        # pipe carries both, so their lines keep the order in which they were written.
        if _same_file(self.saved[1], self.saved[2]):
            groups = [((1, 2), self.saved[1])]
        else:
            groups = [((1,), self.saved[1]), ((2,), self.saved[2])]
        for fds, target in groups:
            read_end, write_end = os.pipe()
            _enlarge_pipe(write_end)
            for fd in fds:
                os.dup2(write_end, fd)
            os.close(write_end)
            self.targets[read_end] = target
            self.consumed[read_end] = 0
            self.tails[read_end] = bytearray()
        self.wake_r, self.wake_w = os.pipe()
        self.thread = threading.Thread(target=self._run, name="sacred-fd-capture", daemon=True)
        self.thread.start()
        self.out._before_get = self.sync
        self._bypass_pipes_for_python()
        _live_fd_tees.add(self)

    def _bypass_pipes_for_python(self):
        """Let Python's own block-buffered ``sys.stdout``/``sys.stderr`` skip the pipes.

        ``print`` makes most of a run's output, and a lot of it where the output goes
        to a file or a pipe (block-buffered). There its text goes to the original fds
        and is recorded as in sys mode, in chunks of ``_TEXT_CHUNK``, at a fraction of
        the cost of a trip through a pipe and the reader thread. What C code, child
        processes or ``os.write`` write still comes through the pipes; before each
        Python write, what waits in them is recorded first (see ``__enter__``), so the
        record keeps the order of writing. Small writes (a flush after a line or two)
        still go into the pipes: there the check would cost more than the pipe.
        ``fileno()`` still gives 1 and 2, so a child started with ``stdout=sys.stdout``
        is captured too.
        """
        try:  # __enter__ must not block on a pipe the reader thread emptied first
            for read_end in self.targets:
                os.set_blocking(read_end, False)
        except (AttributeError, OSError):
            return
        for name, fd in (("stdout", 1), ("stderr", 2)):
            stream = getattr(sys, name)
            if (
                self.saved[fd] is None
                or _fileno(stream) != fd  # e.g. Jupyter's streams: left as they are
                # writes of a line (a terminal) or of a print (unbuffered) would all
                # take the small-write path into the pipe anyway (see _TeeBuffer.write)
                or getattr(stream, "line_buffering", True)
                or getattr(stream, "write_through", True)
            ):
                continue
            try:
                direct = io.TextIOWrapper(
                    io.open(self.saved[fd], "wb", closefd=False),
                    encoding=stream.encoding,
                    errors=stream.errors,
                    line_buffering=stream.line_buffering,
                    write_through=stream.write_through,
                )
            except (AttributeError, LookupError, OSError, TypeError, ValueError):
                continue
            tee = _tee_text_stream(direct, self.out, guard=self, fileno=fd, origin=stream)
            if isinstance(tee, io.TextIOWrapper):
                self.bypassed[name] = (stream, direct)
                setattr(sys, name, tee)

    def after_fork(self):
        """In a forked child: Python's streams write to the pipes again (the parent reads
        and records them), as they did before the bypass."""
        self.busy = threading.RLock()
        for name, (stream, _) in self.bypassed.items():
            setattr(sys, name, stream)

    def _restore_python_streams(self):
        for name, (stream, direct) in self.bypassed.items():
            setattr(sys, name, stream)
            for s in (stream, direct):  # the original while fd 1/2 still leads to a pipe
                try:
                    s.flush()
                except (OSError, ValueError):
                    pass

    def __enter__(self):
        """Before a Python write: record what waits in the pipes (see above)."""
        self.busy.acquire()
        try:
            for read_end in self.targets:
                while _bytes_in_pipe(read_end) and self._read(read_end):
                    pass
            self._commit_tails()
        except BaseException:
            self.busy.release()
            raise

    def __exit__(self, *exc_info):
        self.busy.release()

    def _read(self, read_end):
        """Read, forward and record one chunk; False at the end of the pipe."""
        try:
            size = os.readv(read_end, [self.buffer])
        except BlockingIOError:
            return True
        if not size:
            return False
        self.consumed[read_end] += size
        data = memoryview(self.buffer)[:size]
        target = self.targets[read_end]
        if target is not None:
            _write_all(target, data)
        # Record whole lines only, so that a line printed to stdout in pieces is not
        # cut by a line from stderr; the rest waits for its newline (or for get()).
        # A newline never falls inside a UTF-8 sequence, so whole lines decode alone.
        end = self.buffer.rfind(b"\n", 0, size) + 1
        tail = self.tails[read_end]
        if end:
            if tail:
                tail += data[:end]
                text = tail.decode("utf-8", "replace")
                tail.clear()
            else:
                text = str(data[:end], "utf-8", "replace")
            self.out.write(text)
        tail += data[end:]
        return True

    def _commit_tails(self, final=False):
        """Record the unfinished lines too (but not a character cut in the middle)."""
        for tail in self.tails.values():
            if tail:
                text, used = codecs.utf_8_decode(tail, "replace", final)
                del tail[:used]
                self.out.write(text)

    def _run(self):
        leave_signals_to_main_thread()
        open_ends = list(self.targets)
        last_batch = 0.0
        while open_ends:
            ready, _, _ = select.select(open_ends + [self.wake_r], [], [])
            if self.wake_r in ready:
                break
            with self.busy:
                for read_end in ready:
                    if not self._read(read_end):
                        open_ends.remove(read_end)
            # Under a stream of output, let it pile up in the pipes: a writer that makes
            # many tiny writes (e.g. with PYTHONUNBUFFERED) would otherwise wake this
            # thread for each one, and the fight for the GIL would slow it down.
            now = time.monotonic()
            if now - last_batch < _BATCH_DELAY:
                time.sleep(_BATCH_DELAY)
            last_batch = now
        # stopped while a child process still holds a pipe: take what is there
        with self.busy:
            for read_end in open_ends:
                while select.select([read_end], [], [], 0)[0] and self._read(read_end):
                    pass

    def sync(self, timeout=_SYNC_TIMEOUT):
        """Wait (briefly) until what was written before this call has been recorded.

        Only the bytes already in the pipes count, so continuous output from another
        thread or a child process cannot keep us waiting.
        """
        flush()
        with self.busy:
            goal = {r: self.consumed[r] + _bytes_in_pipe(r) for r in self.targets}
        deadline = time.monotonic() + timeout
        while self.thread.is_alive():
            with self.busy:
                if all(self.consumed[r] >= n for r, n in goal.items()):
                    self._commit_tails()
                    return
            if time.monotonic() > deadline:
                break
            time.sleep(0.0005)
        with self.busy:
            self._commit_tails()

    def stop(self):
        flush()
        self._restore_python_streams()
        _live_fd_tees.discard(self)
        for fd, saved in self.saved.items():
            if saved is not None:
                os.dup2(saved, fd)  # also closes our write end of the pipe
            else:
                os.close(fd)
        self.thread.join(_EOF_TIMEOUT)
        if self.thread.is_alive():
            os.write(self.wake_w, b"x")
            self.thread.join()
        for read_end in self.targets:
            os.close(read_end)
        for saved in self.saved.values():
            if saved is not None:
                os.close(saved)
        self._commit_tails(final=True)
        os.close(self.wake_r)
        os.close(self.wake_w)


_live_fd_tees = weakref.WeakSet()  # fd captures going on


@contextmanager
def tee_output_fd():
    """Capture everything written to fds 1 and 2 (Python, C code, child processes)."""
    out = CapturedStdout()
    tee = _FdTee(out)
    tee.start()
    try:
        yield out
    finally:
        tee.stop()
        out.finalize()


def python_streams_on_fds() -> bool:
    """Whether ``sys.stdout`` and ``sys.stderr`` write to fds 1 and 2 (or to the same files).

    Not so in a Jupyter kernel, whose ``OutStream`` sends text to the notebook (its
    ``fileno()`` is a copy of the kernel's own stdout, or there is none), nor where a stream
    was replaced by one without a file (``io.StringIO``): the fd capture never sees what is
    printed there. A missing stream (``None``) prints nothing, so it does not count.
    """
    for stream, fd in ((sys.stdout, 1), (sys.stderr, 2)):
        if stream is None:
            continue
        number = _fileno(stream)
        if number is None or (number != fd and not _same_file(number, fd)):
            return False
    return True


def _same_file(fd_a, fd_b):
    """Whether two fds write to the same file, pipe or terminal."""
    if fd_a is None or fd_b is None:
        return False
    try:
        a, b = os.fstat(fd_a), os.fstat(fd_b)
    except OSError:
        return False
    return (a.st_dev, a.st_ino, a.st_rdev) == (b.st_dev, b.st_ino, b.st_rdev)


def _fileno(stream):
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError):
        return None


def _bytes_in_pipe(fd):
    """Bytes waiting to be read from a pipe (0 when it cannot be told)."""
    try:
        import fcntl
        import termios

        buf = bytearray(4)
        fcntl.ioctl(fd, termios.FIONREAD, buf)
        return int.from_bytes(buf, sys.byteorder)
    except (ImportError, OSError):
        return 0


def _enlarge_pipe(fd):
    """Fewer context switches for large outputs (Linux only, best effort)."""
    try:
        import fcntl

        if hasattr(fcntl, "F_SETPIPE_SZ"):
            fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, _READ_SIZE)
        elif sys.platform.startswith("linux"):
            fcntl.fcntl(fd, 1031, _READ_SIZE)  # F_SETPIPE_SZ before Python 3.10
    except (ImportError, OSError):
        pass


def _after_fork_in_child():
    for fd_tee in list(_live_fd_tees):
        fd_tee.after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
