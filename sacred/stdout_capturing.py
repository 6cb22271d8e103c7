"""Capture what a run prints, while still letting it through to the terminal.

Three modes (``get_stdcapturer``):

* ``no``: nothing is captured;
* ``sys``: ``sys.stdout``/``sys.stderr`` are replaced by streams that write through
  and record (Python-level output only; see ``sacred.capture.streams``);
* ``fd``: file descriptors 1 and 2 are redirected into pipes; a reader thread copies
  the bytes to the original descriptors and records them. This also captures output
  of C code and of child processes. No external ``tee`` process is involved. Python's
  own block-buffered ``sys.stdout``/``sys.stderr`` skip the pipes (see
  ``sacred.capture.fd``).

``with factory() as out:`` yields a ``CapturedStdout``; ``out.get()`` returns the text
written since the previous ``get()`` and may be called from another thread (the
heartbeat) while the main thread prints. The capturer keeps only text that ``get()``
has not returned yet.
"""

import sys
from contextlib import contextmanager

from sacred.capture.fd import python_streams_on_fds, tee_output_fd
from sacred.capture.record import CapturedStdout, flush
from sacred.capture.streams import TeeingStreamProxy, _tee_text_stream, stop_recording
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


def get_stdcapturer(mode=None):
    """``(mode, context manager factory)`` for a capture mode (default: SETTINGS.CAPTURE_MODE).

    By default, ``fd`` becomes ``sys`` where ``sys.stdout``/``sys.stderr`` do not write to
    fds 1 and 2 (a Jupyter kernel, a replaced stream): there the fd capture would record
    nothing of what is printed. A mode asked for by name is kept.
    """
    if mode is None:
        mode = SETTINGS.CAPTURE_MODE
        if mode == "fd" and not python_streams_on_fds():
            mode = "sys"
    capture_options = {"no": no_tee, "fd": tee_output_fd, "sys": tee_output_python}
    if mode not in capture_options:
        raise KeyError(
            f"Unknown capture mode '{mode}'. Available options are {sorted(capture_options)}"
        )
    return mode, capture_options[mode]


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
    tees = sys.stdout, sys.stderr = (
        _tee_text_stream(orig_stdout, out),
        _tee_text_stream(orig_stderr, out),
    )
    try:
        yield out
    finally:
        flush()
        sys.stdout, sys.stderr = orig_stdout, orig_stderr
        for tee in tees:
            stop_recording(tee)
        out.finalize()
