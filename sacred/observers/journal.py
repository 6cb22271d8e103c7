"""The journal: what an observer could not write to its backend, in a local file, and ``sync``
that writes it there later (``sacred sync JOURNAL [STORE]`` on the command line).

The SQL, MongoDB, S3 and Google Cloud Storage observers and the ``QueueObserver`` never fail
a run because their backend is unreachable, at the start or later: what they could not write
goes to a journal in their ``failure_dir`` (a WARNING names it), and ``sync`` applies it to
the store when the backend is back, or to another store of the same kind.

Format: JSON lines, one event a line, in the order the events are to be applied::

    {"journal": "0f6c...", "seq": 12, "run": 7, "event": "log_metrics",
     "kwargs": {"metrics_by_name": {...}, "info": {}}, "store": "mongodb://db:27017/sacred"}

* ``journal``: the identity of the journal (a uuid per journal file, i.e. per run attempt);
* ``seq``: the event's number in its journal, increasing (not necessarily contiguous);
* ``run``: the run's id in the store, or null when the store never got the run;
* ``event``, ``kwargs``: the observer event and its arguments, flattened with
  ``sacred.serializer.flatten`` (read back with ``sacred.safe_restore.safe_restore``: a
  journal is data, never code);
* ``store``: the location the run was meant for (``open_store`` syntax, password masked) and
  ``options`` (keyword arguments of that backend, e.g. a collection ``prefix``), if any;
* ``files``: copies of the files the event names (artifacts, resources, sources), kept in
  the folder ``<journal stem>_files/`` beside the journal, as paths relative to the journal's
  folder: the originals may have changed or be gone by the time the journal is synced;
* further fields a backend needs, e.g. ``delivered`` (the store got this ``started_event``)
  or ``counts`` (points each metric had in the store before this ``log_metrics``).

Applying is idempotent by event identity: each backend records which events of which journal
it has applied, in a place the original's tools do not look (SQL: the table
``journal_event``; MongoDB: the collection ``journal``; S3/GCS: an object ``.journal/<id>``
under the run), so syncing a journal twice, or a journal whose first events the store got
before it went down, applies every event once. A sync that stops halfway (the store went
away again) is finished by running it again.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import inspect
import json
import logging
import os
import shutil
import uuid
from typing import Any, Optional

from sacred.safe_restore import safe_restore
from sacred.serializer import flatten

__all__ = (
    "Journal",
    "JournalEvent",
    "JournalError",
    "SyncResult",
    "read_journal",
    "journal_paths",
    "sync",
    "apply_through",
    "same_start",
    "EVENTS",
)

logger = logging.getLogger(__name__)

#: the events a journal may hold (anything else makes it unreadable)
EVENTS = (
    "started_event",
    "heartbeat_event",
    "log_metrics",
    "resource_event",
    "artifact_event",
    "completed_event",
    "interrupted_event",
    "failed_event",
)
FINAL_EVENTS = ("completed_event", "interrupted_event", "failed_event")
_KNOWN_FIELDS = (
    "journal",
    "seq",
    "run",
    "event",
    "kwargs",
    "store",
    "options",
    "files",
    "legacy",
)


class JournalError(Exception):
    """A journal that cannot be read or applied (the message is one line)."""


@dataclasses.dataclass
class JournalEvent:
    """One line of a journal, its ``kwargs`` restored and its ``files`` absolute paths."""

    journal: str
    seq: int
    event: str
    kwargs: dict
    run: Any = None
    store: Optional[str] = None
    options: dict = dataclasses.field(default_factory=dict)
    files: dict = dataclasses.field(default_factory=dict)
    extra: dict = dataclasses.field(default_factory=dict)  # delivered, counts, ...

    def file(self, key="filename") -> Optional[str]:
        """The kept copy of the file ``key`` names (or the original path if none was kept)."""
        return self.files.get(key) or (self.kwargs.get(key) if key == "filename" else None)


@dataclasses.dataclass
class SyncResult:
    """What ``sync`` did with one journal."""

    path: str
    run: Any
    applied: int
    skipped: int  # events the store already had
    store: str = ""

    def __str__(self):
        run = "new run" if self.run is None else f"run {self.run}"
        return (
            f"{run}: {self.applied:,} event{'s' if self.applied != 1 else ''} applied, "
            f"{self.skipped:,} already there"
        )


# ---------------------------------------------------------------------------- writing
class Journal:
    """The journal of one run attempt, written to ``directory`` (created when first needed).

    ``prefix`` starts the file's name (e.g. ``sacred_sql_7_``), ``store`` and ``options`` say
    where the run was meant to go. Nothing is written before the first ``write``.
    """

    def __init__(self, directory, prefix="sacred_journal_", store=None, options=None, run=None):
        self.id = uuid.uuid4().hex
        self.directory = os.path.abspath(directory)
        self.prefix = prefix
        self.store = store
        self.options = dict(options or {})
        self.run = run
        self.path = None  # fixed by the first copy or write
        self.written = False  # whether the file holds lines yet
        self._next_seq = 0

    def next_seq(self) -> int:
        """A new sequence number (events get theirs when they happen, written or not)."""
        seq = self._next_seq
        self._next_seq += 1
        return seq

    @property
    def files_dir(self) -> str:
        return self._file_path()[: -len(".jsonl")] + "_files"

    def _file_path(self) -> str:
        if self.path is None:
            stamp = datetime.datetime.now().strftime("%Y%m%dT%H%M%S")
            name = f"{self.prefix}{stamp}_{self.id[:8]}.jsonl"
            self.path = os.path.join(self.directory, name)
        return self.path

    def keep(self, filename) -> str:
        """A private copy of ``filename`` beside the journal (absolute path)."""
        folder = self.files_dir
        os.makedirs(folder, exist_ok=True)
        base = os.path.basename(os.fspath(filename)) or "file"
        # a number never used before in this folder: counting its files would give a
        # removed copy's number again, and overwrite a copy that is still needed
        number = 1 + max((_copy_number(name) for name in os.listdir(folder)), default=-1)
        while True:
            copy = os.path.join(folder, f"{number}_{base}")
            try:
                with open(filename, "rb") as src, open(copy, "xb") as dst:
                    shutil.copyfileobj(src, dst)
                return copy
            except FileExistsError:  # another writer took this number meanwhile
                number += 1

    def forget(self, copy) -> None:
        """Remove a copy made by ``keep`` that is no longer needed (the store got the file)."""
        if copy and self.path and os.path.dirname(copy) == self.files_dir:
            try:
                os.remove(copy)
            except OSError:
                pass

    def line(self, event, kwargs, seq=None, files=None, run=None, **extra) -> dict:
        """The JSON object of one event (``files``: key -> kept copy)."""
        if event not in EVENTS:
            raise ValueError(f"{event!r} is not a journal event")
        record = {
            "journal": self.id,
            "seq": self.next_seq() if seq is None else seq,
            "run": self.run if run is None else run,
            "event": event,
            "kwargs": flatten(dict(kwargs)),
            "store": self.store,
        }
        if self.options:
            record["options"] = self.options
        if files:
            here = self.directory
            record["files"] = {k: os.path.relpath(p, here) for k, p in files.items() if p}
        record.update((k, v) for k, v in extra.items() if v is not None)
        return record

    def write(self, records) -> str:
        """Append ``records`` (from ``line``) to the file; returns its path."""
        path = self._file_path()
        os.makedirs(self.directory, exist_ok=True)
        text = "".join(json.dumps(r, allow_nan=True) + "\n" for r in records)
        with open(path, "a", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        self.written = True
        return path

    def rewrite(self, records) -> str:
        """Replace the file's content with ``records`` (all of the journal), atomically;
        a record may be its JSON text already."""
        path = self._file_path()
        os.makedirs(self.directory, exist_ok=True)
        tmp = f"{path}.tmp{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write("".join(_text(r) + "\n" for r in records))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        self.written = True
        return path

    def remove(self) -> None:
        """Delete the file and its copies (everything reached the store after all)."""
        if self.path is None:
            return
        for target in (self.path, self.files_dir):
            if os.path.isdir(target):
                shutil.rmtree(target, ignore_errors=True)
            elif os.path.exists(target):
                os.remove(target)
        self.path = None
        self.written = False


# ---------------------------------------------------------------------------- reading
def read_journal(path) -> list:
    """The events of the journal ``path``, in order (``JournalError`` if it is not one).

    A last line without its newline (the writer was killed while writing it) is ignored.
    Files named in ``files`` must lie in the journal's ``_files`` folder.
    """
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise JournalError(f"{path}: cannot read the journal: {e}") from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    elif lines:
        logger.warning("%s: the last line is incomplete (ignored)", path)
        lines.pop()
    folder = os.path.dirname(os.path.abspath(path))
    files_dir = os.path.abspath(path)[: -len(".jsonl")] + "_files"
    legacy_id = "legacy-" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:24]
    events, seen, identity = [], set(), None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as e:
            raise JournalError(f"{path}, line {number}: not JSON ({e})") from None
        if isinstance(record, dict) and "journal" not in record and "seq" not in record:
            record = _from_legacy(record, legacy_id, number, folder)
        event = _event_of(record, path, number, folder, files_dir)
        if identity is None:
            identity = event.journal
        elif event.journal != identity:
            raise JournalError(f"{path}, line {number}: a line of another journal")
        if event.seq in seen:
            continue  # written twice: the first one counts
        seen.add(event.seq)
        events.append(event)
    if not events:
        raise JournalError(f"{path}: the journal holds no events")
    events.sort(key=lambda e: e.seq)
    return events


def _from_legacy(record, legacy_id, number, folder) -> dict:
    """A line of the fallback files written before the journal (``{"event", "kwargs"}`` and
    ``run_id``/``url`` (SQL), ``delivered`` (MongoDB, queue), ``file``/``sources`` (S3/GCS)) as
    a journal line: the file's content is its identity, the line number its sequence."""
    out = {k: v for k, v in record.items() if k not in ("run_id", "url", "file", "sources")}
    out.update(journal=legacy_id, seq=number, run=record.get("run_id"), store=record.get("url"))
    kwargs = record.get("kwargs")
    files = {}
    if isinstance(kwargs, dict) and isinstance(kwargs.get("stored_copy"), str):
        kwargs = dict(kwargs)
        files["filename"] = kwargs.pop("stored_copy")
        out["kwargs"] = kwargs
    if isinstance(record.get("file"), str):
        files["filename"] = record["file"]
    sources = record.get("sources")
    for name, copy in sources.items() if isinstance(sources, dict) else ():
        if isinstance(copy, str):
            files[f"source:{name}"] = copy
    out["files"] = {k: os.path.relpath(v, folder) for k, v in files.items()}
    out["legacy"] = True
    return out


def _event_of(record, path, number, folder, files_dir) -> JournalEvent:
    where = f"{path}, line {number}"
    if not isinstance(record, dict):
        raise JournalError(f"{where}: not a journal line")
    journal, seq, event = record.get("journal"), record.get("seq"), record.get("event")
    if not isinstance(journal, str) or not journal:
        raise JournalError(f"{where}: no journal id")
    if type(seq) is not int or seq < 0:
        raise JournalError(f"{where}: no sequence number")
    if event not in EVENTS:
        raise JournalError(f"{where}: unknown event {event!r}")
    kwargs = record.get("kwargs")
    if not isinstance(kwargs, dict):
        raise JournalError(f"{where}: no kwargs")
    kwargs = safe_restore(kwargs, f"{event} kwargs")
    if not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs):
        raise JournalError(f"{where}: kwargs are not keyword arguments")
    files = {}
    # a journal's copies are in its _files folder (older fallback files: below its folder)
    allowed = os.path.realpath(folder if record.get("legacy") else files_dir)
    for key, rel in (record.get("files") or {}).items():
        if not isinstance(rel, str):
            raise JournalError(f"{where}: a file is not a path")
        full = os.path.realpath(os.path.join(folder, rel))
        if os.path.commonpath([full, allowed]) != allowed:
            raise JournalError(f"{where}: the file {rel!r} is outside the journal's folder")
        files[str(key)] = full
    store = record.get("store")
    options = record.get("options") or {}
    if store is not None and not isinstance(store, str):
        raise JournalError(f"{where}: the store is not a location")
    if not isinstance(options, dict):
        raise JournalError(f"{where}: the options are not a mapping")
    run = record.get("run")
    if run is not None and not isinstance(run, (int, str)):
        raise JournalError(f"{where}: the run id is neither a number nor a text")
    extra = {k: v for k, v in record.items() if k not in _KNOWN_FIELDS}
    return JournalEvent(journal, seq, event, kwargs, run, store, options, files, extra)


def journal_paths(paths) -> list:
    """The journal files among ``paths``: files as given, folders by their ``*.jsonl``."""
    found = []
    for path in paths:
        path = os.fspath(path)
        if os.path.isdir(path):
            found.extend(
                os.path.join(path, name)
                for name in sorted(os.listdir(path))
                if name.endswith(".jsonl") and os.path.isfile(os.path.join(path, name))
            )
        else:
            found.append(path)
    return found


# ---------------------------------------------------------------------------- applying
def sync(path, store_or_observer=None, **options) -> SyncResult:
    """Apply the journal ``path`` to a store; returns what was applied.

    ``store_or_observer`` is a store location (``open_store`` syntax, or a pymongo/mongomock
    client), an observer of the backend, or None for the location the journal records.
    ``options`` go to the backend (e.g. ``prefix`` for MongoDB collections); by default the
    journal's own. Raises ``JournalError`` (one line) when the journal cannot be read or the
    store cannot take it; what was applied stays applied, and a new ``sync`` goes on from there.
    """
    events = read_journal(path)
    first = events[0]
    target = store_or_observer
    if target is None:
        target = first.store
        if target is None:
            raise JournalError(
                f"{path}: the journal names no store; give one (sacred sync {path} STORE)"
            )
        if "***" in str(target):
            raise JournalError(
                f"{path}: the journal's store {target} has its password masked; "
                "give the location with the password"
            )
        options = {**first.options, **options}
    try:
        if isinstance(target, (str, os.PathLike)) or _is_client(target):
            if target is not first.store:
                options = {**_same_kind_options(first, target), **options}
            observer = _observer_for(target, options)
        else:
            observer = target
        applier = getattr(observer, "apply_journal", None)
        if applier is None:
            run, applied, skipped = apply_through(observer, events)
        else:
            run, applied, skipped = applier(events)
    except JournalError as e:
        raise JournalError(f"{path}: {e}") from None
    except Exception as e:
        raise JournalError(f"{path}: {_one_line(e)}") from e
    return SyncResult(os.fspath(path), run, applied, skipped, _describe(target))


def _same_kind_options(first, target) -> dict:
    """The journal's options, for a store of the kind the journal was written for; a store
    of another kind is refused (a journal's lines mean what its backend makes of them)."""
    if first.store is None:
        return {}
    recorded, given = _observer_of(first.store), _observer_of(target)
    if recorded and given and recorded != given:
        raise JournalError(
            f"the journal was written for {first.store}; the store must be of that kind"
        )
    return dict(first.options) if recorded == given else {}


def _observer_of(location):
    """The observer class (dotted) that writes ``location``, or None if it is none known."""
    from sacred.store.location import backend_of  # lazy: observers do not load the read side

    try:
        return backend_of("mongodb://" if _is_client(location) else location, "observer").observer
    except Exception:
        return None


def _observer_for(location, options):
    from sacred.store.location import backend_of, load  # lazy: see _same_kind_options

    # a pymongo/mongomock client or database (a subclass too) is a MongoDB location
    backend = backend_of("mongodb://" if _is_client(location) else location, "observer")
    cls = load(backend, "observer")
    opener = getattr(cls, "for_journal", None)
    if opener is None:
        raise JournalError(f"{backend.scheme!r} stores take no journals")
    return opener(location, **options)


def _is_client(obj) -> bool:
    return any(c.__module__.split(".")[0] in ("pymongo", "mongomock") for c in type(obj).__mro__)


def _describe(target) -> str:
    if isinstance(target, (str, os.PathLike)):
        return os.fspath(target)
    return repr(target)


def _one_line(e) -> str:
    text = " ".join(str(e).split())
    if len(text) > 300:
        text = text[:297] + "..."
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def apply_through(observer, events):
    """Deliver ``events`` to any observer by calling its event methods, in order; returns
    ``(run id, applied, 0)``. This knows nothing of event identity: an observer that records
    none (one without ``apply_journal``) gets every event again when synced twice.

    A ``started_event`` marked ``delivered`` goes to ``observer.attach_event`` if it has one;
    one marked ``continued`` (the run continued an existing record) to ``continued_event``.
    """
    run = events[0].run
    count = 0
    for e in events:
        kwargs = dict(e.kwargs)
        if e.event in ("resource_event", "artifact_event") and e.files.get("filename"):
            kwargs["filename"] = e.files["filename"]
        if e.event == "started_event":
            if e.extra.get("delivered") and hasattr(observer, "attach_event"):
                returned = observer.attach_event(**kwargs)
            elif e.extra.get("continued"):  # the run continued a record: never a new one
                returned = observer.continued_event(**kwargs)
            else:
                returned = observer.started_event(**kwargs)
            run = returned if returned is not None else kwargs.get("_id", run)
        elif e.event == "log_metrics" and not _accepts(observer.log_metrics, "metrics_by_name"):
            for name, values in kwargs["metrics_by_name"].items():  # per-metric signature
                observer.log_metrics(name, values, kwargs.get("info", {}))
        else:
            getattr(observer, e.event)(**kwargs)
        count += 1
    join = getattr(observer, "join", None)
    if join is not None:
        join()
    return run, count, 0


def _accepts(method, parameter) -> bool:
    try:
        return parameter in inspect.signature(method).parameters
    except (TypeError, ValueError):
        return True


def same_start(a, b) -> bool:
    """Whether two start times (datetimes or ISO texts) are the same to the millisecond
    (MongoDB keeps milliseconds): a run found under a journal's id is the journal's run."""
    a, b = _as_datetime(a), _as_datetime(b)
    if a is None or b is None:
        return False
    if (a.tzinfo is None) != (b.tzinfo is None):
        a, b = a.replace(tzinfo=None), b.replace(tzinfo=None)
    return abs((a - b).total_seconds()) < 0.001


def _as_datetime(value):
    if isinstance(value, datetime.datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.datetime.fromisoformat(value.rstrip("Z"))
        except ValueError:
            return None
    return None


def _text(record) -> str:
    return record if isinstance(record, str) else json.dumps(record, allow_nan=True)


def _copy_number(name: str) -> int:
    """The number a kept copy's name starts with (-1 for other names)."""
    head = name.partition("_")[0]
    return int(head) if head.isdigit() else -1
