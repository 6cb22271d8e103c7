"""Comparing a rerun with the run it repeats: status, result, final metric values, output.

Each kind is compared on its own and gives rows of a table (one per metric):

* ``status``: the same final status (COMPLETED, FAILED, ...);
* ``result``: equal values, numbers within ``rtol`` (relative; NaN equals NaN), lists and
  tuples alike, numpy and pandas values as their lists;
* ``metric NAME``: the last value of each metric (a metric only one run has differs);
* ``output``: the captured output, line by line, after the volatile parts are taken out
  (``VOLATILE`` below: the lines Sacred logs about the run, progress bars, clock times,
  durations, memory addresses and temporary paths).
"""

from __future__ import annotations

import dataclasses
import math
import re
import tempfile
from typing import Any, Optional

__all__ = (
    "DEFAULT_RTOL",
    "VOLATILE",
    "Row",
    "Comparison",
    "compare",
    "compare_values",
    "stable_output",
    "format_table",
)

DEFAULT_RTOL = 1e-9


def _temp_roots() -> str:
    roots = {"/tmp", "/var/tmp", "/var/folders", "/private/var/folders", tempfile.gettempdir()}
    return "|".join(re.escape(r.rstrip("/\\")) for r in sorted(roots, key=len, reverse=True))


#: ``(name, pattern, replacement)``: a line matching a pattern whose replacement is None is
#: left out; other matches are replaced. Applied in this order, line by line, after each
#: line is cut to what follows its last carriage return (what a terminal shows).
VOLATILE = (
    (
        "Sacred's lines about the run",  # the result is compared on its own
        re.compile(
            r"(?:^|- )(?:Running command '[^']*'|(?:Started|Resumed) run with ID \"[^\"]*\""
            r"|Started|Queued-up run with ID \"[^\"]*\"|Result: .*|Completed after .*"
            r"|Failed after .*|Aborted after .*)$"
        ),
        None,
    ),
    (
        "progress bars",  # tqdm-like: 40%|####  | 4/10 [00:01<00:02, 3.1it/s]
        re.compile(r"\d+%\||\[\d+:\d+(?::\d+)?<|\d(?:it|s)/(?:s|it)\b"),
        None,
    ),
    (
        "temporary paths",
        re.compile(
            rf"(?:{_temp_roots()})[/\\](?:[^\s'\":,;)\]]*[^\s'\":,;)\].])?|[A-Za-z]:\\[^\s]*\\Temp\\[^\s'\":]*"
        ),
        "<tmp>",
    ),
    (
        "dates and clock times",
        re.compile(
            r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
            r"|\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b"
        ),
        "<time>",
    ),
    (
        "durations",
        re.compile(
            r"\b\d+(?:\.\d+)?(?:e-?\d+)?\s?(?:ns|us|µs|ms|s|sec|secs|seconds?|mins?|minutes?"
            r"|h|hours?)\b"
        ),
        "<duration>",
    ),
    ("memory addresses", re.compile(r"\b0x[0-9a-fA-F]{4,}\b"), "<address>"),
)


def stable_output(text: Optional[str], replace: Optional[dict] = None) -> list:
    """The lines of captured output that are compared (see ``VOLATILE``).

    ``replace`` maps texts to what they stand for (the rerun's folder to the run's base_dir).
    """
    text = text or ""
    for old, new in (replace or {}).items():
        if old:
            text = text.replace(old, new)
    lines = []
    for line in text.split("\n"):
        line = line.rsplit("\r", 1)[-1].rstrip()
        keep = True
        for _name, pattern, replacement in VOLATILE:
            if replacement is None:
                if pattern.search(line):
                    keep = False
                    break
            else:
                line = pattern.sub(replacement, line)
        if keep:
            lines.append(line)
    while lines and not lines[-1]:
        lines.pop()
    return lines


# ------------------------------------------------------------------------------ values
def _plain(value):
    """numpy/pandas values as Python ones; tuples as lists; other values as they are."""
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        try:
            return value.tolist()
        except Exception:
            return value
    if hasattr(value, "to_dict") and callable(value.to_dict):
        try:
            return value.to_dict()
        except Exception:
            return value
    if isinstance(value, (tuple, set, frozenset)):
        return list(value) if isinstance(value, tuple) else sorted(value, key=repr)
    return value


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _short(value, width: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def compare_values(
    old: Any, new: Any, rtol: float = DEFAULT_RTOL, where: str = ""
) -> Optional[str]:
    """None when ``old`` and ``new`` match, else where and how they differ (one line)."""
    old, new = _plain(old), _plain(new)
    at = f" at {where}" if where else ""
    if _is_number(old) and _is_number(new):
        if isinstance(old, float) or isinstance(new, float):
            a, b = float(old), float(new)
            if (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=rtol, abs_tol=0.0):
                return None
        elif old == new:
            return None
        return f"{_short(old)} != {_short(new)}{at}"
    if isinstance(old, dict) and isinstance(new, dict):
        if set(map(str, old)) != set(map(str, new)):
            gone = sorted(set(map(str, old)) - set(map(str, new)))
            added = sorted(set(map(str, new)) - set(map(str, old)))
            parts = ([f"missing {', '.join(gone)}"] if gone else []) + (
                [f"new {', '.join(added)}"] if added else []
            )
            return f"keys differ{at}: {'; '.join(parts)}"
        by_text = {str(k): v for k, v in new.items()}
        for key, value in old.items():
            found = compare_values(value, by_text[str(key)], rtol, f"{where}[{key!r}]")
            if found:
                return found
        return None
    if isinstance(old, list) and isinstance(new, list):
        if len(old) != len(new):
            return f"{len(old)} items != {len(new)} items{at}"
        for i, (a, b) in enumerate(zip(old, new)):
            found = compare_values(a, b, rtol, f"{where}[{i}]")
            if found:
                return found
        return None
    if isinstance(old, bool) != isinstance(new, bool):  # True == 1 in Python
        return f"{_short(old)} != {_short(new)}{at}"
    try:
        if old == new:
            return None
    except Exception:
        pass
    return f"{_short(old)} != {_short(new)}{at}"


# ------------------------------------------------------------------------------ table
@dataclasses.dataclass
class Row:
    item: str  # "status", "result", "metric loss", "output"
    matched: bool
    recorded: str
    rerun: str
    detail: str = ""


@dataclasses.dataclass
class Comparison:
    rows: list

    @property
    def matched(self) -> bool:
        return all(r.matched for r in self.rows)

    def row(self, item: str) -> Row:
        return next(r for r in self.rows if r.item == item)

    def differences(self) -> list:
        return [r for r in self.rows if not r.matched]


def _value_text(value) -> str:
    return _short(_plain(value), 30)


def compare(old: dict, new: dict, rtol: float = DEFAULT_RTOL, replace: Optional[dict] = None):
    """Compare two runs given as ``{"status", "result", "metrics": {name: (last, count)},
    "output"}``; ``replace`` is applied to the new output (see ``stable_output``)."""
    rows = [
        Row("status", old["status"] == new["status"], str(old["status"]), str(new["status"])),
    ]
    found = compare_values(old["result"], new["result"], rtol)
    rows.append(
        Row(
            "result",
            found is None,
            _value_text(old["result"]),
            _value_text(new["result"]),
            found or "",
        )
    )
    for name in sorted(set(old["metrics"]) | set(new["metrics"])):
        a, b = old["metrics"].get(name), new["metrics"].get(name)
        if a is None or b is None:
            rows.append(
                Row(
                    f"metric {name}",
                    False,
                    "-" if a is None else _value_text(a[0]),
                    "-" if b is None else _value_text(b[0]),
                    "logged by the recorded run only" if b is None else "logged by the rerun only",
                )
            )
            continue
        found = compare_values(a[0], b[0], rtol)
        detail = found or ""
        if a[1] != b[1]:
            detail = (
                detail + "; " if detail else ""
            ) + f"{a[1]} points recorded, {b[1]} in the rerun"
        rows.append(
            Row(f"metric {name}", found is None, _value_text(a[0]), _value_text(b[0]), detail)
        )
    rows.append(_compare_output(old["output"], new["output"], replace))
    return Comparison(rows)


def _compare_output(old_text, new_text, replace) -> Row:
    a, b = stable_output(old_text), stable_output(new_text, replace)
    counts = (_lines(len(a)), _lines(len(b)))
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return Row(
                "output", False, *counts, f"line {i + 1}: {_short(x, 50)} != {_short(y, 50)}"
            )
    if len(a) != len(b):
        i = min(len(a), len(b))
        extra = a[i] if len(a) > len(b) else b[i]
        who = "recorded run" if len(a) > len(b) else "rerun"
        return Row("output", False, *counts, f"line {i + 1} only in the {who}: {_short(extra, 50)}")
    return Row("output", True, *counts)


def format_table(comparison: Comparison) -> str:
    """The comparison as a text table, differences below it, and a verdict line."""
    header = ("CHECK", "MATCH", "RECORDED", "RERUN")
    body = [(r.item, "yes" if r.matched else "NO", r.recorded, r.rerun) for r in comparison.rows]
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(4)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in [header, *body]]
    differ = comparison.differences()
    for r in differ:
        if r.detail:
            lines.append(f"{r.item}: {r.detail}")
    n = len(comparison.rows)
    if differ:
        lines.append(f"{len(differ)} of {n} checks differ.")
    else:
        lines.append(f"All {n} checks matched.")
    return "\n".join(lines) + "\n"


def _lines(n: int) -> str:
    return f"{n} line" if n == 1 else f"{n} lines"
