"""The usage text (byte for byte against the original's --help) and `with` parsing."""

import gc
import importlib

import pytest

from sacred import commandline_options as clo
from sacred.arg_parser import (
    USAGE_TEMPLATE,
    _convert_value,
    format_usage,
    get_config_updates,
    printable_usage,
)
from sacred.commandline_options import CLIOption, CommandLineOption, cli_option, get_name
from sacred.settings import SETTINGS
from sacred.utils import CommandLineError

# `python demo.py --help` of Sacred 0.8.7 (sacred_cli_samples.txt), without print's newline.
# The line of the undocumented command `main` ends in 17 spaces, written as <SP17>.
DEMO_HELP = """Usage:
  demo.py [(with UPDATE...)] [options]
  demo.py help [COMMAND]
  demo.py (-h | --help)
  demo.py COMMAND [(with UPDATE...)] [options]

A demo experiment docstring.

Second paragraph of the docstring.

Options:
  -b VALUE --beat-interval=VALUE  Set the heart-beat interval for this run.  Time
                                between two heartbeat events is measured in
                                seconds.
  -C VALUE --capture=VALUE      Control the way stdout and stderr are captured.
                                The argument value must be one of [no, sys, fd]
  -c VALUE --comment=VALUE      Add a comment to this run.
  -d --debug                    Set this run to debug mode.  Suppress warnings
                                about missing observers and don't filter the
                                stacktrace. Also enables usage with ipython
                                `--pdb`.
  -e --enforce_clean            Fail if any version control repository is
                                dirty.
  -F VALUE --file_storage=VALUE  Add a file-storage observer to the experiment.
                                The value of the arguement should be the base-
                                directory to write the runs to
  -f --force                    Disable warnings about suspicious changes for
                                this run.
  -h --help                     Print this help message and exit.
  -i VALUE --id=VALUE           Set the id for this run.
  -l VALUE --loglevel=VALUE     Set the LogLevel.  Loglevel either as 0 - 50 or
                                as string: DEBUG(10), INFO(20), WARNING(30),
                                ERROR(40), CRITICAL(50)
  -m VALUE --mongo_db=VALUE     Add a MongoDB Observer to the experiment.  The
                                argument value is the database specification.
                                Should be in the form:  `[host:port:]db_name[.c
                                ollection[:id]][!priority]`
  -n VALUE --name=VALUE         Set the name for this run.
  -D --pdb                      Automatically enter post-mortem debugging with
                                pdb on failure.
  -p --print-config             Always print the configuration first.
  -P VALUE --priority=VALUE     Sets the priority for a queued up experiment.
                                `--priority=NUMBER` The number represent the
                                priority for this run.
  -q --queue                    Only queue this run, do not start it.
  -S VALUE --s3=VALUE           Add a S3 File observer to the experiment.  The
                                argument value should be
                                `s3://<bucket>/path/to/exp`.
  -s VALUE --sql=VALUE          Add a SQL Observer to the experiment.  The
                                typical form is:
                                dialect://username:password@host:port/database
  -t VALUE --tiny_db=VALUE      Add a TinyDB Observer to the experiment.  The
                                argument is the path to be given to the
                                TinyDbObserver.
  -u --unobserved               Ignore all observers for this run.


Arguments:
  COMMAND   Name of command to run (see below for list of commands)
  UPDATE    Configuration assignments of the form foo.bar=17


Commands:
  print_config         Print the updated configuration and exit.
  print_dependencies   Print the detected source-files and dependencies.
  save_config          Store the updated configuration in a file.
  print_named_configs  Print the available named configs and exit.
  greet                Greet someone.
  main<SP17>
  dataset.stats        Print dataset statistics.
""".replace("<SP17>", " " * 17)

OBSERVER_OPTIONS = [
    ("sacred.observers.file_storage", "file_storage_option"),
    ("sacred.observers.mongo", "mongo_db_option"),
    ("sacred.observers.sql", "sql_option"),
    ("sacred.observers.tinydb_hashfs", "tiny_db_option"),
    ("sacred.observers.s3_observer", "s3_option"),
]

DEFAULT_OPTIONS = [
    clo.help_option,
    clo.debug_option,
    clo.pdb_option,
    clo.loglevel_option,
    clo.comment_option,
    clo.beat_interval_option,
    clo.unobserved_option,
    clo.queue_option,
    clo.force_option,
    clo.priority_option,
    clo.enforce_clean_option,
    clo.print_config_option,
    clo.id_option,
    clo.name_option,
    clo.capture_option,
]


def observer_options():
    """The real observer options -F -m -s -t -S from the observer modules."""
    return [getattr(importlib.import_module(mod), name) for mod, name in OBSERVER_OPTIONS]


def demo_commands():
    from sacred.commands import print_config, print_dependencies, print_named_configs, save_config

    def greet(a, foo, name="bob"):
        """Greet someone.

        Longer description.
        """

    def main(a, foo, _run, _log):
        pass

    def stats(filename):
        """Print dataset statistics."""

    return {
        "print_config": print_config,
        "print_dependencies": print_dependencies,
        "save_config": save_config,
        "print_named_configs": print_named_configs(None),
        "greet": greet,
        "main": main,
        "dataset.stats": stats,
    }


def test_format_usage_reproduces_the_original_help_byte_for_byte():
    options = sorted(DEFAULT_OPTIONS + observer_options(), key=get_name)
    doc = "A demo experiment docstring.\n\nSecond paragraph of the docstring.\n"
    usage = format_usage("demo.py", doc, demo_commands(), options)
    assert usage == DEMO_HELP


def test_format_usage_shell_quotes_program_name_and_handles_no_description():
    usage = format_usage("my prog.py", None, None, [clo.help_option])
    assert usage.startswith("Usage:\n  'my prog.py' [(with UPDATE...)] [options]\n")
    assert "\n  'my prog.py' help [COMMAND]\n" in usage
    # empty description, no commands block
    assert "COMMAND [(with UPDATE...)] [options]\n\n\n\nOptions:\n" in usage
    assert usage.endswith("foo.bar=17\n\n")
    assert "Commands:" not in usage


def test_command_column_is_at_least_eight_wide():
    def fn():
        """Doc line one.

        More.
        """

    usage = format_usage("p", "", {"ab": fn}, [])
    assert usage.endswith("\nCommands:\n  ab        Doc line one.\n")


def test_usage_template_has_the_documented_placeholders():
    for name in ("program_name", "description", "options", "arguments", "commands"):
        assert "{" + name + "}" in USAGE_TEMPLATE


def _legacy_usage():
    class MyLegacyOption(CommandLineOption):
        """A legacy option with a value that has a rather long description to wrap around."""

        arg = "FOO"
        arg_description = "the foo value, which is described at great length here to force wrapping"

    with pytest.warns(UserWarning, match="Subclassing `CommandLineOption` is deprecated"):
        assert MyLegacyOption in clo.gather_legacy_options()
    return format_usage("p", "", None, [MyLegacyOption])


def test_legacy_option_with_arg_description_gets_an_arguments_line():
    usage = _legacy_usage()
    gc.collect()  # the class is gone again, so later tests do not discover it
    assert all(c.__name__ != "MyLegacyOption" for c in CommandLineOption.__subclasses__())
    assert (
        "  -m FOO --my_legacy=FOO        A legacy option with a value that has a rather\n"
        "                                long description to wrap around.\n"
    ) in usage
    assert (
        "  FOO       the foo value, which is described at great length here to force\n"
        "            wrapping\n"
    ) in usage


def test_printable_usage_is_the_usage_block():
    options = [clo.help_option]
    long_usage = format_usage("demo.py", "Doc.", None, options)
    assert printable_usage(long_usage) == (
        "Usage:\n"
        "  demo.py [(with UPDATE...)] [options]\n"
        "  demo.py help [COMMAND]\n"
        "  demo.py (-h | --help)\n"
        "  demo.py COMMAND [(with UPDATE...)] [options]"
    )
    with pytest.raises(ValueError, match="not found"):
        printable_usage("nothing here")
    with pytest.raises(ValueError, match="More than one"):
        printable_usage("usage: a\n\nUsage: b")


def test_usage_parses_with_docopt():
    from docopt import docopt

    options = sorted(DEFAULT_OPTIONS + observer_options(), key=get_name)
    doc = format_usage("dummy", "Doc.", demo_commands(), options)
    args = docopt(
        doc, ["greet", "with", "a=1", "-l", "DEBUG", "--print-config"], default_help=False
    )
    assert args["COMMAND"] == "greet"
    assert args["UPDATE"] == ["a=1"]
    assert args["--loglevel"] == "DEBUG"
    assert args["--print-config"] is True
    assert args["--beat-interval"] is None
    assert args["--file_storage"] is None


# ------------------------------------------------------------ with updates
@pytest.mark.parametrize(
    "update, expected",
    [
        (None, {}),
        (["a=5"], {"a": 5}),
        (["foo.bar=6"], {"foo": {"bar": 6}}),
        (["a=9", "b=0"], {"a": 9, "b": 0}),
        (["hello='world'"], {"hello": "world"}),
        (['hello="world"'], {"hello": "world"}),
        (["name=Bob"], {"name": "Bob"}),
        (["f=False"], {"f": False}),
        (["n=None"], {"n": None}),
        (["x=0b111000"], {"x": 56}),
        (["y=-.4e-12"], {"y": -0.4e-12}),
        (["lst=[1, 2, 3]"], {"lst": [1, 2, 3]}),
        (["d={'a': {'b': 1}}"], {"d": {"a": {"b": 1}}}),
        (["  spaced . key  =  7 "], {"spaced ": {" key": 7}}),
        (["a.b.c=1", "a.b.d=2", "a.e=3"], {"a": {"b": {"c": 1, "d": 2}, "e": 3}}),
        (["eq=a=b"], {"eq": "a=b"}),
        (["empty="], {"empty": ""}),
    ],
)
def test_get_config_updates(update, expected):
    assert get_config_updates(update) == (expected, [])


@pytest.mark.parametrize(
    "update, expected",
    [
        (["bar"], ["bar"]),
        (["bar", "", "foo.baz"], ["bar", "foo.baz"]),
        (["cfg.json", "a=1", "other"], ["cfg.json", "other"]),
    ],
)
def test_get_config_updates_named_configs(update, expected):
    assert get_config_updates(update)[1] == expected


def test_convert_value_restores_jsonpickle_objects():
    # a dict in jsonpickle form becomes the object again
    assert _convert_value('{"py/tuple": [1, 2]}') == (1, 2)
    assert get_config_updates(['t={"py/tuple": [1, 2]}'])[0] == {"t": (1, 2)}


def test_non_literal_values_stay_strings_unless_strict():
    assert _convert_value("Bob") == "Bob"
    assert _convert_value("1+") == "1+"
    # beyond the original: an opened but broken literal is an error, not a string
    for broken in ("[1, 2", "{[1]: 2}"):
        with pytest.raises(CommandLineError, match="is not a valid Python literal"):
            _convert_value(broken)


@pytest.fixture
def strict_parsing():
    SETTINGS.COMMAND_LINE.STRICT_PARSING = True
    yield
    SETTINGS.COMMAND_LINE.STRICT_PARSING = False


@pytest.mark.parametrize("token, value", [("name=Bob", "Bob"), ("lst=[1, 2", "[1, 2")])
def test_strict_parsing_names_the_token(strict_parsing, token, value):
    with pytest.raises(CommandLineError) as excinfo:
        get_config_updates(["a=1", token])
    message = str(excinfo.value)
    assert repr(token) in message
    assert repr(value) in message
    assert "Python literal" in message
    # still a ValueError, like the original's literal_eval error
    assert isinstance(excinfo.value, ValueError)


def test_strict_parsing_accepts_literals(strict_parsing):
    assert get_config_updates(["name='Bob'", "a=1.5"]) == ({"name": "Bob", "a": 1.5}, [])


@pytest.mark.parametrize("token", ["=5", " =5", "a..b=1", ".a=1", "a.=1"])
def test_empty_path_parts_are_a_clear_error(token):
    with pytest.raises(CommandLineError, match="Invalid config update") as excinfo:
        get_config_updates([token])
    assert repr(token) in str(excinfo.value)


def test_update_below_a_plain_value_is_a_clear_error():
    with pytest.raises(CommandLineError) as excinfo:
        get_config_updates(["a=1", "a.b=2"])
    assert str(excinfo.value) == (
        "Invalid config update 'a.b=2': 'a' was already set to a value that is not a dict."
    )
    # the other order just replaces the dict, as in the original
    assert get_config_updates(["a.b=2", "a=1"]) == ({"a": 1}, [])


def test_cli_option_objects_render_like_functions_docs():
    @cli_option("-z", "--zeta")
    def zeta_option(args, run):
        """Set zeta."""

    usage = format_usage("p", "", None, [zeta_option])
    assert "  -z VALUE --zeta=VALUE         Set zeta.\n" in usage
    assert isinstance(zeta_option, CLIOption)


@pytest.mark.parametrize(
    "token,kind",
    [("a=[1,2", "list"), ("a={'b': 1", "dict"), ("a=(1,", "tuple"), ("a='x", "string")],
)
def test_unclosed_literal_is_an_error_not_a_string(token, kind):
    from sacred.utils import CommandLineError

    with pytest.raises(CommandLineError) as info:
        get_config_updates([token])
    assert str(info.value).startswith(
        f"Invalid config update {token!r}: the value {token[2:]!r} looks like a {kind} "
        "but is not a valid Python literal ("
    )


def test_plain_words_still_become_strings():
    assert get_config_updates(["name=Bob", "path=/tmp/x[1"]) == (
        {"name": "Bob", "path": "/tmp/x[1"},
        [],
    )


@pytest.mark.parametrize(
    "token,reason",
    [
        (
            'params={"dropout": 0.5, "l2": null}',
            "null is JSON, not Python: write None",
        ),
        ("flags=[true, false]", "true is JSON, not Python: write True"),
        ("a=[x, 1]", "x is a name, not a value: quote strings ('x')"),
        ("a={'f': len('x')}", "len('x') is not a literal value"),
    ],
)
def test_json_like_value_is_refused_with_a_clear_reason(token, reason):
    # the original keeps such a value as a string (with a type-change warning), which only
    # moves the failure into the user's code
    from sacred.utils import CommandLineError

    path, _, value = token.partition("=")
    kind = {"[": "list", "{": "dict"}[value[0]]
    with pytest.raises(CommandLineError) as info:
        get_config_updates([token])
    assert str(info.value) == (
        f"Invalid config update {token!r}: the value {value!r} looks like a {kind} but is not "
        f"a valid Python literal ({reason})."
    )
