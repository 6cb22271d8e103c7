"""Low-level helpers of the MongoObserver: loading the driver lazily, making values
BSON-storable (``force_valid_bson_key``, ``force_bson_encodeable``, public through
``sacred.observers.mongo``) and estimating their encoded size.
"""

import sys

_TOO_LARGE_CODES = (10334, 17419, 17420)


def _import_mongo():
    try:
        import gridfs
        import pymongo
    except ImportError as e:  # pragma: no cover - pymongo is in the mongo extra
        raise ImportError('The MongoObserver needs pymongo: pip install "sacred[mongo]"') from e
    return pymongo, gridfs


def force_valid_bson_key(key) -> str:
    """A key MongoDB accepts: ``str(key)``, a leading ``$`` becomes ``@``, dots become commas."""
    key = str(key)
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
    np = sys.modules.get("numpy")
    if np is not None and isinstance(obj, np.ndarray):
        return obj
    return obj if _bson_ok(obj) else str(obj)


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _bson_size(value) -> int:
    import bson

    try:
        return len(bson.encode({"v": value}))
    except Exception:
        return len(repr(value))


def _too_large(error) -> bool:
    import pymongo.errors

    if isinstance(error, pymongo.errors.DocumentTooLarge):
        return True
    code = getattr(error, "code", None)
    return code in _TOO_LARGE_CODES or "too large" in str(error).lower()
