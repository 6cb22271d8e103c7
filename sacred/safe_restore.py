"""Rebuilding stored data without running code.

Sacred stores configs, infos and results as jsonpickle's JSON (``sacred.serializer.flatten``).
``sacred.serializer.restore`` hands that JSON to jsonpickle, which imports and calls whatever a
record names (``py/reduce``, ``py/function``, ``py/object``): fine for data you wrote yourself,
dangerous for a shared store or a file someone sent you. Every reader of stored or user-supplied
data goes through ``safe_restore`` instead. It rebuilds only the tagged forms Sacred itself
writes, by its own code and without importing anything a record names:

* plain JSON (returned as it is);
* ``py/tuple``, ``py/set``, ``py/b64``/``py/b85`` bytes, ``json://`` keys (ints, floats, tuples, ...);
* numpy scalars, arrays (listed, binary, views) and dtypes; ``complex``;
* ``datetime``/``date``/``time``/``timedelta``/``timezone`` and ``OrderedDict``;
* pandas ``DataFrame`` (the format of jsonpickle 3.4 and later), ``Series``, ``Index``, ``Timestamp``.

Anything else is left as the inert dict it is stored as. With ``on_unsafe="warn"`` (readers) an
``UnsafeDataWarning`` names the field; with ``on_unsafe="raise"`` (command-line values, config
files) an ``UnsafeDataError`` does.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import warnings
import zlib

__all__ = ("safe_restore", "UnsafeDataError", "UnsafeDataWarning")

# bounds against crafted records: decompressed bytes per array, nesting of json:// keys
_MAX_ARRAY_BYTES = 1 << 31
_MAX_KEY_DEPTH = 20


class UnsafeDataWarning(UserWarning):
    """Stored data named something that is not rebuilt (it is kept as plain data)."""


class UnsafeDataError(ValueError):
    """Data names something that is not rebuilt, where that is refused."""


class _Inert(Exception):
    """This tagged object is kept as stored (``reason`` says why)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def safe_restore(flat, field: str = "", on_unsafe: str = "warn"):
    """``flat`` with Sacred's own tagged forms rebuilt and nothing else run or imported.

    ``field`` names where the data comes from (``"config"``, ``"info.x"``) in warnings and errors.
    """
    if on_unsafe not in ("warn", "raise"):
        raise ValueError(f"on_unsafe must be 'warn' or 'raise', not {on_unsafe!r}")
    decoder = _Decoder(field, on_unsafe)
    try:
        if not _has_tags(flat):
            return flat
        return decoder.decode(flat, field)
    except RecursionError:
        decoder.unsafe(field, "nested too deeply to rebuild")
        return flat


def _has_tags(obj, depth=0) -> bool:
    t = type(obj)
    if t is dict:
        for key, value in obj.items():
            if type(key) is not str or key.startswith(("py/", "json://")) or key == "__reduce__":
                return True
            if (type(value) is dict or type(value) is list) and _has_tags(value, depth + 1):
                return True
        return False
    if t is list:
        return any((type(v) is dict or type(v) is list) and _has_tags(v, depth + 1) for v in obj)
    return False


def _join(path: str, key) -> str:
    return f"{path}.{key}" if path else str(key)


class _Decoder:
    def __init__(self, field: str, on_unsafe: str):
        self.field = field
        self.on_unsafe = on_unsafe
        self.warned = False

    # ---- the walk ----
    def decode(self, obj, path: str):
        t = type(obj)
        if t is list:
            return [self.decode(v, f"{path}[{i}]") for i, v in enumerate(obj)]
        if t is not dict:
            return obj
        if any(type(k) is str and k.startswith("py/") for k in obj):
            try:
                return self.tagged(obj, path)
            except _Inert as e:
                self.unsafe(path, e.reason)
                return obj
        result = {}
        for key, value in obj.items():
            result[self.key(key, path)] = self.decode(value, _join(path, key))
        return result

    def key(self, key, path: str):
        if type(key) is not str or not key.startswith("json://"):
            return key
        try:
            flat = json.loads(key[len("json://") :])
        except ValueError:
            return key
        try:
            value = self.key_value(flat, 0)
        except _Inert as e:
            self.unsafe(_join(path, key), e.reason)
            return key
        try:
            hash(value)
        except TypeError:
            return key
        return value

    def key_value(self, flat, depth):
        if depth > _MAX_KEY_DEPTH:
            raise _Inert("a key nested too deeply")
        if type(flat) is dict:
            if set(flat) == {"py/tuple"} and type(flat["py/tuple"]) is list:
                return tuple(self.key_value(v, depth + 1) for v in flat["py/tuple"])
            return self.tagged(flat, "key")
        if type(flat) is list:
            raise _Inert("a list as a dict key")
        return flat

    def unsafe(self, path: str, reason: str):
        where = path or self.field or "data"
        if self.on_unsafe == "raise":
            raise UnsafeDataError(
                f"{where}: {reason}; only plain values and Sacred's own tagged types "
                "(tuples, sets, numpy, pandas, datetimes) are read"
            )
        message = f"{where}: {reason} (kept as stored data)"
        if not self.warned:  # one warning per decoded value is enough to notice
            self.warned = True
            warnings.warn(message, UnsafeDataWarning, stacklevel=4)

    # ---- tagged objects ----
    def tagged(self, obj: dict, path: str):
        if "py/tuple" in obj and len(obj) == 1:
            return tuple(self.decode(v, path) for v in _list(obj["py/tuple"]))
        if "py/set" in obj and len(obj) == 1:
            items = [self.decode(v, path) for v in _list(obj["py/set"])]
            try:
                return set(items)
            except TypeError:
                raise _Inert("a set of unhashable items") from None
        if "py/b64" in obj and len(obj) == 1:
            return _b64(obj["py/b64"])
        if "py/b85" in obj and len(obj) == 1:
            try:
                return base64.b85decode(_str(obj["py/b85"]))
            except ValueError:
                raise _Inert("bad py/b85 bytes") from None
        if "py/reduce" in obj and len(obj) == 1:
            return self.reduce(obj["py/reduce"], path)
        if "py/object" in obj:
            return self.object(obj, path)
        tag = next(k for k in obj if type(k) is str and k.startswith("py/"))
        raise _Inert(f"'{tag}' ({_describe(obj[tag])}) is not rebuilt")

    def reduce(self, parts, path):
        parts = _list(parts)
        if not parts or type(parts[0]) is not dict or set(parts[0]) != {"py/type"}:
            callee = parts[0] if parts else "nothing"
            if type(callee) is dict and len(callee) == 1:  # {"py/function": "os.system"}
                callee = next(iter(callee.values()))
            raise _Inert(f"'py/reduce' of {_describe(callee)} is not rebuilt")
        name = parts[0]["py/type"]
        args = parts[1] if len(parts) > 1 else None
        args = self.decode(args, path) if args is not None else ()
        if not isinstance(args, (tuple, list)):
            raise _Inert(f"'py/reduce' of {name} with malformed arguments")
        if name == "datetime.timedelta" and len(parts) == 2:
            return _timedelta(args)
        if name == "datetime.timezone" and len(parts) == 2:
            return _timezone(args)
        if name in _DATETIME_TYPES and len(parts) == 2:
            return _datetime(name, args)
        if name == "collections.OrderedDict" and len(parts) == 5 and parts[4] is not None:
            import collections

            pairs = self.decode(parts[4], path)
            try:
                return collections.OrderedDict((k, v) for k, v in pairs if _is_hashable(k))
            except (TypeError, ValueError):
                raise _Inert("malformed OrderedDict") from None
        raise _Inert(f"'py/reduce' of {_str_or(name)} is not rebuilt")

    def object(self, obj: dict, path: str):
        name = obj["py/object"]
        if type(name) is not str:
            raise _Inert("'py/object' without a class name")
        if name in _DATETIME_TYPES and "__reduce__" in obj:
            parts = _list(obj["__reduce__"])
            if len(parts) != 2 or parts[0] != {"py/type": name}:
                raise _Inert(f"malformed {name}")
            return _datetime(name, self.decode(parts[1], path))
        if name == "builtins.complex" and "py/newargs" in obj:
            args = self.decode(obj["py/newargs"], path)
            if not isinstance(args, (tuple, list)) or len(args) != 2:
                raise _Inert("malformed complex")
            re_, im = args
            if not all(type(x) in (int, float) for x in (re_, im)):
                raise _Inert("malformed complex")
            return complex(re_, im)
        if name.startswith("numpy."):
            return self.numpy(obj, name, path)
        if name.startswith("pandas."):
            return self.pandas(obj, name, path)
        raise _Inert(f"'py/object' {name} is not rebuilt")

    # ---- numpy ----
    def numpy(self, obj, name, path):
        np = _import("numpy", name)
        if name == "numpy.ndarray":
            return self.ndarray(obj, np, path)
        if name == "numpy.dtype" or name.startswith("numpy.dtypes."):
            return _dtype(np, obj.get("dtype"))
        if "value" in obj and "dtype" in obj:
            dtype = _dtype(np, obj["dtype"])
            if dtype.hasobject or dtype.names is not None:
                raise _Inert(f"{name} of dtype {dtype}")
            value = self.decode(obj["value"], path)
            try:
                return np.array(value, dtype=dtype)[()]
            except (TypeError, ValueError, OverflowError):
                raise _Inert(f"malformed {name}") from None
        raise _Inert(f"'py/object' {name} is not rebuilt")

    def ndarray(self, obj, np, path):
        dtype = _dtype(np, obj.get("dtype"))
        base = obj.get("base")
        if base is not None:
            base = self.decode(base, path)
            if not isinstance(base, np.ndarray):
                try:
                    base = np.array(base)
                except (TypeError, ValueError):
                    raise _Inert("malformed array view") from None
            if dtype.hasobject or base.dtype.hasobject:
                raise _Inert("an object array view")
            base = np.ascontiguousarray(base)
            byteorder = obj.get("byteorder", "|")
            if byteorder not in ("|", "<", ">", "=", "S"):
                raise _Inert("malformed byte order")
            try:
                # ndarray() checks that shape, strides and offset stay inside the buffer
                arr = np.ndarray(
                    buffer=base.data,
                    dtype=dtype.newbyteorder(byteorder),
                    shape=_shape(obj.get("shape")),
                    offset=_int(obj.get("offset", 0)),
                    strides=_shape(obj["strides"]) if obj.get("strides") is not None else None,
                ).copy()
            except (TypeError, ValueError):
                raise _Inert("malformed array view") from None
            return _flags(obj, arr)
        values = obj.get("values")
        shape = obj.get("shape")
        try:
            if type(values) is list:
                arr = np.array(self.decode(values, path), dtype=dtype)
                if shape is not None:
                    arr = arr.reshape(_shape(shape))
            elif type(values) in (int, float, bool):
                arr = np.array([values], dtype=dtype)
            elif type(values) is str:
                arr = self.binary_array(obj, np, dtype, values, path)
            else:
                raise _Inert("malformed array")
        except (TypeError, ValueError, OverflowError, MemoryError):
            raise _Inert("malformed array") from None
        return _flags(obj, arr)

    def binary_array(self, obj, np, dtype, values, path):
        shape = _shape(obj.get("shape"))
        count = math.prod(shape)
        raw = _b64(values)
        if dtype.hasobject:
            # object arrays are stored as JSON text of their (tagged) items
            items = self.decode(json.loads(_inflate(raw, _MAX_ARRAY_BYTES).decode()), path)
            arr = np.array(items, dtype=dtype)
            return arr.reshape(shape)
        size = count * dtype.itemsize
        if size > _MAX_ARRAY_BYTES:
            raise _Inert("an array too large to rebuild")
        try:
            buf = _inflate(raw, size)
        except _Inert:
            if len(raw) != size:  # stored without compression
                raise
            buf = raw
        order = obj.get("order", "C")
        if order not in ("C", "F"):
            raise _Inert("malformed array order")
        arr = np.ndarray(buffer=buf, dtype=dtype, shape=shape, order=order).copy()
        byteorder = obj.get("byteorder")
        if byteorder:
            if byteorder not in ("<", ">", "=", "|"):
                raise _Inert("malformed byte order")
            arr.dtype = arr.dtype.newbyteorder(byteorder)
        return arr

    # ---- pandas ----
    def pandas(self, obj, name, path):
        pd = _import("pandas", name)
        short = name.rsplit(".", 1)[-1]
        if short == "DataFrame":
            return self.dataframe(obj, pd, path)
        if short == "Series":
            index = self.decode(obj.get("index"), path)
            values = self.decode(obj.get("values"), path)
            series_name = obj.get("name")
            if not _is_hashable(series_name):
                raise _Inert("malformed Series")
            try:
                return pd.Series(values, index=index, name=series_name)
            except (TypeError, ValueError):
                raise _Inert("malformed Series") from None
        if short == "Timestamp":
            meta = obj.get("meta") or {}
            try:
                return pd.Timestamp(_str(meta.get("isoformat")))
            except (TypeError, ValueError):
                raise _Inert("malformed Timestamp") from None
        if short in _PANDAS_INDEXES:
            text, meta = self.pandas_text(obj)
            values = self.decode(_json_text(text), path)
            dtype = meta.get("dtype")
            if dtype is not None:
                _dtype(_import("numpy", name), dtype)
            try:
                if short == "MultiIndex":
                    names = meta.get("names")
                    return pd.MultiIndex.from_tuples(values, names=names)
                index_name = meta.get("name")
                return pd.Index(values, dtype=dtype, name=index_name)
            except (TypeError, ValueError):
                raise _Inert(f"malformed {short}") from None
        raise _Inert(f"'py/object' {name} is not rebuilt")

    def pandas_text(self, obj):
        values = obj.get("values")
        meta = obj.get("meta") or {}
        if type(meta) is not dict:
            raise _Inert("malformed pandas metadata")
        if obj.get("txt", True):
            return _str(values), meta
        raw = _b64(values)
        if obj.get("comp", False):
            raw = _inflate(raw, _MAX_ARRAY_BYTES)
        try:
            return raw.decode(), meta
        except UnicodeDecodeError:
            raise _Inert("malformed pandas text") from None

    def dataframe(self, obj, pd, path):
        text, meta = self.pandas_text(obj)
        if "dtypes_rle" not in meta:
            # jsonpickle before 3.4 wrote CSV text whose reading runs its type conversions
            raise _Inert("a DataFrame in jsonpickle's pre-3.4 CSV format is not rebuilt")
        np = _import("numpy", "pandas.DataFrame")
        columns_data = self.decode(_json_text(text), path)
        # keys of the column data are json:// encoded like every other dict key
        columns = self.decode(_json_text(_str(meta.get("columns"))), path)
        index = self.decode(_json_text(_str(meta.get("index"))), path)
        if type(columns_data) is not dict or type(columns) is not list or type(index) is not list:
            raise _Inert("malformed DataFrame")
        codes = []
        for pair in _list(meta["dtypes_rle"]):
            code, count = _list(pair) if len(_list(pair)) == 2 else (None, None)
            if type(code) is not str or type(count) is not int or not 0 <= count <= len(columns):
                raise _Inert("malformed DataFrame dtypes")
            codes.extend([code] * count)
        try:
            if meta.get("is_multicolumns"):
                columns = pd.MultiIndex.from_tuples(columns, names=meta.get("column_names"))
            data, dtypes = {}, {}
            for column, code in zip(columns, codes):
                values = columns_data[column]
                if code == "py/jp":  # each cell was encoded on its own
                    values = [self.decode(_json_text(_str(v)), path) for v in _list(values)]
                else:
                    dtypes[column] = _pandas_dtype(code)
                data[column] = values
            frame = pd.DataFrame(data)
            frame.columns = columns
            for column, dtype in dtypes.items():
                if dtype != "object":
                    frame[column] = frame[column].astype(_dtype(np, dtype))
            if meta.get("is_multiindex"):
                frame.index = pd.MultiIndex.from_tuples(index, names=meta.get("index_names"))
            else:
                frame.index = pd.Index(index, name=meta.get("index_names"))
            if "column_names" in meta and not meta.get("is_multicolumns"):
                frame.columns.name = meta.get("column_names")
            return frame
        except (KeyError, TypeError, ValueError):
            raise _Inert("malformed DataFrame") from None


_DATETIME_TYPES = {
    "datetime.datetime": 10,
    "datetime.date": 4,
    "datetime.time": 6,
}
_PANDAS_INDEXES = {"Index", "RangeIndex", "MultiIndex", "DatetimeIndex", "TimedeltaIndex"}


def _datetime(name, args):
    import datetime as dt

    args = list(args)
    if not args or type(args[0]) is not str:
        raise _Inert(f"malformed {name}")
    payload = _b64(args[0])
    if len(payload) != _DATETIME_TYPES[name]:
        raise _Inert(f"malformed {name}")
    tz = args[1:]
    if len(tz) > 1 or (tz and not isinstance(tz[0], dt.tzinfo)):
        raise _Inert(f"{name} with a time zone that is not rebuilt")
    cls = {"datetime.datetime": dt.datetime, "datetime.date": dt.date, "datetime.time": dt.time}
    try:
        return cls[name](payload, *tz)
    except (TypeError, ValueError):
        raise _Inert(f"malformed {name}") from None


def _timedelta(args):
    import datetime as dt

    if len(args) != 3 or not all(type(a) is int for a in args):
        raise _Inert("malformed timedelta")
    try:
        return dt.timedelta(*args)
    except OverflowError:
        raise _Inert("malformed timedelta") from None


def _timezone(args):
    import datetime as dt

    if not 1 <= len(args) <= 2 or not isinstance(args[0], dt.timedelta):
        raise _Inert("malformed timezone")
    if len(args) == 2 and type(args[1]) is not str:
        raise _Inert("malformed timezone")
    try:
        return dt.timezone(*args)
    except ValueError:
        raise _Inert("malformed timezone") from None


def _dtype(np, spec):
    if type(spec) is not str or len(spec) > 10_000:
        raise _Inert("malformed dtype")
    if spec.startswith(("{", "[")):  # structured dtypes are written as a Python literal
        import ast

        try:
            spec = ast.literal_eval(spec)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            raise _Inert("malformed dtype") from None
    try:
        return np.dtype(spec)
    except (TypeError, ValueError):
        raise _Inert(f"unknown dtype {_describe(spec)}") from None


def _pandas_dtype(code):
    from jsonpickle.tags_pd import REVERSE_TYPE_MAP

    return REVERSE_TYPE_MAP.get(code, "object")


def _flags(obj, arr):
    if obj.get("writeable") is False:
        arr.flags.writeable = False
    return arr


def _shape(value):
    value = _list(value) if value is not None else None
    if value is None or not all(type(n) is int and n >= 0 for n in value) or len(value) > 64:
        raise _Inert("malformed array shape")
    return tuple(value)


def _int(value):
    if type(value) is not int:
        raise _Inert("malformed array offset")
    return value


def _list(value):
    if isinstance(value, dict) and set(value) == {"py/tuple"}:
        value = value["py/tuple"]
    if not isinstance(value, (list, tuple)):
        raise _Inert("malformed tagged object")
    return value


def _str(value):
    if type(value) is not str:
        raise _Inert("malformed tagged object")
    return value


def _str_or(value):
    return value if type(value) is str else _describe(value)


def _b64(text):
    try:
        return base64.b64decode(_str(text), validate=True)
    except (binascii.Error, ValueError):
        raise _Inert("bad base64 data") from None


def _inflate(raw, limit):
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(raw, limit + 1)
    except zlib.error:
        raise _Inert("bad compressed data") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise _Inert("compressed data larger than its declared size")
    return out


def _json_text(text):
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise _Inert("malformed embedded JSON") from None


def _import(module, name):
    try:
        return __import__(module)
    except ImportError:
        raise _Inert(f"{name} needs {module}, which is not installed") from None


def _is_hashable(value) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _describe(value) -> str:
    text = value if type(value) is str else json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."
