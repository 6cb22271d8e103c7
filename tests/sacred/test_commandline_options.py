"""Command-line options: flags, validation, descriptions and their effect on a run."""

import gc
import logging
from types import SimpleNamespace

import pytest

from sacred import cli_option as cli_option_from_package
from sacred import commandline_options as clo
from sacred.commandline_options import CLIOption, CommandLineOption, cli_option, get_name
from sacred.utils import CommandLineError


class Summary:
    """Stand-in for a ConfigSummary: just the attributes print_config reads."""

    def __init__(self, added=(), modified=(), typechanged=None, docs=None):
        self.added = set(added)
        self.modified = set(modified)
        self.typechanged = typechanged or {}
        self.docs = docs or {}


def make_run(**kwargs):
    """A plain object with the attributes of a fresh Run that options touch."""
    root = logging.getLogger("test_clo_root")
    root.setLevel(logging.INFO)
    attrs = dict(
        _id=None,
        debug=False,
        pdb=False,
        unobserved=False,
        force=False,
        queue_only=False,
        beat_interval=10.0,
        capture_mode=None,
        meta_info={},
        experiment_info={"name": "exp", "repositories": []},
        root_logger=root,
        run_logger=root.getChild("exp"),
        config={"a": 1},
        config_modifications=Summary(),
    )
    attrs.update(kwargs)
    return SimpleNamespace(**attrs)


DEFAULTS = [
    # name, short, long, is_flag
    ("help_option", "-h", "--help", True),
    ("debug_option", "-d", "--debug", True),
    ("pdb_option", "-D", "--pdb", True),
    ("loglevel_option", "-l", "--loglevel", False),
    ("comment_option", "-c", "--comment", False),
    ("beat_interval_option", "-b", "--beat-interval", False),
    ("unobserved_option", "-u", "--unobserved", True),
    ("queue_option", "-q", "--queue", True),
    ("force_option", "-f", "--force", True),
    ("priority_option", "-P", "--priority", False),
    ("enforce_clean_option", "-e", "--enforce_clean", True),
    ("print_config_option", "-p", "--print-config", True),
    ("id_option", "-i", "--id", False),
    ("name_option", "-n", "--name", False),
    ("capture_option", "-C", "--capture", False),
]


@pytest.mark.parametrize("name, short, long, is_flag", DEFAULTS)
def test_default_option_flags(name, short, long, is_flag):
    option = getattr(clo, name)
    assert isinstance(option, CLIOption)
    assert option.get_name() == name == get_name(option)
    assert option.get_flags() == (short, long)
    assert option.get_flag() == long
    assert option.get_short_flag() == short
    assert option.is_flag is is_flag
    assert option.arg == (None if is_flag else "VALUE")
    assert option.arg_description == (None if is_flag else "")
    assert option.get_description()


def test_cli_option_decorator_builds_a_callable_option():
    assert cli_option_from_package is cli_option
    calls = []

    @cli_option("-o", "--own-option")
    def own_option(args, run):
        """My own option.

        Longer text.
        """
        calls.append((args, run))
        return "result"

    assert isinstance(own_option, CLIOption)
    assert own_option.get_flags() == ("-o", "--own-option")
    assert own_option.get_description() == "My own option.\n\nLonger text."
    assert own_option.get_name() == "own_option"
    assert own_option.apply("x", "run") == "result"
    assert own_option("y", "run2") == "result"
    assert calls == [("x", "run"), ("y", "run2")]


@pytest.mark.parametrize("short", ["j", "--j", "-jj", "-", "-?", ""])
def test_malformed_short_flag(short):
    with pytest.raises(ValueError, match="Short flag malformed"):
        cli_option(short, "--fine")


@pytest.mark.parametrize("long", ["-long", "--", "--a", "--a-", "long", "--a b", "---"])
def test_malformed_long_flag(long):
    with pytest.raises(ValueError, match="Long flag malformed"):
        cli_option("-j", long)


@pytest.mark.parametrize("long", ["--ab", "--my_pretty_flag", "--my-flag2", "--x-y_z"])
def test_wellformed_long_flags(long):
    assert cli_option("-j", long)(lambda args, run: None).get_flag() == long


def test_clioption_constructor_validates_too():
    with pytest.raises(ValueError):
        CLIOption(lambda a, r: None, "x", "--fine", False)


# ---------------------------------------------------------------- effects
@pytest.mark.parametrize(
    "option, attribute",
    [
        (clo.debug_option, "debug"),
        (clo.pdb_option, "pdb"),
        (clo.unobserved_option, "unobserved"),
        (clo.queue_option, "queue_only"),
        (clo.force_option, "force"),
    ],
)
def test_flag_options_set_run_attributes(option, attribute):
    run = make_run()
    option.apply(True, run)
    assert getattr(run, attribute) is True


def test_help_option_changes_nothing():
    run = make_run()
    before = dict(vars(run))
    clo.help_option.apply(True, run)
    assert vars(run) == before


def test_value_options():
    run = make_run()
    clo.comment_option.apply("my comment", run)
    clo.beat_interval_option.apply("2.5", run)
    clo.id_option.apply("myid", run)
    clo.capture_option.apply("sys", run)
    clo.priority_option.apply("17", run)
    assert run.meta_info == {"comment": "my comment", "priority": 17.0}
    assert run.beat_interval == 2.5
    assert run._id == "myid"
    assert run.capture_mode == "sys"


def test_name_option_renames_experiment_and_run_logger():
    run = make_run()
    clo.name_option.apply("customname", run)
    assert run.experiment_info["name"] == "customname"
    assert run.run_logger is logging.getLogger("test_clo_root.customname")


@pytest.mark.parametrize(
    "value, level", [("10", 10), ("40", 40), ("DEBUG", logging.DEBUG), ("WARNING", 30)]
)
def test_loglevel_option(value, level):
    run = make_run()
    clo.loglevel_option.apply(value, run)
    assert run.root_logger.level == level


def test_loglevel_option_rejects_unknown_level():
    with pytest.raises(CommandLineError, match="Invalid value for --loglevel: 'LOUD'"):
        clo.loglevel_option.apply("LOUD", make_run())


def test_beat_interval_option_rejects_non_numbers():
    with pytest.raises(CommandLineError, match="Invalid value for --beat-interval: 'fast'"):
        clo.beat_interval_option.apply("fast", make_run())


def test_priority_option_error_text():
    with pytest.raises(ValueError) as excinfo:
        clo.priority_option.apply("high", make_run())
    assert str(excinfo.value) == "The PRIORITY argument must be a number! (but was 'high')"


def test_enforce_clean_without_repositories():
    with pytest.raises(RuntimeError) as excinfo:
        clo.enforce_clean_option.apply(True, make_run())
    assert str(excinfo.value) == (
        "No version control detected. Cannot enforce clean repository.\n"
        "Make sure that your sources under VCS and the corresponding python package is installed."
    )


def test_enforce_clean_with_dirty_repository():
    clean = {"url": "git@host:clean.git", "commit": "abc", "dirty": False}
    dirty = {"url": "git@host:dirty.git", "commit": "def", "dirty": True}
    run = make_run(experiment_info={"repositories": [clean]})
    clo.enforce_clean_option.apply(True, run)  # a clean repo passes
    run = make_run(experiment_info={"repositories": [clean, dirty]})
    with pytest.raises(RuntimeError) as excinfo:
        clo.enforce_clean_option.apply(True, run)
    assert str(excinfo.value) == f'EnforceClean: Uncommited changes in the "{dirty}" repository.'


def test_print_config_option_prints_config_and_a_rule(capsys):
    run = make_run(config={"a": 1, "b": "x"}, config_modifications=Summary(modified={"a"}))
    clo.print_config_option.apply(True, run)
    assert capsys.readouterr().out == (
        "Configuration (\x1b[34mmodified\x1b[0m, \x1b[32madded\x1b[0m, "
        "\x1b[31mtypechanged\x1b[0m, \x1b[2mdoc\x1b[0m):\n"
        "\x1b[34m  a = 1\x1b[0m\n"
        "  b = 'x'\n" + "-" * 79 + "\n"
    )


# ---------------------------------------------------------------- legacy
def _define_legacy_options():
    class OwnFlagOption(CommandLineOption):
        """A legacy flag."""

        @classmethod
        def apply(cls, args, run):
            run.own_flag = args

    class ValueWithShortOption(CommandLineOption):
        """A legacy value option."""

        short_flag = "W"
        arg = "VAL"
        arg_description = "a value"

    class HiddenOption(CommandLineOption):
        _enabled = False

    return OwnFlagOption, ValueWithShortOption, HiddenOption


def _check_legacy_options():
    own, value, hidden = _define_legacy_options()
    assert own.get_flags() == ("-o", "--own_flag")
    assert value.get_flags() == ("-W", "--value_with_short")
    assert hidden.get_flag() == "--hidden"
    assert own.is_flag is True and value.is_flag is False
    assert own.arg is None and value.arg == "VAL"
    assert get_name(own) == "OwnFlagOption"
    assert own.get_description() == "A legacy flag."
    # no docstring of its own: the base class's is not used
    assert hidden.get_description() == ""
    run = SimpleNamespace()
    own.apply(True, run)
    assert run.own_flag is True
    value.apply("x", run)  # the base apply does nothing

    with pytest.warns(UserWarning, match="Subclassing `CommandLineOption` is deprecated"):
        everything = clo.gather_legacy_options()
    assert {own, value, hidden} <= set(everything)
    with pytest.warns(UserWarning):
        enabled = clo.gather_legacy_options(filter_disabled=True)
    assert {own, value} <= set(enabled)
    assert hidden not in enabled


def test_legacy_command_line_options():
    _check_legacy_options()
    gc.collect()  # the classes are gone again, so later tests do not discover them
    assert CommandLineOption.__subclasses__() == []


def test_labwatch_legacy_names():
    # Labwatch (for Sacred 0.7) imports QueueOption and asks for its flag
    from sacred.commandline_options import QueueOption

    assert QueueOption.get_flag() == "--queue"
    run = make_run()
    QueueOption.apply(True, run)
    assert run.queue_only is True
    assert clo.LoggingOption is clo.loglevel_option
    assert clo.PrintConfigOption.get_flag() == "--print-config"
