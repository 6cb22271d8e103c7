"""The built-in commands, byte for byte against the outputs of the original Sacred 0.8.7."""

import json
import logging
from collections import OrderedDict
from types import SimpleNamespace

import pytest

from sacred.commands import (
    COLOR_ADDED,
    COLOR_DIRTY,
    COLOR_DOC,
    COLOR_MODIFIED,
    COLOR_TYPECHANGED,
    ENDC,
    LEGEND,
    PRINTER,
    ConfigEntry,
    PathEntry,
    _format_config,
    _format_entry,
    _format_named_config,
    _format_named_configs,
    _iterate_marked,
    help_for_command,
    print_config,
    print_dependencies,
    print_named_configs,
    save_config,
)
from sacred.config import ConfigDict, ConfigScope
from sacred.config.captured_function import create_captured_function
from sacred.config.config_summary import ConfigSummary


def summary(added=(), modified=(), typechanged=None, docs=None):
    return ConfigSummary(
        added=added, modified=modified, typechanged=typechanged or {}, docs=docs or {}
    )


HEADER = (
    "Configuration (\x1b[34mmodified\x1b[0m, \x1b[32madded\x1b[0m, "
    "\x1b[31mtypechanged\x1b[0m, \x1b[2mdoc\x1b[0m):"
)

DEMO_DOCS = {
    "a": "some integer",
    "e": "cool: a dynamic entry",
    "foo": "a dictionary",
    "seed": "the random seed for this experiment",
    "dataset.filename": "the data file",
}


def demo_config(a, seed, **changes):
    """The config of the demo experiment of the samples, for a given value of a."""
    cfg = {
        "__doc__": "This is my demo configuration",
        "a": a,
        "foo": {"a_squared": a**2, "bar": "my_string%d" % a},
        "lst": [1, 2, 3],
        "seed": seed,
        "dataset": {"filename": "foo.npy", "normalize": True},
    }
    if a > 8:
        cfg["e"] = a / 2
    cfg.update(changes)
    return cfg


def test_constants():
    assert (COLOR_DIRTY, COLOR_TYPECHANGED, COLOR_ADDED, COLOR_MODIFIED) == (
        "\x1b[31m",
        "\x1b[31m",
        "\x1b[32m",
        "\x1b[34m",
    )
    assert (COLOR_DOC, ENDC) == ("\x1b[2m", "\x1b[0m")
    from colorama import Fore, Style

    assert (COLOR_DIRTY, COLOR_ADDED, COLOR_MODIFIED) == (Fore.RED, Fore.GREEN, Fore.BLUE)
    assert (COLOR_DOC, ENDC) == (Style.DIM, Style.RESET_ALL)
    assert "Configuration " + LEGEND + ":" == HEADER
    assert ConfigEntry._fields == ("key", "value", "added", "modified", "typechanged", "doc")
    assert PathEntry._fields == ("key", "added", "modified", "typechanged", "doc")
    assert PRINTER.pformat([1, 2]) == "[1, 2]"


def test_print_config_plain_sample(capsys):
    # `python demo.py print_config`
    run = SimpleNamespace(
        config=demo_config(10, 187288425), config_modifications=summary(docs=DEMO_DOCS)
    )
    print_config(run)
    assert capsys.readouterr().out == (
        HEADER + "\n"
        '\x1b[2m  """This is my demo configuration"""\x1b[0m\n'
        "  a = 10                             \x1b[2m# some integer\x1b[0m\n"
        "  e = 5.0                            \x1b[2m# cool: a dynamic entry\x1b[0m\n"
        "  lst = [1, 2, 3]\n"
        "  seed = 187288425                   \x1b[2m# the random seed for this experiment\x1b[0m\n"
        "  dataset:\n"
        "    filename = 'foo.npy'             \x1b[2m# the data file\x1b[0m\n"
        "    normalize = True\n"
        "  foo:                               \x1b[2m# a dictionary\x1b[0m\n"
        "    a_squared = 100\n"
        "    bar = 'my_string10'\n"
    )


def test_format_config_with_updates_sample():
    # `python demo.py print_config with a=5 'foo.bar=True' foo.baz=3 lst='[1]'`
    cfg = demo_config(5, 408235032, lst=[1])
    cfg["foo"]["bar"] = True
    cfg["foo"]["baz"] = 3
    mods = summary(
        added={"foo.baz"},
        modified={"a", "lst", "foo"},
        typechanged={"foo.bar": (str, bool)},
        docs=DEMO_DOCS,
    )
    assert _format_config(cfg, mods) == (
        HEADER + "\n"
        '\x1b[2m  """This is my demo configuration"""\x1b[0m\n'
        "\x1b[34m  a = 5                              \x1b[2m# some integer\x1b[0m\x1b[0m\n"
        "\x1b[34m  lst = [1]\x1b[0m\n"
        "  seed = 408235032                   \x1b[2m# the random seed for this experiment\x1b[0m\n"
        "  dataset:\n"
        "    filename = 'foo.npy'             \x1b[2m# the data file\x1b[0m\n"
        "    normalize = True\n"
        "\x1b[34m  foo:                               \x1b[2m# a dictionary\x1b[0m\x1b[0m\n"
        "    a_squared = 25\n"
        "\x1b[31m    bar = True\x1b[0m\n"
        "\x1b[32m    baz = 3\x1b[0m"
    )


def test_format_config_named_config_docs_sample():
    # `python demo.py print_config with variant1 dataset.big`
    cfg = demo_config(100, 76628444)
    cfg["__doc__"] = "A variant.\n\nMulti line doc.\n"
    cfg["dataset"] = {"__doc__": "Use the big dataset", "filename": "big.npy", "normalize": True}
    mods = summary(
        added={"dataset.__doc__"},
        modified={"a", "dataset", "dataset.filename"},
        docs=DEMO_DOCS,
    )
    assert _format_config(cfg, mods) == (
        HEADER + "\n"
        '\x1b[2m  """A variant.\n'
        "  \n"
        "  Multi line doc.\n"
        '  """\x1b[0m\n'
        "\x1b[34m  a = 100                            \x1b[2m# some integer\x1b[0m\x1b[0m\n"
        "  e = 50.0                           \x1b[2m# cool: a dynamic entry\x1b[0m\n"
        "  lst = [1, 2, 3]\n"
        "  seed = 76628444                    \x1b[2m# the random seed for this experiment\x1b[0m\n"
        "\x1b[34m  dataset:\x1b[0m\n"
        '\x1b[2m    """Use the big dataset"""\x1b[0m\n'
        "\x1b[34m    filename = 'big.npy'             \x1b[2m# the data file\x1b[0m\x1b[0m\n"
        "    normalize = True\n"
        "  foo:                               \x1b[2m# a dictionary\x1b[0m\n"
        "    a_squared = 10000\n"
        "    bar = 'my_string100'"
    )


def test_format_config_print_config_option_sample():
    # `python demo.py -p -u with a=2` (the part before the rule)
    cfg = demo_config(2, 85385411)
    mods = summary(modified={"a"}, docs=DEMO_DOCS)
    assert _format_config(cfg, mods) == (
        HEADER + "\n"
        '\x1b[2m  """This is my demo configuration"""\x1b[0m\n'
        "\x1b[34m  a = 2                              \x1b[2m# some integer\x1b[0m\x1b[0m\n"
        "  lst = [1, 2, 3]\n"
        "  seed = 85385411                    \x1b[2m# the random seed for this experiment\x1b[0m\n"
        "  dataset:\n"
        "    filename = 'foo.npy'             \x1b[2m# the data file\x1b[0m\n"
        "    normalize = True\n"
        "  foo:                               \x1b[2m# a dictionary\x1b[0m\n"
        "    a_squared = 4\n"
        "    bar = 'my_string2'"
    )


def test_long_lines_put_the_doc_four_spaces_after():
    cfg = {"a_rather_long_key_name": "and a long value", "short": {"x": 1}, "empty": {}}
    docs = {"a_rather_long_key_name": "explained", "short.x": "ex"}
    assert _format_config(cfg, summary(added={"empty"}, docs=docs)).split("\n")[1:] == [
        "  a_rather_long_key_name = 'and a long value'    \x1b[2m# explained\x1b[0m",
        "\x1b[32m  empty = {}\x1b[0m",
        "  short:",
        "    x = 1                            \x1b[2m# ex\x1b[0m",
    ]


def test_line_of_exactly_35_chars_is_padded():
    key = "k" * 29  # "  " + key + " = 1" is 35 characters
    line = _format_entry(2, ConfigEntry(key, 1, False, False, None, "d"))
    assert line == "  " + key + " = 1" + "  \x1b[2m# d\x1b[0m"
    line = _format_entry(2, ConfigEntry(key + "k", 1, False, False, None, "d"))
    assert line == "  " + key + "k = 1" + "    \x1b[2m# d\x1b[0m"


def test_colour_priority_typechanged_added_modified():
    entry = ConfigEntry("x", 1, added=True, modified=True, typechanged=(int, str), doc=None)
    assert _format_entry(4, entry) == "\x1b[31m    x = 1\x1b[0m"
    assert _format_entry(4, entry._replace(typechanged=None)) == "\x1b[32m    x = 1\x1b[0m"
    entry = entry._replace(typechanged=None, added=False)
    assert _format_entry(4, entry) == "\x1b[34m    x = 1\x1b[0m"
    assert _format_entry(0, PathEntry("p", False, False, None, None)) == "p:"


def test_multiline_values_use_pformat():
    value = {"key%d" % i: "v" * 10 for i in range(6)}
    cfg = {"big": [value]}
    assert _format_config(cfg, summary()) == HEADER + "\n  big = " + PRINTER.pformat([value])


def test_iterate_marked_order_and_marks():
    cfg = {"b": {"c": 1, "__doc__": "d"}, "a": 2, "__doc__": "top", "z": {}}
    mods = summary(added={"b.c"}, modified={"b"}, typechanged={"a": (int, float)}, docs={"a": "A"})
    marked = list(_iterate_marked(cfg, mods))
    assert marked == [
        ("__doc__", ConfigEntry("__doc__", "top", False, False, None, None)),
        ("a", ConfigEntry("a", 2, False, False, (int, float), "A")),
        ("z", ConfigEntry("z", {}, False, False, None, None)),
        ("b", PathEntry("b", False, True, None, None)),
        ("b.__doc__", ConfigEntry("__doc__", "d", False, False, None, None)),
        ("b.c", ConfigEntry("c", 1, True, False, None, None)),
    ]


# ------------------------------------------------------------ named configs
def named(doc):
    """An object standing for a named config whose docstring is ``doc``."""
    return SimpleNamespace(__doc__=doc)


class ConfigWithClassDoc:
    """This class docstring is not the doc of a named config."""


def test_print_named_configs_sample(capsys):
    # `python demo.py print_named_configs`
    ingredient = SimpleNamespace(
        gather_named_configs=lambda: iter(
            [
                ("variant1", named("A variant.\n\n    Multi line doc.\n    ")),
                ("variant2", named(None)),
                ("dataset.big", named("Use the big dataset")),
            ]
        )
    )
    command = print_named_configs(ingredient)
    assert command.__name__ == "print_named_configs"
    assert command.__doc__ == "Print the available named configs and exit."
    command()
    assert capsys.readouterr().out == (
        "Named Configurations (\x1b[2mdoc\x1b[0m):\n"
        "  variant1\x1b[2m\n"
        '    """A variant.\n'
        "  \n"
        "      Multi line doc.\n"
        '      """\x1b[0m\n'
        "  variant2\n"
        "  dataset.big\x1b[2m   # Use the big dataset\x1b[0m\n"
    )


def test_no_named_configs(capsys):
    print_named_configs(SimpleNamespace(gather_named_configs=lambda: iter([])))()
    assert capsys.readouterr().out == (
        "Named Configurations (\x1b[2mdoc\x1b[0m):\n  No named configs\n"
    )


def test_named_config_docs():
    assert _format_named_config(2, "x", named("  padded one line  ")) == (
        "  x\x1b[2m   # padded one line\x1b[0m"
    )
    # a docstring inherited from the class (e.g. a config dict) is not shown
    assert _format_named_config(2, "dict_cfg", ConfigWithClassDoc()) == "  dict_cfg"

    def with_doc(fixed=None, preset=None, fallback=None):
        """Callable named config."""

    def without_doc(fixed=None, preset=None, fallback=None):
        pass

    configs = OrderedDict([("a.b", with_doc), ("c", without_doc)])
    assert _format_named_configs(configs, 4) == (
        "Named Configurations (\x1b[2mdoc\x1b[0m):\n"
        "    a.b\x1b[2m   # Callable named config.\x1b[0m\n"
        "    c"
    )


def scope_with_multiline_doc():
    """First line.

    More text.
    """
    x = 1


def scope_with_one_line_doc():
    """Just one line."""
    y = 2


def scope_without_doc():
    z = 3


def test_named_configs_of_real_config_scopes_and_dicts():
    configs = OrderedDict(
        [
            ("multi", ConfigScope(scope_with_multiline_doc)),
            ("one", ConfigScope(scope_with_one_line_doc)),
            ("none", ConfigScope(scope_without_doc)),
            ("ing.from_dict", ConfigDict({"a": 1})),
        ]
    )
    assert _format_named_configs(configs) == (
        "Named Configurations (\x1b[2mdoc\x1b[0m):\n"
        "  multi\x1b[2m\n"
        '    """First line.\n'
        "  \n"
        "      More text.\n"
        '      """\x1b[0m\n'
        "  one\x1b[2m   # Just one line.\x1b[0m\n"
        "  none\n"
        "  ing.from_dict"
    )


# ------------------------------------------------------------ dependencies
def test_print_dependencies_sample(capsys):
    # `python demo.py print_dependencies`
    run = SimpleNamespace(
        experiment_info={
            "dependencies": ["numpy==2.4.6", "sacred==0.8.7"],
            "sources": [("demo.py", "ff3b7444a07dfb0af8abe9b10022427f")],
            "repositories": [],
        }
    )
    print_dependencies(run)
    assert capsys.readouterr().out == (
        "Dependencies:\n"
        "  numpy                == 2.4.6\n"
        "  sacred               == 0.8.7\n"
        "\n"
        "Sources:\n"
        "  demo.py                                      ff3b7444a07dfb0af8abe9b10022427f\n"
        "\n"
    )


def test_print_dependencies_with_repositories(capsys):
    run = SimpleNamespace(
        experiment_info={
            "dependencies": ["mypkg==<unknown>"],
            "sources": [("a.py", "0" * 32), ("sub/b.py", "1" * 32)],
            "repositories": [
                {"url": "git@github.com:me/clean.git", "commit": "c" * 40, "dirty": False},
                {"url": "git@github.com:me/dirty.git", "commit": "d" * 40, "dirty": True},
            ],
        }
    )
    print_dependencies(run)
    assert capsys.readouterr().out == (
        "Dependencies:\n"
        "  mypkg                == <unknown>\n"
        "\n"
        "Sources:\n"
        "  a.py                                         " + "0" * 32 + "\n"
        "  sub/b.py                                     " + "1" * 32 + "\n"
        "\n"
        "Version Control:\n"
        "  git@github.com:me/clean.git                  " + "c" * 40 + "\x1b[0m\n"
        "\x1b[31mM git@github.com:me/dirty.git                  " + "d" * 40 + "\x1b[0m\n"
        "\n"
    )


# ------------------------------------------------------------ save_config
def test_save_config_json(tmp_path, caplog):
    target = tmp_path / "out.json"
    cfg = {"a": 7, "lst": [1, 2], "config_filename": str(target), "t": (1, 2)}
    log = logging.getLogger("save_config")
    with caplog.at_level(logging.INFO, logger="save_config"):
        save_config(cfg, log, config_filename=str(target))
    assert caplog.record_tuples == [("save_config", logging.INFO, f'Saving config to "{target}"')]
    # the given config is untouched; the file has no config_filename
    assert "config_filename" in cfg
    assert json.loads(target.read_text()) == {"a": 7, "lst": [1, 2], "t": {"py/tuple": [1, 2]}}
    assert target.read_text().startswith('{\n  "a": 7,\n')


def test_save_config_yaml_sample(tmp_path, monkeypatch):
    # `python demo.py save_config with a=7 config_filename=cfg.yaml ; cat cfg.yaml`
    monkeypatch.chdir(tmp_path)
    cfg = demo_config(7, 683718817)
    cfg["config_filename"] = "cfg.yaml"
    save_config(cfg, logging.getLogger("save_config"), config_filename="cfg.yaml")
    assert (tmp_path / "cfg.yaml").read_text() == (
        "__doc__: This is my demo configuration\n"
        "a: 7\n"
        "dataset:\n"
        "  filename: foo.npy\n"
        "  normalize: true\n"
        "foo:\n"
        "  a_squared: 49\n"
        "  bar: my_string7\n"
        "lst:\n"
        "- 1\n"
        "- 2\n"
        "- 3\n"
        "seed: 683718817\n"
    )


def test_save_config_default_filename(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    save_config({"x": 1}, logging.getLogger("save_config"))
    assert json.loads((tmp_path / "config.json").read_text()) == {"x": 1}


# ------------------------------------------------------------ help
def greet(a, foo, name="bob"):
    """Greet someone.

    Longer description.
    """


def stats(filename):
    """Print dataset statistics."""


GREET_HELP = "greet(a, foo, name='bob')\n    Greet someone.\n    \n    Longer description.\n"


def test_help_for_command_samples():
    # `python demo.py help greet` and `help dataset.stats`
    assert help_for_command(greet) == GREET_HELP
    assert help_for_command(stats) == "stats(filename)\n    Print dataset statistics.\n"


def test_help_for_captured_command():
    captured = create_captured_function(greet)
    assert help_for_command(captured) == GREET_HELP
    assert "\b" not in help_for_command(captured)


def test_help_for_command_without_docstring():
    def main(a, _run):
        pass

    assert help_for_command(main) == "main(a, _run)\n"


@pytest.mark.parametrize("command", [print_config, print_dependencies, save_config])
def test_builtin_command_first_doc_lines(command):
    first = {
        "print_config": "Print the updated configuration and exit.",
        "print_dependencies": "Print the detected source-files and dependencies.",
        "save_config": "Store the updated configuration in a file.",
    }
    assert command.__doc__.strip().split("\n")[0] == first[command.__name__]
