"""The MongoDB backend: runs as documents, files in GridFS, metrics in their own collection.

``observer`` writes runs (``MongoObserver`` and its queued variants), holding one part per
concern: ``document`` (the run document and what changed in it), ``overflow`` (fields too
large for the document, in GridFS), ``metrics`` (metric documents), ``files`` (sources,
resources and artifacts in GridFS) and ``failure`` (outages and failure files); ``driver``
holds what they share about pymongo and BSON. ``store`` reads, queries and changes the runs
(``MongoStore``) with filters from ``query``. ``options`` holds the ``-m`` command-line
option and its grammar.

Names are loaded on first use, so importing this package (as the ``-m`` option's module does
for every Experiment) costs nothing else.
"""

import importlib

__all__ = (
    "MongoObserver",
    "QueuedMongoObserver",
    "QueueCompatibleMongoObserver",
    "mongo_db_option",
    "parse_mongo_db_arg",
    "get_pattern",
    "force_valid_bson_key",
    "force_bson_encodeable",
    "mimetype_detector",
    "read_run",
    "read_metrics",
    "replay_failure_file",
    "DEFAULT_MONGO_PRIORITY",
)

_MODULE_OF = {
    "MongoObserver": "observer",
    "QueuedMongoObserver": "queued",
    "QueueCompatibleMongoObserver": "queued",
    "DEFAULT_MONGO_PRIORITY": "observer",
    "mongo_db_option": "options",
    "parse_mongo_db_arg": "options",
    "get_pattern": "options",
    "force_valid_bson_key": "driver",
    "force_bson_encodeable": "driver",
    "mimetype_detector": "files",
    "read_run": "overflow",
    "read_metrics": "metrics",
    "replay_failure_file": "failure",
    "MongoStore": "store",
}


def __getattr__(name):
    submodule = _MODULE_OF.get(name)
    if submodule is None:
        try:  # a submodule, e.g. ``sacred.observers.mongo.store``
            value = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    else:
        value = getattr(importlib.import_module(f"{__name__}.{submodule}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
