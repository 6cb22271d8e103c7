"""Metric documents of the MongoObserver: one per metric, continued when it grows too large.

A metric document ``{_id, name, run_id, steps, values, timestamps}`` holds at most
``METRIC_DOCUMENT_BUDGET`` bytes; later points go to continuation documents
``{_id, name, run_id, part: 1, 2, ..., steps, values, timestamps}``. The first document is
referenced from ``info["metrics"] = [{"name", "id": str(_id)}]``.

``read_metrics(metrics, run_id)`` (public through ``sacred.observers.mongo``) joins them.
"""

_POINT_BYTES = 51  # BSON bytes of one metric point (3 array items with keys up to 7 digits)
_NUMBER_TYPES = frozenset((int, float, bool))
_FIELDS = ("steps", "values", "timestamps")


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


def fit(steps, values, start, room):
    """``(end, bytes)``: how many points from ``start`` fit into ``room`` bytes."""
    end = min(len(steps), start + max(room, 0) // _POINT_BYTES)
    if end <= start:
        return start, 0
    size = _points_bytes(_part(steps, start, end), _part(values, start, end))
    while size > room and end > start + 1:  # long strings among the values
        end = start + (end - start) // 2
        size = _points_bytes(_part(steps, start, end), _part(values, start, end))
    return (end, size) if size <= room else (start, 0)


class MetricDocuments:
    """The metrics of one run: points waiting to be written, and the documents written.

    ``where.metrics`` is the metrics collection; ``fresh`` says that the database holds no metric
    document of the run yet (else the last one of each metric is looked up and continued);
    ``refs`` are the run's ``info["metrics"]`` entries when it is resumed.

    * ``pending``: ``{name: {"steps", "values", "timestamps"}}`` not written yet;
    * ``saved``: ``{name: [id of the last document, its part, estimated bytes]}``;
    * ``refs``: the ``info["metrics"]`` entries made for the run (never dropped by a
      heartbeat whose ``info`` lacks them);
    * ``counts``: ``{name: points the database is known to hold}`` (of a fresh run: from 0;
      of a resumed one: counted when first needed), so that points are never written twice:
      after a write that failed, the database may have taken it anyway (``uncertain``), and
      the points it holds are counted before the next write of that metric. A journal's
      metric lines carry these counts.
    """

    def __init__(self, where, fresh=True, refs=None):
        self.where = where
        self.fresh = fresh
        self.refs = refs if refs is not None else []
        self.saved = {}
        self.pending = {}
        self.info = None  # the info dict of the last log_metrics: new references go there
        self._owned = set()  # pending metric names whose lists are private copies
        self.counts = {}
        self.uncertain = set()  # metrics whose last write failed: recount before the next

    def add(self, metrics_by_name, info):
        """Keep new points until ``write_pending``."""
        pending = self.pending
        for name, metric in metrics_by_name.items():
            queued = pending.get(name)
            if queued is None:  # the lists are shared with other observers: no changes
                pending[name] = {f: metric[f] for f in _FIELDS}
                continue
            if name not in self._owned:
                self._owned.add(name)
                for field in _FIELDS:
                    queued[field] = list(queued[field])
            for field in _FIELDS:
                queued[field].extend(metric[field])
        self.info = info

    def write_pending(self, run_id, budget):
        """Write the kept points; a metric leaves ``pending`` once it is written."""
        for name in list(self.pending):
            self.push(run_id, name, self.pending[name], self.info, budget)
            del self.pending[name]
            self._owned.discard(name)

    def known_count(self, name):
        """Points of the metric the database held before its pending points, as far as this
        observer knows (None for a resumed run's metric not written yet)."""
        if name in self.counts:
            return self.counts[name]
        return 0 if self.fresh else None

    def count_points(self, run_id, name) -> int:
        """Points of the metric in the database (reads every document of it)."""
        docs = self.where.metrics.find({"run_id": run_id, "name": name}, {"steps": 1})
        return sum(len(d.get("steps") or ()) for d in docs)

    def _settle(self, run_id, name, metric):
        """``metric`` without the points the database took already (after a failed write
        that reached it, or when a resumed run's points are counted)."""
        held = self.count_points(run_id, name)
        known = self.counts.get(name, held if not self.fresh else 0)
        self.counts[name] = held
        self.uncertain.discard(name)
        state = self._find_last_document(name, run_id, force=True)
        self.saved[name] = state  # continue the last document the database has
        if state is not None and state[1] == 0 and not any(r["name"] == name for r in self.refs):
            ref = {"name": name, "id": str(state[0])}  # a first document that arrived after all
            self.refs.append(ref)
            if self.info is not None:
                self.info.setdefault("metrics", []).append(dict(ref))
        if state is None:
            self.saved.pop(name)
        extra = held - known
        if extra <= 0:
            return metric
        return {f: _part(metric[f], min(extra, len(metric[f])), len(metric[f])) for f in _FIELDS}

    def push(self, run_id, name, metric, info, budget):
        """Append the points of one metric, starting continuation documents when full.

        A new first document's reference is added to ``refs`` and to ``info["metrics"]``.
        """
        if name in self.uncertain or (not self.fresh and name not in self.counts):
            metric = self._settle(run_id, name, metric)
        steps, values, stamps = metric["steps"], metric["values"], metric["timestamps"]
        n = len(steps)
        if n == 0:
            return
        before = self.counts.get(name)
        try:
            self._push(run_id, name, steps, values, stamps, info, budget)
        except BaseException:
            # what of these points arrived is unknown: they stay pending, and the database
            # is asked before they are written again
            if before is None:
                self.counts.pop(name, None)
            else:
                self.counts[name] = before
            self.uncertain.add(name)
            raise

    def _push(self, run_id, name, steps, values, stamps, info, budget):
        n = len(steps)
        state = self.saved.get(name)
        if state is None:
            state = self._find_last_document(name, run_id)
        start = 0
        while start < n:
            room = budget - state[2] if state is not None else 0
            end, size = fit(steps, values, start, room)
            if end > start:  # append to the current document
                self.where.metrics.update_one(
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
                self.counts[name] = self.counts.get(name, 0) + end - start
            else:  # a new document: the first one, or a continuation
                end, size = fit(steps, values, start, budget)
                end = max(end, start + 1)  # a single huge point still goes somewhere
                part = 0 if state is None else state[1] + 1
                doc = {"name": name, "run_id": run_id}
                if part:
                    doc["part"] = part
                doc["steps"] = _part(steps, start, end)
                doc["values"] = _part(values, start, end)
                doc["timestamps"] = _part(stamps, start, end)
                doc_id = self.where.metrics.insert_one(doc).inserted_id
                state = [doc_id, part, size]
                self.counts[name] = self.counts.get(name, 0) + end - start
                if part == 0:
                    ref = {"name": name, "id": str(doc_id)}
                    self.refs.append(ref)
                    if info is not None:
                        info.setdefault("metrics", []).append(dict(ref))
            self.saved[name] = state
            start = end

    def _find_last_document(self, name, run_id, force=False):
        """The last document of a metric the database already has (overwrite, replay, or
        ``force``: after a failed write)."""
        import pymongo

        if self.fresh and not force:
            return None
        docs = list(
            self.where.metrics.find({"run_id": run_id, "name": name}, {"steps": 1, "part": 1})
            .sort("part", pymongo.DESCENDING)
            .limit(1)
        )
        if not docs:
            return None
        doc = docs[0]
        return [doc["_id"], doc.get("part", 0), len(doc.get("steps", [])) * _POINT_BYTES]


def read_metrics(metrics_collection, run_id):
    """``{name: {"steps", "values", "timestamps"}}`` of a run, continuation parts joined."""
    docs = sorted(
        metrics_collection.find({"run_id": run_id}),
        key=lambda d: (d["name"], d.get("part", 0)),
    )
    result = {}
    for doc in docs:
        metric = result.setdefault(doc["name"], {"steps": [], "values": [], "timestamps": []})
        for field in _FIELDS:
            metric[field].extend(doc.get(field, []))
    return result
