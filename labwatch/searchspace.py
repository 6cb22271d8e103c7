"""``SearchSpace``: the hyperparameters of a search-space function, by their config paths.

The body of a function decorated with ``@assistant.search_space`` is evaluated like a
Sacred config scope. Every hyperparameter found in the resulting (nested) dict is named by
its path (``lr``, ``net.layers``, ``x[0]``); any other value is passed through to the
configuration unchanged. Values are exchanged as flat ``{name: value}`` dicts in which
inactive conditional parameters are absent.

The identity of a search space is a hash of its canonical JSON definition: the same
definition always gets the same id, in any process, and that id marks its runs.
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
from typing import Optional

from labwatch.exceptions import InconsistentSpace, ParamValueExcept
from labwatch.hyperparameters import ConditionResult, Parameter, decode_param, plain
from sacred.config.config_scope import ConfigScope

__all__ = ("SearchSpace", "build_search_space", "path_name", "get_by_path")

_PARAM_KEY = "_labwatch_param"


def path_name(path) -> str:
    """``("net", "sizes", 0)`` -> ``"net.sizes[0]"``."""
    name = ""
    for key in path:
        if isinstance(key, int):
            name += f"[{key}]"
        else:
            name = f"{name}.{key}" if name else str(key)
    return name


_MISSING = object()
_ABSENT = object()


def get_by_path(config, path, default=_MISSING):
    """The value at a path (tuple of keys/indices) of a nested config."""
    value = config
    for key in path:
        try:
            value = value[key]
        except (KeyError, IndexError, TypeError):
            if default is _MISSING:
                raise KeyError(path_name(path)) from None
            return default
    return value


class SearchSpace:
    def __init__(self, definition: dict, name: Optional[str] = None):
        if not isinstance(definition, dict):
            raise InconsistentSpace(f"A search space must be a dict, not {definition!r}")
        self.definition = definition
        self.name = name
        self.parameters: dict = {}  # name -> Parameter, parents before their children
        self.paths: dict = {}  # name -> [path, ...]
        by_object = {}  # id(param) -> [param, [paths]]
        self._collect(definition, (), by_object)
        if not by_object:
            raise InconsistentSpace(
                f"The search space {name or ''!r} defines no hyperparameters: assign "
                "UniformFloat(...), Categorical(...), ... to its variables"
            )
        names = {}
        for param, paths in by_object.values():
            # the shortest path names a parameter found at several places
            best = min((path_name(p) for p in paths), key=lambda n: (len(n), n))
            names[id(param)] = best
            self.paths[best] = paths
        self._names = names
        self.conditions = {}  # child name -> parent name
        for param, _ in by_object.values():
            if isinstance(param, ConditionResult):
                child = names[id(param)]
                if id(param.parent) not in names:
                    raise InconsistentSpace(
                        f"The condition of {child!r} refers to a parent ({param.parent!r}) "
                        "that is not part of the search space: assign the parent to a "
                        "variable of the same search space"
                    )
                self.conditions[child] = names[id(param.parent)]
        # topological order (a parent always exists before its child, so no cycles)
        ordered, seen = [], set()

        def visit(n):
            if n in seen:
                return
            seen.add(n)
            if n in self.conditions:
                visit(self.conditions[n])
            ordered.append(n)

        params_by_name = {names[i]: p for i, (p, _) in by_object.items()}
        for n in params_by_name:
            visit(n)
        self.parameters = {n: params_by_name[n] for n in ordered}
        self._id = None

    def _collect(self, obj, path, found):
        if isinstance(obj, Parameter):
            entry = found.setdefault(id(obj), [obj, []])
            entry[1].append(path)
        elif isinstance(obj, dict):
            for key, value in obj.items():
                self._collect(value, path + (key,), found)
        elif isinstance(obj, (list, tuple)):
            for i, value in enumerate(obj):
                self._collect(value, path + (i,), found)

    # ------------------------------------------------------------------ identity
    def name_of(self, param: Parameter) -> str:
        return self._names[id(param)]

    def to_json(self) -> dict:
        """The definition as JSON: parameters by name, and the structure they sit in."""

        def structure(obj):
            if isinstance(obj, Parameter):
                return {_PARAM_KEY: self.name_of(obj)}
            if isinstance(obj, dict):
                return {k: structure(v) for k, v in obj.items()}
            if isinstance(obj, (list, tuple)):
                return [structure(v) for v in obj]
            return plain(obj)

        return {
            "parameters": {n: p.to_dict(self.name_of) for n, p in self.parameters.items()},
            "structure": structure(self.definition),
        }

    @property
    def id(self) -> str:
        """A stable hash of the definition (not of the function's name)."""
        if self._id is None:
            text = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))
            self._id = hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]
        return self._id

    @classmethod
    def from_json(cls, doc: dict, name: Optional[str] = None) -> "SearchSpace":
        decoded = {}

        def get(n):
            if n not in decoded:
                if n not in doc["parameters"]:
                    raise InconsistentSpace(f"Unknown condition parent {n!r}")
                decoded[n] = decode_param(doc["parameters"][n], get)
            return decoded[n]

        def rebuild(obj):
            if isinstance(obj, dict):
                if set(obj) == {_PARAM_KEY}:
                    return get(obj[_PARAM_KEY])
                return {k: rebuild(v) for k, v in obj.items()}
            if isinstance(obj, list):
                return [rebuild(v) for v in obj]
            return obj

        return cls(rebuild(doc["structure"]), name=name or doc.get("name"))

    def __eq__(self, other):
        return isinstance(other, SearchSpace) and self.id == other.id

    def __hash__(self):
        return hash(self.id)

    def __repr__(self):
        return f"SearchSpace({self.name!r}, {list(self.parameters)})"

    # ------------------------------------------------------------------ values
    def is_active(self, name: str, values: dict) -> bool:
        parent = self.conditions.get(name)
        if parent is None:
            return True
        return parent in values and self.parameters[name].condition.holds(values[parent])

    def sample(self, rng: Optional[random.Random] = None) -> dict:
        """Random values from the priors; inactive parameters are left out."""
        rng = rng or random.Random()
        values = {}
        for name, param in self.parameters.items():
            if self.is_active(name, values):
                values[name] = param.sample(rng)
        return values

    def default(self) -> dict:
        values = {}
        for name, param in self.parameters.items():
            if self.is_active(name, values):
                values[name] = param.default()
        return values

    def validate(self, values: dict) -> None:
        """Raise ParamValueExcept unless ``values`` is a complete, valid configuration."""
        unknown = [k for k in values if k not in self.parameters]
        if unknown:
            raise ParamValueExcept(f"Not parameters of the search space: {unknown}")
        for name, param in self.parameters.items():
            active = self.is_active(name, values)
            if active and name not in values:
                raise ParamValueExcept(f"The active parameter {name!r} has no value")
            if not active and name in values:
                raise ParamValueExcept(
                    f"{name!r} is inactive (its condition does not hold) but has a value"
                )
            if active and not param.valid(values[name]):
                raise ParamValueExcept(f"{values[name]!r} is not a valid value of {name!r}")

    def valid(self, values: dict) -> bool:
        try:
            self.validate(values)
        except ParamValueExcept:
            return False
        return True

    def fill_in(self, values: dict) -> dict:
        """The nested config of the search space with ``values`` at the parameters' paths.

        Inactive parameters are left out (in a list they become None).
        """
        values = plain(values)

        def build(obj):
            if isinstance(obj, Parameter):
                return values.get(self.name_of(obj), _MISSING)
            if isinstance(obj, dict):
                out = {}
                for k, v in obj.items():
                    v = build(v)
                    if v is not _MISSING:
                        out[k] = v
                return out
            if isinstance(obj, (list, tuple)):
                return [None if v is _MISSING else v for v in map(build, obj)]
            return copy.deepcopy(obj)

        return build(self.definition)

    def values_from_config(self, config: dict) -> dict:
        """The active parameters' values found in a (full) run config, by name."""
        values = {}
        for name in self.parameters:
            value = get_by_path(config, self.paths[name][0], _ABSENT)
            if value is not _ABSENT and self.is_active(name, values):
                values[name] = value
        return values


def build_search_space(function, name: Optional[str] = None) -> SearchSpace:
    """Evaluate ``function``'s body like a config scope and wrap the result."""
    result = ConfigScope(function)()
    return SearchSpace(dict(result), name=name or function.__name__)
