"""Experiment: construction, decorators, run, run_commandline and the CLI options (§2.2, §4)."""

import logging
import os
import subprocess
import sys

import pytest

from sacred import commandline_options
from sacred.commandline_options import CLIOption, cli_option
from sacred.experiment import (
    DEFAULT_COMMAND_LINE_OPTIONS,
    Experiment,
    Ingredient,
    gather_command_line_options,
)
from sacred.observers.gcs_observer import gcs_option
from sacred.run import Run
from sacred.utils import ConfigAddedError, MissingConfigError

DEFAULT_OPTIONS = {
    "--beat-interval": None,
    "--capture": None,
    "--comment": None,
    "--debug": False,
    "--enforce_clean": False,
    "--file_storage": None,
    "--force": False,
    "--help": False,
    "--id": None,
    "--loglevel": None,
    "--mongo_db": None,
    "--name": None,
    "--pdb": False,
    "--print-config": False,
    "--priority": None,
    "--queue": False,
    "--s3": None,
    "--sql": None,
    "--tiny_db": None,
    "--unobserved": False,
}


@pytest.fixture
def ex():
    return Experiment("ator3000")


def test_default_name_is_the_file_name():
    assert Experiment().path == "test_experiment"


def test_name_required_in_interactive_mode():
    with pytest.raises(RuntimeError) as e:
        Experiment(interactive=True)
    assert str(e.value) == "name is required in interactive mode."


def test_no_main_file():
    code = "from sacred import Experiment\nExperiment()\n"
    with pytest.raises(RuntimeError) as e:
        exec(compile(code, "<string>", "exec"), {"__name__": "interactive_module"})
    assert str(e.value) == (
        "No main-file found. Are you running in interactive mode? "
        "If so please provide a name and set interactive=True."
    )


def test_interactive_experiment_with_name():
    code = "from sacred import Experiment\nex = Experiment('inter', interactive=True)\n"
    globs = {"__name__": "interactive_module"}
    exec(compile(code, "<string>", "exec"), globs)
    assert globs["ex"].path == "inter"
    assert globs["ex"].mainfile is None


def test_attributes_and_builtin_commands(ex):
    assert ex.default_command is None
    assert ex.observers == []
    assert ex.current_run is None
    assert ex.captured_out_filter is None
    assert ex.option_hooks == []
    assert list(ex.commands) == [
        "print_config",
        "print_dependencies",
        "save_config",
        "print_named_configs",
    ]
    assert all(cmd.unobserved for cmd in ex.commands.values())


def test_additional_host_info_clash():
    from sacred.host_info import host_info_gatherer

    @host_info_gatherer("hostname")
    def fake():
        return "x"

    with pytest.raises(KeyError):
        Experiment("x", additional_host_info=[fake])


def test_main_and_automain(ex):
    @ex.main
    def foo():
        return 3

    assert ex.default_command == "foo"
    assert ex.commands["foo"] is foo
    assert foo.unobserved is False

    @ex.automain
    def bar():
        return 4

    # this module is not __main__, so automain does not start the command line
    assert ex.default_command == "bar"
    assert ex.run().result == 4


def test_automain_refuses_interactive_mode(ex):
    def main():
        pass

    main.__module__ = "__main__"
    main.__code__ = main.__code__.replace(co_filename="<stdin>")
    with pytest.raises(RuntimeError) as e:
        ex.automain(main)
    assert str(e.value) == (
        "Cannot use @ex.automain decorator in interactive mode. Use @ex.main instead."
    )


def test_commands_and_named_configs_have_bare_names_for_the_experiment():
    data = Ingredient("dataset")

    @data.command
    def stats():
        pass

    @data.named_config
    def big():
        pass

    exp = Experiment("demo", ingredients=[data])

    @exp.named_config
    def variant1():
        pass

    @exp.main
    def main():
        pass

    assert [n for n, _ in exp.gather_commands()] == [
        "print_config",
        "print_dependencies",
        "save_config",
        "print_named_configs",
        "main",
        "dataset.stats",
    ]
    assert [n for n, _ in exp.gather_named_configs()] == ["variant1", "dataset.big"]


def test_get_default_options(ex):
    assert ex.get_default_options() == DEFAULT_OPTIONS


def test_gather_command_line_options():
    options = gather_command_line_options()
    names = [commandline_options.get_name(o) for o in options]
    assert names == sorted(names)
    assert set(options) == set(DEFAULT_COMMAND_LINE_OPTIONS)
    assert gcs_option not in options
    assert {o.get_flag() for o in options} == set(DEFAULT_OPTIONS)


def test_legacy_options_are_discovered_with_warning(tmp_path):
    # in a subprocess: a subclass of CommandLineOption stays registered for good
    script = tmp_path / "legacy.py"
    script.write_text(
        "import warnings\n"
        "from sacred import commandline_options\n"
        "from sacred.experiment import gather_command_line_options\n"
        "class OwnFlagOption(commandline_options.CommandLineOption):\n"
        '    """A legacy flag."""\n'
        "with warnings.catch_warnings(record=True) as w:\n"
        "    warnings.simplefilter('always')\n"
        "    opts = gather_command_line_options()\n"
        "print(OwnFlagOption in opts, w[0].message)\n"
        "OwnFlagOption._enabled = False\n"
        "print(OwnFlagOption in gather_command_line_options(filter_disabled=True))\n"
        "print(OwnFlagOption in gather_command_line_options(filter_disabled=False))\n"
        "print(OwnFlagOption.get_flag(), OwnFlagOption.get_short_flag())\n"
    )
    result = subprocess.run(
        [sys.executable, "-W", "ignore", str(script)], capture_output=True, text=True, check=True
    )
    assert result.stdout.splitlines() == [
        "True Subclassing `CommandLineOption` is deprecated. Please use the `sacred.cli_option` "
        "decorator and pass the function to the Experiment constructor.",
        "False",
        "True",
        "--own_flag -o",
    ]


def test_option_hook(ex):
    with pytest.raises(KeyError) as e:

        @ex.option_hook
        def bad(opts):
            pass

    assert e.value.args[0] == (
        "option_hook functions must have an argument called 'options', but got ['opts']"
    )
    seen = []

    @ex.option_hook
    def hook(options):
        seen.append(dict(options))
        options["--unobserved"] = True
        options["COMMAND"] = "ignored"

    @ex.main
    def main():
        pass

    run = ex.run(options={"--comment": "c"})
    assert seen[0]["--comment"] == "c"
    assert run.unobserved is True
    assert run.meta_info["command"] == "main"


def test_run_returns_run_and_sets_meta_info(ex):
    @ex.config
    def cfg():
        a = 1

    @ex.main
    def main(a):
        return a * 2

    run = ex.run(config_updates={"a": 4}, info={"i": 1}, meta_info={"extra": True})
    assert isinstance(run, Run)
    assert run.result == 8
    assert ex.current_run is run
    assert run.info == {"i": 1}
    assert run.meta_info["command"] == "main"
    assert run.meta_info["options"] == DEFAULT_OPTIONS
    assert run.meta_info["named_configs"] == []
    assert run.meta_info["config_updates"] == {"a": 4}
    assert run.meta_info["extra"] is True
    assert "config_updates" not in ex.run().meta_info


def test_run_without_main(ex):
    with pytest.raises(RuntimeError) as e:
        ex.run()
    assert str(e.value) == (
        "No command found to be run. Specify a command or define a main function."
    )


def test_run_command_by_name(ex):
    @ex.command
    def other():
        return "other"

    assert ex.run("other").result == "other"


def test_run_ingredient_command():
    ing = Ingredient("ing")

    @ing.config
    def icfg():
        v = 5

    @ing.command
    def cmd(v):
        return v

    exp = Experiment("exp", ingredients=[ing])
    assert exp.run("ing.cmd").result == 5


def test_exceptions_propagate_from_run(ex):
    @ex.main
    def main():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ex.run()


def test_delegating_helpers_need_a_run(ex, tmp_path):
    for call in (
        lambda: ex.open_resource("x"),
        lambda: ex.add_resource("x"),
        lambda: ex.add_artifact("x"),
    ):
        with pytest.raises(AssertionError) as e:
            call()
        assert str(e.value) == "Can only be called during a run."

    @ex.main
    def main():
        ex.info["k"] = "v"
        ex.log_scalar("m", 1.0)

    run = ex.run()
    assert run.info == {"k": "v"}


def test_additional_cli_options_are_applied():
    @cli_option("-o", "--own", is_flag=True)
    def own_flag(args, run):
        """Own flag."""
        run.info["own"] = args

    @cli_option("-v", "--value")
    def own_value(args, run):
        run.info["value"] = args

    exp = Experiment("exp", additional_cli_options=[own_flag, own_value])
    assert isinstance(own_flag, CLIOption)
    assert exp.all_cli_options[-2:] == [own_flag, own_value]

    @exp.main
    def main():
        pass

    run = exp.run_commandline(["prog", "-o", "--value=12"])
    assert run.info == {"own": True, "value": "12"}
    assert run.meta_info["options"]["--own"] is True


def test_get_usage(ex, monkeypatch):
    monkeypatch.chdir(ex.base_dir)

    @ex.main
    def main():
        """Main doc."""

    short, long, internal = ex.get_usage("prog.py")
    assert short == (
        "Usage:\n"
        "  prog.py [(with UPDATE...)] [options]\n"
        "  prog.py help [COMMAND]\n"
        "  prog.py (-h | --help)\n"
        "  prog.py COMMAND [(with UPDATE...)] [options]"
    )
    assert long.startswith(short)
    assert "  main                 Main doc.\n" in long
    assert "dummy [(with UPDATE...)] [options]" in internal
    # the program name is relative to the base dir
    short, _, _ = ex.get_usage(os.path.join(ex.base_dir, "sub", "x.py"))
    assert os.path.join("sub", "x.py") in short


# ------------------------------------------------------------- run_commandline
@pytest.fixture
def cli_ex(monkeypatch):
    exp = Experiment("cli")
    # usage texts show the program name relative to the experiment's base dir
    monkeypatch.chdir(exp.base_dir)

    @exp.config
    def cfg():
        a = 1
        b = 2

    @exp.named_config
    def big():
        a = 100

    @exp.command
    def greet(a, name="bob"):
        """Greet someone."""
        return f"hi {name} {a}"

    @exp.command
    def needs(y):
        pass

    @exp.command
    def broken():
        raise ValueError("user error")

    @exp.main
    def main(a, b):
        return a + b

    return exp


def test_run_commandline_argv_forms(cli_ex):
    assert cli_ex.run_commandline(["prog"]).result == 3
    assert cli_ex.run_commandline("prog with a=10").result == 12
    assert cli_ex.run_commandline(("prog", "with", "big", "b=1")).result == 101
    assert cli_ex.run_commandline("prog greet with name=Bob").result == "hi Bob 1"
    run = cli_ex.run_commandline("prog -c hello --name=renamed with a=2")
    assert run.meta_info["comment"] == "hello"
    assert run.experiment_info["name"] == "renamed"
    assert run.meta_info["options"]["UPDATE"] == ["a=2"]
    assert run.meta_info["options"]["with"] is True
    assert run.meta_info["options"]["COMMAND"] is None
    assert run.meta_info["named_configs"] == []
    with pytest.raises(ValueError):
        cli_ex.run_commandline(["prog", 3])
    with pytest.raises(ValueError):
        cli_ex.run_commandline(5)


def test_run_commandline_uses_sys_argv(cli_ex, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["prog.py", "with", "a=5"])
    assert cli_ex.run_commandline().result == 7


def test_help_and_help_command(cli_ex, capsys):
    with pytest.raises(SystemExit) as e:
        cli_ex.run_commandline("prog --help")
    assert e.value.code is None
    out = capsys.readouterr().out
    assert out.startswith("Usage:\n  prog [(with UPDATE...)] [options]")
    assert "  greet                Greet someone.\n" in out

    with pytest.raises(SystemExit):
        cli_ex.run_commandline("prog help greet")
    assert capsys.readouterr().out == "greet(a, name='bob')\n    Greet someone.\n\n"

    with pytest.raises(SystemExit) as e:
        cli_ex.run_commandline("prog help nope")
    assert e.value.code == 1
    assert 'Error: Command "nope" not found.' in capsys.readouterr().out


def test_unknown_command(cli_ex, capsys):
    with pytest.raises(SystemExit) as e:
        cli_ex.run_commandline("prog foo")
    assert e.value.code == 1
    out = capsys.readouterr().out
    assert out == (
        "Usage:\n"
        "  prog [(with UPDATE...)] [options]\n"
        "  prog help [COMMAND]\n"
        "  prog (-h | --help)\n"
        "  prog COMMAND [(with UPDATE...)] [options]\n"
        'Error: Command "foo" not found. Available commands are: print_config, '
        "print_dependencies, save_config, print_named_configs, greet, needs, broken, main\n"
    )


def test_no_command_and_no_main(capsys):
    exp = Experiment("nomain")
    with pytest.raises(SystemExit) as e:
        exp.run_commandline("prog")
    assert e.value.code == 1
    assert capsys.readouterr().out.endswith(
        "Error: No command found to be run. Specify a command or define main function. "
        "Available commands are: print_config, print_dependencies, save_config, "
        "print_named_configs\n"
    )


def test_sacred_errors_are_printed_to_stderr(cli_ex, capsys):
    with pytest.raises(SystemExit) as e:
        cli_ex.run_commandline("prog with zzz=3")
    assert e.value.code == 1
    captured = capsys.readouterr()
    assert captured.err == (
        "sacred.utils.ConfigAddedError: Added new config entry that is not used anywhere\n"
        "Conflicting configuration values:\n"
        "  zzz=3\n\n"
    )

    with pytest.raises(SystemExit):
        cli_ex.run_commandline("prog needs")
    err = capsys.readouterr().err
    assert err.endswith(
        "Usage:\n"
        "  prog [(with UPDATE...)] [options]\n"
        "  prog help [COMMAND]\n"
        "  prog (-h | --help)\n"
        "  prog COMMAND [(with UPDATE...)] [options]\n"
        "sacred.utils.MissingConfigError: needs is missing value(s): ['y']\n\n"
    )


def test_user_errors_print_filtered_trace(cli_ex, capsys):
    with pytest.raises(SystemExit) as e:
        cli_ex.run_commandline("prog broken")
    assert e.value.code == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent calls WITHOUT Sacred internals):" in err
    assert 'raise ValueError("user error")' in err
    assert err.endswith("ValueError: user error\n\n")
    assert "sacred/run.py" not in err and "captured_function" not in err


def test_debug_reraises(cli_ex):
    with pytest.raises(ValueError):
        cli_ex.run_commandline("prog broken --debug")
    with pytest.raises(ConfigAddedError):
        cli_ex.run_commandline("prog -d with zzz=3")
    with pytest.raises(MissingConfigError):
        cli_ex.run_commandline("prog needs -d")


@pytest.mark.parametrize(
    "argv, message",
    [
        ("prog --foo", 'Error: Unknown option "--foo".'),
        ("prog -Z", 'Error: Unknown option "-Z".'),
        ("prog --id", "Error: --id requires argument"),
        ("prog main extra", "Error: The command line does not match the usage above."),
    ],
)
def test_bad_docopt_input(cli_ex, capsys, argv, message):
    with pytest.raises(SystemExit) as e:
        cli_ex.run_commandline(argv)
    assert e.value.code == 1
    captured = capsys.readouterr()
    assert captured.err == (
        "Usage:\n"
        "  prog [(with UPDATE...)] [options]\n"
        "  prog help [COMMAND]\n"
        "  prog (-h | --help)\n"
        "  prog COMMAND [(with UPDATE...)] [options]\n" + message + "\n"
    )


@pytest.mark.parametrize(
    "argv, first_line",
    [
        (
            "prog with nofile.json",
            'sacred.utils.NamedConfigNotFoundError: Config file or named config not found: "nofile.json"',
        ),
        ("prog with nope", 'sacred.utils.NamedConfigNotFoundError: Named config not found: "nope"'),
        ("prog -m 'bad spec!!'", "sacred.utils.CommandLineError: "),
        ("prog -l NOLEVEL", "sacred.utils.CommandLineError: Invalid log level 'NOLEVEL'"),
        ("prog -C nope", "KeyError: \"Unknown capture mode 'nope'."),
        (
            "prog -P high",
            "sacred.utils.CommandLineError: The PRIORITY argument must be a number! (but was 'high')",
        ),
        ("prog with a.b.=1", None),
    ],
)
def test_bad_input_gives_one_paragraph(cli_ex, capsys, argv, first_line):
    with pytest.raises(SystemExit) as e:
        cli_ex.run_commandline(argv)
    assert e.value.code == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip() and "\n\n" not in err.strip()
    if first_line is not None:
        assert err.startswith(first_line), err


def test_print_config_option_prints_before_run(cli_ex, capsys):
    run = cli_ex.run_commandline("prog -p -u with a=5")
    out = capsys.readouterr().out
    assert out.startswith("Configuration (")
    assert "\n" + "-" * 79 + "\n" in out
    assert run.result == 7


def test_loglevel_option(cli_ex, caplog):
    with caplog.at_level(logging.INFO):
        cli_ex.run_commandline("prog -l WARNING")
    assert logging.getLogger().level == logging.WARNING
    assert "Running command" not in caplog.text


def test_current_run_is_not_stale_after_failed_creation(cli_ex, capsys):
    first = cli_ex.run_commandline("prog -d")
    first.debug = True  # a later failure must not look at this old run
    with pytest.raises(SystemExit):
        cli_ex.run_commandline("prog with zzz=1")
    assert cli_ex.current_run is first


# ------------------------------------------------------ tuples given as updates
def test_tuples_given_as_updates_stay_tuples():
    ex = Experiment("tuples")
    seen = {}

    @ex.config
    def cfg():
        features = ["Age"]
        pair = (1, 2)  # written in a config scope: becomes a list
        nested = {"cols": ["x"]}

    @ex.main
    def main(features, pair, nested, _config):
        seen.update(features=features, pair=pair, cols=nested["cols"], config=_config)
        return {features: 1}  # hashable: usable as a dict key

    run = ex.run(config_updates={"features": ("Fare", "SibSp"), "nested.cols": ("y", ("z",))})
    assert seen["features"] == ("Fare", "SibSp") and type(seen["features"]) is tuple
    assert run.result == {("Fare", "SibSp"): 1}
    assert seen["cols"] == ("y", ("z",)) and type(seen["cols"]) is tuple
    assert type(seen["pair"]) is not tuple and seen["pair"] == [1, 2]
    assert run.config["features"] == ("Fare", "SibSp")
    assert run.config["pair"] == [1, 2] and type(run.config["pair"]) is list
    # a tuple replacing a list is no type change
    assert run.config_modifications.typechanged == {}
    assert run.config_modifications.modified >= {"features", "nested.cols"}


def test_tuple_from_the_command_line_stays_a_tuple():
    ex = Experiment("tuples_cli")

    @ex.config
    def cfg():
        features = ["Age"]

    @ex.main
    def main(features):
        return {features: type(features).__name__}

    run = ex.run_commandline(["prog", "with", "features=('Fare', 'SibSp')"])
    assert run.result == {("Fare", "SibSp"): "tuple"}
