import json
import random

import pytest

from labwatch.exceptions import InconsistentSpace, ParamInconsistent, ParamValueExcept
from labwatch.hyperparameters import (
    Categorical,
    Condition,
    ConditionResult,
    Constant,
    Gaussian,
    UniformFloat,
    UniformInt,
    UniformNumber,
    decode_param,
)
from labwatch.searchspace import SearchSpace


def test_uniform_float_samples_within_bounds_and_default_is_midpoint():
    p = UniformFloat(-5, 10)
    assert p.default() == 2.5
    rng = random.Random(0)
    samples = [p.sample(rng) for _ in range(500)]
    assert all(-5 <= s <= 10 and isinstance(s, float) for s in samples)
    assert min(samples) < -4 and max(samples) > 9
    assert p.valid(0.0) and not p.valid(11) and not p.valid("a") and not p.valid(True)


def test_uniform_float_log_scale_default_and_samples():
    p = UniformFloat(1e-4, 1e-0, log_scale=True)
    assert p.default() == pytest.approx(1e-2)
    rng = random.Random(1)
    samples = [p.sample(rng) for _ in range(2000)]
    # log-uniform: a quarter of the mass per decade
    below = sum(s < 1e-3 for s in samples) / len(samples)
    assert 0.2 < below < 0.3


def test_uniform_int_covers_both_bounds_and_is_int():
    p = UniformInt(1, 4)
    rng = random.Random(2)
    samples = {p.sample(rng) for _ in range(200)}
    assert samples == {1, 2, 3, 4}
    assert p.default() in (2, 3)
    assert p.valid(3) and p.valid(3.0) and not p.valid(3.5) and not p.valid(5)


def test_uniform_int_log_scale():
    p = UniformInt(1, 1000, log_scale=True)
    rng = random.Random(3)
    samples = [p.sample(rng) for _ in range(1000)]
    assert all(isinstance(s, int) and 1 <= s <= 1000 for s in samples)
    assert sum(s < 32 for s in samples) > 400  # half the mass below the geometric middle


def test_uniform_number_with_type():
    p = UniformNumber(lower=32, upper=64, default=32, type=int, log_scale=True)
    assert p.default() == 32 and p.type == "int"
    assert isinstance(UniformNumber(0, 1, float).sample(), float)
    assert UniformNumber(0, 10, "int").to_dict()["type"] == "int"


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: UniformFloat(5, 1), "lower (5) must be smaller than upper (1)"),
        (lambda: UniformFloat(1, 1), "lower (1) must be smaller than upper (1)"),
        (lambda: UniformFloat(0, 1, log_scale=True), "log_scale needs a lower bound > 0"),
        (lambda: UniformInt(-3, 4, log_scale=True), "log_scale needs a lower bound > 0"),
        (lambda: UniformFloat(0, 1, default=2), "default 2 is outside [0, 1]"),
        (lambda: UniformInt(0, 10, default=2.5), "default must be an integer"),
        (lambda: UniformInt(0.5, 10), "lower must be an integer"),
        (lambda: UniformFloat("a", 1), "lower must be a number"),
        (lambda: UniformNumber(0, 1, type=str), "type must be int or float"),
        (lambda: Gaussian(0, 0), "sigma must be a number > 0"),
        (lambda: Gaussian("x", 1), "mu must be a number"),
        (lambda: Categorical([]), "at least one choice"),
        (lambda: Categorical("abc"), "choices must be a list"),
        (lambda: Categorical(["a", "a"]), "appears twice"),
        (lambda: Categorical([[1]]), "a choice must be a str, number, bool or None"),
        (lambda: Constant({"a": 1}), "must be a str, number, bool or None"),
    ],
)
def test_validation_errors(make, message):
    with pytest.raises(ParamValueExcept) as e:
        make()
    assert message in str(e.value)


def test_default_outside_range_message_for_int():
    with pytest.raises(ParamValueExcept, match=r"default 20 is outside \[0, 10\]"):
        UniformInt(0, 10, default=20)


def test_gaussian_sample_default_and_log_scale():
    p = Gaussian(3.0, 0.5)
    rng = random.Random(4)
    samples = [p.sample(rng) for _ in range(2000)]
    assert abs(sum(samples) / len(samples) - 3.0) < 0.05
    assert p.default() == 3.0
    q = Gaussian(0.0, 1.0, log_scale=True)
    assert q.default() == 1.0
    assert all(q.sample(rng) > 0 for _ in range(100))
    assert not q.valid(-1.0) and p.valid(-1.0)
    assert q.from_unit(q.to_unit(2.0)) == pytest.approx(2.0)


def test_categorical_and_constant():
    c = Categorical(["sgd", "adam", 3, Constant("x")])
    assert c.choices == ["sgd", "adam", 3, "x"]
    assert c.default() == "sgd"
    rng = random.Random(5)
    assert {c.sample(rng) for _ in range(100)} == {"sgd", "adam", 3, "x"}
    assert c.valid("adam") and not c.valid("rmsprop") and not c.valid(True)
    k = Constant(7)
    assert k.default() == k.sample() == 7 and k.valid(7) and not k.valid(8)


def test_numpy_values_become_plain_python():
    np = pytest.importorskip("numpy")
    c = Categorical([np.str_("a"), np.int64(2)])
    assert [type(v) for v in c.choices] == [str, int]
    p = UniformFloat(np.float64(0), np.float32(1))
    assert type(p.lower) is float and p.valid(np.float64(0.5))


def test_unit_encoding_round_trip():
    for p, v in [
        (UniformFloat(-5, 10), 3.25),
        (UniformFloat(1e-4, 1, log_scale=True), 0.003),
        (UniformInt(1, 9), 4),
        (UniformInt(1, 1024, log_scale=True), 100),
    ]:
        assert p.from_unit(p.to_unit(v)) == pytest.approx(v)
        assert 0 <= p.to_unit(v) <= 1


def test_condition_and_errors():
    solver = Categorical(["sgd", "adam"])
    momentum = UniformFloat(0, 1) | Condition(solver, ["sgd"])
    assert isinstance(momentum, ConditionResult) and momentum.parent is solver
    assert momentum.condition.holds("sgd") and not momentum.condition.holds("adam")
    assert momentum.lower == 0.0  # the wrapped parameter's attributes
    with pytest.raises(ParamValueExcept, match="'rmsprop' is not a possible value"):
        Condition(solver, ["rmsprop"])
    with pytest.raises(ParamValueExcept, match="must not be empty"):
        Condition(solver, [])
    with pytest.raises(ParamValueExcept, match="must be a list"):
        Condition(solver, "sgd")
    with pytest.raises(ParamInconsistent, match="parent must be a hyperparameter"):
        Condition("solver", ["sgd"])
    with pytest.raises(ParamInconsistent, match="only one condition"):
        momentum | Condition(solver, ["sgd"])
    with pytest.raises(ParamInconsistent, match="conditioned on itself"):
        solver | Condition(solver, ["sgd"])
    with pytest.raises(ParamValueExcept, match="must be a Condition"):
        UniformFloat(0, 1) | 3


def test_unknown_condition_parent_in_space():
    outside = Categorical(["a", "b"])
    with pytest.raises(InconsistentSpace, match="refers to a parent .* not part of the search"):
        SearchSpace({"x": UniformFloat(0, 1) | Condition(outside, ["a"])})


@pytest.mark.parametrize(
    "param",
    [
        Constant(3),
        UniformFloat(0, 1, default=0.2, log_scale=False),
        UniformInt(1, 8, log_scale=True),
        UniformNumber(2, 9, int, 4),
        Categorical(["a", 1, 2.5, None, True]),
        Gaussian(1.0, 2.0, log_scale=True),
    ],
)
def test_json_round_trip(param):
    d = json.loads(json.dumps(param.to_dict()))
    assert d["_class"] == type(param).__name__
    again = decode_param(d)
    assert type(again) is type(param) and again.to_dict() == param.to_dict()


def test_decode_rejects_non_parameters():
    with pytest.raises(ValueError, match="Not a valid hyperparameter"):
        decode_param({"lower": 1})
    with pytest.raises(ValueError, match="unknown class 'Foo'"):
        decode_param({"_class": "Foo"})
