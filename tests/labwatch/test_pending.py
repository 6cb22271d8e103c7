"""Pending configurations: a suggestion made while others are in flight avoids them."""

import functools
import math
import random
import threading

import pytest

from labwatch import LabAssistant
from labwatch.hyperparameters import UniformFloat
from labwatch.optimizers import RandomSearch
from labwatch.searchspace import SearchSpace
from sacred import Experiment
from tests.labwatch.test_optimizers import FAST, get_class

MODEL_BASED = ("BayesianOptimization", "TPE", "Bohamiann", "DNGO", "SMAC", "CMAES")


def branin(x1, x2):
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


def branin_space():
    return SearchSpace({"x": [UniformFloat(-5, 10), UniformFloat(0, 15)]}, name="branin")


def history(n=12, seed=0):
    rng = random.Random(seed)
    configs = [{"x[0]": rng.uniform(-5, 10), "x[1]": rng.uniform(0, 15)} for _ in range(n)]
    return configs, [branin(c["x[0]"], c["x[1]"]) for c in configs]


def fitted(name, seed=3):
    """An optimizer of the class ``name`` past its random start (12 Branin runs)."""
    cls = get_class(name)
    opt = cls(branin_space(), seed=seed, **FAST.get(cls.__name__, {}))
    configs, costs = history()
    opt.update(configs, costs, [None] * len(costs))
    return opt


def unit_distance(a, b):
    return math.hypot((a["x[0]"] - b["x[0]"]) / 15, (a["x[1]"] - b["x[1]"]) / 15)


@pytest.mark.parametrize("name", MODEL_BASED)
def test_a_suggestion_made_while_another_is_pending_differs(name):
    first = fitted(name).suggest_configuration()
    # the optimizers are deterministic: the same state, without pending info, gives the
    # same point again (what a second worker would get if nobody told the optimizer)
    assert fitted(name).suggest_configuration() == first
    told = fitted(name)
    told.set_pending([first])
    second = told.suggest_configuration()
    assert second != first
    assert unit_distance(first, second) > 1e-3
    # both pending: a third worker gets a third point
    told.set_pending([first, second])
    third = told.suggest_configuration()
    assert third not in (first, second)


@pytest.mark.parametrize("name", MODEL_BASED)
def test_two_suggestions_while_both_are_pending_differ(name):
    opt = fitted(name)
    first = opt.suggest_configuration()
    opt.set_pending([first])
    second = opt.suggest_configuration()
    assert second != first
    opt.set_pending([])  # both came back: nothing pending, still a valid suggestion
    opt.update([first, second], [branin(*first.values()), branin(*second.values())], [0, 0])
    branin_space().validate(opt.suggest_configuration())


def test_random_search_ignores_pending_configurations():
    plain, told = RandomSearch(branin_space(), seed=5), RandomSearch(branin_space(), seed=5)
    told.set_pending([{"x[0]": 0.0, "x[1]": 1.0}])
    assert [plain.suggest_configuration() for _ in range(3)] == [
        told.suggest_configuration() for _ in range(3)
    ]
    assert told.pending == [{"x[0]": 0.0, "x[1]": 1.0}]


@pytest.mark.parametrize("liar, expected", [("min", min), ("max", max), ("mean", None)])
def test_the_constant_liar_gives_pending_points_the_chosen_cost(liar, expected):
    cls = get_class("BayesianOptimization")
    opt = cls(branin_space(), seed=0, liar=liar)
    configs, costs = history(5)
    opt.update(configs, costs, [None] * 5)
    opt.set_pending([{"x[0]": 1.0, "x[1]": 2.0}, {"x[0]": 3.0, "x[1]": 4.0}])
    X, y = opt.training_data()
    assert X.shape == (7, 2) and list(y[:5]) == costs
    lie = expected(costs) if expected else sum(costs) / 5
    assert list(y[5:]) == [pytest.approx(lie)] * 2
    assert list(X[5]) == pytest.approx([6 / 15, 2 / 15])


def test_an_unknown_liar_is_a_clear_error():
    cls = get_class("BayesianOptimization")
    with pytest.raises(ValueError, match="Unknown liar 'median': use one of min, mean, max"):
        cls(branin_space(), liar="median")


def test_tpe_pending_configurations_are_running_trials():
    opt = fitted("TPE")
    state = opt.optuna.trial.TrialState
    a, b = {"x[0]": 1.0, "x[1]": 2.0}, {"x[0]": 3.0, "x[1]": 4.0}

    def states():
        trials = opt.study.get_trials(deepcopy=False)
        return {s: sum(t.state == s for t in trials) for s in (state.RUNNING, state.COMPLETE)}

    opt.set_pending([a, b])
    assert states() == {state.RUNNING: 2, state.COMPLETE: 12}
    running = [t.params for t in opt.study.get_trials(states=(state.RUNNING,))]
    assert running == [a, b]
    opt.set_pending([b])  # a came back: its RUNNING trial is closed, its result told
    opt.update([a], [5.0], [None])
    assert states() == {state.RUNNING: 1, state.COMPLETE: 13}
    opt.set_pending([])
    assert states() == {state.RUNNING: 0, state.COMPLETE: 13}


# ---------------------------------------------------------------- through the assistant
def assistant(location, optimizer="BayesianOptimization", gate=None):
    """An experiment + assistant as each worker process would build them."""
    ex = Experiment("pending_branin")
    cls = get_class(optimizer)
    a = LabAssistant(ex, store=location, optimizer=functools.partial(cls, seed=7))

    @ex.config
    def cfg():
        x = [0.0, 0.0]  # noqa: F841

    @a.search_space
    def space():
        x = (UniformFloat(-5, 10), UniformFloat(0, 15))  # noqa: F841

    @a.search_space
    def other():
        x = (UniformFloat(-5, 0), UniformFloat(0, 15))  # noqa: F841

    @ex.main
    def main(x):
        if gate is not None:
            gate[0].set()
            gate[1].wait(30)
        return branin(x[0], x[1])

    return ex, a


@pytest.fixture
def store_with_history(tmp_path):
    location = str(tmp_path / "runs")
    _, a = assistant(location)
    for values in history(6)[0]:
        a.run_config(values, search_space="space")
    return location


def test_queued_runs_of_the_space_are_pending_for_other_workers(store_with_history):
    # what a second worker would suggest if nobody told it about the queue
    unaware = assistant(store_with_history)[1].get_suggestion("space")
    _, first = assistant(store_with_history)
    queued = first.enqueue_suggestion(search_space="space")
    assert queued.status == "QUEUED"
    queued_values = {"x[0]": queued.config["x"][0], "x[1]": queued.config["x"][1]}
    assert queued_values == unaware  # the same state gives the same point...

    _, second = assistant(store_with_history)
    assert second.pending("space") == [queued_values]
    suggestion = second.get_suggestion("space")
    assert suggestion != queued_values  # ...unless the queued run is pending
    assert second._optimizer(second._space("space")).pending == [queued_values]
    # a run queued in another search space is not pending for this one
    assert second.pending("other") == []


def test_running_runs_are_pending_until_silent_for_pending_timeout(store_with_history):
    gate = (threading.Event(), threading.Event())
    _, worker = assistant(store_with_history, gate=gate)
    values = {"x[0]": 1.5, "x[1]": 2.5}
    thread = threading.Thread(
        target=worker.run_config, args=(values,), kwargs={"search_space": "space"}
    )
    thread.start()
    try:
        assert gate[0].wait(30)
        _, other = assistant(store_with_history)
        assert other.pending("space") == [values]
        other.pending_timeout = 0.0  # its heartbeat is older than that: a dead worker
        assert other.pending("space") == []
    finally:
        gate[1].set()
        thread.join(30)
    assert other.pending("space") == []
    assert values in [v for v, _, _ in other.history("space")]
