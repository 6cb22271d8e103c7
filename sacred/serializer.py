"""JSON-compatible flattening of arbitrary Python objects (jsonpickle underneath).

``flatten(obj) == json.loads(jsonpickle.encode(obj, keys=True))`` and
``restore(flat) == jsonpickle.decode(json.dumps(flat), keys=True, on_missing="error")``.
Plain JSON data takes a fast path that gives the same result without jsonpickle.
``restore`` runs whatever code the data names: use it on trusted data only (readers of stored
data use ``sacred.safe_restore``).
The module attribute ``json`` is the jsonpickle module (loaded on first use, together with
its numpy/pandas handlers when those libraries are imported).
"""

import json as _json
import sys

__all__ = ("flatten", "restore")

_jsonpickle = None
_registered = set()


def _get_jsonpickle():
    global _jsonpickle
    if _jsonpickle is None:
        import jsonpickle

        jsonpickle.set_encoder_options("simplejson", sort_keys=True, indent=4)
        jsonpickle.set_encoder_options("demjson", compactly=False)
        _jsonpickle = jsonpickle
    # numpy/pandas objects can only exist once their library is imported
    for lib in ("numpy", "pandas"):
        if lib not in _registered and lib in sys.modules:
            _registered.add(lib)
            try:
                ext = __import__(f"jsonpickle.ext.{lib}", fromlist=["register_handlers"])
                ext.register_handlers()
            except ImportError:  # pragma: no cover - broken installation
                pass
    return _jsonpickle


def __getattr__(name):
    if name == "json":
        return _get_jsonpickle()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _NotPlain(Exception):
    pass


def _copy_plain(obj, seen):
    """A fresh copy of plain JSON data, or _NotPlain for anything jsonpickle would tag.

    Containers seen twice are not plain: jsonpickle writes references ("py/id") for them.
    """
    t = type(obj)
    if t is str or t is int or t is float or t is bool or obj is None:
        return obj
    if t is dict:
        if id(obj) in seen:
            raise _NotPlain
        seen.add(id(obj))
        result = {}
        for key, value in obj.items():
            if type(key) is not str or key.startswith(("py/", "json://")):
                raise _NotPlain
            result[key] = _copy_plain(value, seen)
        return result
    if t is list:
        if id(obj) in seen:
            raise _NotPlain
        seen.add(id(obj))
        return [_copy_plain(value, seen) for value in obj]
    raise _NotPlain


def _is_plain_flat(obj):
    """Whether restoring ``obj`` would give back ``obj`` itself (no tags, str keys)."""
    t = type(obj)
    if t is str or t is int or t is float or t is bool or obj is None:
        return True
    if t is dict:
        for key, value in obj.items():
            if type(key) is not str or key.startswith(("py/", "json://")):
                return False
            if not _is_plain_flat(value):
                return False
        return True
    if t is list:
        return all(_is_plain_flat(value) for value in obj)
    return False


def _copy_flat(obj):
    if type(obj) is dict:
        return {key: _copy_flat(value) for key, value in obj.items()}
    if type(obj) is list:
        return [_copy_flat(value) for value in obj]
    return obj


def flatten(obj):
    """A JSON-compatible structure that ``restore`` turns back into ``obj``."""
    try:
        return _copy_plain(obj, set())
    except _NotPlain:
        pass
    except RecursionError:
        pass
    # read-only containers exist only once their module is loaded: look it up instead of
    # importing it (the config package imports this module)
    containers = sys.modules.get("sacred.config.custom_containers")
    if containers is not None and _contains_read_only(obj, containers.ReadOnlyContainer):
        # read-only configs serialize like the plain containers they stand for
        obj = containers.undo_read_only(obj)
        try:
            return _copy_plain(obj, set())
        except _NotPlain:
            pass
    jsonpickle = _get_jsonpickle()
    return _json.loads(jsonpickle.encode(obj, keys=True))


def _contains_read_only(obj, cls, depth=0):
    if isinstance(obj, cls):
        return True
    if depth > 100:
        return False
    if isinstance(obj, dict):
        return any(_contains_read_only(v, cls, depth + 1) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return any(_contains_read_only(v, cls, depth + 1) for v in obj)
    return False


def restore(flat):
    """The object that ``flatten`` turned into ``flat``: for trusted data only.

    jsonpickle imports and calls whatever ``flat`` names (``py/reduce``, ``py/function``), so
    restoring data from a store, a file or a command line can run code. The project's readers
    use ``sacred.safe_restore.safe_restore``, which rebuilds Sacred's own types only.
    """
    try:
        if _is_plain_flat(flat):
            return _copy_flat(flat)
    except RecursionError:
        pass
    jsonpickle = _get_jsonpickle()
    return jsonpickle.decode(_json.dumps(flat), keys=True, on_missing="error")
