"""The configuration process of ``create_run`` (spec §3.5, §3.6, §3.8, §11)."""

import json
import logging

import pytest

from sacred.config.custom_containers import ReadOnlyDict
from sacred.experiment import Experiment
from sacred.ingredient import Ingredient
from sacred.initialize import create_run
from sacred.utils import (
    ConfigAddedError,
    NamedConfigNotFoundError,
    SacredError,
)


@pytest.fixture
def ex():
    return Experiment("test_ex")


def test_ingredients_are_processed_deepest_first():
    # a is the deepest (below both b and c); the experiment comes last
    order = []

    def make(name, ingredients=()):
        ing = Ingredient(name, ingredients=ingredients)
        ing.pre_run_hook(lambda: None)
        ing.config_hook(lambda config, command_name, logger: order.append(name))
        return ing

    a = make("a")
    b = make("b", [a])
    c = make("c", [a])
    exp = Experiment("exp", ingredients=[b, c])
    exp.config_hook(lambda config, command_name, logger: order.append("exp"))

    @exp.pre_run_hook
    def ex_pre():
        pass

    @exp.main
    def main():
        pass

    run = create_run(exp, "main")
    assert order == ["a", "b", "c", "exp"]
    assert run.pre_run_hooks == [
        a.pre_run_hooks[0],
        b.pre_run_hooks[0],
        c.pre_run_hooks[0],
        ex_pre,
    ]


def test_duplicate_ingredient_paths(ex):
    ex.ingredients = [Ingredient("same"), Ingredient("same")]
    with pytest.raises(ValueError) as e:
        create_run(ex, "print_config")
    assert str(e.value).startswith("The pathes of the ingredients are not unique.")


def test_updates_go_to_the_ingredient_with_the_longest_matching_prefix():
    paths = Ingredient("dataset.paths")
    dataset = Ingredient("dataset", ingredients=[paths])
    other = Ingredient("other")
    exp = Experiment("exp", ingredients=[dataset, other])

    @paths.capture
    def paths_view(base):
        return base

    @dataset.capture
    def dataset_view(x):
        return x

    @exp.main
    def main(a, datasetx):
        return a, datasetx, dataset_view(), paths_view()

    updates = {"dataset.paths.base": "/b", "dataset.x": 1, "datasetx": 2, "a": 3}
    run = exp.run(config_updates=updates, options={"--force": True})
    assert run.result == (3, 2, 1, "/b")
    assert run.config["dataset"] == {"x": 1, "paths": {"base": "/b"}}
    assert "datasetx" not in run.config["dataset"]
    assert "other" not in run.config
    assert run.config_modifications.added == {"a", "datasetx", "dataset.x", "dataset.paths.base"}


def test_config_updates_are_distributed_by_longest_prefix():
    paths = Ingredient("dataset.paths")

    @paths.config
    def pcfg():
        base = "/data"

    dataset = Ingredient("dataset", ingredients=[paths])

    @dataset.config
    def dcfg():
        n = 1

    exp = Experiment("exp", ingredients=[dataset])

    @exp.config
    def cfg():
        a = 1

    @exp.main
    def main(a, dataset):
        return a

    run = exp._create_run(
        config_updates={"dataset.paths.base": "/other", "dataset": {"n": 2}, "a": 3}
    )
    assert run.config["a"] == 3
    assert run.config["dataset"] == {"n": 2, "paths": {"base": "/other"}}
    assert run.config_modifications.modified >= {"a", "dataset.n", "dataset.paths.base"}


def test_nested_updates_reach_each_ingredients_own_config():
    paths = Ingredient("dataset.paths")
    dataset = Ingredient("dataset", ingredients=[paths])
    exp = Experiment("exp", ingredients=[dataset])

    @paths.capture
    def paths_config(_config):
        return dict(_config)

    @dataset.capture
    def dataset_b(b):
        return b

    @exp.main
    def main(a, dataset):
        return a, dataset_b(), paths_config(), dataset

    updates = {"a": 1, "dataset": {"b": 2, "paths": {"c": 3}}}
    run = exp.run(config_updates=updates, options={"--force": True})
    a, b, paths_cfg, dataset_cfg = run.result
    assert (a, b) == (1, 2)
    assert paths_cfg == {"c": 3}
    # a function of the experiment sees the ingredient configs nested at their paths
    assert dataset_cfg == {"b": 2, "paths": {"c": 3}}


def test_sibling_ingredients_and_access_from_parent():
    paths = Ingredient("paths")

    @paths.config
    def pcfg():
        root = "/r"

    dataset = Ingredient("dataset", ingredients=[paths])

    @dataset.config
    def dcfg(paths):
        file = paths["root"] + "/f"

    @dataset.capture
    def get_root(paths):
        return paths["root"]

    exp = Experiment("exp", ingredients=[dataset])

    @exp.main
    def main():
        return get_root()

    run = exp.run()
    assert run.config["paths"] == {"root": "/r"}
    assert run.config["dataset"] == {"file": "/r/f"}
    assert run.result == "/r"


def test_updates_are_fixed_and_derived_values_follow(ex):
    @ex.config
    def cfg():
        a = 1
        b = 3 * a

    @ex.main
    def main(a, b):
        return a, b

    assert ex.run(config_updates={"a": 100}).result == (100, 300)
    assert ex.run(config_updates={"b": 7}).result == (1, 7)


def test_named_configs_in_order_and_updates_win(ex):
    @ex.config
    def cfg():
        a = 1
        b = 2 * a

    @ex.named_config
    def first():
        a = 10

    @ex.named_config
    def second():
        a = 20

    @ex.main
    def main(a, b):
        return a, b

    assert ex.run(named_configs=["first"]).result == (10, 20)
    assert ex.run(named_configs=["first", "second"]).result == (20, 40)
    assert ex.run(named_configs=["second", "first"]).result == (10, 20)
    assert ex.run(named_configs=["first"], config_updates={"a": 5}).result == (5, 10)


def test_named_config_sees_earlier_named_config_as_preset(ex):
    @ex.config
    def cfg():
        a = 1
        b = 1

    @ex.named_config
    def set_a():
        a = 4

    @ex.named_config
    def double(a):
        b = 2 * a

    @ex.main
    def main(a, b):
        return a, b

    assert ex.run(named_configs=["set_a", "double"]).result == (4, 8)


def test_named_config_docstring_becomes_doc_entry(ex):
    @ex.config
    def cfg():
        a = 1

    @ex.named_config
    def documented():
        """Doc of the named config."""
        a = 2

    @ex.main
    def main(a):
        return a

    run = ex.run(named_configs=["documented"])
    assert run.config["__doc__"] == "Doc of the named config."
    assert run.result == 2


def test_ingredient_named_configs(caplog):
    data = Ingredient("dataset")

    @data.config
    def dcfg():
        filename = "foo.npy"

    @data.named_config
    def big():
        """Use the big dataset"""
        filename = "big.npy"

    exp = Experiment("exp", ingredients=[data])

    @exp.main
    def main(dataset):
        return dataset["filename"]

    with caplog.at_level(logging.WARNING):
        run = exp.run(named_configs=["dataset.big"])
    assert run.result == "big.npy"
    assert run.config["dataset"]["__doc__"] == "Use the big dataset"
    assert ("dataset", 'Added new config entry: "__doc__"') in [
        (r.name, r.getMessage()) for r in caplog.records
    ]

    with pytest.raises(KeyError) as e:
        exp.run(named_configs=["nope.big"])
    assert e.value.args[0] == 'Ingredient for named config "nope.big" not found'

    with pytest.raises(NamedConfigNotFoundError) as e:
        exp.run(named_configs=["dataset.small"])
    assert str(e.value) == (
        "Named config not found: \"dataset.small\". Available config values are: ('big',)"
    )


def test_unknown_named_config_message(ex):
    @ex.named_config
    def variant1():
        pass

    @ex.named_config
    def variant2():
        pass

    @ex.main
    def main():
        pass

    with pytest.raises(NamedConfigNotFoundError) as e:
        ex.run(named_configs=["nope"])
    assert str(e.value) == (
        "Named config not found: \"nope\". Available config values are: ('variant1', 'variant2')"
    )


def test_config_file_as_named_config(ex, tmp_path):
    @ex.config
    def cfg():
        a = 1
        b = a + 1

    @ex.named_config
    def fake():
        a = 99

    @ex.main
    def main(a, b):
        return a, b

    cfg_file = tmp_path / "upd.json"
    cfg_file.write_text(json.dumps({"a": 10}))
    assert ex.run(named_configs=[str(cfg_file)]).result == (10, 11)


def test_missing_config_file_gives_clear_error(ex):
    @ex.main
    def main():
        pass

    with pytest.raises(NamedConfigNotFoundError) as e:
        ex.run(named_configs=["missing_file.json"])
    assert isinstance(e.value, SacredError)
    assert '"missing_file.json"' in str(e.value)


def test_config_added_error_and_force(ex):
    @ex.config
    def cfg():
        a = 1
        d = {"e": 1}

    @ex.main
    def main(a, b=2):
        return b

    with pytest.raises(ConfigAddedError) as e:
        ex.run(config_updates={"zzz": 3})
    assert str(e.value) == (
        "Added new config entry that is not used anywhere\n"
        "Conflicting configuration values:\n"
        "  zzz=3"
    )
    with pytest.raises(ConfigAddedError) as e:
        ex.run(config_updates={"d": {"f": 5}})
    assert "  d.f=5" in str(e.value)
    # captured argument: works, and config beats the default
    assert ex.run(config_updates={"b": 7}).result == 7
    # --force skips the check
    run = ex.run(config_updates={"zzz": 3}, options={"--force": True})
    assert run.config["zzz"] == 3


def test_config_added_error_for_ingredient_has_prefix():
    ing = Ingredient("ing")

    @ing.config
    def icfg():
        x = 1

    exp = Experiment("exp", ingredients=[ing])

    @exp.main
    def main():
        pass

    with pytest.raises(ConfigAddedError) as e:
        exp.run(config_updates={"ing": {"y": 4}})
    assert str(e.value).endswith("  ing.y=4")


def test_added_entry_under_captured_argument_warns(ex, caplog):
    @ex.config
    def cfg():
        a = {"b": 1}

    @ex.main
    def main(a):
        return dict(a)

    with caplog.at_level(logging.WARNING):
        run = ex.run(config_updates={"a": {"c": 2}})
    assert run.result == {"b": 1, "c": 2}
    assert ("root", 'Added new config entry: "a.c"') in [
        (r.name, r.getMessage()) for r in caplog.records
    ]
    assert "a.c" in run.config_modifications.added


def test_type_change_warning_but_not_for_int_float(ex, caplog):
    @ex.config
    def cfg():
        s = "text"
        n = 1
        f = 1.5

    @ex.main
    def main():
        pass

    with caplog.at_level(logging.WARNING):
        run = ex.run(config_updates={"s": True, "n": 2.5, "f": 3})
    messages = [r.getMessage() for r in caplog.records]
    assert 'Changed type of config entry "s" from str to bool' in messages
    assert not any('"n"' in m or '"f"' in m for m in messages)
    assert set(run.config_modifications.typechanged) == {"s", "n", "f"}


def test_ignored_fallback_warning(caplog):
    ing = Ingredient("ing")

    @ing.config
    def icfg():
        x = 1

    exp = Experiment("exp", ingredients=[ing])

    @exp.config
    def cfg(ing):
        ing = 5

    @exp.main
    def main():
        pass

    with caplog.at_level(logging.WARNING):
        run = exp.run()
    assert run.config["ing"] == {"x": 1}
    assert 'Ignored attempt to set value of "ing", because it is an ingredient.' in caplog.text


def test_config_hooks(ex):
    @ex.config
    def cfg():
        a = 1

    seen = {}

    @ex.config_hook
    def hook(config, command_name, logger):
        seen["args"] = (dict(config), command_name, logger.name)
        config["a"] = "mutating the copy has no effect"
        return {"b": command_name == "main", "a": 50}

    @ex.main
    def main(a, b):
        return a, b

    run = ex.run(config_updates={"a": 2})
    # the scaffold's own updates are applied after the hook results
    assert run.result == (2, True)
    assert seen["args"][1] == "main"
    assert seen["args"][2] == "test_ex"
    assert seen["args"][0]["a"] == 2
    run = ex.run()
    assert run.result == (50, True)


def test_config_hook_must_return_dict(ex):
    @ex.config_hook
    def hook(config, command_name, logger):
        return 5

    @ex.main
    def main():
        pass

    with pytest.raises(TypeError):
        ex.run()


def test_seed_is_set_and_deterministic(ex):
    ing = Ingredient("ing")

    @ing.capture
    def ing_rand(_seed):
        return _seed

    ex.ingredients.append(ing)

    @ex.capture
    def rand(_rnd, _seed):
        return _seed, int(_rnd.integers(0, 1_000_000))

    @ex.main
    def main():
        return rand(), rand(), ing_rand()

    r1 = ex.run(config_updates={"seed": 1234})
    r2 = ex.run(config_updates={"seed": 1234})
    r3 = ex.run(config_updates={"seed": 4321})
    assert r1.config["seed"] == 1234
    assert r1.result == r2.result
    assert r1.result != r3.result
    assert r1.result[0] != r1.result[1]  # fresh seeds on every call
    assert "seed" in r1.config_modifications.modified
    assert "seed" not in r1.config_modifications.added
    assert "seed" not in r1.config["ing"] if "ing" in r1.config else True
    r4 = ex.run()
    assert isinstance(r4.config["seed"], int) and 1 <= r4.config["seed"] <= 1e9


def test_config_from_scope_seed(ex):
    @ex.config
    def cfg():
        seed = 42

    @ex.main
    def main(_seed):
        return _seed

    assert ex.run().config["seed"] == 42
    assert ex.run().result == ex.run().result


def test_config_modifications_and_docs_are_prefixed():
    tickle = Ingredient("tickle")

    @tickle.config
    def tcfg():
        a = 1  # the a of tickle

    exp = Experiment("exp", ingredients=[tickle])

    @exp.config
    def cfg():
        b = 2  # the b

    @exp.main
    def main():
        pass

    run = exp.run(config_updates={"tickle": {"a": 3}})
    mods = run.config_modifications
    assert "tickle.a" in mods.modified
    assert mods.docs["tickle.a"] == "the a of tickle"
    assert mods.docs["b"] == "the b"
    assert mods.docs["seed"] == "the random seed for this experiment"
    assert "tickle.seed" not in mods.docs


def test_captured_functions_get_read_only_config_logger_and_run(ex):
    @ex.config
    def cfg():
        d = {"x": [1, 2]}

    @ex.capture(prefix="d")
    def prefixed(x):
        return x

    @ex.main
    def main(d, _log, _run, _config):
        with pytest.raises(SacredError) as e:
            d["y"] = 1
        assert str(e.value) == "The configuration is read-only in a captured function!"
        assert isinstance(d, ReadOnlyDict)
        assert _log.name == "main"
        assert _config["d"] == {"x": [1, 2]}
        return prefixed(), _run

    run = ex.run()
    assert run.result[0] == [1, 2]
    assert run.result[1] is run
    assert prefixed.logger.name == "prefixed"
    assert prefixed.run is run


def test_read_only_config_can_be_disabled(ex):
    from sacred.settings import SETTINGS

    SETTINGS.CONFIG.READ_ONLY_CONFIG = False

    @ex.config
    def cfg():
        d = {"x": 1}

    @ex.main
    def main(d):
        d["y"] = 2
        return type(d)

    assert ex.run().result is dict


def test_log_level_and_custom_logger(ex, caplog):
    logger = logging.getLogger("mylogger")
    ex.logger = logger

    @ex.main
    def main(_log):
        _log.info("hello")
        return _log.name

    run = ex.run(options={"--loglevel": "WARNING"})
    assert logger.level == logging.WARNING
    assert run.result == "mylogger.main"
    assert run.run_logger.name == "mylogger.test_ex"
    ex.run(options={"--loglevel": "10"})
    assert logger.level == logging.DEBUG


def test_command_lookup_errors():
    ing = Ingredient("ing")

    @ing.command
    def b():
        pass

    exp = Experiment("exp", ingredients=[ing])

    @exp.command
    def a():
        pass

    assert create_run(exp, "a").main_function is a
    assert create_run(exp, "ing.b").main_function is b
    with pytest.raises(KeyError) as e:
        create_run(exp, "foo.b")
    assert e.value.args[0] == 'Ingredient for command "foo.b" not found.'
    with pytest.raises(KeyError) as e:
        create_run(exp, "ing.c")
    assert e.value.args[0] == 'Command "c" not found in ingredient "ing"'
    with pytest.raises(KeyError) as e:
        create_run(exp, "c")
    assert e.value.args[0] == 'Command "c" not found'


def test_run_is_created_with_a_copy_of_observers_and_the_filter(ex):
    ex.observers.append("placeholder")

    def flt(text):
        return text

    ex.captured_out_filter = flt

    @ex.main
    def main():
        pass

    run = create_run(ex, "main")
    assert run.observers == ["placeholder"] and run.observers is not ex.observers
    assert run.captured_out_filter is flt
    assert run.unobserved is False
    assert create_run(ex, "print_config").unobserved is True


def test_pre_and_post_run_hooks_in_topological_order():
    ing = Ingredient("ing")

    @ing.pre_run_hook
    def ing_pre():
        pass

    exp = Experiment("exp", ingredients=[ing])

    @exp.pre_run_hook
    def ex_pre():
        pass

    @exp.main
    def main():
        pass

    run = create_run(exp, "main")
    assert run.pre_run_hooks == [ing_pre, ex_pre]
    assert run.post_run_hooks == []


def test_any_callable_can_be_a_named_config(ex):
    """Labwatch registers plain callables ``(fixed=, preset=, fallback=) -> dict``."""

    @ex.config
    def cfg():
        lr = 0.5
        steps = 10

    seen = {}

    def search_space(fixed=None, preset=None, fallback=None):
        seen.update(fixed=dict(fixed), preset=dict(preset))
        return {"lr": 0.01}

    ex._add_named_config("search", search_space)

    @ex.main
    def main(lr, steps):
        return lr, steps

    run = ex.run(named_configs=["search"], config_updates={"steps": 3})
    assert run.result == (0.01, 3)
    assert seen["fixed"] == {"steps": 3}
    assert run.meta_info["named_configs"] == ["search"]
