"""Hyperparameters of a search space: their priors, defaults, validation and encoding.

Assign them to local variables of a function decorated with ``@assistant.search_space``::

    lr = UniformFloat(1e-4, 1e-1, log_scale=True)
    layers = UniformInt(1, 4)
    solver = Categorical(["sgd", "adam"])
    momentum = UniformFloat(0.0, 0.99) | Condition(solver, ["sgd"])

As in the original Labwatch, a parameter is a (read-only) dict carrying ``"_class"``, an
integer ``"uid"`` and its fields, so ``json.dumps(UniformFloat(0., 1.))`` works and a
search space can be stored as it is; ``decode_param`` rebuilds a parameter from such a dict.
Two parameters are equal when their class and fields are (the uid aside). The uid is the
identity inside a search space: the same object at two paths of a search space (or two
dicts with its uid) is one hyperparameter. ``to_unit``/``from_unit`` map values to and from
[0, 1], the encoding the model-based optimizers work in.
"""

from __future__ import annotations

import json
import math
import random
import threading
from statistics import NormalDist
from typing import Any, Optional

from labwatch.exceptions import ParamInconsistent, ParamValueExcept

__all__ = (
    "Parameter",
    "Constant",
    "Categorical",
    "UniformNumber",
    "UniformFloat",
    "UniformInt",
    "Gaussian",
    "Condition",
    "ConditionResult",
    "decode_param",
    "decode_param_or_op",
    "get_parameter_counter",
    "PARAMETER_CLASSES",
)

_BASIC = (str, int, float, bool, type(None))
_UNIT_EPS = 1e-9
_uid_lock = threading.Lock()
_next_uid = 0


def get_parameter_counter() -> int:
    """A new uid (the original's process-wide counter)."""
    global _next_uid
    with _uid_lock:
        uid = _next_uid
        _next_uid += 1
    return uid


def _take_uid(uid) -> int:
    """``uid`` checked, or a new one; new uids never repeat a given one."""
    global _next_uid
    if uid is None:
        return get_parameter_counter()
    if isinstance(uid, bool) or not isinstance(uid, int):
        raise ParamValueExcept(f"uid must be an integer, not {uid!r}")
    with _uid_lock:
        _next_uid = max(_next_uid, uid + 1)
    return uid


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _plain(x):
    """numpy scalars as Python ones (everything else unchanged)."""
    if type(x).__module__ == "numpy" and hasattr(x, "item"):
        return x.item()
    return x


def _clip01(u: float) -> float:
    return min(1.0, max(0.0, float(u)))


def _restore(cls, items, attrs):
    obj = dict.__new__(cls)
    dict.update(obj, items)
    obj.__dict__.update(attrs)
    return obj


def _canon(value):
    """A parameter dict without the uids of parameters (a Condition keeps its parent's)."""
    if isinstance(value, dict):
        own_uid = value.get("_class") in PARAMETER_CLASSES
        return {k: _canon(v) for k, v in value.items() if not (own_uid and k == "uid")}
    if isinstance(value, (list, tuple)):
        return [_canon(v) for v in value]
    return value


class _ReadOnlyDict(dict):
    """A dict whose items are fixed at construction (copies and pickles keep the class)."""

    def _refuse(self, *args, **kwargs):
        raise TypeError(
            f"{type(self).__name__} is read-only: create a new {type(self).__name__} instead"
        )

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _refuse
    __ior__ = _refuse

    def _set(self, **fields):
        for key, value in fields.items():
            dict.__setitem__(self, key, value)

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self  # immutable

    def __reduce__(self):
        return _restore, (type(self), dict(self), dict(self.__dict__))

    def __eq__(self, other):
        if not isinstance(other, dict):
            return NotImplemented
        return _canon(self) == _canon(other)

    def __ne__(self, other):
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self):
        return hash(json.dumps(_canon(self), sort_keys=True, default=repr))

    def to_dict(self) -> dict:
        """A plain (JSON) copy: ``"_class"``, ``"uid"`` and the fields."""
        return json.loads(json.dumps(self))


class Parameter(_ReadOnlyDict):
    """Base class: a prior over the values of one hyperparameter."""

    def __init__(self, uid=None):
        super().__init__()
        self.uid = _take_uid(uid)
        self._set(_class=type(self).__name__, uid=self.uid)

    def default(self):
        raise NotImplementedError

    def sample(self, rng: Optional[random.Random] = None):
        raise NotImplementedError

    def valid(self, value) -> bool:
        raise NotImplementedError

    def __or__(self, condition) -> "ConditionResult":
        return ConditionResult(self, condition)

    def __repr__(self):
        fields = ", ".join(f"{k}={v!r}" for k, v in self.items() if k not in ("_class", "uid"))
        return f"{type(self).__name__}({fields})"


class Constant(Parameter):
    """Always the same value."""

    def __init__(self, value, uid=None):
        value = _plain(value)
        if not isinstance(value, _BASIC):
            raise ParamValueExcept(
                f"Constant: the value must be a str, number, bool or None, not {value!r}"
            )
        super().__init__(uid)
        self.value = value
        self._set(value=value)

    def default(self):
        return self.value

    def sample(self, rng=None):
        return self.value

    def valid(self, value) -> bool:
        return _plain(value) == self.value


def _unwrap_constant(choice):
    if isinstance(choice, dict) and choice.get("_class") == "Constant" and "value" in choice:
        return choice["value"]  # a Constant, or one decoded from JSON
    return _plain(choice)


class Categorical(Parameter):
    """One of a list of choices (str, number, bool or None); the default is the first one."""

    def __init__(self, choices, uid=None):
        if isinstance(choices, (str, bytes)) or not isinstance(choices, (list, tuple)):
            raise ParamValueExcept(
                f"Categorical: choices must be a list of values, not {choices!r}"
            )
        values = []
        for choice in choices:
            choice = _unwrap_constant(choice)
            if not isinstance(choice, _BASIC):
                raise ParamValueExcept(
                    f"Categorical: a choice must be a str, number, bool or None, not {choice!r}"
                )
            if any(_same(choice, v) for v in values):
                raise ParamValueExcept(f"Categorical: the choice {choice!r} appears twice")
            values.append(choice)
        if not values:
            raise ParamValueExcept("Categorical: there must be at least one choice")
        super().__init__(uid)
        self.choices = values
        self._set(choices=list(values))

    def default(self):
        return self.choices[0]

    def sample(self, rng=None):
        return (rng or random).choice(self.choices)

    def valid(self, value) -> bool:
        value = _plain(value)
        return any(_same(value, c) for c in self.choices)

    def index(self, value) -> int:
        value = _plain(value)
        for i, c in enumerate(self.choices):
            if _same(value, c):
                return i
        raise ParamValueExcept(f"{value!r} is not one of the choices {self.choices!r}")


def _same(a, b) -> bool:
    """Equal as JSON values: 1 == 1.0, but True is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


class UniformNumber(Parameter):
    """A number drawn uniformly from [lower, upper] (or log-uniformly with ``log_scale``)."""

    def __init__(self, lower, upper, type=float, default=None, log_scale=False, uid=None):
        kind = {int: "int", float: "float", "int": "int", "float": "float"}.get(type)
        if kind is None:
            raise ParamValueExcept(f"{self._what()}: type must be int or float, not {type!r}")
        lower, upper, default = _plain(lower), _plain(upper), _plain(default)
        for label, bound in (("lower", lower), ("upper", upper)):
            if not _is_number(bound):
                raise ParamValueExcept(f"{self._what()}: {label} must be a number, not {bound!r}")
            if kind == "int" and float(bound) != int(bound):
                raise ParamValueExcept(
                    f"{self._what()}: {label} must be an integer for an int parameter, "
                    f"not {bound!r}"
                )
        if not lower < upper:
            raise ParamValueExcept(
                f"{self._what()}: lower ({lower!r}) must be smaller than upper ({upper!r})"
            )
        if log_scale and lower <= 0:
            raise ParamValueExcept(
                f"{self._what()}: log_scale needs a lower bound > 0, got lower={lower!r}"
            )
        convert = int if kind == "int" else float
        if default is None:
            mid = math.sqrt(lower * upper) if log_scale else (lower + upper) / 2
            default = round(mid) if kind == "int" else mid
        elif not _is_number(default) or (kind == "int" and float(default) != int(default)):
            raise ParamValueExcept(
                f"{self._what()}: default must be {'an integer' if kind == 'int' else 'a number'}"
                f", not {default!r}"
            )
        elif not lower <= default <= upper:
            raise ParamValueExcept(
                f"{self._what()}: default {default!r} is outside [{lower!r}, {upper!r}]"
            )
        super().__init__(uid)
        self.lower, self.upper = convert(lower), convert(upper)
        self.type = kind
        self.default_value = convert(default)
        self.log_scale = bool(log_scale)
        self._set(
            lower=self.lower,
            upper=self.upper,
            type=kind,
            default=self.default_value,
            log_scale=self.log_scale,
        )

    def _what(self) -> str:
        return type(self).__name__

    def default(self):
        return self.default_value

    # the real interval the [0, 1] encoding spans (integers own +-0.5 around them)
    def _span(self):
        lo, hi = float(self.lower), float(self.upper)
        if self.type == "int":
            lo, hi = lo - 0.5, hi + 0.5
            if self.log_scale:
                lo = max(lo, self.lower / 2)
        if self.log_scale:
            return math.log(lo), math.log(hi)
        return lo, hi

    def from_unit(self, u: float):
        lo, hi = self._span()
        x = lo + _clip01(u) * (hi - lo)
        if self.log_scale:
            x = math.exp(x)
        if self.type == "int":
            return int(min(self.upper, max(self.lower, round(x))))
        return float(min(self.upper, max(self.lower, x)))

    def to_unit(self, value) -> float:
        lo, hi = self._span()
        x = float(value)
        if self.log_scale:
            x = math.log(max(x, 1e-300))
        return _clip01((x - lo) / (hi - lo))

    def sample(self, rng=None):
        rng = rng or random
        if self.type == "int" and not self.log_scale:
            return rng.randint(self.lower, self.upper)
        # uniform in the encoding, so integers get equal mass and log-scale is respected
        u = rng.random()
        return self.from_unit(min(u, 1 - _UNIT_EPS))

    def valid(self, value) -> bool:
        value = _plain(value)
        if not _is_number(value):
            return False
        if self.type == "int" and float(value) != int(value):
            return False
        return self.lower <= value <= self.upper


class UniformFloat(UniformNumber):
    def __init__(self, lower, upper, default=None, log_scale=False, uid=None):
        super().__init__(lower, upper, float, default, log_scale, uid)


class UniformInt(UniformNumber):
    def __init__(self, lower, upper, default=None, log_scale=False, uid=None):
        super().__init__(lower, upper, int, default, log_scale, uid)


class Gaussian(Parameter):
    """A float drawn from N(mu, sigma); with ``log_scale`` its logarithm is N(mu, sigma).

    The default is the mode-free centre: ``mu`` (``exp(mu)`` on a log scale).
    """

    def __init__(self, mu, sigma, log_scale=False, uid=None):
        mu, sigma = _plain(mu), _plain(sigma)
        if not _is_number(mu):
            raise ParamValueExcept(f"Gaussian: mu must be a number, not {mu!r}")
        if not _is_number(sigma) or sigma <= 0:
            raise ParamValueExcept(f"Gaussian: sigma must be a number > 0, not {sigma!r}")
        super().__init__(uid)
        self.mu, self.sigma, self.log_scale = float(mu), float(sigma), bool(log_scale)
        self.type = "float"
        self._set(mu=self.mu, sigma=self.sigma, type="float", log_scale=self.log_scale)

    def default(self):
        return math.exp(self.mu) if self.log_scale else self.mu

    def sample(self, rng=None):
        x = (rng or random).gauss(self.mu, self.sigma)
        return math.exp(x) if self.log_scale else x

    def valid(self, value) -> bool:
        value = _plain(value)
        return _is_number(value) and (value > 0 or not self.log_scale)

    def to_unit(self, value) -> float:
        x = math.log(max(float(value), 1e-300)) if self.log_scale else float(value)
        return _clip01(NormalDist(self.mu, self.sigma).cdf(x))

    def from_unit(self, u: float):
        u = min(1 - 1e-6, max(1e-6, float(u)))
        x = NormalDist(self.mu, self.sigma).inv_cdf(u)
        return math.exp(x) if self.log_scale else x


class Condition(_ReadOnlyDict):
    """``child | Condition(parent, choices)``: the child is active only while the parent's
    value is one of ``choices``; an inactive parameter is left out of the configuration.

    Stored as ``{"_class": "Condition", "uid": <the parent's uid>, "choices": [...]}``. The
    parent may be given by its uid alone; the search space then finds it (``parent`` is
    None until then).
    """

    def __init__(self, parent, choices):
        if isinstance(parent, Parameter):
            parent_uid = parent.uid
        elif isinstance(parent, int) and not isinstance(parent, bool):
            parent_uid, parent = parent, None
        else:
            raise ParamInconsistent(
                f"Condition: the parent must be a hyperparameter of the search space, "
                f"not {parent!r}"
            )
        if isinstance(choices, (str, bytes)) or not isinstance(choices, (list, tuple, set)):
            raise ParamValueExcept(
                f"Condition: choices must be a list of the parent's values, not {choices!r}"
            )
        choices = [_unwrap_constant(v) for v in choices]
        if not choices:
            raise ParamValueExcept("Condition: choices must not be empty")
        super().__init__()
        self.parent = None
        self.parent_uid = parent_uid
        self.choices = choices
        self._set(_class="Condition", uid=parent_uid, choices=list(choices))
        if parent is not None:
            self.bind(parent)

    def bind(self, parent: Parameter) -> None:
        """Attach the parent (checking that it can take every choice)."""
        for v in self.choices:
            if not parent.valid(v):
                raise ParamValueExcept(
                    f"Condition: {v!r} is not a possible value of the parent {parent!r}"
                )
        self.parent = parent

    def holds(self, parent_value) -> bool:
        parent_value = _plain(parent_value)
        return any(_same(parent_value, v) for v in self.choices)

    def __repr__(self):
        parent = repr(self.parent) if self.parent is not None else f"uid {self.parent_uid}"
        return f"Condition({parent}, {self.choices!r})"


class ConditionResult(Parameter):
    """A parameter together with the condition under which it is active.

    Stored as ``{"_class": "ConditionResult", "uid": <the parameter's uid>, "condition":
    <Condition>, "result": <the parameter>}``.
    """

    def __init__(self, param, condition):
        if isinstance(param, ConditionResult):
            raise ParamInconsistent(
                "A parameter can carry only one condition: write the parameter once and "
                "attach a single Condition to it"
            )
        if not isinstance(param, Parameter):
            raise ParamValueExcept(f"Only hyperparameters can carry a condition, not {param!r}")
        if not isinstance(condition, Condition):
            raise ParamValueExcept(
                f"The right-hand side of '|' must be a Condition, not {condition!r}"
            )
        if condition.parent_uid == param.uid:
            raise ParamInconsistent("A parameter cannot be conditioned on itself")
        super().__init__(param.uid)
        self.param = param
        self.condition = condition
        self._set(condition=condition, result=param)

    @property
    def parent(self) -> Optional[Parameter]:
        return self.condition.parent

    def default(self):
        return self.param.default()

    def sample(self, rng=None):
        return self.param.sample(rng)

    def valid(self, value) -> bool:
        return self.param.valid(value)

    def __getattr__(self, name):
        # lower/upper/choices/to_unit... of the wrapped parameter
        if name.startswith("__") or name in ("param", "condition"):
            raise AttributeError(name)
        return getattr(self.param, name)

    def __or__(self, condition):
        raise ParamInconsistent(
            "A parameter can carry only one condition: write the parameter once and attach "
            "a single Condition to it"
        )

    def __repr__(self):
        return f"{self.param!r} | {self.condition!r}"


def _number(cls, type_=None):
    def make(d):
        kind = type_ or d["type"]
        default = d.get("default")
        if kind == "int" and _is_number(default) and float(default) != int(default):
            default = round(default)  # a midpoint the original stored unrounded
        args = (d["lower"], d["upper"]) + ((kind,) if type_ is None else ())
        return cls(*args, default=default, log_scale=d.get("log_scale", False), uid=d.get("uid"))

    return make


def _condition_result(d):
    cond = d["condition"]
    if not isinstance(cond, dict):
        raise ValueError(f"Not a valid condition: {cond!r}")
    return ConditionResult(decode_param(d["result"]), Condition(cond["uid"], cond["choices"]))


_DECODERS = {
    "Constant": lambda d: Constant(d["value"], uid=d.get("uid")),
    "Categorical": lambda d: Categorical(d["choices"], uid=d.get("uid")),
    "UniformNumber": _number(UniformNumber),
    "UniformFloat": _number(UniformFloat, "float"),
    "UniformInt": _number(UniformInt, "int"),
    "Gaussian": lambda d: Gaussian(
        d["mu"], d["sigma"], d.get("log_scale", False), uid=d.get("uid")
    ),
    "ConditionResult": _condition_result,
}
#: the ``_class`` names of hyperparameters
PARAMETER_CLASSES = frozenset(_DECODERS)


def decode_param(d: dict) -> Parameter:
    """The parameter a dict describes (``"_class"``, ``"uid"`` and the fields), as written by
    ``json.dumps(param)``, ``param.to_dict()`` or the original Labwatch.

    A conditional parameter's parent stays a uid until a search space binds it.
    """
    if isinstance(d, Parameter):
        return d
    if not isinstance(d, dict) or "_class" not in d:
        raise ValueError(f"Not a valid hyperparameter: {d!r}")
    cls = d["_class"]
    if cls not in _DECODERS:
        raise ValueError(f"Not a valid hyperparameter: unknown class {cls!r}")
    try:
        return _DECODERS[cls](d)
    except KeyError as e:
        raise ValueError(f"Not a valid hyperparameter: {d!r} (missing {e})") from None
    except TypeError as e:
        raise ValueError(f"Not a valid hyperparameter: {d!r} ({e})") from None


decode_param_or_op = decode_param  # the original's name


def plain(value: Any) -> Any:
    """``value`` with numpy scalars/arrays inside lists and dicts turned into Python ones."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if type(value).__module__ == "numpy" and hasattr(value, "tolist"):
        return value.tolist()
    return value
