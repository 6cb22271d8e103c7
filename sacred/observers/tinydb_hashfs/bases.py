"""TinyDB + HashFS plumbing: serializers for the values a run entry holds, and the store.

A run entry is a plain dict in ``metadata.json``; values JSON cannot hold are written as
tagged strings (``"{TinyDate}:2026-11-27T22:43:50.227301"``, ``"{TinyFile}:<md5>"``, ...).
Files (sources, resources, artifacts) live in ``hashfs/`` under their md5, and an entry
refers to them by open read-only handles (``BufferedReaderWrapper``).
"""

import datetime as dt
import io
import json
import os
import sys

from hashfs import HashFS
from tinydb import TinyDB
from tinydb.storages import JSONStorage
from tinydb_serialization import SerializationMiddleware, Serializer

__all__ = (
    "BufferedReaderWrapper",
    "DateTimeSerializer",
    "NdArraySerializer",
    "DataFrameSerializer",
    "SeriesSerializer",
    "FileSerializer",
    "get_db_file_manager",
)

DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"


class _NotLoaded:
    """Stands for a class of a library nobody imported: no value can be an instance."""


def _loaded(module, name):
    """``module.name`` if the module is imported already (else no value can be one)."""
    mod = sys.modules.get(module)
    return getattr(mod, name) if mod is not None else _NotLoaded


class BufferedReaderWrapper(io.BufferedReader):
    """A read-only handle of a stored file that can be copied (TinyDB copies entries).

    It takes over ``f_obj`` (a file object opened for reading, or a path): a copy opens
    the same file again.
    """

    def __init__(self, f_obj):
        name = getattr(f_obj, "name", f_obj)
        super().__init__(io.FileIO(name, "r"))
        if hasattr(f_obj, "close"):
            f_obj.close()

    def __copy__(self):
        return type(self)(self.name)

    def __deepcopy__(self, memo):
        return self.__copy__()


class DateTimeSerializer(Serializer):
    OBJ_CLASS = dt.datetime

    def encode(self, obj):
        return obj.strftime(DATETIME_FORMAT)

    def decode(self, s):
        return dt.datetime.strptime(s, DATETIME_FORMAT)


class NdArraySerializer(Serializer):
    """numpy arrays as nested JSON lists (numpy is only imported when present)."""

    @property
    def OBJ_CLASS(self):  # noqa: N802 (the name tinydb_serialization asks for)
        return _loaded("numpy", "ndarray")

    def encode(self, obj):
        return json.dumps(obj.tolist(), check_circular=True)

    def decode(self, s):
        import numpy as np

        return np.array(json.loads(s))


class DataFrameSerializer(Serializer):
    @property
    def OBJ_CLASS(self):  # noqa: N802
        return _loaded("pandas", "DataFrame")

    def encode(self, obj):
        return obj.to_json()

    def decode(self, s):
        import pandas as pd

        return pd.read_json(io.StringIO(s))


class SeriesSerializer(Serializer):
    @property
    def OBJ_CLASS(self):  # noqa: N802
        return _loaded("pandas", "Series")

    def encode(self, obj):
        return obj.to_json()

    def decode(self, s):
        import pandas as pd

        return pd.read_json(io.StringIO(s), typ="series")


class FileSerializer(Serializer):
    """A stored file's handle is written as its HashFS id (the md5 of its content)."""

    OBJ_CLASS = BufferedReaderWrapper

    def __init__(self, fs):
        self.fs = fs

    def encode(self, handle):
        return self.fs.get(handle.name).id

    def decode(self, file_id):
        return BufferedReaderWrapper(self.fs.open(file_id))


def _importable(name) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def get_db_file_manager(root_dir):
    """The TinyDB of ``root_dir/metadata.json`` and the HashFS of ``root_dir/hashfs``."""
    os.makedirs(root_dir, exist_ok=True)
    fs = HashFS(os.path.join(root_dir, "hashfs"), depth=3, width=2, algorithm="md5")
    serialization = SerializationMiddleware(JSONStorage)
    serialization.register_serializer(DateTimeSerializer(), "TinyDate")
    serialization.register_serializer(FileSerializer(fs), "TinyFile")
    # registered without importing numpy or pandas: see _loaded
    if _importable("numpy"):
        serialization.register_serializer(NdArraySerializer(), "TinyArray")
    if _importable("pandas"):
        serialization.register_serializer(DataFrameSerializer(), "TinyDataFrame")
        serialization.register_serializer(SeriesSerializer(), "TinySeries")
    db = TinyDB(os.path.join(root_dir, "metadata.json"), storage=serialization)
    return db, fs
