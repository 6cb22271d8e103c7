"""How the TinyDbObserver reads and writes its tables (``runs`` and ``metrics``).

``FileTables`` works on ``metadata.json`` itself, for the TinyDB of a JSON file made as
``bases.get_db_file_manager`` makes it (what ``TinyDbObserver(path)`` uses). Going through
TinyDB, each event would read the whole file back through tinydb-serialization (a
``strptime`` for every stored timestamp), deep-copy it and encode and write all of it again:
minutes for a run of millions of metric points. Here the file's tables are kept in memory
as JSON values (the serializers' tagged strings are not decoded), and read again only when
the file's bytes differ from those this object last read or wrote (another writer came in
between: mtime and size alone could miss a write of the same size within the clock's
tick). Only the changed documents are encoded: a metric entry this observer fills keeps its
JSON text and adds the new points to it. The file written is the one TinyDB would write
(``json.dumps`` of the tables, datetimes etc. in tinydb-serialization's tagged forms),
rewritten in place as TinyDB does, so readers holding it open see the new content.

``TinyTables`` goes through TinyDB, for a database with another storage
(``TinyDbObserver.create_from``, e.g. an in-memory TinyDB).

Both are called under the folder's lock (see ``lock``).
"""

from __future__ import annotations

import copy
import datetime as _dt
import json
import os

from tinydb_serialization import _decode_deep, _encode_deep

from sacred.observers.tinydb_hashfs.store_writes import _next_doc_id

__all__ = ("FileTables", "TinyTables", "same_id", "updated_entry")

FIELDS = ("steps", "values", "timestamps")
_PLAIN = frozenset((int, float, str, bool, type(None)))


def same_id(stored, wanted) -> bool:
    """Run ids match as they are, or as text (a worker may hand an id over as text)."""
    return stored == wanted or str(stored) == str(wanted).strip()


def updated_entry(stored: dict, entry: dict, replace=False) -> dict:
    """The stored entry updated with ``entry`` as TinyDB's ``doc.update`` does (key order
    kept). ``replace``: keys ``entry`` lacks are dropped; else the ``meta`` keys others
    added to the stored entry are kept (Sacredboard's tags and notes,
    ``TinyDbStore.update_meta``)."""
    if replace:
        doc = {k: v for k, v in stored.items() if k in entry}
        doc.update(entry)
        return doc
    doc = {**stored, **entry}
    old, own = stored.get("meta"), entry.get("meta")
    if isinstance(old, dict) and isinstance(own, dict):
        doc["meta"] = {**{k: v for k, v in old.items() if k not in own}, **own}
    return doc


def _plain_number(value):
    return value.item() if hasattr(value, "item") else value


class TinyTables:
    """The tables through TinyDB (any storage)."""

    def __init__(self, db):
        self.db = db
        self.runs = db.table("runs")
        self.metrics = {}  # metric name -> [doc id in the metrics table, entry]

    def find_run(self, match):
        """``(doc_id, entry)`` of the first run whose ``_id`` ``match``-es, or ``(None, None)``."""
        from tinydb import Query

        self.runs.clear_cache()
        found = self.runs.search(Query()._id.test(match))
        return (found[0].doc_id, dict(found[0])) if found else (None, None)

    def insert_run(self, entry) -> int:
        self.runs._next_id = None  # other processes may have inserted since
        return self.runs.insert(entry)

    def update_run(self, doc_id, entry, replace=False):
        def change(doc):
            new = updated_entry(dict(doc), entry, replace)
            doc.clear()
            doc.update(new)

        self.runs.update(change, doc_ids=[doc_id])

    def start_metrics(self, run_id=None, remove=False):
        """A new run's metrics: none (``remove``: the stored ones of ``run_id`` removed), or
        with ``run_id`` the stored ones, new points going on after them."""
        from tinydb import Query

        self.metrics = {}
        table = self.db.table("metrics")
        if run_id is None:
            return
        if remove:
            table.remove(Query().run_id == run_id)
            return
        table.clear_cache()
        docs = table.search(Query().run_id.test(lambda v: same_id(v, run_id)))
        for doc in sorted(docs, key=lambda d: d.doc_id):
            stored = {f: list(doc.get(f) or []) for f in FIELDS}
            stored.update(run_id=doc.get("run_id"), name=doc.get("name"))
            self.metrics[doc.get("name")] = (doc.doc_id, stored)

    def add_points(self, run_id, metrics_by_name):
        table = self.db.table("metrics")
        for name, metric in metrics_by_name.items():
            doc_id, entry = self.metrics.get(name, (None, None))
            if entry is None:
                entry = {"run_id": run_id, "name": name, **{f: [] for f in FIELDS}}
            for field in FIELDS:
                entry[field].extend(_plain_number(v) for v in metric[field])
            if doc_id is None:
                table._next_id = None  # other processes may have inserted since
                doc_id = table.insert(entry)
            else:
                table.update(entry, doc_ids=[doc_id])
            self.metrics[name] = (doc_id, entry)


class GrowingDoc:
    """A metric entry this observer adds points to, kept as JSON text: the points are
    encoded once, when they are added (never held as Python objects)."""

    def __init__(self, run_id, name, fields=None):
        self.run_id, self.name = run_id, name
        self._head = f'{{"run_id": {json.dumps(run_id)}, "name": {json.dumps(name)}'.encode()
        self._chunks = {f: [] for f in FIELDS}  # per call: the JSON of its points, no brackets
        if fields:
            self.extend(fields)

    def extend(self, fields):
        """Add the encoded points ``{field: [JSON value]}``."""
        for field, values in fields.items():
            if values:
                self._chunks[field].append(json.dumps(values)[1:-1].encode())

    def pieces(self) -> list:
        """The entry's JSON, in pieces of bytes."""
        out = [self._head]
        for field in FIELDS:
            out.append(f', "{field}": ['.encode())
            for i, chunk in enumerate(self._chunks[field]):
                out += (b", ", chunk) if i else (chunk,)
            out.append(b"]")
        out.append(b"}")
        return out

    def fields(self) -> dict:
        return {f: json.loads(b"[" + b", ".join(self._chunks[f]) + b"]") for f in FIELDS}


class FileTables:
    """The tables of ``path`` (a TinyDB JSON file), kept in memory between events."""

    def __init__(self, path, serializers):
        self.path = path
        self.serializers = serializers  # tag name -> tinydb-serialization Serializer
        self.metrics = {}  # metric name -> [doc id (text), GrowingDoc] of the current run
        self._raw = None  # {table: {doc id: entry}}: the file's JSON (tags not decoded)
        self._bytes = None  # the file's content when _raw was read or written
        self._texts = {}  # (table, doc id) -> (entry, [its JSON]), while it is in _raw

    # ------------------------------------------------------------ the file
    def _tables(self) -> dict:
        with open(self.path, "rb") as f:
            data = f.read()
        if self._raw is None or data != self._bytes:
            raw = json.loads(data) if data.strip() else {}
            if not isinstance(raw, dict):
                raise ValueError(f"{self.path} is not a TinyDB file")
            self._raw, self._bytes, self._texts = raw, data, {}
        return self._raw

    def _table(self, name) -> dict:
        return self._tables().setdefault(name, {})

    def _write(self):
        pieces = [b"{"]
        for i, (name, docs) in enumerate(self._raw.items()):
            pieces += (b", " if i else b"", json.dumps(name).encode(), b": {")
            for j, (doc_id, doc) in enumerate(docs.items()):
                pieces += (b", " if j else b"", json.dumps(doc_id).encode(), b": ")
                pieces += self._pieces(name, doc_id, doc)
            pieces.append(b"}")
        pieces.append(b"}")
        data = b"".join(pieces)
        with open(self.path, "r+b") as f:  # in place, as TinyDB writes: readers keep it open
            f.write(data)
            f.truncate()
            f.flush()
            os.fsync(f.fileno())
        self._bytes = data

    def _pieces(self, table, doc_id, doc) -> list:
        if isinstance(doc, GrowingDoc):
            return doc.pieces()
        known = self._texts.get((table, doc_id))
        if known is None or known[0] is not doc:  # entries in _raw are replaced, not changed
            known = self._texts[(table, doc_id)] = (doc, [json.dumps(doc).encode()])
        return known[1]

    def _encode(self, value):
        """``value`` (which this changes: give a copy) as tinydb-serialization writes it."""
        for name, serializer in self.serializers.items():
            _encode_deep(value, serializer, f"{{{name}}}:", serializer.OBJ_CLASS)
        return value

    def _decode(self, doc) -> dict:
        doc = copy.deepcopy(doc)
        for name, serializer in self.serializers.items():
            _decode_deep(doc, serializer, f"{{{name}}}:")
        return doc

    # ------------------------------------------------------------ runs
    def find_run(self, match):
        for doc_id, doc in self._table("runs").items():
            if isinstance(doc, dict) and match(doc.get("_id")):
                return int(doc_id), self._decode(doc)
        return None, None

    def insert_run(self, entry) -> int:
        runs = self._table("runs")
        doc_id = _next_doc_id(runs)
        runs[str(doc_id)] = self._encode(copy.deepcopy(entry))
        self._write()
        return doc_id

    def update_run(self, doc_id, entry, replace=False):
        runs = self._table("runs")
        stored = runs.get(str(doc_id))
        stored = stored if isinstance(stored, dict) else {}
        runs[str(doc_id)] = updated_entry(stored, self._encode(copy.deepcopy(entry)), replace)
        self._write()

    # ------------------------------------------------------------ metrics
    def start_metrics(self, run_id=None, remove=False):
        self.metrics = {}
        if run_id is None:
            return
        table = self._table("metrics")
        if remove:
            gone = [k for k, d in table.items() if _get(d, "run_id") == run_id]
            for doc_id in gone:
                del table[doc_id]
            if gone:
                self._write()
            return
        mine = [(int(k), k, d) for k, d in table.items() if same_id(_get(d, "run_id"), run_id)]
        for _, doc_id, doc in sorted(mine, key=lambda m: m[0]):
            stored = doc.fields() if isinstance(doc, GrowingDoc) else doc
            fields = {f: list(stored.get(f) or []) for f in FIELDS}
            grown = GrowingDoc(_get(doc, "run_id"), _get(doc, "name"), fields)
            self.metrics[_get(doc, "name")] = (doc_id, grown)

    def add_points(self, run_id, metrics_by_name):
        table = self._table("metrics")
        for name, metric in metrics_by_name.items():
            doc_id, doc = self.metrics.get(name, (None, None))
            if doc is None:
                doc_id, doc = str(_next_doc_id(table)), GrowingDoc(run_id, name)
            doc.extend({f: self._points(metric[f]) for f in FIELDS})
            table[doc_id] = doc
            self.metrics[name] = (doc_id, doc)
        self._write()

    def _points(self, items) -> list:
        """Metric values as the serializers write them; datetimes (the timestamps) the
        fast way when the serializer is ours (its strftime gives the same text)."""
        from sacred.observers.tinydb_hashfs.bases import DateTimeSerializer

        items = list(items)
        kinds = set(map(type, items))
        if kinds <= _PLAIN:
            return items
        fast_dates = type(self.serializers.get("TinyDate")) is DateTimeSerializer
        if fast_dates and kinds == {_dt.datetime}:
            if all(t.tzinfo is None and t.year >= 1000 for t in items):
                return ["{TinyDate}:" + t.isoformat(timespec="microseconds") for t in items]
        out, plain = [], True
        for v in items:
            kind = type(v)
            if kind in _PLAIN:
                out.append(v)
            elif kind is _dt.datetime and fast_dates and v.tzinfo is None and v.year >= 1000:
                out.append("{TinyDate}:" + v.isoformat(timespec="microseconds"))
            else:
                v = _plain_number(v)  # numpy numbers
                out.append(v)
                plain = plain and type(v) in _PLAIN
        return out if plain else self._encode(out)


def _get(doc, key):
    if isinstance(doc, GrowingDoc):
        return {"run_id": doc.run_id, "name": doc.name}.get(key)
    return doc.get(key) if isinstance(doc, dict) else None
