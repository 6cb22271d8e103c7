"""Capture what a run prints, while still letting it through to the terminal.

Three modes (``get_stdcapturer``):

* ``no``: nothing is captured;
* ``sys``: ``sys.stdout``/``sys.stderr`` are replaced by proxies that write through
  and record (Python-level output only);
* ``fd``: file descriptors 1 and 2 are redirected into pipes; a reader thread copies
  the bytes to the original descriptors and records them. This also captures output
  of C code and of child processes. No external ``tee`` process is involved. Python's
  own block-buffered ``sys.stdout``/``sys.stderr`` skip the pipes (see
  ``_FdTee._bypass_pipes_for_python``).

``with factory() as out:`` yields a ``CapturedStdout``; ``out.get()`` returns the text
written since the previous ``get()`` and may be called from another thread (the
heartbeat) while the main thread prints. The capturer keeps only text that ``get()``
has not returned yet.
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

from sacred.settings import SETTINGS

__all__ = (
    "get_stdcapturer",
    "flush",
    "no_tee",
    "tee_output_python",
    "tee_output_fd",
    "CapturedStdout",
    "TeeingStreamProxy",
)

# sys mode: text is handed on (and recorded) in chunks of this many bytes, unless the
# stream is line buffered or flushed; fewer, larger chunks make capturing cheaper
_TEXT_CHUNK = 1 << 16
# fd mode: Python writes from this size on skip the pipes (see _FdTee)
_BYPASS_MIN = 1 << 13
# fd mode: the most read from a pipe at once (also the pipe size we ask for)
_READ_SIZE = 1 << 20
_BATCH_DELAY = 0.002
# how long leaving an fd capture waits for the pipes to close (a child process that
# still holds them, e.g. a backgrounded ``sleep``, would otherwise block forever)
_EOF_TIMEOUT = 1.0
# how long ``get()`` in fd mode waits for the reader thread to catch up
_SYNC_TIMEOUT = 0.5


def get_stdcapturer(mode=None):
    """``(mode, context manager factory)`` for a capture mode (default: SETTINGS.CAPTURE_MODE)."""
    mode = mode if mode is not None else SETTINGS.CAPTURE_MODE
    capture_options = {"no": no_tee, "fd": tee_output_fd, "sys": tee_output_python}
    if mode not in capture_options:
        raise KeyError(
            f"Unknown capture mode '{mode}'. Available options are {sorted(capture_options)}"
        )
    return mode, capture_options[mode]


# ---------------------------------------------------------------- flushing
_libc = None
_libc_loaded = False


def _get_libc():
    """The C library (for ``fflush``), loaded on first use; None where unavailable."""
    global _libc, _libc_loaded
    if not _libc_loaded:
        _libc_loaded = True
        try:
            import ctypes

            if sys.platform == "win32":
                _libc = ctypes.cdll.msvcrt
            else:
                _libc = ctypes.CDLL(None)
            _libc.fflush  # noqa: B018 - check the symbol exists
        except (OSError, AttributeError, ImportError):
            _libc = None
    return _libc


def flush():
    """Flush Python's stdout/stderr and all C stdio buffers (``fflush(NULL)``)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, ValueError, OSError):
            pass  # closed, detached or missing streams have nothing to flush
    libc = _get_libc()
    if libc is not None:
        try:
            libc.fflush(None)
        except (OSError, ValueError):
            pass


# ---------------------------------------------------------------- the recorder
class CapturedStdout:
    """The text captured so far and not yet returned by ``get()``.

    Writes may come from any thread. The text is kept in one string that grows in
    place, so that ``get()`` hands it over without copying it. Many small writes
    (unbuffered output) are first collected in a list and appended together.
    """

    _SMALL = 4096  # writes shorter than this are collected...
    _MERGE_COUNT = 512  # ...and appended once there are this many

    def __init__(self, before_get=None):
        self._lock = threading.Lock()
        self._text = ""
        self._small = []  # recent small writes, not yet appended to _text
        self._closed = False
        # makes pending output visible to ``get()`` (flushes buffers, waits for the reader)
        self._before_get = before_get

    @property
    def closed(self):
        """True once the capture context has been left."""
        return self._closed

    def write(self, text):
        if not text or self._closed:
            return
        with self._lock:
            small = self._small
            if len(text) < self._SMALL:
                small.append(text)
                if len(small) < self._MERGE_COUNT:
                    return
                text = "".join(small)
                small.clear()
            elif small:
                self._append("".join(small))
                small.clear()
            self._append(text)

    def _append(self, text):
        # With `kept` as the only reference, CPython appends in place (realloc)
        # instead of copying all the text kept so far. Called with the lock held.
        kept = self._text
        self._text = ""
        kept += text
        self._text = kept

    def flush(self):
        if self._before_get is not None and not self._closed:
            self._before_get()

    def get(self):
        """The text written since the previous call ("" if there is none)."""
        self.flush()
        with self._lock:
            if self._small:
                self._append("".join(self._small))
                self._small.clear()
            text = self._text
            self._text = ""
        return text

    def finalize(self):
        """Stop recording; text not yet returned by ``get()`` stays available."""
        self._closed = True
        self._before_get = None


class TeeingStreamProxy:
    """A stream that writes through to the wrapped one and also into ``out``.

    Used in ``sys`` mode for streams that are not regular text files; those get a
    faster replacement (see ``_tee_text_stream``). Everything but writing is
    delegated to the wrapped stream.
    """

    def __init__(self, wrapped, out):
        self.__wrapped__ = wrapped
        self._self_out = out

    def __getattr__(self, name):
        return getattr(self.__wrapped__, name)

    def write(self, data):
        result = self.__wrapped__.write(data)
        self._self_out.write(data)
        return result

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        return self.__wrapped__.flush()


class _TeeBuffer:
    """The binary layer under a replacement ``sys.stdout``/``sys.stderr``.

    ``io.TextIOWrapper`` (C code) handles each ``print`` and hands us its bytes in
    chunks of up to ``_TEXT_CHUNK`` bytes; we pass them on to the original stream,
    decode them once and record the text. A Python-level ``write`` per ``print`` would
    make printing twice as slow.
    """

    def __init__(self, stream, out, encoding, errors, guard=None, fileno=None, origin=None):
        self._out = out
        # fd mode: a context manager that records the output waiting in the pipes first
        # (keeping the order), the fd that ``fileno()`` reports (the redirected one), and
        # the stream that writes to it (used in a forked child, see ``after_fork``)
        self._guard = guard
        self._fileno = fileno
        self._origin = origin
        self._encoding = encoding
        self._errors = "surrogateescape" if errors == "surrogateescape" else "replace"
        # UTF-8 is decoded by the C function directly (cheaper for many small writes)
        if codecs.lookup(encoding).name == "utf-8":
            self._decoder = None
        else:
            self._decoder = codecs.getincrementaldecoder(encoding)(self._errors)
        self._undecoded = b""  # the start of a character cut by the end of a write
        # keeps the decoder's state and the order of forwarded and recorded chunks
        # consistent when several threads print (reentrant: a signal handler may print)
        self._lock = threading.RLock()
        self.closed = False
        self._set_stream(stream)
        _live_tees.add(self)

    def _set_stream(self, stream):
        self._stream = stream
        # The bytes are already encoded as the original stream would encode them: hand
        # them to its binary buffer instead of decoding and re-encoding (where the stream
        # does not translate newlines, i.e. not on Windows).
        buffer = getattr(stream, "buffer", None)
        same_encoding = getattr(stream, "encoding", None) == self._encoding
        self._raw = buffer if buffer is not None and same_encoding and os.linesep == "\n" else None
        # what was written to the stream itself goes first; a write-through stream
        # (unbuffered output) never holds any text back
        self._flush_first = not getattr(stream, "write_through", False)

    def after_fork(self):
        """In a forked child: new locks (another thread of the parent may have held ours),
        nothing recorded here (the child's copy of the record is never read), and in fd
        mode writes to the redirected fd again, so that the parent captures them."""
        self._lock = threading.RLock()
        self._out = _Discard()
        self._guard = None
        if self._origin is not None:
            self._set_stream(self._origin)

    def write(self, data):
        with self._lock:
            if self._guard is None:
                self._pass_on(data)
            elif len(data) < _BYPASS_MIN and not self._undecoded:
                # a flush of a line or two (print(..., flush=True), a logging handler):
                # through the pipe, like C output, is cheaper than the order check
                _write_all(self._fileno, data)
            else:
                with self._guard:
                    self._pass_on(data)
                    self._stream.flush()  # before any output that comes through a pipe
        return len(data)

    def _pass_on(self, data):
        text = self._decode(data)
        if self._raw is not None:
            if self._flush_first:
                self._stream.flush()
            self._raw.write(data)
        elif text:
            self._stream.write(text)
        if text:
            self._out.write(text)

    def _decode(self, data):
        if self._decoder is not None:
            return self._decoder.decode(data)
        if self._undecoded:
            data = self._undecoded + data
        text, used = codecs.utf_8_decode(data, self._errors)
        self._undecoded = bytes(data[used:]) if used < len(data) else b""
        return text

    def flush(self):
        try:
            self._stream.flush()
        except (AttributeError, ValueError, OSError):
            pass

    def close(self):
        # the replacement stream is discarded at the end; the original stays open
        self.flush()
        self.closed = True

    def readable(self):
        return False

    def writable(self):
        return True

    def seekable(self):
        return False

    def fileno(self):
        return self._stream.fileno() if self._fileno is None else self._fileno

    def isatty(self):
        return self._stream.isatty()

    @property
    def name(self):
        return getattr(self._stream, "name", "<tee>")

    @property
    def mode(self):
        return "wb"


class _Discard:
    def write(self, text):
        pass


_live_tees = weakref.WeakSet()  # every _TeeBuffer still referenced


def _after_fork_in_child():
    for fd_tee in list(_live_fd_tees):
        fd_tee.after_fork()
    for tee in list(_live_tees):
        tee.after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _tee_text_stream(stream, out, guard=None, fileno=None, origin=None):
    """A stream that behaves like ``stream`` and also records what is written to it.

    ``guard``, ``fileno`` and ``origin``: see ``_TeeBuffer`` (fd mode only).
    """
    if stream is None:  # e.g. pythonw: print() to None does nothing, so leave it
        return None
    encoding = getattr(stream, "encoding", None)
    if not isinstance(encoding, str):
        return TeeingStreamProxy(stream, out)
    try:
        codecs.lookup(encoding)
        errors = getattr(stream, "errors", None) or "strict"
        tee = io.TextIOWrapper(
            _TeeBuffer(stream, out, encoding, errors, guard, fileno, origin),
            encoding=encoding,
            errors=errors,
            newline="\n",  # the original stream translates newlines itself
            line_buffering=bool(getattr(stream, "line_buffering", False)),
            write_through=bool(getattr(stream, "write_through", False)),
        )
    except (LookupError, TypeError, ValueError):
        return TeeingStreamProxy(stream, out)
    tee._CHUNK_SIZE = _TEXT_CHUNK
    return tee


# ---------------------------------------------------------------- modes
@contextmanager
def no_tee():
    """Capture nothing: ``get()`` always returns ""."""
    out = CapturedStdout()
    try:
        yield out
    finally:
        out.finalize()


@contextmanager
def tee_output_python():
    """Capture Python-level writes to ``sys.stdout`` and ``sys.stderr``."""
    out = CapturedStdout(before_get=flush)
    flush()
    orig_stdout, orig_stderr = sys.stdout, sys.stderr
    sys.stdout = _tee_text_stream(orig_stdout, out)
    sys.stderr = _tee_text_stream(orig_stderr, out)
    try:
        yield out
    finally:
        flush()
        sys.stdout, sys.stderr = orig_stdout, orig_stderr
        out.finalize()


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


# ---------------------------------------------------------------- fd helpers
def _write_all(fd, data):
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except BlockingIOError:
            select.select([], [fd], [])
            continue
        except OSError:
            return  # e.g. the terminal or pipe went away: keep recording regardless
        view = view[written:]


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
