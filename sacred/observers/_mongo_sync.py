"""How the MongoObserver keeps the run document up to date with few writes.

Heartbeats send what changed only: a ``$set`` of the changed fields, and new captured output
as an append (``$concat`` in an update pipeline; a full ``$set`` when an output filter
rewrote earlier text or the server is older than 4.2). ``meta`` is written whole only
when the run starts; after a database error, the full save sets the run's own meta keys
one by one, so keys others added (``MongoStore.update_meta``) are never overwritten.
"""

import sys
import time

from sacred.observers._mongo_bson import _bson_size, _too_large, _utf8, force_bson_encodeable
from sacred.observers._mongo_overflow import _MOVABLE
from sacred.serializer import flatten


def _meta_sets(meta) -> dict:
    """``$set`` of the run's own meta keys one by one, so that keys others added to
    ``meta`` (Sacredboard's tags and notes, ``MongoStore.update_meta``) are kept."""
    if not isinstance(meta, dict):
        return {"meta": meta}
    if not all(isinstance(k, str) and k and "." not in k and k[0] != "$" for k in meta):
        return {"meta": meta}
    return {f"meta.{k}": v for k, v in meta.items()}


class _MongoSync:
    """Part of ``MongoObserver``: the run's state in memory and writing what changed."""

    # ------------------------------------------------------------ state
    def _measure(self):
        for field in _MOVABLE:
            if field in self.run_entry:
                self._sizes[field] = _bson_size(self.run_entry[field])
        self._sizes["_rest"] = _bson_size(
            {k: v for k, v in self.run_entry.items() if k not in _MOVABLE}
        )

    def _set(self, field, value):
        self.run_entry[field] = value
        self._dirty.add(field)

    def _set_flat(self, field, value):
        flat = flatten(value)
        if field not in self.run_entry or flat != self.run_entry[field]:
            self._set(field, flat)

    def _set_info(self, info):
        flat = flatten(info)
        if self._metric_refs:  # references made by log_metrics are never lost
            refs = flat.setdefault("metrics", [])
            if isinstance(refs, list):
                for ref in self._metric_refs:
                    if ref not in refs:
                        refs.append(ref)
        if flat != self.run_entry.get("info"):
            self._set("info", flat)

    # ------------------------------------------------------------ saving
    def save(self, run_document=True):
        """Write what changed; on a database error keep it for the next event."""
        if self._raise_errors:
            self._try(self._flush_run)
            return
        if time.monotonic() < self._retry_after:
            return
        self._try(self._sync if run_document else self._sync_metrics)

    def _sync(self, upsert=False):
        self._sync_files()
        self._sync_metrics()
        self._flush_run(upsert)

    def _sync_metrics(self):
        info = self._info
        for name in list(self._pending_metrics):
            self._push_metric(name, self._pending_metrics[name], info)
            del self._pending_metrics[name]

    def _flush_run(self, upsert=False):
        """One update with the changed fields of the run document."""
        entry = self.run_entry
        full = self._needs_full_save
        if full:  # meta: see below
            self._dirty.update(k for k in entry if k not in ("_id", "meta"))
        cout = entry.get("captured_out")
        append = None
        if cout is not None and cout is not self._cout_synced:
            old = self._cout_synced
            if old is not None and len(cout) >= len(old) and cout.startswith(old):
                append = cout[len(old) :] or None
                if append:
                    self._cout_bytes += len(_utf8(append))
            else:
                self._cout_bytes = len(_utf8(cout))
                self._dirty.add("captured_out")
                if self._cout_file is not None:
                    self._cout_file.length = None
        for field in self._dirty:
            if field in _MOVABLE and field != "captured_out":
                self._sizes[field] = _bson_size(entry[field])
        if "captured_out" not in self._overflow:
            self._sizes["captured_out"] = self._cout_bytes
        if self._dirty & {"artifacts", "resources"}:
            self._sizes["_rest"] = _bson_size({k: v for k, v in entry.items() if k not in _MOVABLE})
        self._move_oversized()

        sets = {}
        for field in self._dirty - {"_id", "captured_out"}:
            if field in self._overflow:
                sets.update(self._write_overflow(field))
            else:
                sets[field] = entry[field]
        if full and "meta" not in self._dirty:
            sets.update(_meta_sets(entry.get("meta")))
        full_cout = "captured_out" in self._dirty
        if "captured_out" in self._overflow:
            if full_cout or append is not None:
                sets.update(self._write_overflow("captured_out", None if full_cout else append))
            append = None
        elif full_cout:
            sets["captured_out"] = cout
            append = None
        if not sets and append is None:
            self._dirty.clear()
            self._needs_full_save = False
            return
        self._update(sets, append, upsert)
        self._dirty.clear()
        self._needs_full_save = False
        self._cout_synced = cout

    def _update(self, sets, append, upsert):
        import pymongo.errors

        query = {"_id": self.run_entry["_id"]}
        for attempt in range(2):
            try:
                if append is not None and self._pipeline_ok:
                    stage = {k: {"$literal": v} for k, v in sets.items()}
                    stage["captured_out"] = {"$concat": ["$captured_out", append]}
                    self.runs.update_one(query, [{"$set": stage}], upsert=upsert)
                else:
                    if append is not None:
                        sets["captured_out"] = self.run_entry["captured_out"]
                    self.runs.update_one(query, {"$set": sets}, upsert=upsert)
                return
            except pymongo.errors.OperationFailure as e:
                if append is not None and self._pipeline_ok and not _too_large(e):
                    self._pipeline_ok = False  # a server older than 4.2
                    continue
                raise
            except pymongo.errors.InvalidDocument as e:
                if attempt or _too_large(e):
                    raise
                print(
                    "Warning: Some of the entries of the run were not BSON-serializable!\n "
                    "They have been altered such that they can be stored, but you should fix "
                    "your experiment!Most likely it is either the 'info' or the 'result'.",
                    file=sys.stderr,
                )
                for key in sets:
                    sets[key] = force_bson_encodeable(sets[key])
                    if "." not in key:
                        self.run_entry[key] = sets[key]
