"""How the MongoObserver stays below MongoDB's 16 MB document limit, and how to read it back.

* When the run document would grow past ``DOCUMENT_BUDGET`` bytes, its largest fields among
  ``captured_out``, ``info``, ``result``, ``config`` and ``fail_trace`` move to GridFS, one
  after the other until it fits. ``run["overflow"][field]`` holds the id of the GridFS file
  with the whole value: UTF-8 text for ``captured_out`` (file name
  ``captured_out://<runs>/<id>``; later output is appended to its chunks), JSON for the
  others (``<field>://<runs>/<id>``). The field in the document keeps a short stand-in:
  a notice plus the last characters for ``captured_out``, ``{"metrics": [...]}`` for
  ``info`` (so dashboards still find the metrics), ``None``/``{}``/``[notice]`` otherwise.
* A metric document holds at most ``METRIC_DOCUMENT_BUDGET`` bytes; later points go to
  continuation documents ``{_id, name, run_id, part: 1, 2, ..., steps, values, timestamps}``.

``read_run(runs, run_id)`` and ``read_metrics(metrics, run_id)`` (public through
``sacred.observers.mongo``) return everything whole.
"""

from sacred.observers._mongo_bson import _bson_size, _import_mongo, _utf8

_MOVABLE = ("captured_out", "info", "result", "config", "fail_trace")
_CHUNK = 255 * 1024  # GridFS chunk size of the appendable output file
_TAIL = 10_000  # characters of output kept in the document once it moved to GridFS
_POINT_BYTES = 51  # BSON bytes of one metric point (3 array items with keys up to 7 digits)
_NUMBER_TYPES = frozenset((int, float, bool))


def _points_bytes(steps, values) -> int:
    extra = 0
    if not set(map(type, values)) <= _NUMBER_TYPES:
        extra = sum(len(str(v)) + 5 for v in values)
    if not set(map(type, steps)) <= _NUMBER_TYPES:
        extra += sum(len(str(s)) + 5 for s in steps)
    return len(steps) * _POINT_BYTES + extra


def _part(items, start, end):
    if start == 0 and end == len(items):
        return items if isinstance(items, list) else list(items)
    return list(items[start:end])


def _fit(steps, values, start, room):
    """``(end, bytes)``: how many points from ``start`` fit into ``room`` bytes."""
    end = min(len(steps), start + max(room, 0) // _POINT_BYTES)
    if end <= start:
        return start, 0
    size = _points_bytes(_part(steps, start, end), _part(values, start, end))
    while size > room and end > start + 1:  # long strings among the values
        end = start + (end - start) // 2
        size = _points_bytes(_part(steps, start, end), _part(values, start, end))
    return (end, size) if size <= room else (start, 0)


class _AppendableFile:
    """A GridFS file that grows by writing its chunks directly (readers use plain GridFS)."""

    def __init__(self, database, fs, file_id, filename):
        self.chunks = database["fs.chunks"]
        self.files = database["fs.files"]
        self.fs = fs
        self.id = file_id
        self.filename = filename
        self.length = None  # bytes stored; None: unknown, rewrite it
        self.tail = b""  # the last, partial chunk

    def write(self, data: bytes):
        self.length = None
        self.fs.delete(self.id)
        self.fs.put(
            data,
            _id=self.id,
            filename=self.filename,
            content_type="text/plain; charset=utf-8",
            chunkSize=_CHUNK,
        )
        self.length = len(data)
        self.tail = data[len(data) - len(data) % _CHUNK :]

    def append(self, data: bytes):
        from bson import Binary

        if not data:
            return
        length, n = self.length, self.length // _CHUNK
        self.length = None  # unknown until all of it is written
        buf = self.tail + data
        pieces = [buf[i : i + _CHUNK] for i in range(0, len(buf), _CHUNK)]
        first = {"files_id": self.id, "n": n, "data": Binary(pieces[0])}
        if self.tail:
            self.chunks.replace_one({"files_id": self.id, "n": n}, first, upsert=True)
        else:
            self.chunks.insert_one(first)
        if len(pieces) > 1:
            self.chunks.insert_many(
                [
                    {"files_id": self.id, "n": n + i, "data": Binary(p)}
                    for i, p in enumerate(pieces[1:], 1)
                ]
            )
        self.files.update_one({"_id": self.id}, {"$set": {"length": length + len(data)}})
        self.length = length + len(data)
        self.tail = pieces[-1] if len(pieces[-1]) < _CHUNK else b""


class _MongoOverflow:
    """Part of ``MongoObserver``: moving fields to GridFS and writing metric documents."""

    def _move_oversized(self):
        def total():
            return sum(self._sizes.values())

        while total() > self.DOCUMENT_BUDGET:
            inline = [f for f in _MOVABLE if f not in self._overflow and f in self._sizes]
            if not inline:
                return
            field = max(inline, key=lambda f: self._sizes[f])
            self._overflow[field] = None  # a GridFS file is written below
            self._dirty.add(field)
            self._sizes[field] = _bson_size(self._stand_in(field))
            if field == "captured_out":
                self._cout_file = self._make_cout_file(None)

    def _stand_in(self, field):
        """What a field moved to GridFS keeps in the run document."""
        value = self.run_entry.get(field)
        if field == "captured_out":
            return "x" * (len(value[-_TAIL:]) + 300)  # the notice and the tail
        if field == "info":
            return {"metrics": value["metrics"]} if "metrics" in value else {}
        if field == "config":
            return {}
        if field == "fail_trace":
            name = f"{field}://{self.runs.name}/{self.run_entry['_id']}"
            return [f"[too large: see GridFS file {name}]"]
        return None

    def _make_cout_file(self, file_id):
        from bson import ObjectId

        filename = f"captured_out://{self.runs.name}/{self.run_entry['_id']}"
        return _AppendableFile(self.runs.database, self.fs, file_id or ObjectId(), filename)

    def _write_overflow(self, field, append=None):
        """Store a moved field in GridFS; return the document fields to set."""
        entry = self.run_entry
        if field == "captured_out":
            out = entry["captured_out"]
            f = self._cout_file
            if append is not None and f.length is not None:
                f.append(_utf8(append))
            else:
                f.write(_utf8(out))
            self._overflow[field] = f.id
            notice = (
                f"[The output is too large for the run document. The whole output is in "
                f"GridFS file {f.filename!r} (run['overflow']['captured_out']). "
                f"Its last {_TAIL} characters:]\n"
            )
            return {"captured_out": notice + out[-_TAIL:], "overflow.captured_out": f.id}
        import json

        old = self._overflow.get(field)
        value = entry[field]
        file_id = self.fs.put(
            _utf8(json.dumps(value, default=str)),
            filename=f"{field}://{self.runs.name}/{entry['_id']}",
            content_type="application/json",
        )
        self._overflow[field] = file_id
        if old is not None:
            self._ignore_errors(self.fs.delete, old)
        stand_in = self._stand_in(field)
        self._sizes[field] = _bson_size(stand_in)
        return {field: stand_in, f"overflow.{field}": file_id}

    # ------------------------------------------------------------ metrics
    def _push_metric(self, name, metric, info):
        """Append the points of one metric, starting continuation documents when full."""
        steps, values, stamps = metric["steps"], metric["values"], metric["timestamps"]
        n = len(steps)
        if n == 0:
            return
        run_id = self.run_entry["_id"]
        budget = self.METRIC_DOCUMENT_BUDGET
        state = self.saved_metrics.get(name)
        if state is None:
            state = self._find_metric_document(name, run_id)
        start = 0
        while start < n:
            room = budget - state[2] if state is not None else 0
            end, size = _fit(steps, values, start, room)
            if end > start:  # append to the current document
                self.metrics.update_one(
                    {"_id": state[0]},
                    {
                        "$push": {
                            "steps": {"$each": _part(steps, start, end)},
                            "values": {"$each": _part(values, start, end)},
                            "timestamps": {"$each": _part(stamps, start, end)},
                        }
                    },
                )
                state = [state[0], state[1], state[2] + size]
            else:  # a new document: the first one, or a continuation
                end, size = _fit(steps, values, start, budget)
                end = max(end, start + 1)  # a single huge point still goes somewhere
                part = 0 if state is None else state[1] + 1
                doc = {"name": name, "run_id": run_id}
                if part:
                    doc["part"] = part
                doc["steps"] = _part(steps, start, end)
                doc["values"] = _part(values, start, end)
                doc["timestamps"] = _part(stamps, start, end)
                doc_id = self.metrics.insert_one(doc).inserted_id
                state = [doc_id, part, size]
                if part == 0:
                    ref = {"name": name, "id": str(doc_id)}
                    self._metric_refs.append(ref)
                    if info is not None:
                        info.setdefault("metrics", []).append(dict(ref))
            self.saved_metrics[name] = state
            start = end

    def _find_metric_document(self, name, run_id):
        """The last document of a metric the database already has (overwrite, replay)."""
        import pymongo

        if self._fresh_run:
            return None
        docs = list(
            self.metrics.find({"run_id": run_id, "name": name}, {"steps": 1, "part": 1})
            .sort("part", pymongo.DESCENDING)
            .limit(1)
        )
        if not docs:
            return None
        doc = docs[0]
        return [doc["_id"], doc.get("part", 0), len(doc.get("steps", [])) * _POINT_BYTES]


# ---------------------------------------------------------------- reading
def read_run(runs_collection, run_id, fs=None):
    """The run document with every field that moved to GridFS read back whole."""
    import json

    doc = runs_collection.find_one({"_id": run_id})
    if doc is None or not doc.get("overflow"):
        return doc
    if fs is None:
        _, gridfs = _import_mongo()
        fs = gridfs.GridFS(runs_collection.database)
    for field, file_id in doc["overflow"].items():
        data = fs.get(file_id).read().decode("utf-8", "surrogatepass")
        doc[field] = data if field == "captured_out" else json.loads(data)
    return doc


def read_metrics(metrics_collection, run_id):
    """``{name: {"steps", "values", "timestamps"}}`` of a run, continuation parts joined."""
    docs = sorted(
        metrics_collection.find({"run_id": run_id}),
        key=lambda d: (d["name"], d.get("part", 0)),
    )
    result = {}
    for doc in docs:
        metric = result.setdefault(doc["name"], {"steps": [], "values": [], "timestamps": []})
        for field in ("steps", "values", "timestamps"):
            metric[field].extend(doc.get(field, []))
    return result
