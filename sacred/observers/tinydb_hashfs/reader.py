"""TinyDbReader: the original Sacred's reader of a TinyDbObserver folder.

It hands out the TinyDB entries themselves (with open file handles); ``TinyDbStore`` in
``store`` is the reader that every backend shares (queries, metrics, Sacredboard).
"""

import datetime
import os

from sacred.observers.tinydb_hashfs.observer import load_bases

__all__ = ("TinyDbReader",)


class TinyDbReader:
    """Reads the runs a TinyDbObserver stored in ``path``."""

    def __init__(self, path):
        bases = load_bases()
        root_dir = os.path.abspath(path)
        if not os.path.exists(root_dir):
            raise OSError(f"Path does not exist: {path}")
        self.db, self.fs = bases.get_db_file_manager(root_dir)
        self.runs = self.db.table("runs")

    def search(self, *args, **kwargs):
        """Search the runs with a TinyDB query (``runs.search``)."""
        return self.runs.search(*args, **kwargs)

    def fetch_metadata(self, exp_name=None, query=None, indices=None):
        """The run entries whose experiment name matches the regex ``exp_name``, that
        match the TinyDB ``query``, or that sit at the positions ``indices`` (an int or a
        list; negative ones count from the end)."""
        from tinydb import Query

        if exp_name is not None or query is not None:
            if exp_name is not None:
                by_name = Query().experiment.name.search(exp_name)
                query = by_name if query is None else (query & by_name)
            return self.runs.search(query)
        if indices is not None:
            if not isinstance(indices, (tuple, list)):
                indices = [indices]
            entries = self.runs.all()
            for index in indices:
                if index >= len(entries):
                    raise ValueError(
                        f"Index value ({index}) must be less than "
                        f"number of records ({len(entries)})"
                    )
            return [entries[index] for index in indices]
        raise ValueError("Must specify an experiment name, indices or pass custom query")

    def fetch_files(self, exp_name=None, query=None, indices=None):
        """For each matching run: its name, id, date and open handles of its files."""
        records = []
        for entry in self.fetch_metadata(exp_name, query, indices):
            record = {
                "exp_name": entry["experiment"]["name"],
                "exp_id": entry["_id"],
                "date": entry["start_time"],
            }
            groups = (
                ("sources", {s[0]: s[2] for s in entry["experiment"]["sources"]}),
                ("resources", {r[0]: r[2] for r in entry["resources"]}),
                ("artifacts", {a[0]: a[3] for a in entry["artifacts"]}),
            )
            for group, files in groups:
                if files:
                    record[group] = files
            records.append(record)
        return records

    def fetch_report(self, exp_name=None, query=None, indices=None):
        """A text report for each matching run (see ``_report``)."""
        return [_report(entry) for entry in self.fetch_metadata(exp_name, query, indices)]


_TEMPLATE = """
-------------------------------------------------
Experiment: {exp_name}
-------------------------------------------------
ID: {exp_id}
Date: {start_date}    Duration: {duration}

Parameters:
{parameters}

Result:
{result}

Dependencies:
{dependencies}

Resources:
{resources}

Source Files:
{sources}

Outputs:
{artifacts}
"""


def _lines(items):
    return "\n".join(f"    {item}" for item in items) if items else "    None"


def _duration(entry):
    end = entry.get("stop_time") or entry.get("heartbeat")
    start = entry.get("start_time")
    if not isinstance(end, datetime.datetime) or not isinstance(start, datetime.datetime):
        return "None"
    seconds = (end - start).total_seconds()
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{int(hours)}:{int(minutes):02d}:{seconds:04.1f}"


def _report(entry):
    start = entry.get("start_time")
    config = entry.get("config") or {}
    result = entry.get("result")
    return _TEMPLATE.format(
        exp_name=entry["experiment"]["name"],
        exp_id=entry["_id"],
        start_date=start.strftime("%a %d %b %Y") if hasattr(start, "strftime") else start,
        duration=_duration(entry),
        parameters=_lines([f"{k}: {v}" for k, v in sorted(config.items())]),
        result=_lines([] if result is None else [result]),
        dependencies=_lines(entry["experiment"].get("dependencies") or []),
        resources=_lines([r[0] for r in entry.get("resources", [])]),
        sources=_lines([s[0] for s in entry["experiment"].get("sources", [])]),
        artifacts=_lines([a[0] for a in entry.get("artifacts", [])]),
    )
