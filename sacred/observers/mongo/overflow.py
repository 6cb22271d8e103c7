"""How the run document stays below MongoDB's 16 MB limit, and how to read it back.

When the run document would grow past ``DOCUMENT_BUDGET`` bytes, its largest fields among
``captured_out``, ``info``, ``result``, ``config`` and ``fail_trace`` move to GridFS, one
after the other until it fits. ``run["overflow"][field]`` holds the id of the GridFS file
with the whole value: UTF-8 text for ``captured_out`` (file name
``captured_out://<runs>/<id>``; later output is appended to its chunks), JSON for the
others (``<field>://<runs>/<id>``). The field in the document keeps a short stand-in:
a notice plus the last characters for ``captured_out``, ``{"metrics": [...]}`` for
``info`` (so dashboards still find the metrics), ``None``/``{}``/``[notice]`` otherwise.

``read_run(runs, run_id)`` (public through ``sacred.observers.mongo``) returns the document
with every moved field whole. Long metrics: ``sacred.observers.mongo.metrics``.
"""

import json

from sacred.observers.mongo.driver import _import_mongo, bson_size, ignore_errors, utf8

MOVABLE = ("captured_out", "info", "result", "config", "fail_trace")
TAIL = 10_000  # characters of output kept in the document once it moved to GridFS
_CHUNK = 255 * 1024  # GridFS chunk size of the appendable output file


def output_notice(filename) -> str:
    """The first line of ``captured_out`` once the output moved to GridFS file ``filename``."""
    return (
        f"[The output is too large for the run document. The whole output is in "
        f"GridFS file {filename!r} (run['overflow']['captured_out']). "
        f"Its last {TAIL} characters:]\n"
    )


class AppendableFile:
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


class FieldOverflow:
    """The size of one run document and the fields of it that live in GridFS.

    ``where`` gives the runs collection (its name and database) and the GridFS, ``entry`` is
    the run document in memory (its ``_id`` names the files), ``moved`` the run's
    ``overflow`` map when the run is resumed. ``sizes`` holds the BSON bytes of each movable
    field (of its stand-in once moved) and of the rest (``"_rest"``).
    """

    def __init__(self, where, entry, moved=None):
        self.where = where
        self.entry = entry
        self.sizes = {}
        self.moved = moved if moved is not None else {}  # field -> GridFS file id
        self.output_file = None  # AppendableFile once the output moved to GridFS
        if "captured_out" in self.moved:
            self.output_file = self._make_output_file(self.moved["captured_out"])

    # ------------------------------------------------------------ sizes
    def measure(self):
        """Measure every field of the document."""
        for field in MOVABLE:
            if field in self.entry:
                self.sizes[field] = bson_size(self.entry[field])
        self.measure_rest()

    def measure_field(self, field):
        self.sizes[field] = bson_size(self.entry[field])

    def measure_rest(self):
        self.sizes["_rest"] = bson_size({k: v for k, v in self.entry.items() if k not in MOVABLE})

    def measure_output(self, nbytes):
        """The output's UTF-8 size, while it is in the document."""
        if "captured_out" not in self.moved:
            self.sizes["captured_out"] = nbytes

    def is_moved(self, field) -> bool:
        return field in self.moved

    def output_length_unknown(self):
        """After an error: the output file is rewritten whole with the next save."""
        if self.output_file is not None:
            self.output_file.length = None

    # ------------------------------------------------------------ moving
    def move_oversized(self, budget) -> list:
        """Choose fields to move until the document fits ``budget``; returns them.

        They are written by ``write`` (the caller marks them as changed).
        """
        moved = []

        def total():
            return sum(self.sizes.values())

        while total() > budget:
            inline = [f for f in MOVABLE if f not in self.moved and f in self.sizes]
            if not inline:
                break
            field = max(inline, key=lambda f: self.sizes[f])
            self.moved[field] = None  # a GridFS file is written by write()
            moved.append(field)
            self.sizes[field] = bson_size(self._stand_in(field))
            if field == "captured_out":
                self.output_file = self._make_output_file(None)
        return moved

    def _stand_in(self, field):
        """What a field moved to GridFS keeps in the run document."""
        value = self.entry.get(field)
        if field == "captured_out":
            return "x" * (len(value[-TAIL:]) + 300)  # the notice and the tail
        if field == "info":
            return {"metrics": value["metrics"]} if "metrics" in value else {}
        if field == "config":
            return {}
        if field == "fail_trace":
            name = f"{field}://{self.where.runs.name}/{self.entry['_id']}"
            return [f"[too large: see GridFS file {name}]"]
        return None

    def _make_output_file(self, file_id):
        from bson import ObjectId

        runs = self.where.runs
        filename = f"captured_out://{runs.name}/{self.entry['_id']}"
        return AppendableFile(runs.database, self.where.fs, file_id or ObjectId(), filename)

    def write(self, field, append=None) -> dict:
        """Store a moved field in GridFS; return the document fields to set.

        ``append``: the output added since the last save (written to the end of the file
        when its length is known), else the whole value is written.
        """
        entry = self.entry
        if field == "captured_out":
            out = entry["captured_out"]
            f = self.output_file
            if append is not None and f.length is not None:
                f.append(utf8(append))
            else:
                f.write(utf8(out))
            self.moved[field] = f.id
            notice = output_notice(f.filename)
            return {"captured_out": notice + out[-TAIL:], "overflow.captured_out": f.id}
        fs = self.where.fs
        old = self.moved.get(field)
        value = entry[field]
        file_id = fs.put(
            utf8(json.dumps(value, default=str)),
            filename=f"{field}://{self.where.runs.name}/{entry['_id']}",
            content_type="application/json",
        )
        self.moved[field] = file_id
        if old is not None:
            ignore_errors(fs.delete, old)
        stand_in = self._stand_in(field)
        self.sizes[field] = bson_size(stand_in)
        return {field: stand_in, f"overflow.{field}": file_id}


# ---------------------------------------------------------------- reading
def read_run(runs_collection, run_id, fs=None):
    """The run document with every field that moved to GridFS read back whole."""
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
