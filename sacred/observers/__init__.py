"""Observers store what happens in a run: one module per storage backend.

Every name is loaded on first use, so importing this package needs none of the optional
libraries (pymongo, sqlalchemy, tinydb, boto3, ...); a backend imports its library when
it is constructed.
"""

import importlib

__all__ = (
    "FileStorageObserver",
    "RunObserver",
    "MongoObserver",
    "QueuedMongoObserver",
    "SqlObserver",
    "TinyDbObserver",
    "TinyDbReader",
    "SlackObserver",
    "TelegramObserver",
    "S3Observer",
    "QueueObserver",
    "GoogleCloudStorageObserver",
)

_MODULE_OF = {
    "FileStorageObserver": "file_storage",
    "RunObserver": "base",
    "MongoObserver": "mongo",
    "QueuedMongoObserver": "mongo",
    "SqlObserver": "sql",
    "TinyDbObserver": "tinydb_hashfs",
    "TinyDbReader": "tinydb_hashfs",
    "SlackObserver": "slack",
    "TelegramObserver": "telegram_obs",
    "S3Observer": "s3_observer",
    "QueueObserver": "queue",
    "GoogleCloudStorageObserver": "gcs_observer",
}


def __getattr__(name):
    submodule = _MODULE_OF.get(name)
    if submodule is None:
        try:  # a submodule, e.g. ``sacred.observers.file_storage``
            value = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    else:
        module_name = f"{__name__}.{submodule}"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name != module_name:
                raise  # a real import error inside the backend module
            module = None
        value = getattr(module, name, None)
        if value is None:
            raise AttributeError(
                f"{name} is not available in this version of sacred ({module_name})"
            )
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
