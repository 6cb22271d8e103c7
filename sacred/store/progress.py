"""Progress bars of the ``sacred`` tool's long verbs (``export``, ``sync``).

A bar is drawn on stderr by tqdm when stderr is a terminal, or when ``--progress`` asks for
one; in a pipe (CI, scripts) nothing is drawn. tqdm is optional (``pip install
"sacred[progress]"``) and imported only when a bar is drawn: without it there is no bar,
and ``--progress`` says so in one line.
"""

from __future__ import annotations

import sys

__all__ = ("progress_bar",)


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(total, desc: str, asked: bool = False, unit: str = "run"):
    """An object with ``update(n)`` and ``close()``: a tqdm bar on stderr, or nothing.

    ``total`` is a number, or a function giving it (called only if a bar is drawn).
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
                "sacred: warning: --progress needs tqdm, which is not installed: "
                'pip install "sacred[progress]"\n'
            )
        return _NoBar()
    if callable(total):
        total = total()
    return tqdm(total=total, desc=desc, unit=unit, file=stream, leave=True, dynamic_ncols=True)
