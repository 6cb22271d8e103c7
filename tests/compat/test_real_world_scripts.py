"""Patterns of real experiment scripts, run as scripts, with their command-line output checked.

The scripts are in ``fixtures/``. The expected outputs follow the original's documented
formats (the log lines, ``print_config``, the usage text and errors of
``shared/spec/sacred_cli_samples.txt``, copied to ``tests/sacred/fixtures``), not what this
implementation happens to print. Seeds are masked; runs take well under a second, so the
durations are ``0:00:00``.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures"

DIM, BLUE, RESET = "\x1b[2m", "\x1b[34m", "\x1b[0m"
HEADER = (
    f"Configuration ({BLUE}modified{RESET}, \x1b[32madded{RESET}, \x1b[31mtypechanged{RESET}, "
    f"{DIM}doc{RESET}):\n"
)


@pytest.fixture
def scripts(tmp_path):
    folder = tmp_path / "project"
    shutil.copytree(FIXTURES, folder)
    return folder


def run(folder, *args, warnings=None):
    pythonpath = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=pythonpath, COLUMNS="80")
    env["XDG_CACHE_HOME"] = str(folder.parent / "user_cache")
    env.pop("PYTHONWARNINGS", None)  # Python's default warning filters, as for a user
    flags = ["-W", warnings] if warnings else []
    return subprocess.run(
        [sys.executable, *flags, *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def masked(text):
    return re.sub(r"(seed = )\d+ *", r"\1<seed>  ", text)


def entry(text, doc=None):
    """A print_config line: a documented entry is padded to 35 characters, then its doc."""
    if doc is None:
        return text + "\n"
    return f"{text:<35}  {DIM}# {doc}{RESET}\n"


SEED = entry("  seed = 1", "the random seed for this experiment")


def log(name, *before, result=None):
    """The log lines of an unobserved run of the main function (the original's format)."""
    lines = [*before, f"WARNING - {name} - No observers have been added to this run"]
    lines += [f"INFO - {name} - Running command 'main'", f"INFO - {name} - Started"]
    if result is not None:
        lines.append(f"INFO - {name} - Result: {result}")
    lines.append(f"INFO - {name} - Completed after 0:00:00")
    return "\n".join(lines) + "\n"


def command_log(name, command, body=""):
    return (
        f"INFO - {name} - Running command '{command}'\nINFO - {name} - Started\n"
        f"{body}INFO - {name} - Completed after 0:00:00\n"
    )


# ------------------------------------------------------------ tuples as updates
def test_a_search_passes_feature_tuples_usable_as_keys(scripts):
    result = run(scripts, "search.py")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "features: tuple ('Fare', 'SibSp')\n"
        "cached under: [('Fare', 'SibSp')]\n"
        "result: 4 config: ('Fare', 'SibSp')\n"
        "features: tuple ('Age',)\n"
        "cached under: [('Age',)]\n"
        "result: 2 config: ('Age',)\n"
    )
    assert result.stderr == log("titanic", result=4) + log("titanic", result=2)


def test_a_tuple_on_the_command_line_stays_a_tuple_and_is_stored_as_one(scripts):
    result = run(scripts, "titanic_features.py", "-F", "runs", "with", "features=('Fare', 'SibSp')")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "features: tuple ('Fare', 'SibSp')\ncached under: [('Fare', 'SibSp')]\n"
    assert result.stderr == (
        "INFO - titanic - Running command 'main'\n"
        'INFO - titanic - Started run with ID "1"\n'
        "INFO - titanic - Result: 6\n"
        "INFO - titanic - Completed after 0:00:00\n"
    )
    config = json.loads((scripts / "runs" / "1" / "config.json").read_text())
    # jsonpickle's form of a tuple, as the original's flatten() writes it
    assert config["features"] == {"py/tuple": ["Fare", "SibSp"]}


# ------------------------------------------------------------ JSON-ish values
def test_a_json_value_is_refused_with_a_clear_error(scripts):
    result = run(scripts, "json_params.py", "with", 'params={"dropout": 0.5, "l2": null}')
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        "sacred.utils.CommandLineError: Invalid config update "
        """'params={"dropout": 0.5, "l2": null}': the value '{"dropout": 0.5, "l2": null}' """
        "looks like a dict but is not a valid Python literal "
        "(null is JSON, not Python: write None).\n\n"
    )


def test_the_python_literal_works(scripts):
    result = run(scripts, "json_params.py", "with", "params={'dropout': 0.5, 'l2': None}")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "dropout 0.5 l2 None\n"
    assert result.stderr == log(
        "json_params",
        'WARNING - root - Changed type of config entry "params.l2" from float to NoneType',
    )


# ------------------------------------------------------------ annotated entries
def test_annotated_entries_are_config_entries(scripts):
    result = run(scripts, "annotated.py", "print_config")
    assert result.returncode == 0, result.stderr
    assert masked(result.stdout) == masked(
        HEADER
        + entry("  layers = [64, 32]")
        + entry("  lr = 0.01", "learning rate")
        + entry("  name = 'mlp'")
        + SEED
    )
    assert result.stderr == command_log("annotated", "print_config")

    result = run(scripts, "annotated.py", "-F", "runs", "with", "lr=0.1")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "mlp 0.1 [64, 32]\n"
    config = json.loads((scripts / "runs" / "1" / "config.json").read_text())
    assert sorted(config) == ["layers", "lr", "name", "seed"]  # no __annotations__


# ------------------------------------------------------------ .create() observers
def test_observers_made_with_create_run_without_printing_a_warning(scripts):
    result = run(scripts, "old_observers.py", "--tinydb", "with", "a=2")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "a is 2\n"
    # Python's default filters hide a DeprecationWarning raised in Sacred's own module
    assert result.stderr == (
        "INFO - old_observers - Running command 'main'\n"
        'INFO - old_observers - Started run with ID "1"\n'
        "INFO - old_observers - Result: 3\n"
        "INFO - old_observers - Completed after 0:00:00\n"
    )
    assert sorted(os.listdir(scripts / "runs")) == ["1", "_sources"]
    assert sorted(os.listdir(scripts / "runs" / "1")) == [
        "config.json",
        "cout.txt",
        "metrics.json",
        "run.json",
    ]
    assert sorted(os.listdir(scripts / "runs_db")) == ["hashfs", "metadata.json"]


def test_the_deprecation_shows_when_warnings_are_asked_for(scripts):
    result = run(scripts, "old_observers.py", "--tinydb", warnings="default::DeprecationWarning")
    assert result.returncode == 0, result.stderr
    for name in ("FileStorageObserver", "TinyDbObserver"):
        assert (
            f"DeprecationWarning: {name}.create(...) is deprecated. "
            f"Please use {name}(...) instead." in result.stderr
        )
    assert f"{os.sep}sacred{os.sep}observers{os.sep}" in result.stderr


def test_mongo_observer_create_does_not_print_a_warning(scripts):
    result = run(scripts, "old_observers.py", "--mongo", "-u")
    assert result.returncode == 0, result.stderr
    assert result.stderr == (
        "INFO - old_observers - Running command 'main'\n"
        "INFO - old_observers - Started\n"
        "INFO - old_observers - Result: 2\n"
        "INFO - old_observers - Completed after 0:00:00\n"
    )


# ------------------------------------------------------------ an Experiment as ingredient
def test_an_experiment_used_as_an_ingredient(scripts):
    result = run(scripts, "nested_experiment.py")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "model relux16 epochs 2 units 16\n"
    assert result.stderr == log("outer")

    result = run(scripts, "nested_experiment.py", "print_config", "with", "base.units=32")
    assert result.returncode == 0, result.stderr
    # the inner experiment's config sits under its name; only the outer one has a seed
    assert masked(result.stdout) == masked(
        HEADER
        + entry("  epochs = 2")
        + SEED
        + f"{BLUE}  base:{RESET}\n"
        + entry("    activation = 'relu'")
        + BLUE
        + entry("    units = 32", "hidden units").replace("\n", RESET + "\n")
    )


def test_the_inner_experiments_commands_are_listed_under_its_name(scripts):
    result = run(scripts, "nested_experiment.py", "--help")
    assert result.returncode == 0, result.stderr
    commands = result.stdout.split("\nCommands:\n", 1)[1]
    lines = [
        ("print_config", "Print the updated configuration and exit."),
        ("print_dependencies", "Print the detected source-files and dependencies."),
        ("save_config", "Store the updated configuration in a file."),
        ("print_named_configs", "Print the available named configs and exit."),
        ("main", ""),
        ("base.print_config", "Print the updated configuration and exit."),
        ("base.print_dependencies", "Print the detected source-files and dependencies."),
        ("base.save_config", "Store the updated configuration in a file."),
        ("base.print_named_configs", "Print the available named configs and exit."),
    ]
    width = max(len(name) for name, _ in lines)
    # print() adds a newline after the usage text's own
    assert commands == "".join(f"  {name:<{width}}  {doc}\n" for name, doc in lines) + "\n"


# ------------------------------------------------------------ yaml named configs
def test_yaml_defaults_and_named_configs(scripts):
    result = run(scripts, "yaml_configs.py", "with", "big")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "model 100 cnn batch 32\n"

    # a named config, then a config file given by its path: later ones win
    result = run(scripts, "yaml_configs.py", "print_config", "with", "big", "small.yaml")
    assert result.returncode == 0, result.stderr
    assert masked(result.stdout) == masked(
        HEADER
        + entry("  seed = 1")
        + f"{BLUE}  data:{RESET}\n"
        + f"{BLUE}    batch = 8{RESET}\n"
        + f"{BLUE}  model:{RESET}\n"
        + entry("    kind = 'cnn'")
        + f"{BLUE}    size = 100{RESET}\n"
    )
    assert result.stderr == command_log("yaml_configs", "print_config")


def test_a_missing_yaml_file_is_named(scripts):
    result = run(scripts, "yaml_configs.py", "with", "huge.yaml")
    assert result.returncode == 1
    assert result.stderr == (
        "sacred.utils.NamedConfigNotFoundError: Config file or named config not found: "
        "\"huge.yaml\". Available config values are: ('big',)\n\n"
    )
