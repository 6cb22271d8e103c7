"""What the MongoObserver needs from the driver: loading pymongo lazily, the collections it
writes (``Collections``), which errors mean "MongoDB did not take it", and values BSON can
store (``force_valid_bson_key``, ``force_bson_encodeable``, public through
``sacred.observers.mongo``) with their encoded size.
"""

import dataclasses
import sys
from typing import Any

from sacred.utils import without_surrogates

_TOO_LARGE_CODES = (10334, 17419, 17420)


@dataclasses.dataclass
class Collections:
    """Where one observer writes: its runs and metrics collections and the database's GridFS.

    The observer and the parts it holds share one of these, so that replacing
    ``observer.runs`` (a wrapper in a test, say) reaches all of them.
    """

    runs: Any
    metrics: Any
    fs: Any


def _import_mongo():
    try:
        import gridfs
        import pymongo
    except ImportError as e:  # pragma: no cover - pymongo is in the mongo extra
        raise ImportError('The MongoObserver needs pymongo: pip install "sacred[mongo]"') from e
    return pymongo, gridfs


def backend_errors():
    """The exceptions that mean "MongoDB did not take it" (retry later)."""
    import gridfs.errors
    import pymongo.errors

    return (pymongo.errors.PyMongoError, gridfs.errors.GridFSError, OSError)


def too_large(error) -> bool:
    """Whether a driver error says a document passed MongoDB's size limit."""
    import pymongo.errors

    if isinstance(error, pymongo.errors.DocumentTooLarge):
        return True
    code = getattr(error, "code", None)
    return code in _TOO_LARGE_CODES or "too large" in str(error).lower()


def ignore_errors(func, *args):
    """``func(*args)``, and never mind if it fails (cleaning up files nobody reads)."""
    try:
        func(*args)
    except Exception:
        pass


def force_valid_bson_key(key) -> str:
    """A key MongoDB accepts: ``str(key)``, a leading ``$`` becomes ``@``, dots become commas
    (and U+FFFD stands for the surrogates of a name that is not UTF-8)."""
    key = without_surrogates(str(key))
    if key.startswith("$"):
        key = "@" + key[1:]
    return key.replace(".", ",")


def _bson_ok(value) -> bool:
    import bson

    try:
        bson.encode({"v": value})
        return True
    except (bson.errors.InvalidDocument, OverflowError, TypeError, ValueError):
        return False


def force_bson_encodeable(obj):
    """A copy of ``obj`` that BSON can store: bad keys fixed, unencodable values as ``str``.

    Numpy arrays are kept as they are.
    """
    if isinstance(obj, dict):
        return {force_valid_bson_key(k): force_bson_encodeable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [force_bson_encodeable(v) for v in obj]
    if isinstance(obj, str):  # (BSON refuses surrogates: a name that is not UTF-8)
        return without_surrogates(obj)
    np = sys.modules.get("numpy")
    if np is not None and isinstance(obj, np.ndarray):
        return obj
    return obj if _bson_ok(obj) else str(obj)


def without_surrogates_in(obj):
    """A copy of a document with U+FFFD in place of the surrogates in its strings and keys
    (names that are not UTF-8, which BSON refuses); nothing else changes."""
    if isinstance(obj, dict):
        return {
            without_surrogates(k) if isinstance(k, str) else k: without_surrogates_in(v)
            for k, v in obj.items()
        }
    if isinstance(obj, (list, tuple)):
        return type(obj)(without_surrogates_in(v) for v in obj)
    return without_surrogates(obj) if isinstance(obj, str) else obj


def utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def bson_size(value) -> int:
    """Bytes of ``value`` in a BSON document (its ``repr``'s length if BSON refuses it)."""
    import bson

    try:
        return len(bson.encode({"v": value}))
    except Exception:
        return len(repr(value))
