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
import sys

__all__ = ("progress_bar", "bar_for")


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
