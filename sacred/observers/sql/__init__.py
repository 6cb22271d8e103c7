"""The SQL backend (SQLite, PostgreSQL, MySQL... through SQLAlchemy): runs kept in tables.

``observer`` writes the runs (``SqlObserver``; ``event_writes`` writes a running run's
events, ``continued`` continues a stored run) and ``journal`` keeps the events it could not
write in the run's journal and applies journals (``sacred sync``, ``replay_failed_events``),
each event once; ``rows`` writes metric
rows and the values of run columns for the observer and the store alike; ``output`` writes
and reads the captured output (``run.captured_out`` and the ``output_chunk`` rows);
``schema`` holds the tables (also importable as ``sacred.observers.sql_bases``); ``store``
reads and queries them (``SqlStore``, with ``store_metrics``, ``store_parts``,
``store_writes`` and ``store_claims``),
translating queries with ``query``; ``engine`` makes the SQLAlchemy engine of a URL and reads
its errors; ``options`` holds the ``-s`` command-line option.

Names are loaded on first use, so importing this package (as the ``-s`` option's module does
for every Experiment) imports nothing else, and SQLAlchemy only when an observer is built.
"""

import importlib

__all__ = (
    "SqlObserver",
    "sql_option",
    "DEFAULT_SQL_PRIORITY",
    "replay_failed_events",
    "backfill_metric_chunks",
)

_MODULE_OF = {
    "SqlObserver": "observer",
    "DEFAULT_SQL_PRIORITY": "observer",
    "replay_failed_events": "observer",
    "backfill_metric_chunks": "rows",
    "sql_option": "options",
}


def __getattr__(name):
    submodule = _MODULE_OF.get(name)
    if submodule is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{submodule}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
