"""Containers used while evaluating configs and inside captured functions.

* ``DogmaticDict``/``DogmaticList`` hold the *fixed* values (config updates) while a
  config scope runs: assignments to fixed keys are ignored, and the dict records what the
  scope tried to change.
* ``ReadOnlyDict``/``ReadOnlyList`` are what a captured function sees as its config.
"""

import copy
import sys

from sacred.utils import SacredError, join_paths

__all__ = [
    "fallback_dict",
    "DogmaticDict",
    "DogmaticList",
    "ReadOnlyContainer",
    "ReadOnlyDict",
    "ReadOnlyList",
    "make_read_only",
    "SIMPLIFY_TYPE",
    "type_changed",
    "is_different",
]


class fallback_dict(dict):
    """A dict that looks up missing keys in ``fallback`` (which is never written to)."""

    def __init__(self, fallback, **kwargs):
        super().__init__(**kwargs)
        self.fallback = fallback

    def __getitem__(self, item):
        if dict.__contains__(self, item):
            return dict.__getitem__(self, item)
        return self.fallback[item]

    def __contains__(self, item):
        return dict.__contains__(self, item) or item in self.fallback

    def get(self, key, default=None):
        if dict.__contains__(self, key):
            return dict.__getitem__(self, key)
        return self.fallback.get(key, default)


class DogmaticDict(dict):
    """A dict whose ``fixed`` entries cannot be overwritten.

    Assigning a dict to a fixed dict entry merges it (fixed sub-keys win). What the
    assignments would have changed is recorded in ``modified`` and ``typechanges``.
    Reads fall back to ``fallback``, but a fixed value beats the fallback's, and a fixed
    dict reads the rest of its keys from the fallback's dict of the same name. Writes to
    fallback keys are recorded in ``fallback_writes``.
    """

    def __init__(self, fixed=None, fallback=None):
        super().__init__()
        self.fixed = fixed if fixed is not None else {}
        self._fallback = {}
        self.fallback_writes = []
        self.modified = set()
        self.typechanges = {}
        if fallback:
            self.fallback = fallback

    @property
    def fallback(self):
        return self._fallback

    @fallback.setter
    def fallback(self, value):
        fixed = self.fixed
        for key in fixed.keys() & value.keys():
            fixed_value = fixed[key]
            if isinstance(fixed_value, dict) and isinstance(value[key], dict):
                if not isinstance(fixed_value, DogmaticDict):
                    fixed_value = fixed[key] = DogmaticDict(fixed_value)
                fixed_value.fallback = value[key]
        self._fallback = value

    def _log_blocked_setitem(self, key, value, fixed_value):
        if type_changed(value, fixed_value):
            self.typechanges[key] = (type(value), type(fixed_value))
        if is_different(value, fixed_value):
            self.modified.add(key)
        # propagate what happened in nested dogmatic dicts
        if isinstance(fixed_value, DogmaticDict):
            for k in fixed_value.modified:
                self.modified.add(join_paths(key, k))
            for k, val in fixed_value.typechanges.items():
                self.typechanges[join_paths(key, k)] = val
            for k in fixed_value.fallback_writes:
                self.fallback_writes.append(join_paths(key, k))

    def __setitem__(self, key, value):
        fixed = self.fixed
        if key not in fixed:
            if key in self.fallback:
                self.fallback_writes.append(key)
            dict.__setitem__(self, key, value)
            return
        fixed_value = fixed[key]
        dict.__setitem__(self, key, fixed_value)
        if isinstance(fixed_value, DogmaticDict) and isinstance(value, dict):
            # merge: new sub-keys are added, fixed sub-keys keep their value
            for k, v in value.items():
                fixed_value[k] = v
        self._log_blocked_setitem(key, value, fixed_value)

    def __getitem__(self, item):
        if dict.__contains__(self, item):
            return dict.__getitem__(self, item)
        if item in self._fallback:
            if item in self.fixed:
                return self.fixed[item]
            return self._fallback[item]
        raise KeyError(item)

    def __contains__(self, item):
        return dict.__contains__(self, item) or item in self._fallback

    def get(self, key, default=None):
        if dict.__contains__(self, key):
            return dict.__getitem__(self, key)
        if key in self._fallback and key in self.fixed:
            return self.fixed[key]
        return self._fallback.get(key, default)

    def has_key(self, item):
        return self.__contains__(item)

    def __delitem__(self, key):
        # deleting a fixed key does nothing
        if key not in self.fixed:
            dict.__delitem__(self, key)

    def update(self, iterable=None, **kwargs):
        if iterable is not None:
            if hasattr(iterable, "keys"):
                for key in iterable.keys():
                    self[key] = iterable[key]
            else:
                for key, value in iterable:
                    self[key] = value
        for key, value in kwargs.items():
            self[key] = value

    def revelation(self):
        """Add the fixed keys that were never assigned; return their (dotted) paths."""
        missing = set()
        for key, value in self.fixed.items():
            if not dict.__contains__(self, key):
                dict.__setitem__(self, key, value)
                missing.add(key)
            current = dict.__getitem__(self, key)
            if isinstance(current, (DogmaticDict, DogmaticList)):
                missing |= {join_paths(key, k) for k in current.revelation()}
        return missing


class DogmaticList(list):
    """A list (from the fixed values) that config scopes cannot change."""

    def _ignore(self, *args, **kwargs):
        pass

    append = extend = insert = reverse = sort = remove = clear = _ignore
    __setitem__ = __delitem__ = _ignore

    def __iadd__(self, other):
        return self

    def __imul__(self, other):
        return self

    def pop(self, index=-1):
        # the one mutator that cannot be ignored silently: it would have to return an
        # element it does not remove
        raise TypeError("Cannot pop from DogmaticList")

    def revelation(self):
        for obj in self:
            if isinstance(obj, (DogmaticDict, DogmaticList)):
                obj.revelation()
        return set()


# ------------------------------------------------------------ read-only containers
READ_ONLY_MESSAGE = "The configuration is read-only in a captured function!"


class ReadOnlyContainer:
    """Mixin: every mutating method raises a SacredError with ``self.message``."""

    message = READ_ONLY_MESSAGE

    def _readonly(self, *args, **kwargs):
        raise SacredError(self.message, filter_traceback="always")


class ReadOnlyDict(ReadOnlyContainer, dict):
    """A dict that cannot be changed. Equal to, and serialized like, a plain dict."""

    def __init__(self, *args, message=None, **kwargs):
        dict.__init__(self, *args, **kwargs)
        if message is not None:
            self.message = message

    __setitem__ = __delitem__ = ReadOnlyContainer._readonly
    clear = pop = popitem = setdefault = update = ReadOnlyContainer._readonly

    def __ior__(self, other):
        self._readonly()

    def __reduce__(self):
        return self.__class__, (dict(self),), self.__dict__

    def copy(self):
        return dict(self)

    def __copy__(self):
        return dict(self)

    def __deepcopy__(self, memo):
        result = {}
        memo[id(self)] = result
        for key, value in self.items():
            result[copy.deepcopy(key, memo)] = copy.deepcopy(value, memo)
        return result


class ReadOnlyList(ReadOnlyContainer, list):
    """A list that cannot be changed. Equal to, and serialized like, a plain list."""

    def __init__(self, *args, message=None):
        list.__init__(self, *args)
        if message is not None:
            self.message = message

    __setitem__ = __delitem__ = ReadOnlyContainer._readonly
    append = extend = insert = pop = remove = ReadOnlyContainer._readonly
    reverse = sort = clear = ReadOnlyContainer._readonly

    def __iadd__(self, other):
        self._readonly()

    def __imul__(self, other):
        self._readonly()

    def __reduce__(self):
        return self.__class__, (list(self),), self.__dict__

    def copy(self):
        return list(self)

    def __copy__(self):
        return list(self)

    def __deepcopy__(self, memo):
        result = []
        memo[id(self)] = result
        result.extend(copy.deepcopy(value, memo) for value in self)
        return result


def make_read_only(o, error_message=None):
    """Recursively turn dicts and lists into read-only containers (tuples element-wise)."""
    if _yaml_pending and "yaml" in sys.modules:
        register_yaml_representers()
    return _make_read_only(o, error_message)


def _make_read_only(o, message):
    if isinstance(o, dict):
        return ReadOnlyDict({k: _make_read_only(v, message) for k, v in o.items()}, message=message)
    if isinstance(o, list):
        return ReadOnlyList([_make_read_only(v, message) for v in o], message=message)
    if isinstance(o, tuple):
        return tuple(_make_read_only(v, message) for v in o)
    return o


_yaml_pending = True


def register_yaml_representers():
    """Let PyYAML dump read-only containers as plain mappings and sequences.

    Called lazily (when yaml is used by Sacred, or already imported) so that importing
    Sacred does not import yaml.
    """
    global _yaml_pending
    if not _yaml_pending:
        return
    import yaml

    def represent_dict(dumper, data):
        return dumper.represent_dict(dict(data))

    def represent_list(dumper, data):
        return dumper.represent_list(list(data))

    for dumper in (yaml.Dumper, yaml.SafeDumper):
        yaml.add_representer(ReadOnlyDict, represent_dict, Dumper=dumper)
        yaml.add_representer(ReadOnlyList, represent_list, Dumper=dumper)
    _yaml_pending = False


def undo_read_only(o):
    """Plain containers for read-only ones (recursively); everything else unchanged."""
    if isinstance(o, dict):
        return {k: undo_read_only(v) for k, v in o.items()}
    if isinstance(o, list):
        return [undo_read_only(v) for v in o]
    if isinstance(o, tuple):
        return tuple(undo_read_only(v) for v in o)
    return o


# ------------------------------------------------------------ type comparisons
SIMPLIFY_TYPE = {
    type(None): type(None),
    bool: bool,
    float: float,
    int: int,
    str: str,
    list: list,
    tuple: list,
    dict: dict,
    DogmaticDict: dict,
    DogmaticList: list,
}

_numpy_types_added = False


def _add_numpy_types():
    """Map numpy scalar types to Python ones, once numpy has been imported by someone."""
    global _numpy_types_added
    np = sys.modules.get("numpy")
    if np is None or _numpy_types_added:
        return
    _numpy_types_added = True
    SIMPLIFY_TYPE[np.bool_] = bool
    for name in ("float16", "float32", "float64", "longdouble"):
        if hasattr(np, name):
            SIMPLIFY_TYPE[getattr(np, name)] = float
    for name in (
        "int8",
        "int16",
        "int32",
        "int64",
        "uint8",
        "uint16",
        "uint32",
        "uint64",
        "intc",
        "uintc",
        "longlong",
        "ulonglong",
    ):
        if hasattr(np, name):
            SIMPLIFY_TYPE[getattr(np, name)] = int


def _simplified(t):
    try:
        return SIMPLIFY_TYPE[t]
    except KeyError:
        if not _numpy_types_added and "numpy" in sys.modules:
            _add_numpy_types()
            return SIMPLIFY_TYPE.get(t, t)
        return t


def type_changed(old_value, new_value):
    """Whether replacing ``old_value`` by ``new_value`` changes its (simplified) type.

    A change from None never counts.
    """
    if old_value is None:
        return False
    return _simplified(type(old_value)) != _simplified(type(new_value))


def is_different(old_value, new_value):
    """``old_value != new_value``, aware of numpy arrays (also inside containers)."""
    np = sys.modules.get("numpy")
    if np is not None and (isinstance(old_value, np.ndarray) or isinstance(new_value, np.ndarray)):
        try:
            if np.shape(old_value) != np.shape(new_value):
                return True
            return not bool(np.array_equal(old_value, new_value))
        except Exception:
            return True
    try:
        return bool(old_value != new_value)
    except Exception:
        # e.g. containers holding numpy arrays: compare element-wise
        if isinstance(old_value, (list, tuple)) and isinstance(new_value, (list, tuple)):
            return len(old_value) != len(new_value) or any(
                is_different(a, b) for a, b in zip(old_value, new_value)
            )
        if isinstance(old_value, dict) and isinstance(new_value, dict):
            return set(old_value) != set(new_value) or any(
                is_different(old_value[k], new_value[k]) for k in old_value
            )
        return old_value is not new_value
