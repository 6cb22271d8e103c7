"""A binary copy of ``metrics.json`` that a reader can load without parsing JSON.

``metrics.json`` stays the source of truth (its format is the original's). Next to it, the
FileStorageObserver appends every new point of a metric to plain binary files in the hidden
folder ``<run>/.sacred_metrics/`` (never listed as an artifact)::

    manifest.json     which metrics.json these files match, and how many points each has
    <f>.steps         the steps, int64 in the machine's byte order
    <f>.values        the values, float64 ("d") or int64 ("q") in the machine's byte order
    <f>.timestamps    the ISO 8601 text of each timestamp at 26 ASCII bytes
                      (``YYYY-MM-DDTHH:MM:SS.ffffff``, a zero fraction written out)

Runs with fewer than ``MIN_POINTS`` points get no sidecar (their metrics.json is small and
quick to parse); when a run reaches that many, its sidecar starts with the points that
metrics.json has so far, and from then on a heartbeat only appends its new points.

Timestamps are kept as text, not as numbers: the observer formats that text for
metrics.json anyway, so the sidecar costs no conversion per point, and a reader decodes
only the points it returns (a plot of 2,000 out of 1,000,000).

The manifest is replaced after metrics.json has been written. It records metrics.json's
size and ``st_mtime_ns`` and the number of points of each metric, so the files may hold
more points than the manifest says (after a crash between appending and writing
metrics.json): a reader only trusts the manifest while metrics.json still has that size
and time, and then reads only the points counted there. Anything else (no manifest,
another metrics.json, a short file, another byte order) makes the reader parse
metrics.json as before.

A metric whose points are not plain numbers (steps that are not ``int``, values that are
neither all ``float`` nor all ``int``, timestamps that are not naive datetimes) is left out
(``null`` in the manifest): a reader that wants it parses metrics.json.
"""

from __future__ import annotations

import json
import os
import sys
import time
from array import array

from sacred.observers import _jsonio

__all__ = ("DIRNAME", "Column", "SidecarWriter", "read")

DIRNAME = ".sacred_metrics"
MANIFEST = "manifest.json"
VERSION = 1
MIN_POINTS = 2000  # a run gets a sidecar from this many points on (about 150 KB of JSON)
MIN_SIZE = 1 << 18  # readers look for a sidecar from this size of metrics.json on
_WIDTH = _jsonio.ISO_WIDTH


def _int64s(seq, kinds):
    if kinds - {int}:
        return None  # bool is no int here: JSON writes it as true/false
    try:
        return array("q", seq)
    except OverflowError:
        return None


def fixed_from_strings(stamps):
    """The sidecar text of timestamps as metrics.json has them (``isoformat`` strings)."""
    parts = []
    for t in stamps:
        if type(t) is not str:
            return None
        if len(t) == 19:
            t += ".000000"
        elif len(t) != _WIDTH or t.endswith(".000000"):  # would not read back the same
            return None
        parts.append(t)
    try:
        return "".join(parts).encode("ascii")
    except UnicodeEncodeError:
        return None


def _values(seq, kinds):
    """``(typecode, array)`` of plain floats or plain ints, else None."""
    if kinds == {float}:
        return "d", array("d", seq)
    if kinds == {int}:
        data = _int64s(seq, kinds)
        return None if data is None else ("q", data)
    return None


class SidecarWriter:
    """Appends the points the observer adds to metrics.json (see the module docstring).

    It starts (``start``) only once a run has logged ``MIN_POINTS`` points, with the points
    metrics.json already holds: runs with few points get no sidecar at all. Every failure
    only turns the sidecar off; metrics.json is never affected.
    """

    def __init__(self, run_dir):
        self.dir = os.path.join(run_dir, DIRNAME)
        self.entries = {}  # name -> {"file", "count", "values"}, or None: left out
        # file names of this writer: never those of an earlier one that a reader may still
        # be reading (an observer that takes over a run folder starts anew)
        self._tag = f"{os.getpid():x}{time.time_ns():x}-"
        self.active = False
        self.ok = True

    def start(self, saved) -> None:
        """Begin with the points in metrics.json, ``{name: {field: [JSON items as bytes]}}``."""
        self.active = True
        try:
            os.makedirs(self.dir, exist_ok=True)
            self._remove(MANIFEST)  # one from an earlier writer does not describe our files
        except OSError:
            self.ok = False
            return
        for old in os.listdir(self.dir):  # an earlier writer's files (a reader keeps its own)
            try:
                self._remove(old)
            except OSError:
                pass
        for name, fields in saved.items():
            try:
                steps, stamps, values = (
                    json.loads(b"[" + b",".join(fields[f]) + b"]")
                    for f in ("steps", "timestamps", "values")
                )
            except ValueError:
                self.entries[name] = None
                continue
            self.append(name, steps, fixed_from_strings(stamps), values)

    def _remove(self, name):
        try:
            os.remove(os.path.join(self.dir, name))
        except FileNotFoundError:
            pass

    def append(self, name, steps, timestamps_fixed, values, kinds=None) -> None:
        """Add the new points of one metric (``timestamps_fixed`` from isoformat_items_fixed).

        ``kinds`` is ``(set(map(type, steps)), set(map(type, values)))`` if known already.
        """
        if not (self.active and self.ok) or (name in self.entries and self.entries[name] is None):
            return
        entry = self.entries.get(name)
        n = len(steps)
        if entry is None:
            entry = {"file": f"{self._tag}{len(self.entries)}", "count": 0, "values": None}
            self.entries[name] = entry
            new_files = True
        else:
            new_files = False
        if n == 0 and not len(values) and timestamps_fixed == b"":
            if new_files:
                self._write(entry, b"", b"", b"", "wb")
            return
        if kinds is None:
            kinds = set(map(type, steps)), set(map(type, values))
        steps_a = _int64s(steps, kinds[0])
        typed = _values(values, kinds[1])
        if (
            steps_a is None
            or typed is None
            or timestamps_fixed is None
            or len(values) != n
            or len(timestamps_fixed) != _WIDTH * n
            or entry["values"] not in (None, typed[0])
        ):
            self.entries[name] = None  # not plain numbers: readers parse metrics.json
            return
        entry["values"] = typed[0]
        self._write(
            entry,
            steps_a,
            typed[1],
            timestamps_fixed,
            "wb" if new_files else "ab",
        )
        entry["count"] += n

    def _write(self, entry, steps, values, timestamps, mode):  # bytes or arrays
        base = os.path.join(self.dir, entry["file"])
        try:
            for suffix, data in (
                (".steps", steps),
                (".values", values),
                (".timestamps", timestamps),
            ):
                with open(base + suffix, mode) as f:
                    f.write(data)
        except OSError:
            self.fail()

    def commit(self, metrics_json_stat) -> None:
        """Record that the files now match metrics.json as written (its ``os.stat``)."""
        if not (self.active and self.ok):
            return
        manifest = {
            "version": VERSION,
            "byteorder": sys.byteorder,
            "metrics.json": [metrics_json_stat.st_size, metrics_json_stat.st_mtime_ns],
            "metrics": self.entries,
        }
        try:
            _jsonio.write_atomic(os.path.join(self.dir, MANIFEST), json.dumps(manifest))
        except OSError:
            self.fail()

    def fail(self) -> None:
        """Turn the sidecar off for this run (readers then parse metrics.json)."""
        self.ok = False
        if self.active:
            try:
                self._remove(MANIFEST)
            except OSError:
                pass


# ---------------------------------------------------------------------- reading
class Column:
    """The steps or timestamps of a metric, read from their file only where asked for.

    A plot needs a few thousand points of a long metric: ``pick`` reads just those.
    Timestamps are the ISO strings of metrics.json, steps ints.
    """

    __slots__ = ("_path", "_n", "_iso")

    def __init__(self, path, n: int, iso: bool):
        self._path = path
        self._n = n
        self._iso = iso

    def __len__(self):
        return self._n

    def _decode(self, raw: bytes) -> list:
        if not self._iso:
            out = array("q")
            out.frombytes(raw)
            return out.tolist()
        text = raw.decode("ascii")
        out = [text[i : i + _WIDTH] for i in range(0, len(text), _WIDTH)]
        if ".000000" in text:  # isoformat (and so metrics.json) leaves a zero fraction out
            out = [s[:-7] if s.endswith(".000000") else s for s in out]
        return out

    def _width(self):
        return _WIDTH if self._iso else 8

    def pick(self, indices) -> list:
        """The items at ``indices`` (ints in range), as a list."""
        width = self._width()
        parts = []
        with open(self._path, "rb", buffering=0) as f:
            for i in indices:
                if not 0 <= i < self._n:
                    raise IndexError("sidecar column index out of range")
                f.seek(width * i)
                parts.append(f.read(width))
        raw = b"".join(parts)
        if len(raw) != width * len(parts):
            raise ValueError("sidecar file is shorter than its manifest says")
        return self._decode(raw)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return self.pick(range(*i.indices(self._n)))
        if type(i) is not int:
            raise TypeError("sidecar column indices must be integers or slices")
        return self.pick([i + self._n if i < 0 else i])[0]

    def tolist(self) -> list:
        return self._decode(_read_exactly(self._path, self._width() * self._n))

    def __iter__(self):
        return iter(self.tolist())


def _read_exactly(path, size) -> bytes:
    with open(path, "rb") as f:
        data = f.read(size)
    if len(data) != size:
        raise ValueError("sidecar file is shorter than its manifest says")
    return data


def _read_array(path, typecode, n) -> array:
    data = array(typecode, bytes(array(typecode).itemsize * n)) if n else array(typecode)
    with open(path, "rb") as f:  # straight into the array: no second copy
        if n and f.readinto(memoryview(data).cast("B")) != len(data) * data.itemsize:
            raise ValueError("sidecar file is shorter than its manifest says")
    return data


def read(run_dir, size, mtime_ns, names=None):
    """``{name: {"steps", "timestamps", "values"}}`` from the sidecar, or None.

    None unless the sidecar matches the metrics.json of ``size`` and ``mtime_ns`` and holds
    every metric asked for (``names``, default all). Values are an ``array``; steps and
    timestamps (ISO strings, as in metrics.json) ``Column``s read on demand.
    """
    folder = os.path.join(run_dir, DIRNAME)
    try:
        with open(os.path.join(folder, MANIFEST), "rb") as f:
            manifest = json.loads(f.read())
        if (
            manifest.get("version") != VERSION
            or manifest.get("byteorder") != sys.byteorder
            or manifest.get("metrics.json") != [size, mtime_ns]
        ):
            return None
        entries = manifest["metrics"]
        wanted = list(entries) if names is None else [n for n in names if n in entries]
        result = {}
        for name in wanted:
            entry = entries[name]
            if entry is None:
                return None
            n = entry["count"]
            if entry["values"] not in (None, "d", "q") or type(n) is not int or n < 0:
                return None
            if type(entry["file"]) is not str or os.path.basename(entry["file"]) != entry["file"]:
                return None
            base = os.path.join(folder, entry["file"])
            values = _read_array(base + ".values", entry["values"] or "d", n)
            for suffix, width in ((".steps", 8), (".timestamps", _WIDTH)):
                if os.path.getsize(base + suffix) < width * n:
                    return None
            result[name] = {
                "steps": Column(base + ".steps", n, iso=False),
                "timestamps": Column(base + ".timestamps", n, iso=True),
                "values": values,
            }
        return result
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None
