"""The S3 backend: runs in an S3 bucket, in the FileStorageObserver's layout.

``observer`` writes them (``S3Observer``), ``store`` reads, queries and changes them
(``S3Store``, ``open_store("s3://bucket/prefix")``), ``bucket`` talks to S3 through boto3 and
``options`` holds the ``-S`` command-line option and the bucket-name rules. What S3 shares
with Google Cloud Storage is in ``sacred.observers.object_store``. Names are loaded on first
use, so importing this package (as the ``-S`` option's module does for every Experiment)
costs nothing else, and boto3 is imported only when an observer or a store is built.
"""

import importlib

__all__ = (
    "S3Observer",
    "S3Store",
    "s3_option",
    "s3_join",
    "_is_valid_bucket",
    "parse_s3_location",
    "replay_fallback",
    "DEFAULT_S3_PRIORITY",
)

_WHERE = {  # name -> (module, name there)
    "S3Observer": ("sacred.observers.s3_observer.observer", "S3Observer"),
    "DEFAULT_S3_PRIORITY": ("sacred.observers.s3_observer.observer", "DEFAULT_S3_PRIORITY"),
    "S3Store": ("sacred.observers.s3_observer.store", "S3Store"),
    "s3_option": ("sacred.observers.s3_observer.options", "s3_option"),
    "s3_join": ("sacred.observers.s3_observer.options", "s3_join"),
    "_is_valid_bucket": ("sacred.observers.s3_observer.naming", "is_valid_s3_bucket"),
    "parse_s3_location": ("sacred.observers.s3_observer.options", "parse_s3_location"),
    "replay_fallback": ("sacred.observers.object_store.observer", "replay_fallback"),
}


def __getattr__(name):
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(where[0]), where[1])
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
