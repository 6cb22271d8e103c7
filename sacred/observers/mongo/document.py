"""The run document of the MongoObserver in memory, and writing what changed with few writes.

Heartbeats send what changed only: a ``$set`` of the changed fields, and new captured output
as an append (``$concat`` in an update pipeline; a full ``$set`` when an output filter
rewrote earlier text or the server is older than 4.2). ``meta`` is written whole only
when the run starts; after a database error, the full save sets the run's own meta keys
one by one, so keys others added (``MongoStore.update_meta``) are never overwritten.
"""

import sys

from sacred.observers.mongo.driver import (
    force_bson_encodeable,
    ignore_errors,
    too_large,
    utf8,
)
from sacred.observers.mongo.overflow import MOVABLE
from sacred.serializer import flatten


def _meta_sets(meta) -> dict:
    """``$set`` of the run's own meta keys one by one, so that keys others added to
    ``meta`` (Sacredboard's tags and notes, ``MongoStore.update_meta``) are kept."""
    if not isinstance(meta, dict):
        return {"meta": meta}
    if not all(isinstance(k, str) and k and "." not in k and k[0] != "$" for k in meta):
        return {"meta": meta}
    return {f"meta.{k}": v for k, v in meta.items()}


class RunDocument:
    """One run's document: the fields changed since the last write, and writing them.

    ``where.runs`` is the runs collection (looked up at each write), ``entry`` the document
    in memory (the observer's ``run_entry``), ``overflow`` the ``FieldOverflow`` that keeps
    it below the size limit.
    """

    def __init__(self, where, entry, overflow):
        self.where = where
        self.entry = entry
        self.overflow = overflow
        self.dirty = set()  # fields of entry not yet in the database
        self.output_synced = None  # the captured_out the database has (None: unknown)
        self.output_bytes = 0
        self.needs_full_save = False  # after an error: every field is written again
        self.pipeline_ok = True  # False once the server refused an update pipeline
        self.replaced = []  # GridFS files of replaced artifacts: deleted after the next write

    # ------------------------------------------------------------ changes
    def set(self, field, value):
        self.entry[field] = value
        self.dirty.add(field)

    def set_flat(self, field, value):
        flat = flatten(value)
        if field not in self.entry or flat != self.entry[field]:
            self.set(field, flat)

    def set_info(self, info, metric_refs):
        """Set ``info``, keeping the ``metric_refs`` that log_metrics made in it."""
        flat = flatten(info)
        if metric_refs:  # references made by log_metrics are never lost
            refs = flat.setdefault("metrics", [])
            if isinstance(refs, list):
                for ref in metric_refs:
                    if ref not in refs:
                        refs.append(ref)
        if flat != self.entry.get("info"):
            self.set("info", flat)

    def add_resource(self, resource):
        """``resource`` is ``[filename, md5]``; a run lists each resource once."""
        if resource not in [list(r) for r in self.entry["resources"]]:
            self.entry["resources"].append(resource)
            self.dirty.add("resources")

    def add_artifact(self, artifact, replace=False):
        """``artifact`` is ``{"name", "file_id"}``. ``replace`` (a checkpoint): it takes the
        place of the last artifact of its name, whose file is deleted once the list is
        written (earlier ones of the name, added by ``add_artifact``, stay)."""
        artifacts = self.entry["artifacts"]
        names = [a.get("name") for a in artifacts]
        if replace and artifact["name"] in names:
            index = len(names) - 1 - names[::-1].index(artifact["name"])
            old = artifacts[index].get("file_id")
            if old is not None and old != artifact.get("file_id"):
                self.replaced.append(old)
            artifacts[index] = artifact
        else:
            artifacts.append(artifact)
        self.dirty.add("artifacts")

    def unsynced(self):
        """After a database error: what the database has is unknown, write it all again."""
        self.needs_full_save = True
        self.output_synced = None
        self.overflow.output_length_unknown()

    # ------------------------------------------------------------ writing
    def flush(self, upsert, budget):
        """One update with the changed fields (moving fields to GridFS past ``budget``)."""
        entry = self.entry
        overflow = self.overflow
        full = self.needs_full_save
        if full:  # meta: see below
            self.dirty.update(k for k in entry if k not in ("_id", "meta"))
        cout = entry.get("captured_out")
        append = None
        if cout is not None and cout is not self.output_synced:
            old = self.output_synced
            if old is not None and len(cout) >= len(old) and cout.startswith(old):
                append = cout[len(old) :] or None
                if append:
                    self.output_bytes += len(utf8(append))
            else:
                self.output_bytes = len(utf8(cout))
                self.dirty.add("captured_out")
                overflow.output_length_unknown()
        for field in self.dirty:
            if field in MOVABLE and field != "captured_out":
                overflow.measure_field(field)
        overflow.measure_output(self.output_bytes)
        if self.dirty & {"artifacts", "resources"}:
            overflow.measure_rest()
        self.dirty.update(overflow.move_oversized(budget))

        sets = {}
        for field in self.dirty - {"_id", "captured_out"}:
            if overflow.is_moved(field):
                sets.update(overflow.write(field))
            else:
                sets[field] = entry[field]
        if full and "meta" not in self.dirty:
            sets.update(_meta_sets(entry.get("meta")))
        full_cout = "captured_out" in self.dirty
        if overflow.is_moved("captured_out"):
            if full_cout or append is not None:
                sets.update(overflow.write("captured_out", None if full_cout else append))
            append = None
        elif full_cout:
            sets["captured_out"] = cout
            append = None
        if not sets and append is None:
            self.dirty.clear()
            self.needs_full_save = False
            return
        self._update(sets, append, upsert)
        self.dirty.clear()
        self.needs_full_save = False
        self.output_synced = cout
        for file_id in self.replaced:  # no longer listed in the stored document
            ignore_errors(self.where.fs.delete, file_id)
        self.replaced = []

    def _update(self, sets, append, upsert):
        import pymongo.errors

        query = {"_id": self.entry["_id"]}
        for attempt in range(2):
            try:
                if append is not None and self.pipeline_ok:
                    stage = {k: {"$literal": v} for k, v in sets.items()}
                    stage["captured_out"] = {"$concat": ["$captured_out", append]}
                    self.where.runs.update_one(query, [{"$set": stage}], upsert=upsert)
                else:
                    if append is not None:
                        sets["captured_out"] = self.entry["captured_out"]
                    self.where.runs.update_one(query, {"$set": sets}, upsert=upsert)
                return
            except pymongo.errors.OperationFailure as e:
                if append is not None and self.pipeline_ok and not too_large(e):
                    self.pipeline_ok = False  # a server older than 4.2
                    continue
                raise
            except (pymongo.errors.InvalidDocument, UnicodeEncodeError) as e:
                if attempt or too_large(e):
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
                        self.entry[key] = sets[key]
