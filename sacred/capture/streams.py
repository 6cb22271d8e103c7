"""The replacement streams of a capture: they write through and record.

``_tee_text_stream`` gives a stream that behaves like the original one (a real
``io.TextIOWrapper`` with its encoding, ``fileno()``, ``isatty()``, ``buffer``, ...):

* over a block-buffered original, ``io.TextIOWrapper`` (C code) collects each
  ``print`` and hands ``_TeeBuffer`` chunks of up to ``_TEXT_CHUNK`` bytes, which it
  passes on and records;
* over an original that passes each write or line on at once (unbuffered, a
  terminal), ``write`` is a closure that records and calls the original's ``write``
  (``_recording_write``), or, over Python's own unbuffered stdout, writes the encoded
  text to its file directly (``_raw_file``).
"""

import codecs
import io
import os
import select
import sys
import threading
import weakref

# sys mode: text is handed on (and recorded) in chunks of this many bytes, unless the
# stream is line buffered or flushed; fewer, larger chunks make capturing cheaper
_TEXT_CHUNK = 1 << 16
# fd mode: Python writes from this size on skip the pipes (see sacred.capture.fd)
_BYPASS_MIN = 1 << 13

_recording_tees = weakref.WeakKeyDictionary()  # tee -> the original's write


def _recording_write(stream, out):
    """A ``write`` that records in ``out`` and passes the text on to ``stream``.

    For streams that hand each write (or each line) on at once: there every ``print``
    makes two writes through to the original stream, so a Python-level ``write`` must
    cost next to nothing. It is a closure, not a method (no bound method per call), set
    on the replacement ``TextIOWrapper`` itself; recording is one ``list.append``, and
    a thread joins the list now and then (``CapturedStdout.start_compacting``).

    The text is recorded first: a write that starts after another one returned (in any
    thread) comes after it in the record. Writes running at the same time in several
    threads may be recorded in another order than the stream got them. A write that
    the stream refuses (not a str, a closed stream) is taken back out of the record.
    """
    parts = out._parts
    forward = stream.write
    raw = _raw_file(stream)
    out.start_compacting()  # joins what is recorded here: no check per write

    if raw is None:

        def write(text):
            parts.append(text)  # (faster than a bound method kept in the closure)
            try:
                return forward(text)
            except BaseException:
                out._take_back(text)
                raise

        return write

    # Python's own unbuffered stdout/stderr: what its write does (encode, one write to
    # the file) without going through it, which costs less than the recording adds
    raw_write, encode, errors = raw.write, str.encode, stream.errors

    def write(text):
        parts.append(text)
        try:
            # strict UTF-8 (no codec name to look up): the stream's bytes, unless the
            # text holds surrogates, which write_failed handles
            raw_write(encode(text))
        except BaseException as error:
            return write_failed(text, error)
        return len(text)

    def write_failed(text, error):
        try:
            if isinstance(error, (TypeError, ValueError)) and (
                not isinstance(text, str) or raw.closed
            ):
                return forward(text)  # not text, or closed: raises the stream's own error
            if isinstance(error, UnicodeEncodeError) and errors != "strict":
                raw_write(encode(text, "utf-8", errors))  # nothing was written yet
                return len(text)
            raise error
        except BaseException:
            out._take_back(text)
            raise

    return write


def _raw_file(stream):
    """The file under ``stream`` if ``stream.write(text)`` is just
    ``file.write(text.encode(...))``, else None.

    That is so for the ``sys.__stdout__``/``sys.__stderr__`` that Python makes when its
    output is unbuffered (PYTHONUNBUFFERED, ``-u``, and not a terminal): a UTF-8
    ``TextIOWrapper`` that writes through to a ``FileIO`` without translating newlines.
    """
    if stream is not sys.__stdout__ and stream is not sys.__stderr__:
        return None  # other streams may translate newlines (not visible from outside)
    raw = getattr(stream, "buffer", None)
    if (
        type(stream) is io.TextIOWrapper
        and "write" not in vars(stream)  # nobody replaced its write
        and stream.write_through
        and type(raw) is io.FileIO
        and os.linesep == "\n"
        and codecs.lookup(stream.encoding).name == "utf-8"
        and stream.errors in ("strict", "surrogateescape")
    ):
        return raw
    return None


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
    for tee in list(_live_tees):
        tee.after_fork()
    for tee, forward in list(_recording_tees.items()):
        tee.write = forward  # nobody joins the child's record: stop recording


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
    if guard is None and _passes_each_write_on(stream):
        # ``print`` finds this instance attribute before TextIOWrapper's own method
        tee.write = _recording_write(stream, out)
        _recording_tees[tee] = stream.write
    return tee


def stop_recording(tee):
    """After a capture: a replacement stream still held somewhere (e.g. by a logging
    handler) writes to the original only; the record is closed."""
    if isinstance(tee, io.TextIOWrapper):
        forward = _recording_tees.pop(tee, None)
        if forward is not None:
            tee.write = forward


def _passes_each_write_on(stream):
    """Whether ``stream`` hands each write (``write_through``, e.g. PYTHONUNBUFFERED) or
    each line (``line_buffering``, a terminal) on at once.

    There the chunks of ``_TeeBuffer`` would be one or two ``print`` calls long, and a
    Python-level ``write`` per chunk costs more than the original's own work: such
    streams get ``_recording_write``, which gives the text to the original stream
    unchanged. It records the text as written, which is what the stream gets where it
    encodes to UTF-8 without replacing anything.
    """
    return (
        isinstance(stream, io.TextIOWrapper)
        and (stream.write_through or stream.line_buffering)
        and codecs.lookup(stream.encoding).name == "utf-8"
        and stream.errors in ("strict", "surrogateescape")
    )


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
