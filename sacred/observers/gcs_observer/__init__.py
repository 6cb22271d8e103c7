"""The Google Cloud Storage backend: runs in a GCS bucket, in the FileStorageObserver's layout.

``observer`` writes them (``GoogleCloudStorageObserver``), ``store`` reads, queries and
changes them (``GcsStore``, ``open_store("gs://bucket/prefix")``), ``bucket`` talks to GCS
through google-cloud-storage and ``options`` holds the ``-G`` command-line option (not among
the default ones) and the bucket-name rules. What GCS shares with S3 is in
``sacred.observers.object_store``. Names are loaded on first use, so importing this package
costs nothing else, and google-cloud-storage is imported only when an observer or a store is
built.
"""

import importlib

__all__ = (
    "GoogleCloudStorageObserver",
    "GcsStore",
    "gcs_option",
    "gcs_join",
    "parse_gcs_location",
    "replay_fallback",
    "DEFAULT_GCS_PRIORITY",
)

_WHERE = {  # name -> (module, name there)
    "GoogleCloudStorageObserver": (
        "sacred.observers.gcs_observer.observer",
        "GoogleCloudStorageObserver",
    ),
    "DEFAULT_GCS_PRIORITY": ("sacred.observers.gcs_observer.observer", "DEFAULT_GCS_PRIORITY"),
    "_is_valid_bucket": ("sacred.observers.gcs_observer.observer", "_is_valid_bucket"),
    "GcsStore": ("sacred.observers.gcs_observer.store", "GcsStore"),
    "gcs_option": ("sacred.observers.gcs_observer.options", "gcs_option"),
    "gcs_join": ("sacred.observers.gcs_observer.options", "gcs_join"),
    "parse_gcs_location": ("sacred.observers.gcs_observer.options", "parse_gcs_location"),
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
