"""The original Labwatch's data formats (issue 12, items 11-13), written from the spec.

* Hyperparameters are dicts carrying ``_class``, ``uid`` and their fields, so ``json.dumps``
  takes them as they are, and ``decode_param`` rebuilds an equal parameter.
* ``values_to_configuration`` (and the original's ``sacred_config_to_configspace``) refuse
  anything but the ConfigurationSpace built from the search space with a ValueError.
* A MongoDB the original Labwatch wrote: its ``search_space`` documents are the raw
  search-space dict (parameter dicts with ``_class``/``uid``) plus ``"_class": "SearchSpace"``
  and an ObjectId ``_id``; its runs are Sacred runs started with ``with <space name>``
  (``meta.options.UPDATE``), without any marker of ours.
"""

import copy
import json
import pickle

import pytest

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
    decode_param_or_op,
)
from labwatch.searchspace import SearchSpace, build_search_space

PARAMS = [
    lambda: Constant(23),
    lambda: UniformFloat(0.0, 1.0),
    lambda: UniformInt(1, 10, log_scale=True),
    lambda: UniformNumber(2, 9, int, 4),
    lambda: UniformNumber(0.5, 2.5, float, log_scale=True),
    lambda: Categorical(["a", 1, 2.5]),
    lambda: Gaussian(1.0, 2.0),
]


def test_json_dumps_takes_a_parameter_as_it_is():
    p = UniformFloat(0.0, 1.0)
    assert isinstance(p, dict)
    assert json.loads(json.dumps(p)) == {
        "_class": "UniformFloat",
        "uid": p.uid,
        "lower": 0.0,
        "upper": 1.0,
        "type": "float",
        "default": 0.5,
        "log_scale": False,
    }
    assert isinstance(p.uid, int) and p["uid"] == p.uid


@pytest.mark.parametrize("make", PARAMS)
def test_dict_and_json_round_trip_give_an_equal_parameter(make):
    p = make()
    d = json.loads(json.dumps(p))
    assert d["_class"] == type(p).__name__ and d["uid"] == p.uid
    for again in (decode_param(p.to_dict()), decode_param(d), decode_param_or_op(d)):
        assert type(again) is type(p)
        assert again == p and again.uid == p.uid
        assert hash(again) == hash(p)


def test_equality_is_by_value_not_identity():
    assert UniformFloat(0, 1) == UniformFloat(0.0, 1.0)
    assert UniformFloat(0, 1) != UniformFloat(0, 2)
    assert UniformFloat(0, 1) != UniformNumber(0, 1, float)
    assert Categorical(["a", "b"]) == {"_class": "Categorical", "uid": 99, "choices": ["a", "b"]}
    assert len({UniformInt(1, 4), UniformInt(1, 4), UniformInt(1, 5)}) == 2


def test_explicit_uid_and_the_fields_are_read_only():
    p = UniformInt(1, 4, uid=1234)
    assert p.uid == 1234 and p["uid"] == 1234
    assert UniformInt(1, 4).uid > 1234  # new uids never reuse a given one
    with pytest.raises(TypeError, match="UniformInt is read-only"):
        p["lower"] = 2
    with pytest.raises(TypeError, match="read-only"):
        p.update(lower=2)
    assert p["lower"] == 1 and p.lower == 1
    assert copy.deepcopy(p) == p and pickle.loads(pickle.dumps(p)) == p
    assert pickle.loads(pickle.dumps(p)).sample() in range(1, 5)


def test_conditions_serialise_with_the_parents_uid():
    solver = Categorical(["sgd", "adam"])
    momentum = UniformFloat(0.0, 0.9) | Condition(solver, ["sgd"])
    d = json.loads(json.dumps(momentum))
    assert d["_class"] == "ConditionResult"
    assert d["uid"] == d["result"]["uid"] == momentum.uid
    assert d["condition"] == {"_class": "Condition", "uid": solver.uid, "choices": ["sgd"]}
    again = decode_param(d)
    assert isinstance(again, ConditionResult) and again == momentum
    assert again.condition.parent_uid == solver.uid


def test_decode_refuses_what_is_not_a_parameter():
    with pytest.raises(ValueError, match="Not a valid hyperparameter"):
        decode_param({"lower": 1})
    with pytest.raises(ValueError, match="Not a valid hyperparameter: unknown class 'Foo'"):
        decode_param({"_class": "Foo"})
    with pytest.raises(ValueError, match="missing 'upper'"):
        decode_param({"_class": "UniformFloat", "uid": 1, "lower": 0})


def test_the_same_object_at_several_paths_is_one_parameter_by_uid():
    def space():
        shared = UniformInt(1, 5)
        a = shared  # noqa: F841
        foo = {"bar": shared}  # noqa: F841
        using_list = [1, 2, shared]  # noqa: F841
        del shared

    s = build_search_space(space)
    assert list(s.parameters) == ["a"]
    assert s.fill_in({"a": 3}) == {"a": 3, "foo": {"bar": 3}, "using_list": [1, 2, 3]}
    # two distinct (equal) objects are two parameters
    s2 = SearchSpace({"x": [UniformFloat(0, 1), UniformFloat(0, 1)]})
    assert list(s2.parameters) == ["x[0]", "x[1]"]


def test_one_uid_for_two_different_parameters_is_an_error():
    from labwatch.exceptions import InconsistentSpace

    with pytest.raises(InconsistentSpace, match="'b' and 'a' share the uid 7"):
        SearchSpace({"a": UniformInt(1, 4, uid=7), "b": UniformInt(1, 5, uid=7)})


# ------------------------------------------------------------------------- item 12
def _space():
    def search_space():
        x = UniformFloat(-5, 10)  # noqa: F841
        solver = Categorical(["sgd", "adam"])
        momentum = UniformFloat(0.0, 0.9) | Condition(solver, ["sgd"])  # noqa: F841

    return build_search_space(search_space)


def test_values_to_configuration_refuses_a_search_space():
    pytest.importorskip("ConfigSpace")
    from labwatch.converters.configspace import to_configspace, values_to_configuration
    from labwatch.converters.convert_to_configspace import (
        configspace_config_to_sacred,
        sacred_config_to_configspace,
        sacred_space_to_configspace,
    )

    space = _space()
    values = space.default()
    message = (
        "values_to_configuration needs the ConfigurationSpace made from the search space "
        "(to_configspace(space)), not a SearchSpace"
    )
    with pytest.raises(ValueError) as e:
        values_to_configuration(space, values)
    assert str(e.value) == message
    with pytest.raises(ValueError) as e:
        sacred_config_to_configspace(space, values)  # the original's name
    assert str(e.value) == message
    cs = sacred_space_to_configspace(space)
    config = sacred_config_to_configspace(cs, values)
    assert configspace_config_to_sacred(config) == values
    assert values_to_configuration(to_configspace(space), values) == config


@pytest.mark.parametrize(
    "values, message",
    [
        (
            {"x": 11.0, "solver": "adam"},
            "The values do not fit the configuration space: x = 11.0 is not allowed "
            "(x, Type: UniformFloat, Range: [-5.0, 10.0], Default: 2.5)",
        ),
        (
            {"x": 1.0, "solver": "rmsprop"},
            "The values do not fit the configuration space: solver = 'rmsprop' is not "
            "allowed (solver, Type: Categorical, Choices: {sgd, adam}, Default: sgd)",
        ),
        (
            {"x": 1.0, "solver": "adam", "lr": 0.1},
            "The values do not fit the configuration space: not in it: ['lr']",
        ),
        (
            {"x": 1.0, "solver": "sgd"},
            "The values do not fit the configuration space: momentum is active but has no value",
        ),
        (
            {"x": 1.0, "solver": "adam", "momentum": 0.5},
            "The values do not fit the configuration space: momentum is inactive but has "
            "the value 0.5",
        ),
        ([1.0, "sgd"], "values_to_configuration needs a dict {name: value}, not a list"),
    ],
)
def test_values_that_do_not_fit_raise_a_value_error_saying_what(values, message):
    pytest.importorskip("ConfigSpace")
    from labwatch.converters.configspace import to_configspace, values_to_configuration

    with pytest.raises(ValueError) as e:
        values_to_configuration(to_configspace(_space()), values)
    assert str(e.value) == message


# ------------------------------------------------------------------------- item 13
def _original_database():
    """A MongoDB as the original Labwatch (with Sacred 0.7's MongoObserver) left it."""
    mongomock = pytest.importorskip("mongomock")
    import datetime as dt

    from bson import ObjectId

    db = mongomock.MongoClient()["branin"]
    space_id = ObjectId()
    db["search_space"].insert_one(
        {
            "_id": space_id,
            "_class": "SearchSpace",
            "x": {
                "_class": "UniformFloat",
                "uid": 0,
                "lower": -5,
                "upper": 10,
                "type": "float",
                "default": 2.5,
                "log_scale": False,
            },
            "y": {
                "_class": "UniformInt",
                "uid": 1,
                "lower": 0,
                "upper": 4,
                "type": "int",
                "default": 2.0,
                "log_scale": False,
            },
            "solver": {"_class": "Categorical", "uid": 2, "choices": ["sgd", "adam"]},
            "momentum": {
                "_class": "ConditionResult",
                "uid": 3,
                "condition": {"_class": "Condition", "uid": 2, "choices": ["sgd"]},
                "result": {
                    "_class": "UniformFloat",
                    "uid": 3,
                    "lower": 0.0,
                    "upper": 0.9,
                    "type": "float",
                    "default": 0.45,
                    "log_scale": False,
                },
            },
        }
    )
    t0 = dt.datetime(2018, 1, 15, 10, 0, 0)

    def run(run_id, update, status, config, result=None, name="quadratic"):
        doc = {
            "_id": run_id,
            "experiment": {
                "name": name,
                "base_dir": "/home/user/exp",
                "sources": [["quadratic.py", ObjectId()]],
                "dependencies": ["labwatch==0.1.0", "numpy==1.14.0", "sacred==0.7.2"],
                "repositories": [],
                "mainfile": "quadratic.py",
            },
            "format": "MongoObserver-0.7.0",
            "command": "main",
            "host": {
                "hostname": "worker1",
                "os": ["Linux", "Linux-4.4"],
                "python_version": "3.6.3",
            },
            "start_time": t0 + dt.timedelta(minutes=run_id),
            "config": dict(config, seed=100 + run_id),
            "meta": {
                "command": "main",
                "options": {
                    "UPDATE": update,
                    "--mongo_db": "branin",
                    "--queue": False,
                    "--name": None,
                    "help": False,
                    "with": bool(update),
                },
            },
            "status": status,
            "resources": [],
            "artifacts": [],
            "captured_out": "",
            "info": {},
            "heartbeat": t0 + dt.timedelta(minutes=run_id, seconds=30),
        }
        if status == "COMPLETED":
            doc["result"] = result
            doc["stop_time"] = doc["heartbeat"]
        db["runs"].insert_one(doc)

    base = {"x": 0.0, "y": 3, "solver": "sgd", "momentum": 0.5}
    run(1, ["search_space"], "COMPLETED", dict(base, x=1.0, y=2, solver="adam"), 3.0)
    run(2, ["search_space", "y=1"], "COMPLETED", dict(base, x=-0.5, y=1, momentum=0.3), 1.25)
    run(3, ["search_space"], "COMPLETED", dict(base, x=2.0, y=0), {"optimization_target": 4.0})
    run(4, ["search_space"], "FAILED", dict(base, x=3.0, y=4))
    run(5, [], "COMPLETED", base, 3.0)  # not from the search space
    run(6, ["small_search_space"], "COMPLETED", dict(base, x=0.5), 0.25)  # another space
    run(7, ["search_space"], "COMPLETED", dict(base, x=0.0, y=0), 0.0, name="other")
    return db


def _assistant(db):
    from labwatch import LabAssistant
    from labwatch.optimizers import RandomSearch
    from sacred import Experiment

    ex = Experiment("quadratic")

    @ex.config
    def cfg():
        x = 0.0  # noqa: F841
        y = 3  # noqa: F841
        solver = "sgd"  # noqa: F841
        momentum = 0.5  # noqa: F841

    a = LabAssistant(ex, store=db, optimizer=RandomSearch)

    @a.search_space
    def search_space():
        x = UniformFloat(-5, 10)  # noqa: F841
        y = UniformInt(0, 4)  # noqa: F841
        solver = Categorical(["sgd", "adam"])
        momentum = UniformFloat(0.0, 0.9) | Condition(solver, ["sgd"])  # noqa: F841

    @ex.main
    def main(x, y, solver, momentum):
        return {"optimization_target": x * x + y}

    return ex, a


def test_the_original_search_space_documents_are_found():
    db = _original_database()
    ex, a = _assistant(db)
    (stored,) = a.stored_search_spaces()
    assert stored.name is None  # the original did not store names
    assert list(stored.parameters) == ["x", "y", "solver", "momentum"]
    assert stored.conditions == {"momentum": "solver"}
    assert stored.parameters["x"] == UniformFloat(-5.0, 10.0)
    assert stored == a._space("search_space")  # the same definition: the same search space
    doc = db["search_space"].find_one({"_class": "SearchSpace", "x": {"$exists": True}})
    assert SearchSpace.from_json(doc) == stored


def test_the_original_runs_are_the_history_of_their_search_space():
    db = _original_database()
    ex, a = _assistant(db)
    history = a.history("search_space")
    assert history == [
        ({"x": 1.0, "y": 2, "solver": "adam"}, 3.0, 1),
        ({"x": -0.5, "y": 1, "solver": "sgd", "momentum": 0.3}, 1.25, 2),
        ({"x": 2.0, "y": 0, "solver": "sgd", "momentum": 0.5}, 4.0, 3),
    ]
    assert a.get_current_best(search_space="search_space") == (
        {"x": -0.5, "y": 1, "solver": "sgd", "momentum": 0.3},
        1.25,
    )
    # new runs join the same history (and are marked as ours)
    run = ex.run(named_configs=["search_space"])
    assert run.status == "COMPLETED"
    assert [h[2] for h in a.history("search_space")] == [1, 2, 3, 8]
