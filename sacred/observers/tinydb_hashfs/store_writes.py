"""``TinyDbStore.import_run``: a run read from another store, written as a TinyDbObserver
writes its runs (``sacred export`` into a TinyDB folder).

The entry goes into the table ``runs`` of ``metadata.json`` and its metrics into the table
``metrics``, in the layout of the observer and its serializers (see ``bases``): times as
``"{TinyDate}:..."``, files in ``hashfs/`` under their md5, referred to as
``[name, md5, "{TinyFile}:md5"]`` (sources, resources) and ``[name, filename, md5,
"{TinyFile}:md5"]`` (artifacts), so that the original's ``TinyDbReader`` reads them too.
Values JSON cannot hold (numpy, pandas, tuples, ...) are written in jsonpickle's tagged
form, which every reader decodes safely (``sacred.store.base.decode_stored``).
"""

from __future__ import annotations

import datetime as _dt
import io
import uuid

from sacred.store.base import StoreError

__all__ = ("TinyDbWrites",)

_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"
_TIMES = ("start_time", "stop_time", "heartbeat", "queue_time")


def _date(value: _dt.datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(_dt.timezone.utc).replace(tzinfo=None)
    return "{TinyDate}:" + value.strftime(_DATE_FORMAT)


def _encode(value):
    """``value`` as the JSON of an entry: plain JSON as it is, datetimes as TinyDB's
    serializer writes them, anything else in jsonpickle's tagged form."""
    kind = type(value)
    if value is None or kind in (str, int, float, bool):
        return value
    if kind is dict and all(type(k) is str for k in value):
        return {k: _encode(v) for k, v in value.items()}
    if kind is list:
        return [_encode(v) for v in value]
    if isinstance(value, _dt.datetime):
        return _date(value)
    from sacred.serializer import flatten

    return flatten(value)


def _plain_number(value):
    return value.item() if hasattr(value, "item") else value


def _file(file_id: str) -> str:
    return "{TinyFile}:" + file_id


class TinyDbWrites:
    """The writing of ``TinyDbStore`` that copies runs in (a mixin: it uses the store's
    ``fs``, ``root``, ``_rewrite`` and ``_tables``)."""

    def import_run(
        self, record, metrics=None, artifacts=None, sources=None, resources=None, new_id=False
    ):
        """Write a run in the TinyDbObserver's layout; returns its id.

        The run keeps its id unless ``new_id`` (or it has none): then it gets a new one as
        the observer makes them (32 hex digits). An id the folder holds already is refused.
        Files whose content is not given keep their reference, without a stored copy.
        """
        entry = self._entry(record, sources or {}, resources or {}, artifacts or {})
        wanted = record.get("_id")
        run_id = uuid.uuid4().hex if new_id or wanted is None else wanted
        metric_entries = [
            {
                "run_id": run_id,
                "name": name,
                "steps": [_plain_number(v) for v in m.get("steps") or []],
                "values": [_plain_number(v) for v in m.get("values") or []],
                "timestamps": [
                    _date(t) if isinstance(t, _dt.datetime) else t
                    for t in m.get("timestamps") or []
                ],
            }
            for name, m in (metrics or {}).items()
        ]

        def insert(raw):
            runs = raw.setdefault("runs", {})
            taken = {str(e.get("_id")).strip() for e in runs.values() if isinstance(e, dict)}
            if str(run_id).strip() in taken:
                raise StoreError(
                    f"Run {run_id} already exists in {self.root}; import it under a new id "
                    "instead (new_id=True, or --new-ids on the command line)."
                )
            runs[str(_next_doc_id(runs))] = {"_id": run_id, **entry}
            if metric_entries:
                table = raw.setdefault("metrics", {})
                for metric in metric_entries:
                    table[str(_next_doc_id(table))] = metric
            return run_id

        try:
            return self._rewrite(insert)
        finally:
            self._tables = None

    def _entry(self, record, sources, resources, artifacts) -> dict:
        """The entry of ``record`` (without ``_id``), its files put into ``hashfs/``."""
        entry = {}
        for key, value in record.items():
            if key in ("_id", "artifacts", "resources", "experiment"):
                continue
            entry[key] = _encode(value)
        for key in _TIMES:
            if isinstance(record.get(key), _dt.datetime):
                entry[key] = _date(record[key])
        experiment = dict(record.get("experiment") or {})
        if isinstance(experiment.get("sources"), list):
            experiment["sources"] = [
                self._file_entry(name, ref, sources) for name, ref, *_ in experiment["sources"]
            ]
        entry["experiment"] = _encode(experiment)
        entry["resources"] = [
            self._file_entry(name, ref, resources)
            for name, ref, *_ in record.get("resources") or []
        ]
        names = [a["name"] if isinstance(a, dict) else a for a in record.get("artifacts") or []]
        names += [n for n in artifacts if n not in names]
        entry["artifacts"] = []
        for name in names:
            if name in artifacts:
                file_id = self._put(artifacts[name])
                entry["artifacts"].append([name, name, file_id, _file(file_id)])
        return entry

    def _file_entry(self, name, ref, contents) -> list:
        if name not in contents:
            return [name, ref if isinstance(ref, str) else str(ref), None]
        file_id = self._put(contents[name])
        return [name, file_id, _file(file_id)]

    def _put(self, content: bytes) -> str:
        """Put ``content`` into ``hashfs/`` (once per content); its id (the md5)."""
        return self.fs.put(io.BytesIO(content)).id


def _next_doc_id(table: dict) -> int:
    """TinyDB's next document id of a table: one past the largest."""
    ids = [int(k) for k in table if str(k).isdigit()]
    return max(ids, default=0) + 1
