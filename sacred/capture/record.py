"""The record of a capture (``CapturedStdout``) and ``flush()``."""

import os
import sys
import threading
import weakref

from sacred.utils import leave_signals_to_main_thread, without_surrogates

# writers that append to the list themselves: a thread joins it this often, when at
# least this many writes wait (bounds the memory that small writes take in the list)
_COMPACT_INTERVAL = 0.1
_COMPACT_MIN = 256
_JOIN_SLICE = 2048  # writes joined at a time onto the text kept (see _join_parts)

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


class CapturedStdout:
    """The text captured so far and not yet returned by ``get()``.

    Writes may come from any thread and take no lock: each is appended to a list
    (one atomic step). The list is joined onto one string that grows in place, so that
    ``get()`` hands the text over without copying it and small writes do not pile up:
    by ``write`` every ``_MAX_PARTS`` writes or at a write of ``_SMALL`` characters or
    more, and by a thread (``start_compacting``) for writers that append to the list
    themselves (see ``sacred.capture.streams``).
    """

    _SMALL = 4096  # a write this long is joined at once...
    _MAX_PARTS = 4096  # ...the others once there are this many

    def __init__(self, before_get=None):
        self._lock = threading.Lock()  # held while the list is joined (not to write)
        self._text = ""
        self._parts = []  # recent writes, not yet joined onto _text
        self._closed = False
        # makes pending output visible to ``get()`` (flushes buffers, waits for the reader)
        self._before_get = before_get
        self._compacting = None  # (stop event, thread) while a thread joins the writes
        _live_records.add(self)

    @property
    def closed(self):
        """True once the capture context has been left."""
        return self._closed

    def write(self, text):
        if not text or self._closed:
            return
        parts = self._parts
        parts.append(text)
        if len(parts) >= self._MAX_PARTS or len(text) >= self._SMALL:
            self._compact()

    def _compact(self):
        """Join the waiting writes; skipped while a ``get()`` holds the lock (it takes
        them itself) or while a signal handler interrupts a join of this thread."""
        if self._lock.acquire(blocking=False):
            try:
                if self._closed:  # a stream replaced during the capture and still used
                    self._parts.clear()
                else:
                    self._join_parts()
            finally:
                self._lock.release()

    def _join_parts(self):
        """Move the waiting writes onto ``_text``; called with the lock held.

        Other threads may append meanwhile: only the first ``n`` parts are taken. The
        last one is appended on its own, so that a large write (see ``write``) is not
        copied by a join.
        """
        parts = self._parts
        n = len(parts)
        if n:
            # in slices: a small temporary string is cheaper than a large one (a large
            # one is new memory each time, which the kernel hands out page by page)
            for start in range(0, n - 1, _JOIN_SLICE):
                self._append(_joined(parts[start : min(start + _JOIN_SLICE, n - 1)]))
            self._append(_joined(parts[n - 1 : n]))
            del parts[:n]

    def _append(self, text):
        # With `kept` as the only reference, CPython appends in place (realloc)
        # instead of copying all the text kept so far (once this code is specialized,
        # see _warm_up). Called with the lock held.
        text = without_surrogates(text)  # what every store can hold
        kept = self._text
        self._text = ""
        kept += text
        self._text = kept

    def _take_back(self, text):
        """Forget a write that the stream refused (see ``sacred.capture.streams``)."""
        if self._lock.acquire(timeout=1):
            try:
                parts = self._parts
                for i in range(len(parts) - 1, -1, -1):
                    if parts[i] is text:
                        del parts[i]
                        break
            finally:
                self._lock.release()

    def flush(self):
        if self._before_get is not None and not self._closed:
            self._before_get()

    def get(self):
        """The text written since the previous call ("" if there is none)."""
        self.flush()
        with self._lock:
            if self._closed:
                self._parts.clear()  # written after the end: not part of the record
            else:
                self._join_parts()
            text = self._text
            self._text = ""
        return text

    def finalize(self):
        """Stop recording; text not yet returned by ``get()`` stays available."""
        self._stop_compacting_thread()
        with self._lock:
            self._join_parts()
            self._closed = True
            self._before_get = None

    def start_compacting(self, interval=_COMPACT_INTERVAL):
        """Join the writes every ``interval`` seconds in a thread, until ``finalize()``.

        For writers that only append to ``_parts`` (a check per write would cost them
        more than the rest of the recording).
        """
        if self._compacting is None and not self._closed:
            stop = threading.Event()
            thread = threading.Thread(
                target=self._compact_until,
                args=(stop, interval),
                name="sacred-sys-capture",
                daemon=True,
            )
            self._compacting = stop, thread
            thread.start()

    def _compact_until(self, stop, interval):
        leave_signals_to_main_thread()
        parts = self._parts
        while not stop.wait(interval):
            if len(parts) >= _COMPACT_MIN:
                self._compact()

    def _stop_compacting_thread(self):
        compacting, self._compacting = self._compacting, None
        if compacting is not None:
            stop, thread = compacting
            stop.set()
            thread.join()

    def _after_fork(self):
        # in a forked child: nobody reads this copy of the record, so keep nothing (and
        # new lock: another thread of the parent may have held this one)
        self._lock = threading.Lock()
        self._closed = True
        self._before_get = None
        self._compacting = None  # threads do not survive a fork
        self._parts.clear()
        self._text = ""


def _joined(parts):
    try:
        return "".join(parts)
    except TypeError:  # an object that the stream refused, caught between two steps
        return "".join([part for part in parts if isinstance(part, str)])


_live_records = weakref.WeakSet()  # every CapturedStdout still referenced


def _warm_up():
    """Run ``_append`` a few times, so that CPython specializes its ``+=`` (3.11 does it
    from the 8th run on): only the specialized instruction appends in place. A capture
    with few, large joins (one every 0.1 s) would otherwise copy its whole text at each."""
    record = object.__new__(CapturedStdout)
    record._text = ""
    for _ in range(32):
        record._append("x")


_warm_up()


def _after_fork_in_child():
    for record in list(_live_records):
        record._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
