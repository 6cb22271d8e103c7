import random

import pytest

from labwatch.exceptions import InconsistentSpace, ParamValueExcept
from labwatch.hyperparameters import Categorical, Condition, Constant, UniformFloat, UniformInt
from labwatch.searchspace import SearchSpace, build_search_space


def space_function():
    lr = UniformFloat(1e-4, 1e-1, log_scale=True)
    solver = Categorical(["sgd", "adam"])
    momentum = UniformFloat(0.0, 0.99) | Condition(solver, ["sgd"])
    net = {"layers": UniformInt(1, 4), "act": Constant("relu")}
    x = (UniformFloat(-5, 10), UniformFloat(0, 15))
    epochs = 10


def test_names_paths_and_fixed_values():
    space = build_search_space(space_function)
    assert space.name == "space_function"
    assert list(space.parameters) == [
        "lr",
        "solver",
        "momentum",
        "net.layers",
        "net.act",
        "x[0]",
        "x[1]",
    ]
    assert space.conditions == {"momentum": "solver"}
    config = space.fill_in(space.default())
    assert config == {
        "lr": pytest.approx(10**-2.5),
        "solver": "sgd",
        "momentum": pytest.approx(0.495),
        "net": {"layers": 2, "act": "relu"},
        "x": [2.5, 7.5],
        "epochs": 10,
    }


def test_inactive_parameters_are_left_out():
    space = build_search_space(space_function)
    rng = random.Random(0)
    seen = set()
    for _ in range(50):
        values = space.sample(rng)
        space.validate(values)
        seen.add(values["solver"])
        assert ("momentum" in values) == (values["solver"] == "sgd")
        assert ("momentum" in space.fill_in(values)) == (values["solver"] == "sgd")
    assert seen == {"sgd", "adam"}


def test_validate_messages():
    space = build_search_space(space_function)
    good = space.default()
    with pytest.raises(ParamValueExcept, match="Not parameters of the search space: \\['foo'\\]"):
        space.validate({**good, "foo": 1})
    with pytest.raises(ParamValueExcept, match="is inactive"):
        space.validate({**good, "solver": "adam"})
    bad = dict(good)
    del bad["lr"]
    with pytest.raises(ParamValueExcept, match="'lr' has no value"):
        space.validate(bad)
    with pytest.raises(ParamValueExcept, match="5 is not a valid value of 'net.layers'"):
        space.validate({**good, "net.layers": 5})
    assert not space.valid({**good, "x[0]": 11})


def test_values_from_config_reads_paths_and_drops_inactive():
    space = build_search_space(space_function)
    config = {
        "lr": 0.01,
        "solver": "adam",
        "momentum": 0.5,  # an @ex.config default: inactive for adam
        "net": {"layers": 3, "act": "relu"},
        "x": [1.0, 2.0],
        "seed": 1,
    }
    values = space.values_from_config(config)
    assert values == {
        "lr": 0.01,
        "solver": "adam",
        "net.layers": 3,
        "net.act": "relu",
        "x[0]": 1.0,
        "x[1]": 2.0,
    }
    assert space.valid(values)


def test_identity_is_a_hash_of_the_definition():
    a = build_search_space(space_function)
    b = build_search_space(space_function, name="other")
    assert a.id == b.id and a == b and len(a.id) == 24

    def changed():
        lr = UniformFloat(1e-4, 1e-1, log_scale=True)
        solver = Categorical(["sgd", "adam"])
        momentum = UniformFloat(0.0, 0.9) | Condition(solver, ["sgd"])  # 0.9, not 0.99
        net = {"layers": UniformInt(1, 4), "act": Constant("relu")}
        x = (UniformFloat(-5, 10), UniformFloat(0, 15))
        epochs = 10

    assert build_search_space(changed).id != a.id


def test_json_round_trip_keeps_identity_and_conditions():
    space = build_search_space(space_function)
    again = SearchSpace.from_json(space.to_json(), name="space_function")
    assert again.id == space.id
    assert again.conditions == space.conditions
    assert again.fill_in(again.default()) == space.fill_in(space.default())


def test_same_object_at_two_paths_is_one_parameter():
    shared = UniformInt(1, 5)
    space = SearchSpace({"a": shared, "foo": {"bar": shared}, "using_list": [1, 2, shared]})
    assert list(space.parameters) == ["a"]
    assert space.paths["a"] == [("a",), ("foo", "bar"), ("using_list", 2)]
    assert space.fill_in({"a": 3}) == {"a": 3, "foo": {"bar": 3}, "using_list": [1, 2, 3]}


def test_space_without_parameters_is_an_error():
    with pytest.raises(InconsistentSpace, match="defines no hyperparameters"):
        SearchSpace({"a": 1}, name="empty")
