"""Ingredient: decorators, config helpers, traversal and experiment info (spec §2.1)."""

import os

import pytest

from sacred.config.config_dict import ConfigDict
from sacred.config.config_scope import ConfigScope
from sacred.dependencies import PackageDependency, Source
from sacred.experiment import Experiment
from sacred.ingredient import Ingredient, collect_repositories
from sacred.utils import CircularDependencyError

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture
def ing():
    return Ingredient("tickle")


def test_constructor_attributes(ing):
    assert ing.path == "tickle"
    assert ing.ingredients == []
    assert ing.configurations == []
    assert ing.named_configs == {}
    assert ing.config_hooks == []
    assert ing.captured_functions == []
    assert ing.pre_run_hooks == []
    assert ing.post_run_hooks == []
    assert list(ing.commands.items()) == []
    assert ing.logger is None
    assert ing._is_traversing is False
    assert ing.save_git_info is True
    assert ing.base_dir == HERE
    assert ing.doc == __doc__
    assert ing.mainfile.filename == os.path.realpath(__file__.replace(".pyc", ".py"))
    assert isinstance(ing.sources, set) and isinstance(ing.dependencies, set)


def test_base_dir_argument_is_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ingred = Ingredient("x", base_dir="sub")
    assert ingred.base_dir == os.path.join(str(tmp_path), "sub")


def test_interactive_mode_needs_flag():
    with pytest.raises(RuntimeError) as e:
        Ingredient("x", _caller_globals={"__doc__": None})
    assert str(e.value) == (
        "Defining an experiment in interactive mode! The sourcecode cannot be stored "
        "and the experiment won't be reproducible. If you still want to run it pass "
        "interactive=True"
    )
    interactive = Ingredient("x", interactive=True, _caller_globals={"__doc__": None})
    assert interactive.mainfile is None
    assert interactive.base_dir == os.path.abspath(".")


def test_capture_bare_and_with_prefix(ing):
    def foo(a):
        return a

    cf = ing.capture(foo)
    assert cf in ing.captured_functions
    assert cf.prefix is None
    assert cf.__name__ == "foo"

    @ing.capture(prefix="dataset")
    def bar(b):
        return b

    assert bar.prefix == "dataset"
    assert ing.captured_functions == [cf, bar]


def test_capture_twice_returns_the_same_function(ing):
    @ing.capture
    def foo():
        pass

    assert ing.capture(foo) is foo
    assert ing.captured_functions == [foo]


def test_pre_and_post_run_hooks(ing):
    @ing.pre_run_hook
    def pre():
        pass

    @ing.post_run_hook(prefix="p")
    def post():
        pass

    assert ing.pre_run_hooks == [pre]
    assert ing.post_run_hooks == [post]
    assert post.prefix == "p"
    assert ing.captured_functions == [pre, post]


def test_command_registers_captured_function(ing):
    @ing.command
    def foo():
        """Doc of foo."""

    @ing.command(unobserved=True, prefix="x")
    def bar():
        pass

    assert list(ing.commands.items()) == [("foo", foo), ("bar", bar)]
    assert foo.unobserved is False
    assert bar.unobserved is True
    assert bar.prefix == "x"
    assert foo.__doc__ == "Doc of foo."


def test_config_decorator_returns_config_scope(ing):
    @ing.config
    def cfg():
        a = 1

    assert isinstance(cfg, ConfigScope)
    assert ing.configurations == [cfg]
    assert cfg() == {"a": 1}


def test_named_config(ing):
    @ing.named_config
    def nc():
        b = 2

    assert isinstance(nc, ConfigScope)
    assert ing.named_configs == {"nc": nc}

    def nc2():
        pass

    nc2.__name__ = "nc"
    with pytest.raises(KeyError) as e:
        ing.named_config(nc2)
    assert e.value.args[0] == 'Configuration name "nc" already in use!'


def test_config_hook_signature_is_checked(ing):
    def hook(config, command_name, logger):
        return {}

    assert ing.config_hook(hook) is hook
    assert ing.config_hooks == [hook]
    message = "Wrong signature for config_hook. Expected: (config, command_name, logger)"
    for bad in [
        lambda config, command_name: None,
        lambda config, command_name, logger, x: None,
        lambda config, command_name, logger=None: None,
        lambda config, command_name, *logger: None,
        lambda cfg, command_name, logger: None,
    ]:
        with pytest.raises(ValueError) as e:
            ing.config_hook(bad)
        assert str(e.value) == message


def test_add_config_variants(ing, tmp_path):
    ing.add_config({"a": 1})
    ing.add_config(b=2)
    cfg_file = tmp_path / "c.json"
    cfg_file.write_text('{"c": 3}')
    ing.add_config(str(cfg_file))
    assert all(isinstance(c, ConfigDict) for c in ing.configurations)
    assert [c() for c in ing.configurations] == [{"a": 1}, {"b": 2}, {"c": 3}]


@pytest.mark.parametrize(
    "args, kwargs, exc, message",
    [
        (
            ({"a": 1},),
            {"b": 2},
            ValueError,
            "cannot combine keyword config with positional argument",
        ),
        ((), {}, ValueError, "attempted to add empty config"),
        ((12,), {}, TypeError, "Invalid argument type <class 'int'>"),
        ((True,), {}, TypeError, "Invalid argument type <class 'bool'>"),
        (("/does/not/exist.json",), {}, OSError, "File not found /does/not/exist.json"),
    ],
)
def test_add_config_errors(ing, args, kwargs, exc, message):
    with pytest.raises(exc) as e:
        ing.add_config(*args, **kwargs)
    assert str(e.value) == message
    with pytest.raises(exc) as e:
        ing.add_named_config("name", *args, **kwargs)
    assert str(e.value) == message


def test_add_config_rejects_invalid_keys(ing):
    with pytest.raises(KeyError):
        ing.add_config({"a.b": 1})


def test_add_named_config(ing):
    ing.add_named_config("small", {"n": 1})
    ing.add_named_config("big", n=100)
    assert ing.named_configs["small"]() == {"n": 1}
    assert ing.named_configs["big"]() == {"n": 100}
    with pytest.raises(KeyError):
        ing.add_named_config("big", n=5)


def test_add_named_config_accepts_any_callable(ing):
    def labwatch_like(fixed=None, preset=None, fallback=None):
        return {"lr": 0.1}

    ing._add_named_config("search", labwatch_like)
    assert ing.named_configs["search"] is labwatch_like


def test_add_source_file(ing, tmp_path):
    src = tmp_path / "extra.py"
    src.write_text("x = 1\n")
    ing.add_source_file(str(src))
    assert Source.create(str(src)) in ing.sources
    with pytest.raises(ValueError) as e:
        ing.add_source_file(str(tmp_path / "nope.py"))
    assert str(e.value) == f'invalid filename or file not found "{tmp_path / "nope.py"}"'


def test_add_package_dependency(ing):
    ing.add_package_dependency("django", "1.8.2")
    assert PackageDependency("django", "1.8.2") in ing.dependencies
    with pytest.raises(ValueError) as e:
        ing.add_package_dependency("django", "foobar")
    assert str(e.value) == 'Invalid Version: "foobar"'


def test_traverse_ingredients_pre_order():
    a = Ingredient("a")
    b = Ingredient("b", ingredients=[a])
    c = Ingredient("c")
    d = Ingredient("d", ingredients=[b, c])
    assert list(d.traverse_ingredients()) == [(d, 0), (b, 1), (a, 2), (c, 1)]
    # can be traversed again (and abandoned half-way) without false circularity alarms
    next(d.traverse_ingredients())
    assert [i for i, _ in d.traverse_ingredients()] == [d, b, a, c]


def test_traverse_ingredients_detects_circles():
    ing1 = Ingredient("ing")
    ex = Experiment("exp", ingredients=[ing1])
    ing1.ingredients.append(ex)
    with pytest.raises(CircularDependencyError) as e:
        list(ex.traverse_ingredients())
    assert str(e.value) == "Circular dependency detected:exp->ing->exp"
    # the flags are reset, so the error is raised again the same way
    with pytest.raises(CircularDependencyError) as e:
        list(ex.traverse_ingredients())
    assert str(e.value) == "Circular dependency detected:exp->ing->exp"


def test_gather_commands_and_named_configs():
    sub = Ingredient("sub")

    @sub.command
    def subcmd():
        pass

    @sub.named_config
    def subnc():
        pass

    ing2 = Ingredient("ing2", ingredients=[sub])

    @ing2.command
    def cmd():
        pass

    ing2.add_named_config("nc", a=1)
    assert list(ing2.gather_commands()) == [("ing2.cmd", cmd), ("sub.subcmd", subcmd)]
    assert [n for n, _ in ing2.gather_named_configs()] == ["ing2.nc", "sub.subnc"]


def test_get_experiment_info(tmp_path):
    sub = Ingredient("sub")
    sub.add_package_dependency("Zeta", "1.0")
    sub.add_package_dependency("alpha", "2.0")
    extra = tmp_path / "extra.py"
    extra.write_text("y = 2\n")
    sub.add_source_file(str(extra))
    ing2 = Ingredient("top", ingredients=[sub])
    info = ing2.get_experiment_info()
    assert info["name"] == "top"
    assert info["base_dir"] == HERE
    assert info["mainfile"] == os.path.basename(__file__)
    deps = info["dependencies"]
    assert deps.index("alpha==2.0") < deps.index("Zeta==1.0")
    names = [d.split("==")[0].lower() for d in deps]
    assert names == sorted(names)
    files = [s[0] for s in info["sources"]]
    assert os.path.basename(__file__) in files
    assert os.path.relpath(os.path.realpath(str(extra)), os.path.realpath(HERE)) in files
    assert all(isinstance(s, tuple) and len(s) == 2 for s in info["sources"])
    abs_files = [os.path.realpath(os.path.join(HERE, f)) for f in files]
    assert abs_files == sorted(abs_files)
    assert isinstance(info["repositories"], list)
    # fresh lists each time, and new dependencies show up
    info["dependencies"].append("junk")
    sub.add_package_dependency("beta", "3.0")
    info2 = ing2.get_experiment_info()
    assert "junk" not in info2["dependencies"]
    assert "beta==3.0" in info2["dependencies"]


def test_collect_repositories_keeps_one_entry_per_source():
    s1 = Source("/a/x.py", "d1", "git@host:repo", "abc", False)
    s2 = Source("/a/y.py", "d2", "git@host:repo", "abc", True)
    s3 = Source("/b/z.py", "d3", None, None, None)
    assert collect_repositories([s1, s2, s3]) == [
        {"url": "git@host:repo", "commit": "abc", "dirty": False},
        {"url": "git@host:repo", "commit": "abc", "dirty": True},
    ]
