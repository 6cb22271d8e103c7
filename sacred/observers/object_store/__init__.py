"""What the S3 and Google Cloud Storage backends share (neither is imported here).

``layout`` says where a run's objects are below ``basedir`` (the FileStorageObserver's
layout) and how their JSON is written, ``bucket`` the few operations on a bucket that a
backend implements (``Bucket``), ``observer`` the observer both observers are
(``ObjectStoreObserver``, ``replay_fallback``) and ``store`` the reader both stores are
(``ObjectStore``). Names are loaded on first use.
"""

import importlib

__all__ = ("ObjectStoreObserver", "replay_fallback", "ObjectStore", "Bucket", "MissingObject")

_MODULE_OF = {
    "ObjectStoreObserver": "observer",
    "replay_fallback": "observer",
    "ObjectStore": "store",
    "Bucket": "bucket",
    "MissingObject": "bucket",
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
