"""``MongoStore``: the read side of the MongoObserver's format (see ``sacred.observers.mongo``).

Filtering, sorting, paging and counting are done by the server (``find(filter).sort()
.skip().limit()``, ``count_documents``) with filters from ``sacred.observers.mongo.query``.
Metric summaries (``metrics.loss.min``) are computed by an aggregation on the metrics
collection that joins a metric's continuation documents (``part``); a query on them becomes
``{"_id": {"$in": [...]}}``. Sorting by a metric summary takes the summaries from the same
aggregation and the sort fields of the matching runs (a projection), orders them here and
fetches the page. No JavaScript (``$where``, ``$function``) is ever sent, and field names
never hold a ``$`` (``sacred.store.query.Field`` refuses them). The operations that evaluate
a query get ``maxTimeMS`` (``query_timeout``), since the server matches regular expressions
with a backtracking engine; running out of it is a QueryError.

Records are whole: fields the observer moved to GridFS (``run["overflow"]``) are read back.

Workers' ``claim``/``claims``: ``sacred.observers.mongo.store_claims``.

``import_run`` writes the observer's layout. MongoDB keeps times in milliseconds, so the
sub-millisecond part of imported times is kept beside them (``_import.time_us`` in the run,
``timestamps_us`` in a metric document) and added back when reading: a run copied
file -> Mongo -> file is the same run.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import sys
from typing import Optional
from urllib.parse import urlsplit

from sacred.observers.mongo.connect import connect
from sacred.observers.mongo.driver import force_bson_encodeable
from sacred.observers.mongo.files import mimetype_detector
from sacred.observers.mongo.metrics import fit
from sacred.observers.mongo.overflow import MOVABLE, TAIL, output_notice, read_run
from sacred.observers.mongo.query import MongoTranslator, compare_filter
from sacred.observers.mongo.store_claims import MongoStoreClaims
from sacred.store import query as q
from sacred.store.base import (
    RunNotFoundError,
    RunStore,
    StoreError,
    _check_limit,
    _check_skip,
    decode_stored,
    merge_meta,
    to_naive_utc,
)

__all__ = ("MongoStore",)

_DATE_KEYS = ("start_time", "stop_time", "heartbeat", "queue_time")
_HIDDEN = ("overflow", "_import")  # bookkeeping fields, not part of a record
_NAN = float("nan")


def _summary_stages(match: dict) -> list:
    """Aggregation stages giving ``{_id: {run_id, name}, count, first, last, min, max}``.

    min and max are over the numbers of a metric (no NaN, no booleans), like
    ``sacred.store.base.metric_summary``; continuation documents are joined in order.
    """
    numbers = {
        "$filter": {
            "input": "$values",
            "cond": {"$and": [{"$isNumber": "$$this"}, {"$ne": ["$$this", _NAN]}]},
        }
    }
    return [
        {"$match": match},
        {
            "$project": {
                "run_id": 1,
                "name": 1,
                "part": {"$ifNull": ["$part", 0]},
                "numbers": numbers,
                "first": {"$arrayElemAt": ["$values", 0]},
                "last": {"$arrayElemAt": ["$values", -1]},
                "count": {"$size": "$values"},
            }
        },
        {
            "$project": {
                "run_id": 1,
                "name": 1,
                "part": 1,
                "first": 1,
                "last": 1,
                "count": 1,
                "min": {"$min": "$numbers"},
                "max": {"$max": "$numbers"},
            }
        },
        {"$sort": {"run_id": 1, "name": 1, "part": 1}},
        {
            "$group": {
                "_id": {"run_id": "$run_id", "name": "$name"},
                "count": {"$sum": "$count"},
                "first": {"$first": "$first"},
                "last": {"$last": "$last"},
                "min": {"$min": "$min"},
                "max": {"$max": "$max"},
            }
        },
    ]


def _summary_of(doc: dict) -> dict:
    summary = {"count": doc.get("count", 0)}
    if summary["count"]:
        summary["first"] = doc.get("first")
        summary["last"] = doc.get("last")
        for key in ("min", "max"):
            if doc.get(key) is not None:
                summary[key] = doc[key]
    return summary


def _is_database(obj) -> bool:
    # by type: pymongo's Database answers every attribute (as a collection)
    return any(c.__name__ == "Database" for c in type(obj).__mro__)


class MongoStore(MongoStoreClaims, RunStore):
    """Runs in MongoDB as the MongoObserver writes them.

    ``location`` is a ``mongodb://host[:port]/db`` URL (database ``sacred`` when the URL
    names none), a pymongo/mongomock client (with ``db_name``) or a database object.
    ``prefix`` is the observer's ``collection_prefix``: the collections are
    ``<prefix>_runs`` and ``<prefix>_metrics`` (``runs`` and ``metrics`` without one).
    ``runs_collection`` names the runs collection instead (Sacredboard's ``-mc``, e.g.
    ``default.runs`` of Sacred 0.6); its metrics are then in the collection named like it
    with the final ``runs`` replaced by ``metrics``, or in ``metrics``.
    Other keyword arguments go to ``pymongo.MongoClient``.
    """

    scheme = "mongodb"
    #: seconds the server may spend on one query (None: ``sacred.store.query.QUERY_TIMEOUT``)
    query_timeout: Optional[float] = None
    METRIC_DOCUMENT_BUDGET = 15 * 1024 * 1024
    DOCUMENT_BUDGET = 15 * 1024 * 1024

    def __init__(
        self,
        location,
        db_name: Optional[str] = None,
        prefix: str = "",
        runs_collection: Optional[str] = None,
        **kwargs,
    ):
        self._own_client = False
        if isinstance(location, (str, os.PathLike)):
            url = os.fspath(location)
            try:
                import pymongo
            except ImportError:
                raise StoreError(
                    'Reading MongoDB needs pymongo: pip install "sacred[mongo]"'
                ) from None
            path = urlsplit(url).path.lstrip("/")
            db_name = db_name or path or "sacred"
            client = connect(pymongo, url, **kwargs)  # a few seconds' wait, one line
            self._own_client = True
            database = client[db_name]
            self._where = f"{url.split('?')[0]}"
        elif _is_database(location):
            database = location
            self._where = f"database {database.name!r}"
        else:
            database = location[db_name or "sacred"]
            self._where = f"database {database.name!r}"
        if type(database).__module__.startswith("mongomock"):
            import mongomock.gridfs

            mongomock.gridfs.enable_gridfs_integration()
        import gridfs

        self.client = database.client
        self.db = database
        if runs_collection is None:
            head = f"{prefix}_" if prefix else ""
            runs_collection = f"{head}runs"
        elif prefix:
            raise StoreError("Give either prefix or runs_collection, not both")
        if runs_collection.endswith("runs"):
            metrics_collection = runs_collection[: -len("runs")] + "metrics"
        else:
            metrics_collection = "metrics"
        self.runs = database[runs_collection]
        self.metrics_collection = database[metrics_collection]
        self.fs = gridfs.GridFS(database)

    def __repr__(self):
        return f"MongoStore({self.db.name}.{self.runs.name})"

    def close(self) -> None:
        if self._own_client:
            self.client.close()

    # ------------------------------------------------------------------ ids and records
    def _find_doc(self, run_id, projection=None) -> dict:
        doc = self.runs.find_one({"_id": run_id}, projection)
        if doc is None and isinstance(run_id, str) and run_id.strip().lstrip("-").isdigit():
            run_id = int(run_id)
            doc = self.runs.find_one({"_id": run_id}, projection)
        if doc is None:
            raise RunNotFoundError(f"There is no run {run_id!r} in {self._where}")
        return doc

    def _whole(self, doc: dict, skip=()) -> dict:
        """The record of a document: moved fields read back, bookkeeping removed."""
        for field, file_id in (doc.get("overflow") or {}).items():
            if field in skip or field not in doc:
                continue
            data = self.fs.get(file_id).read().decode("utf-8", "surrogatepass")
            doc[field] = data if field == "captured_out" else json.loads(data)
        extra = doc.get("_import") or {}
        for key, micros in (extra.get("time_us") or {}).items():
            if isinstance(doc.get(key), _dt.datetime):
                doc[key] = doc[key].replace(microsecond=doc[key].microsecond // 1000 * 1000)
                doc[key] += _dt.timedelta(microseconds=micros)
        if extra.get("metric_refs") and isinstance(doc.get("info"), dict):
            info = doc["info"]
            if extra["metric_refs"] == "all":
                info.pop("metrics", None)
        for key in _HIDDEN:
            doc.pop(key, None)
        return decode_stored(doc)

    def get(self, run_id) -> dict:
        doc = self._find_doc(run_id, {"_id": 1})
        return self._whole(read_run(self.runs, doc["_id"], self.fs), skip=MOVABLE)

    # ------------------------------------------------------------------ metrics
    def _metric_docs(self, match: dict) -> dict:
        """``{(run_id, name): summary}`` for the metric documents matching ``match``."""
        return {
            (d["_id"]["run_id"], d["_id"]["name"]): _summary_of(d)
            for d in self.metrics_collection.aggregate(_summary_stages(match))
        }

    def metric_summaries(self, run_id) -> dict:
        run_id = self._find_doc(run_id, {"_id": 1})["_id"]
        return {name: s for (_, name), s in self._metric_docs({"run_id": run_id}).items()}

    def _read_metrics(self, run_id, names=None) -> dict:
        run_id = self._find_doc(run_id, {"_id": 1})["_id"]
        query = {"run_id": run_id}
        if names is not None:
            query["name"] = {"$in": list(names)}
        docs = sorted(
            self.metrics_collection.find(query), key=lambda d: (d["name"], d.get("part", 0))
        )
        result = {}
        for doc in docs:
            metric = result.setdefault(doc["name"], {"steps": [], "values": [], "timestamps": []})
            metric["steps"].extend(doc.get("steps", []))
            metric["values"].extend(doc.get("values", []))
            stamps = doc.get("timestamps", [])
            micros = doc.get("timestamps_us")
            if micros:
                stamps = [
                    t.replace(microsecond=t.microsecond // 1000 * 1000 + us)
                    if isinstance(t, _dt.datetime)
                    else t
                    for t, us in zip(stamps, micros)
                ]
            metric["timestamps"].extend(stamps)
        return result

    def _metric_filter(self, node) -> dict:
        """``{"_id": {"$in": ids}}`` of the runs whose metric summary satisfies ``node``."""
        name, agg = node.field.metric
        stages = _summary_stages({"name": name})
        stages.append({"$match": {agg: {"$exists": True, "$ne": None}}})
        if isinstance(node, q.Compare):
            stages.append({"$match": compare_filter(agg, node.op, node.value, guard=False)})
        stages.append({"$project": {"_id": 1}})
        cursor = self.metrics_collection.aggregate(stages, **self._max_time())
        ids = [d["_id"]["run_id"] for d in cursor]
        return {"_id": {"$in": ids}}

    # ------------------------------------------------------------------ querying
    def _max_time_ms(self) -> Optional[int]:
        limit = self.query_timeout if self.query_timeout is not None else q.QUERY_TIMEOUT
        return max(1, int(limit * 1000)) if limit else None

    def _max_time(self) -> dict:
        """``maxTimeMS`` for ``count_documents``/``aggregate`` (nothing when unlimited)."""
        ms = self._max_time_ms()
        return {"maxTimeMS": ms} if ms else {}

    @contextlib.contextmanager
    def _time_limit(self):
        """Turns the server stopping a query at its ``maxTimeMS`` into a QueryError."""
        try:
            yield
        except Exception as e:
            # pymongo.errors.ExecutionTimeout: code 50, MaxTimeMSExpired
            if type(e).__name__ == "ExecutionTimeout" or getattr(e, "code", None) == 50:
                ms = self._max_time_ms()
                after = f" after {ms / 1000:g} s (query_timeout)" if ms else ""
                raise q.QueryError(
                    f"the database stopped the query{after}: "
                    "narrow it down or simplify its regular expressions"
                ) from None
            raise

    def _filter(self, node) -> dict:
        return MongoTranslator(self._metric_filter).visit(node)

    def count(self, query=None) -> int:
        node = q.parse(query)
        with self._time_limit():
            return self.runs.count_documents(self._filter(node), **self._max_time())

    def _page(self, node, sort, skip, limit, projection) -> list:
        """Documents (with ``projection``) of the matching runs in order, after paging."""
        with self._time_limit():
            return self._page_unlimited(node, sort, skip, limit, projection)

    def _page_unlimited(self, node, sort, skip, limit, projection) -> list:
        if limit == 0:
            return []
        filt = self._filter(node)
        ms = self._max_time_ms()
        if not any(f.metric for f, _ in sort):
            order = [(f.dotted, -1 if descending else 1) for f, descending in sort]
            if not any(path == "_id" for path, _ in order):
                order.append(("_id", 1))  # the tie-breaker, as everywhere
            cursor = self.runs.find(filt, projection, max_time_ms=ms).sort(order)
            cursor = cursor.skip(skip)
            if limit is not None:
                cursor = cursor.limit(limit)
            return list(cursor)
        # by a metric summary: order (id, sort fields) pairs here, then fetch the page
        fields = {f.dotted: 1 for f, _ in sort if f.metric is None}
        rows = list(self.runs.find(filt, {"_id": 1, **fields}, max_time_ms=ms))
        summaries = {}
        for name in {f.metric[0] for f, _ in sort if f.metric}:
            for (run_id, _), s in self._metric_docs({"name": name}).items():
                summaries.setdefault(run_id, {})[name] = s
        rows.sort(key=lambda r: q.sort_key(r["_id"]))
        for fld, descending in reversed(sort):
            rows.sort(
                key=lambda r, f=fld: q.sort_key(q.get_value(r, f, summaries.get(r["_id"]))),
                reverse=descending,
            )
        end = None if limit is None else skip + limit
        ids = [r["_id"] for r in rows[skip:end]]
        by_id = self.runs.find({"_id": {"$in": ids}}, projection, max_time_ms=ms)
        docs = {d["_id"]: d for d in by_id}
        return [docs[i] for i in ids if i in docs]

    def _select(self, node, sort, skip, limit) -> list:
        return [d["_id"] for d in self._page(node, sort, skip, limit, {"_id": 1})]

    def find(self, query=None, sort=None, skip: int = 0, limit: Optional[int] = None) -> list:
        docs = self._page(
            q.parse(query), q.parse_sort(sort), _check_skip(skip), _check_limit(limit), None
        )
        return [self._whole(d) for d in docs]

    def _select_summaries(self, node, sort, skip=0, limit=None, fields=()) -> list:
        wanted = {f.root for f in fields}
        left_out = [k for k in ("captured_out", "fail_trace") if k not in wanted]
        projection = {k: 0 for k in left_out} or None
        docs = self._page(node, sort, skip, limit, projection)
        return [self._whole(d, skip=left_out) for d in docs]

    def _scan(self, need_metrics=False):
        summaries = {}
        if need_metrics:
            for (run_id, name), s in self._metric_docs({}).items():
                summaries.setdefault(run_id, {})[name] = s
        for doc in self.runs.find({}, {"captured_out": 0}).sort("_id", 1):
            yield self._whole(doc, skip=("captured_out",)), summaries.get(doc["_id"], {})

    # ------------------------------------------------------------------ files
    def artifacts(self, run_id) -> list:
        doc = self._find_doc(run_id, {"artifacts": 1})
        return [a["name"] for a in doc.get("artifacts") or []]

    def open_artifact(self, run_id, name):
        """The artifact ``name``; of a name listed more than once, the last one added."""
        doc = self._find_doc(run_id, {"artifacts": 1})
        for entry in reversed(doc.get("artifacts") or []):
            if entry.get("name") == name:
                return self.fs.get(entry["file_id"])
        raise RunNotFoundError(f"Run {run_id!r} has no artifact {name!r}")

    def sources(self, run_id) -> list:
        doc = self._find_doc(run_id, {"experiment.sources": 1})
        return [s[0] for s in (doc.get("experiment") or {}).get("sources") or []]

    def open_source(self, run_id, name):
        doc = self._find_doc(run_id, {"experiment.sources": 1})
        for entry in (doc.get("experiment") or {}).get("sources") or []:
            if entry[0] == name:
                return self.fs.get(entry[1])
        raise RunNotFoundError(f"Run {run_id!r} has no source {name!r}")

    def resources(self, run_id) -> list:
        doc = self._find_doc(run_id, {"resources": 1})
        return [r[0] for r in doc.get("resources") or []]

    def open_resource(self, run_id, name):
        import gridfs.errors

        doc = self._find_doc(run_id, {"resources": 1})
        for filename, md5 in doc.get("resources") or []:
            if filename == name:
                try:
                    return self.fs.get_last_version(filename=filename, md5=md5)
                except gridfs.errors.NoFile:
                    raise RunNotFoundError(
                        f"The copy of resource {name!r} of run {run_id!r} is not in GridFS"
                    ) from None
        raise RunNotFoundError(f"Run {run_id!r} has no resource {name!r}")

    # ------------------------------------------------------------------ writing
    def delete(self, run_id) -> None:
        """Remove the run, its metrics, its artifacts and the files no other run uses."""
        doc = self._find_doc(run_id, {"artifacts": 1, "experiment.sources": 1, "resources": 1})
        run_id = doc["_id"]
        overflow = (self.runs.find_one({"_id": run_id}, {"overflow": 1}) or {}).get("overflow")
        for file_id in (overflow or {}).values():
            self.fs.delete(file_id)
        for entry in doc.get("artifacts") or []:
            self.fs.delete(entry["file_id"])
        others = {"_id": {"$ne": run_id}}
        for entry in (doc.get("experiment") or {}).get("sources") or []:
            used = {"experiment.sources": {"$elemMatch": {"$elemMatch": {"$eq": entry[1]}}}}
            if self.runs.find_one({**others, **used}, {"_id": 1}) is None:
                self.fs.delete(entry[1])
        for filename, md5 in doc.get("resources") or []:
            if self.runs.find_one({**others, "resources": [filename, md5]}, {"_id": 1}) is None:
                for f in self.fs.find({"filename": filename, "md5": md5}):
                    self.fs.delete(f._id)
        self.metrics_collection.delete_many({"run_id": run_id})
        self._forget_claims(run_id)
        self.runs.delete_one({"_id": run_id})  # last: an interrupted delete can be redone

    def update_meta(self, run_id, updates: dict) -> dict:
        """``$set``/``$unset`` of ``meta.<key>``: only the keys given are touched, and the
        MongoObserver never writes ``meta`` whole after the start of a run."""
        doc = self._find_doc(run_id, {"meta": 1})
        merged = merge_meta(doc.get("meta"), updates)  # checks the keys and values
        if isinstance(doc.get("meta"), dict):
            change = {}
            sets = {f"meta.{k}": v for k, v in updates.items() if v is not None}
            unsets = {f"meta.{k}": "" for k, v in updates.items() if v is None}
            if sets:
                change["$set"] = sets
            if unsets:
                change["$unset"] = unsets
        else:
            change = {"$set": {"meta": merged}}
        if change:
            self.runs.update_one({"_id": doc["_id"]}, change)
        return self._find_doc(doc["_id"], {"meta": 1}).get("meta") or {}

    def _next_id(self) -> int:
        last = list(
            self.runs.find({"_id": {"$type": "number"}}, {"_id": 1}).sort("_id", -1).limit(1)
        )
        return int(last[0]["_id"]) + 1 if last else 1

    def import_run(
        self, record, metrics=None, artifacts=None, sources=None, resources=None, new_id=False
    ):
        """Write a run in the MongoObserver's layout; returns its id."""
        import pymongo.errors

        doc = {k: v for k, v in record.items() if k not in _HIDDEN}
        wanted = doc.pop("_id", None)
        if not new_id and wanted is not None:
            if self.runs.find_one({"_id": wanted}, {"_id": 1}) is not None:
                raise StoreError(
                    f"Run {wanted} already exists in {self._where}; import it under a new id "
                    "instead (new_id=True, or --new-ids on the command line)."
                )
            run_id = wanted
        else:
            run_id = None
        for _ in range(1000):  # claim the id with a stub; a concurrent writer may win it
            candidate = self._next_id() if run_id is None else run_id
            try:
                self.runs.insert_one({"_id": candidate, "status": doc.get("status")})
                run_id = candidate
                break
            except pymongo.errors.DuplicateKeyError:
                if run_id is not None:
                    raise StoreError(f"Run {run_id} already exists in {self._where}") from None
        else:
            raise StoreError(f"Could not find a free run id in {self._where}")
        try:
            self._write_run(run_id, doc, metrics, artifacts, sources, resources)
        except Exception:
            self.delete(run_id)
            raise
        return run_id

    def _write_run(self, run_id, doc, metrics, artifacts, sources, resources):
        extra = {}
        micros = {}
        for key in _DATE_KEYS:
            value = doc.get(key)
            if isinstance(value, _dt.datetime):
                if value.tzinfo is not None:
                    value = value.astimezone(_dt.timezone.utc).replace(tzinfo=None)
                    doc[key] = value
                if value.microsecond % 1000:
                    micros[key] = value.microsecond % 1000
        if micros:
            extra["time_us"] = micros
        experiment = dict(doc.get("experiment") or {})
        if isinstance(experiment.get("sources"), list) and sources is not None:
            base_dir = experiment.get("base_dir") or ""
            experiment["sources"] = [
                [name, self._put_source(sources[name], os.path.join(base_dir, name))]
                if name in sources
                else [name, ref]
                for name, ref in experiment["sources"]
            ]
            doc["experiment"] = experiment
        if doc.get("resources"):
            stored = []
            for filename, ref in doc["resources"]:
                if resources and filename in resources:
                    ref = self._put_file(resources[filename], filename)
                stored.append([filename, ref])
            doc["resources"] = stored
        names = [a["name"] if isinstance(a, dict) else a for a in doc.get("artifacts") or []]
        names += [n for n in artifacts or {} if n not in names]
        doc["artifacts"] = [
            {"name": n, "file_id": self._put_artifact(run_id, n, (artifacts or {})[n])}
            for n in names
            if n in (artifacts or {})
        ]
        refs = self._write_metrics(run_id, metrics or {})
        if refs:
            info = dict(doc.get("info") or {})
            if "metrics" not in info:
                extra["metric_refs"] = "all"
                info["metrics"] = refs
                doc["info"] = info
        if extra:
            doc["_import"] = extra
        import pymongo.errors

        try:
            self.runs.replace_one({"_id": run_id}, self._fit(run_id, doc))
        except (pymongo.errors.InvalidDocument, ValueError, TypeError):
            # as the observer does: odd keys and values made storable
            doc = force_bson_encodeable(doc)
            self.runs.replace_one({"_id": run_id}, self._fit(run_id, doc))

    def _fit(self, run_id, doc) -> dict:
        """Move the largest fields to GridFS until the document fits (as the observer does)."""
        import bson

        sizes = {f: len(bson.encode({"v": doc[f]})) for f in MOVABLE if f in doc}
        rest = len(bson.encode({k: v for k, v in doc.items() if k not in MOVABLE}))
        overflow = {}
        while rest + sum(sizes.values()) > self.DOCUMENT_BUDGET and sizes:
            field = max(sizes, key=sizes.get)
            value = doc[field]
            name = f"{field}://{self.runs.name}/{run_id}"
            if field == "captured_out":
                data = value.encode("utf-8", "surrogatepass")
                content_type = "text/plain; charset=utf-8"
                stand_in = output_notice(name) + value[-TAIL:]
            else:
                data = json.dumps(value, default=str).encode("utf-8", "surrogatepass")
                content_type = "application/json"
                stand_in = {
                    "info": {"metrics": value.get("metrics")}
                    if isinstance(value, dict) and "metrics" in value
                    else {},
                    "config": {},
                    "fail_trace": [f"[too large: see GridFS file {name}]"],
                }.get(field)
            overflow[field] = self.fs.put(data, filename=name, content_type=content_type)
            doc[field] = stand_in
            del sizes[field]
            rest += len(bson.encode({"v": stand_in}))
        if overflow:
            doc["overflow"] = overflow
        return doc

    def _put_file(self, content: bytes, filename: str) -> str:
        md5 = hashlib.md5(content).hexdigest()
        if not self.fs.exists(filename=filename, md5=md5):
            self.fs.put(content, filename=filename, md5=md5)
        return md5

    def _put_source(self, content: bytes, filename: str):
        md5 = hashlib.md5(content).hexdigest()
        existing = self.fs.find_one({"filename": filename, "md5": md5})
        if existing is not None:
            return existing._id
        return self.fs.put(content, filename=filename, md5=md5)

    def _put_artifact(self, run_id, name, content: bytes):
        return self.fs.put(
            content,
            filename=f"artifact://{self.runs.name}/{run_id}/{name}",
            metadata=None,
            content_type=mimetype_detector(name),
        )

    def _write_metrics(self, run_id, metrics: dict) -> list:
        """Insert the metric documents (continuations when one would be too large)."""
        refs = []
        for name, metric in metrics.items():
            steps = _plain_list(metric["steps"])
            values = _plain_list(metric["values"])
            stamps = [to_naive_utc(t) for t in _plain_list(metric["timestamps"])]
            start, part = 0, 0
            while True:
                end, _ = fit(steps, values, start, self.METRIC_DOCUMENT_BUDGET)
                end = min(max(end, start + 1), len(steps))  # a huge point still goes somewhere
                doc = {"name": name, "run_id": run_id}
                if part:
                    doc["part"] = part
                doc["steps"] = steps[start:end]
                doc["values"] = values[start:end]
                doc["timestamps"] = stamps[start:end]
                micros = [
                    t.microsecond % 1000 if isinstance(t, _dt.datetime) else 0
                    for t in doc["timestamps"]
                ]
                if any(micros):
                    doc["timestamps_us"] = micros
                doc_id = self.metrics_collection.insert_one(doc).inserted_id
                if part == 0:
                    refs.append({"name": name, "id": str(doc_id)})
                start, part = end, part + 1
                if start >= len(steps):
                    break
        return refs


def _plain_list(seq) -> list:
    if hasattr(seq, "dtype") and seq.dtype.kind == "M":
        return seq.astype("datetime64[us]").tolist()
    items = seq.tolist() if hasattr(seq, "tolist") else list(seq)
    np = sys.modules.get("numpy")
    if np is not None:
        items = [v.item() if isinstance(v, np.generic) else v for v in items]
    return items
