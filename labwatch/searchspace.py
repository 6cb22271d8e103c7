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
from labwatch.hyperparameters import (
    PARAMETER_CLASSES,
    Condition,
    ConditionResult,
    Parameter,
    decode_param,
    plain,
)
from sacred.config.config_scope import ConfigScope

__all__ = (
    "SearchSpace",
    "build_search_space",
    "path_name",
    "get_by_path",
    "is_own_layout",
)

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


def is_own_layout(doc: dict) -> bool:
    """Whether a stored search space is this project's (``SearchSpace.to_json``): its
    ``parameters`` are described by name, without uids. The original Labwatch stored the
    raw search-space dict, whose parameters carry uids."""
    params = doc.get("parameters")
    return (
        isinstance(params, dict)
        and "structure" in doc
        and all(isinstance(p, dict) and "_class" in p and "uid" not in p for p in params.values())
    )


class SearchSpace:
    """The hyperparameters found in a (nested) search-space dict, by their config paths.

    A hyperparameter is a ``Parameter`` object or a dict carrying its ``"_class"`` and
    ``"uid"`` (what a config scope or JSON makes of one): dicts with the same uid are one
    hyperparameter, named by its shortest path.
    """

    def __init__(self, definition: dict, name: Optional[str] = None):
        if not isinstance(definition, dict):
            raise InconsistentSpace(f"A search space must be a dict, not {definition!r}")
        self.name = name
        self.parameters: dict = {}  # name -> Parameter, parents before their children
        self.paths: dict = {}  # name -> [path, ...]
        by_uid = {}  # uid -> [param, [paths]]
        self.definition = self._collect(definition, (), by_uid)
        if not by_uid:
            raise InconsistentSpace(
                f"The search space {name or ''!r} defines no hyperparameters: assign "
                "UniformFloat(...), Categorical(...), ... to its variables"
            )
        names = {}
        for uid, (_, paths) in by_uid.items():
            # the shortest path names a parameter found at several places
            best = min((path_name(p) for p in paths), key=lambda n: (len(n), n))
            names[uid] = best
            self.paths[best] = paths
        self._names = names
        self.conditions = {}  # child name -> parent name
        for uid, (param, _) in by_uid.items():
            if isinstance(param, ConditionResult):
                child = names[uid]
                parent_uid = param.condition.parent_uid
                if parent_uid not in by_uid:
                    parent = param.parent if param.parent is not None else f"uid {parent_uid}"
                    raise InconsistentSpace(
                        f"The condition of {child!r} refers to a parent ({parent!r}) "
                        "that is not part of the search space: assign the parent to a "
                        "variable of the same search space"
                    )
                try:
                    param.condition.bind(by_uid[parent_uid][0])
                except ParamValueExcept as e:
                    raise InconsistentSpace(f"The condition of {child!r}: {e}") from None
                self.conditions[child] = names[parent_uid]
        params_by_name = {names[uid]: p for uid, (p, _) in by_uid.items()}
        self.parameters = {n: params_by_name[n] for n in self._parents_first(params_by_name)}
        self._id = None

    def _parents_first(self, params_by_name) -> list:
        ordered, done, visiting = [], set(), []

        def visit(n):
            if n in done:
                return
            if n in visiting:
                cycle = visiting[visiting.index(n) :] + [n]
                raise InconsistentSpace(f"The conditions form a cycle: {' -> '.join(cycle)}")
            visiting.append(n)
            if n in self.conditions:
                visit(self.conditions[n])
            visiting.pop()
            done.add(n)
            ordered.append(n)

        for n in params_by_name:
            visit(n)
        return ordered

    def _collect(self, obj, path, found):
        """The definition with every hyperparameter as a Parameter object."""
        if isinstance(obj, dict) and obj.get("_class") in PARAMETER_CLASSES:
            try:
                param = decode_param(obj)
            except ValueError as e:
                raise InconsistentSpace(f"{path_name(path)}: {e}") from None
            entry = found.get(param.uid)
            if entry is None:
                found[param.uid] = [param, [path]]
                return param
            if entry[0] != param:
                first = path_name(entry[1][0])
                raise InconsistentSpace(
                    f"{path_name(path)!r} and {first!r} share the uid {param.uid} but are "
                    f"different hyperparameters ({param!r}, {entry[0]!r})"
                )
            entry[1].append(path)
            return entry[0]
        if isinstance(obj, dict):
            return {key: self._collect(value, path + (key,), found) for key, value in obj.items()}
        if isinstance(obj, (list, tuple)):
            items = [self._collect(v, path + (i,), found) for i, v in enumerate(obj)]
            return tuple(items) if isinstance(obj, tuple) else items
        return obj

    # ------------------------------------------------------------------ identity
    def name_of(self, param: Parameter) -> str:
        return self._names[param.uid]

    def _canonical(self, param: Parameter) -> dict:
        """A parameter without uids; a condition names its parent (the hash's input)."""
        if isinstance(param, ConditionResult):
            return {
                "_class": "ConditionResult",
                "result": self._canonical(param.param),
                "condition": {
                    "parent": self.name_of(param.parent),
                    "values": list(param.condition.choices),
                },
            }
        return {k: v for k, v in param.items() if k != "uid"}

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
            "parameters": {n: self._canonical(p) for n, p in self.parameters.items()},
            "structure": structure(self.definition),
        }

    def to_original_json(self) -> dict:
        """The original Labwatch's document: the raw search-space dict (parameters as dicts
        with ``_class`` and ``uid``) plus ``"_class": "SearchSpace"``."""
        doc = json.loads(json.dumps(plain(self.definition)))
        doc["_class"] = "SearchSpace"
        return doc

    @property
    def id(self) -> str:
        """A stable hash of the definition (not of the function's name)."""
        if self._id is None:
            text = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))
            self._id = hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]
        return self._id

    @classmethod
    def from_json(cls, doc: dict, name: Optional[str] = None) -> "SearchSpace":
        """A stored search space: this project's document (``to_json``) or the original
        Labwatch's (``to_original_json``; its ``_id`` and ``_class`` are dropped)."""
        if not isinstance(doc, dict):
            raise InconsistentSpace(f"A stored search space must be a dict, not {doc!r}")
        if not is_own_layout(doc):
            raw = {k: v for k, v in doc.items() if k not in ("_id", "_class")}
            return cls(raw, name=name)
        decoded = {}

        def get(n):
            if n not in decoded:
                if n not in doc["parameters"]:
                    raise InconsistentSpace(f"Unknown condition parent {n!r}")
                d = doc["parameters"][n]
                if isinstance(d, dict) and d.get("_class") == "ConditionResult":
                    cond = d.get("condition") or {}
                    decoded[n] = ConditionResult(
                        decode_param(d["result"]),
                        Condition(get(cond.get("parent")), cond.get("values") or []),
                    )
                else:
                    decoded[n] = decode_param(d)
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
