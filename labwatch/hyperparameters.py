"""Hyperparameters of a search space: their priors, defaults, validation and encoding.

Assign them to local variables of a function decorated with ``@assistant.search_space``::

    lr = UniformFloat(1e-4, 1e-1, log_scale=True)
    layers = UniformInt(1, 4)
    solver = Categorical(["sgd", "adam"])
    momentum = UniformFloat(0.0, 0.99) | Condition(solver, ["sgd"])

A parameter is identified by the object itself: the same object at two paths of a search
space is one hyperparameter. ``to_unit``/``from_unit`` map values to and from [0, 1], the
encoding the model-based optimizers work in.
"""

from __future__ import annotations

import math
import random
from statistics import NormalDist
from typing import Any, Callable, Optional

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
)

_BASIC = (str, int, float, bool, type(None))
_UNIT_EPS = 1e-9


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _plain(x):
    """numpy scalars as Python ones (everything else unchanged)."""
    if type(x).__module__ == "numpy" and hasattr(x, "item"):
        return x.item()
    return x


def _clip01(u: float) -> float:
    return min(1.0, max(0.0, float(u)))


class Parameter:
    """Base class: a prior over the values of one hyperparameter."""

    def default(self):
        raise NotImplementedError

    def sample(self, rng: Optional[random.Random] = None):
        raise NotImplementedError

    def valid(self, value) -> bool:
        raise NotImplementedError

    def to_dict(self, name_of: Optional[Callable[["Parameter"], str]] = None) -> dict:
        """A JSON-serialisable description (``"_class"`` plus the constructor arguments)."""
        raise NotImplementedError

    def __or__(self, condition) -> "ConditionResult":
        return ConditionResult(self, condition)

    def __repr__(self):
        fields = ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items() if k != "_class")
        return f"{type(self).__name__}({fields})"


class Constant(Parameter):
    """Always the same value."""

    def __init__(self, value):
        value = _plain(value)
        if not isinstance(value, _BASIC):
            raise ParamValueExcept(
                f"Constant: the value must be a str, number, bool or None, not {value!r}"
            )
        self.value = value

    def default(self):
        return self.value

    def sample(self, rng=None):
        return self.value

    def valid(self, value) -> bool:
        return _plain(value) == self.value

    def to_dict(self, name_of=None) -> dict:
        return {"_class": "Constant", "value": self.value}


class Categorical(Parameter):
    """One of a list of choices (str, number, bool or None); the default is the first one."""

    def __init__(self, choices):
        if isinstance(choices, (str, bytes)) or not isinstance(choices, (list, tuple)):
            raise ParamValueExcept(
                f"Categorical: choices must be a list of values, not {choices!r}"
            )
        values = []
        for choice in choices:
            if isinstance(choice, Constant):
                choice = choice.value
            choice = _plain(choice)
            if not isinstance(choice, _BASIC):
                raise ParamValueExcept(
                    f"Categorical: a choice must be a str, number, bool or None, not {choice!r}"
                )
            if any(_same(choice, v) for v in values):
                raise ParamValueExcept(f"Categorical: the choice {choice!r} appears twice")
            values.append(choice)
        if not values:
            raise ParamValueExcept("Categorical: there must be at least one choice")
        self.choices = values

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

    def to_dict(self, name_of=None) -> dict:
        return {"_class": "Categorical", "choices": list(self.choices)}


def _same(a, b) -> bool:
    """Equal as JSON values: 1 == 1.0, but True is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


class UniformNumber(Parameter):
    """A number drawn uniformly from [lower, upper] (or log-uniformly with ``log_scale``)."""

    def __init__(self, lower, upper, type=float, default=None, log_scale=False):
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
        self.lower, self.upper = convert(lower), convert(upper)
        self.type = kind
        self.default_value = convert(default)
        self.log_scale = bool(log_scale)

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

    def to_dict(self, name_of=None) -> dict:
        return {
            "_class": type(self).__name__,
            "lower": self.lower,
            "upper": self.upper,
            "type": self.type,
            "default": self.default_value,
            "log_scale": self.log_scale,
        }


class UniformFloat(UniformNumber):
    def __init__(self, lower, upper, default=None, log_scale=False):
        super().__init__(lower, upper, float, default, log_scale)


class UniformInt(UniformNumber):
    def __init__(self, lower, upper, default=None, log_scale=False):
        super().__init__(lower, upper, int, default, log_scale)


class Gaussian(Parameter):
    """A float drawn from N(mu, sigma); with ``log_scale`` its logarithm is N(mu, sigma).

    The default is the mode-free centre: ``mu`` (``exp(mu)`` on a log scale).
    """

    def __init__(self, mu, sigma, log_scale=False):
        mu, sigma = _plain(mu), _plain(sigma)
        if not _is_number(mu):
            raise ParamValueExcept(f"Gaussian: mu must be a number, not {mu!r}")
        if not _is_number(sigma) or sigma <= 0:
            raise ParamValueExcept(f"Gaussian: sigma must be a number > 0, not {sigma!r}")
        self.mu, self.sigma, self.log_scale = float(mu), float(sigma), bool(log_scale)
        self.type = "float"

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

    def to_dict(self, name_of=None) -> dict:
        return {
            "_class": "Gaussian",
            "mu": self.mu,
            "sigma": self.sigma,
            "type": "float",
            "log_scale": self.log_scale,
        }


class Condition:
    """``child | Condition(parent, values)``: the child is active only while the parent's
    value is one of ``values``; an inactive parameter is left out of the configuration."""

    def __init__(self, parent, values):
        if not isinstance(parent, Parameter):
            raise ParamInconsistent(
                f"Condition: the parent must be a hyperparameter of the search space, "
                f"not {parent!r}"
            )
        if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple, set)):
            raise ParamValueExcept(
                f"Condition: values must be a list of the parent's values, not {values!r}"
            )
        values = [v.value if isinstance(v, Constant) else _plain(v) for v in values]
        if not values:
            raise ParamValueExcept("Condition: values must not be empty")
        for v in values:
            if not parent.valid(v):
                raise ParamValueExcept(
                    f"Condition: {v!r} is not a possible value of the parent {parent!r}"
                )
        self.parent = parent
        self.values = values

    def holds(self, parent_value) -> bool:
        parent_value = _plain(parent_value)
        return any(_same(parent_value, v) for v in self.values)

    def __repr__(self):
        return f"Condition({self.parent!r}, {self.values!r})"


class ConditionResult(Parameter):
    """A parameter together with the condition under which it is active."""

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
        if condition.parent is param:
            raise ParamInconsistent("A parameter cannot be conditioned on itself")
        self.param = param
        self.condition = condition

    @property
    def parent(self) -> Parameter:
        return self.condition.parent

    def default(self):
        return self.param.default()

    def sample(self, rng=None):
        return self.param.sample(rng)

    def valid(self, value) -> bool:
        return self.param.valid(value)

    def __getattr__(self, name):
        # lower/upper/choices/to_unit... of the wrapped parameter
        if name in ("param", "condition"):
            raise AttributeError(name)
        return getattr(self.param, name)

    def __or__(self, condition):
        raise ParamInconsistent(
            "A parameter can carry only one condition: write the parameter once and attach "
            "a single Condition to it"
        )

    def to_dict(self, name_of=None) -> dict:
        parent = name_of(self.parent) if name_of else repr(self.parent)
        return {
            "_class": "ConditionResult",
            "result": self.param.to_dict(),
            "condition": {"parent": parent, "values": list(self.condition.values)},
        }


_CLASSES = {
    "Constant": lambda d: Constant(d["value"]),
    "Categorical": lambda d: Categorical(d["choices"]),
    "UniformNumber": lambda d: UniformNumber(
        d["lower"], d["upper"], d["type"], d["default"], d["log_scale"]
    ),
    "UniformFloat": lambda d: UniformFloat(d["lower"], d["upper"], d["default"], d["log_scale"]),
    "UniformInt": lambda d: UniformInt(d["lower"], d["upper"], d["default"], d["log_scale"]),
    "Gaussian": lambda d: Gaussian(d["mu"], d["sigma"], d["log_scale"]),
}


def decode_param(d: dict, parent_by_name: Optional[Callable[[str], Parameter]] = None):
    """The parameter a ``to_dict()`` describes (conditions need ``parent_by_name``)."""
    if not isinstance(d, dict) or "_class" not in d:
        raise ValueError(f"Not a valid hyperparameter: {d!r}")
    cls = d["_class"]
    if cls == "ConditionResult":
        if parent_by_name is None:
            raise ValueError("Decoding a conditional parameter needs its search space")
        parent = parent_by_name(d["condition"]["parent"])
        return ConditionResult(
            decode_param(d["result"]), Condition(parent, d["condition"]["values"])
        )
    if cls not in _CLASSES:
        raise ValueError(f"Not a valid hyperparameter: unknown class {cls!r}")
    try:
        return _CLASSES[cls](d)
    except KeyError as e:
        raise ValueError(f"Not a valid hyperparameter: {d!r} (missing {e})") from None


def plain(value: Any) -> Any:
    """``value`` with numpy scalars/arrays inside lists and dicts turned into Python ones."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if type(value).__module__ == "numpy" and hasattr(value, "tolist"):
        return value.tolist()
    return value
