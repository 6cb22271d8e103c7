"""Bad or hostile input gets a one-line error, never a traceback, a hang or silent garbage.

Command-line values, config files and store queries are data: nothing in them runs code
(except a .pickle config file, which the user names on purpose).
"""

import json
import re
import subprocess
import sys
import textwrap
import time

import pytest

from sacred import Experiment
from sacred.arg_parser import get_config_updates
from sacred.config.config_files import ConfigFileError, load_config_file, save_config_file
from sacred.config.utils import MAX_CONFIG_DEPTH
from sacred.store.query import MAX_NESTING, QueryError, parse
from sacred.utils import CommandLineError, InvalidConfigError


def _run(args, cwd=None, timeout=60):
    proc = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, cwd=cwd, timeout=timeout
    )
    return proc.returncode, proc.stdout, proc.stderr


# ------------------------------------------------------------------------- store queries
@pytest.mark.parametrize("rel", ["-99999999d", "+99999999d", "-99999999999999999999w"])
def test_query_relative_time_out_of_range_is_a_query_error(rel):
    with pytest.raises(QueryError, match=re.escape(f"relative time '{rel}' is out of range")):
        parse(f"start_time > {rel}")


def test_query_relative_time_in_range_still_works():
    import datetime as dt

    now = dt.datetime(2026, 1, 10)
    node = parse("start_time > -2d", now=now)
    assert node.value == dt.datetime(2026, 1, 8)


@pytest.mark.parametrize(
    "query",
    [
        "(" * 5000 + "a == 1" + ")" * 5000,
        "not " * 5000 + "a == 1",
        "a in " + "[" * 5000 + "]" * 5000,
    ],
    ids=["parentheses", "not", "lists"],
)
def test_query_nesting_is_limited(query):
    with pytest.raises(QueryError) as info:
        parse(query)
    assert str(info.value) == f"the query nests deeper than {MAX_NESTING} levels"


def test_query_nesting_up_to_the_limit_is_fine():
    depth = MAX_NESTING // 2
    assert parse("(" * depth + "not " * depth + "a == 1" + ")" * depth) is not None


def test_json_filter_tree_nesting_is_limited():
    leaf = '{"field": "a", "operator": "==", "value": 1}'
    deep = '{"type": "and", "filters": [' * 200 + leaf + "]}" * 200
    with pytest.raises(QueryError, match="nests deeper than"):
        parse(deep)
    with pytest.raises(QueryError, match="nests too deeply"):
        parse('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}")


def test_cli_query_errors_are_short(tmp_path):
    rc, out, err = _run(
        ["-m", "sacred.cli", "runs", "list", str(tmp_path), "-q", "start_time > -99999999d"]
    )
    assert rc == 1
    assert err.splitlines()[0] == "sacred: error: relative time '-99999999d' is out of range"
    assert "Traceback" not in err

    rc, out, err = _run(
        ["-m", "sacred.cli", "runs", "list", str(tmp_path), "-q", "(" * 5000 + "a==1" + ")" * 5000],
        timeout=30,
    )
    assert rc == 1
    assert err == f"sacred: error: the query nests deeper than {MAX_NESTING} levels\n"


# ------------------------------------------------------------------- experiments
SCRIPT = textwrap.dedent(
    """
    from sacred import Experiment

    ex = Experiment("safety")
    ex.add_config({"a": 1, "seed": 5})


    @ex.automain
    def main(a):
        print("ran with", repr(a))
    """
)

UNSAFE_WITH = [
    (
        "a={'py/object': 'nonexistent.Klass'}",
        "a: 'py/object' nonexistent.Klass is not rebuilt",
    ),
    ("a={'py/function': 'os.system'}", "a: 'py/function' (os.system) is not rebuilt"),
    (
        "a={'py/reduce': [{'py/function': 'os.system'}, {'py/tuple': ['echo PWNED']}]}",
        "a: 'py/reduce' of os.system is not rebuilt",
    ),
]
BAD_SEEDS = [
    ("seed=abc", "'abc'"),
    ("seed=1.5", "1.5"),
    ("seed=-1", "-1"),
    ("seed=4294967296", "4294967296"),
    ("seed=True", "True"),
]
DEEP_PATH = "a." * 20_000 + "a"


def _bomb_yaml():
    """The "billion laughs": 9 levels of 9 aliases (9**10 strings once expanded)."""
    lines = ["l0: &l0 [" + ", ".join(["lol"] * 9) + "]"]
    for i in range(1, 10):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


@pytest.fixture
def script(tmp_path):
    path = tmp_path / "safety.py"
    path.write_text(SCRIPT)
    return path


def _with(script, *updates, timeout=60):
    return _run([str(script), "with", *updates], cwd=script.parent, timeout=timeout)


def _one_line(err):
    """The error output is exactly one (non-empty) line, without a traceback."""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def _short(text):
    return f"{text[:60]}...{text[-15:]}"


@pytest.mark.parametrize("update,reason", UNSAFE_WITH)
def test_cli_unsafe_tag_in_with_value_is_refused(script, update, reason):
    rc, out, err = _with(script, update)
    assert rc == 1
    line = _one_line(err)
    assert line.startswith(f"sacred.utils.CommandLineError: Invalid config update {update!r}: ")
    assert reason in line
    assert "ran with" not in out and "PWNED" not in out


@pytest.mark.parametrize("update,reason", UNSAFE_WITH)
def test_unsafe_tag_in_with_value_python_level(update, reason):
    with pytest.raises(CommandLineError) as info:
        get_config_updates([update])
    assert str(info.value).startswith(f"Invalid config update {update!r}: {reason}")


def test_allowed_tags_in_with_values_still_work(script):
    import numpy as np

    from sacred.serializer import flatten

    updates, _ = get_config_updates(
        ["t={'py/tuple': [1, 2]}", "s={'py/set': [3]}", f"arr={flatten(np.arange(3))!r}"]
    )
    assert updates["t"] == (1, 2) and updates["s"] == {3}
    assert updates["arr"].tolist() == [0, 1, 2]
    rc, out, err = _with(script, "a={'py/tuple': [1, 2]}")
    assert rc == 0, err
    assert "ran with (1, 2)" in out


@pytest.mark.parametrize("update,shown", BAD_SEEDS)
def test_cli_bad_seed(script, update, shown):
    rc, out, err = _with(script, update)
    assert rc == 1
    assert _one_line(err) == (
        "sacred.utils.InvalidConfigError: "
        f'The config entry "seed" must be an int in [0, 2**32), not {shown}.'
    )
    assert "ran with" not in out


@pytest.mark.parametrize("update,shown", BAD_SEEDS)
def test_bad_seed_python_level(update, shown):
    ex = Experiment("seeds", interactive=True)
    ex.main(lambda: None)
    updates, _ = get_config_updates([update])
    with pytest.raises(InvalidConfigError) as info:
        ex.run(config_updates=updates)
    assert str(info.value) == (
        f'The config entry "seed" must be an int in [0, 2**32), not {shown}.'
    )


def test_seed_bounds_are_accepted():
    ex = Experiment("seeds", interactive=True)
    ex.main(lambda: None)
    for seed in (0, 2**32 - 1):
        assert ex.run(config_updates={"seed": seed}).config["seed"] == seed


def test_bad_seed_of_an_ingredient_names_its_path():
    from sacred import Ingredient

    ing = Ingredient("ing")
    ing.add_config({"seed": "x"})
    ex = Experiment("seeds", ingredients=[ing], interactive=True)
    ex.main(lambda: None)
    with pytest.raises(InvalidConfigError, match=re.escape('"ing.seed" must be an int')):
        ex.run()


@pytest.mark.parametrize(
    "update,number", [("a=1e999", "1e999"), ("a=[1, -1e999]", "1e999"), ("a=2e400j", "2e400j")]
)
def test_cli_literal_overflowing_to_inf(script, update, number):
    rc, out, err = _with(script, update)
    assert rc == 1
    assert _one_line(err) == (
        f"sacred.utils.CommandLineError: Invalid config update {update!r}: the number "
        f"{number} is too large for a float (it would become inf)."
    )
    with pytest.raises(CommandLineError, match=re.escape(f"the number {number} is too large")):
        get_config_updates([update])


def test_large_but_finite_floats_are_fine():
    assert get_config_updates(["a=1e308", "b=-1.5e-400"])[0] == {"a": 1e308, "b": -0.0}


def test_cli_deep_dotted_path(script):
    token = DEEP_PATH + "=1"
    start = time.monotonic()
    rc, out, err = _with(script, token, timeout=30)
    assert time.monotonic() - start < 30
    assert rc == 1
    assert _one_line(err) == (
        f"sacred.utils.CommandLineError: Invalid config update {_short(token)!r}: the path "
        f"nests 20001 levels deep; at most {MAX_CONFIG_DEPTH} are allowed."
    )


def test_deep_dotted_path_python_level():
    ex = Experiment("deep", interactive=True)
    ex.main(lambda: None)
    with pytest.raises(InvalidConfigError) as info:
        ex.run(config_updates={DEEP_PATH: 1})
    assert str(info.value) == (
        f"Invalid config update {_short(DEEP_PATH)!r}: the path nests 20001 levels deep; "
        f"at most {MAX_CONFIG_DEPTH} are allowed."
    )
    nested = {"b": 1}
    for _ in range(150):
        nested = {"a": nested}
    with pytest.raises(InvalidConfigError, match="the path nests 101 levels deep"):
        ex.run(config_updates=nested)
    with pytest.raises(CommandLineError, match="the path nests 20001 levels deep"):
        get_config_updates([DEEP_PATH + "=1"])


def test_paths_up_to_the_limit_are_fine():
    path = ".".join(["a"] * MAX_CONFIG_DEPTH)
    assert get_config_updates([f"{path}=1"])[0]


# ------------------------------------------------------------------- config files
def _write(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content)
    return path


@pytest.mark.parametrize(
    "content,reason",
    [
        (
            '{"a": {"py/reduce": [{"py/function": "os.system"}, {"py/tuple": ["echo PWNED"]}]}}',
            "UnsafeDataError: a: 'py/reduce' of os.system is not rebuilt",
        ),
        ('{"a": {"py/function": "os.system"}}', "UnsafeDataError: a: 'py/function' (os.system)"),
        (
            '{"a": {"py/object": "nonexistent.Klass"}}',
            "UnsafeDataError: a: 'py/object' nonexistent.Klass",
        ),
    ],
)
def test_json_config_file_with_unsafe_tag(tmp_path, script, content, reason):
    path = _write(tmp_path, "bad.json", content)
    with pytest.raises(ConfigFileError) as info:
        load_config_file(str(path))
    message = str(info.value)
    assert message.startswith(f'Configuration file "{path}" could not be loaded: {reason}')
    assert "\n" not in message
    rc, out, err = _with(script, str(path))
    assert rc == 1
    assert _one_line(err) == f"sacred.config.config_files.ConfigFileError: {message}"
    assert "PWNED" not in out


def test_json_config_file_allowed_tags_still_work(tmp_path):
    import numpy as np

    path = str(tmp_path / "ok.json")
    save_config_file({"t": (1, 2), "arr": np.arange(3), "d": {1: "x"}}, path)
    config = load_config_file(path)
    assert config["t"] == (1, 2) and config["d"] == {1: "x"}
    assert config["arr"].tolist() == [0, 1, 2]


@pytest.mark.parametrize(
    "tag", ["!!python/name:os.system", "!!python/object/apply:os.system ['echo PWNED']"]
)
def test_yaml_config_file_with_python_tag(tmp_path, script, tag):
    path = _write(tmp_path, "bad.yaml", f"a: {tag}\n")
    suffix = tag.split()[0][len("!!python/") :]
    expected = (
        f'Configuration file "{path}" could not be loaded: the tag !!python/{suffix} (line 1) '
        "is refused: YAML config files are read with the safe loader, which builds plain data only"
    )
    with pytest.raises(ConfigFileError) as info:
        load_config_file(str(path))
    assert str(info.value) == expected
    rc, out, err = _with(script, str(path))
    assert rc == 1
    assert _one_line(err) == f"sacred.config.config_files.ConfigFileError: {expected}"
    assert "PWNED" not in out


def test_yaml_plain_data_tags_still_work(tmp_path):
    path = str(tmp_path / "ok.yaml")
    save_config_file({"t": (1, 2), "c": 1j, "b": b"x", "n": None}, path)
    assert load_config_file(path) == {"t": (1, 2), "c": 1j, "b": b"x", "n": None}


def test_cli_yaml_alias_bomb_is_refused_quickly(tmp_path, script):
    path = _write(tmp_path, "bomb.yaml", _bomb_yaml())
    start = time.monotonic()
    rc, out, err = _with(script, str(path), timeout=30)
    assert time.monotonic() - start < 30
    assert rc == 1
    assert _one_line(err) == (
        f'sacred.config.config_files.ConfigFileError: Configuration file "{path}" could not be '
        "loaded: it holds more than 1000000 values once its aliases are expanded"
    )


@pytest.mark.parametrize("pure_python", [False, True], ids=["libyaml", "pure-python"])
def test_yaml_bombs_and_depth_python_level(tmp_path, pure_python):
    """In a subprocess with a timeout: a regression would hang rather than fail."""
    bomb = _write(tmp_path, "bomb.yaml", _bomb_yaml())
    loop = _write(tmp_path, "loop.yaml", "a: &x [1, *x]\n")
    deep = _write(tmp_path, "deep.yaml", "a: " + "[" * 150 + "]" * 150 + "\n")
    block = "".join(" " * i + "a:\n" for i in range(300)) + " " * 300 + "a: 1\n"
    deep_block = _write(tmp_path, "deep_block.yaml", block)
    code = textwrap.dedent(
        f"""
        import yaml
        if {pure_python}:
            del yaml.CSafeLoader
        from sacred.config.config_files import ConfigFileError, load_config_file
        for path in {[str(bomb), str(loop), str(deep), str(deep_block)]!r}:
            try:
                load_config_file(path)
            except ConfigFileError as e:
                print(str(e).split(": ", 1)[1])
        """
    )
    rc, out, err = _run(["-c", code], timeout=30)
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0] == "it holds more than 1000000 values once its aliases are expanded"
    assert lines[1] == "an alias refers to a value that contains it"
    assert len(lines) == 4
    for line in lines[2:]:
        assert "nest" in line, line


def test_json_config_file_nesting(tmp_path):
    path = _write(tmp_path, "deep.json", '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(ConfigFileError, match="the values nest deeper than 100 levels"):
        load_config_file(str(path))
    path = _write(tmp_path, "deep2.json", '{"a": ' + "[" * 150 + "]" * 150 + "}")
    with pytest.raises(ConfigFileError, match="the values nest deeper than 100 levels"):
        load_config_file(str(path))


@pytest.mark.parametrize(
    "name,content,kind",
    [
        ("list.json", "[1, 2]", "list"),
        ("list.yaml", "- 1\n- 2\n", "list"),
        ("number.yaml", "3\n", "int"),
        ("string.json", '"x"', "str"),
    ],
)
def test_config_file_must_hold_a_mapping(tmp_path, script, name, content, kind):
    path = _write(tmp_path, name, content)
    expected = (
        f'Configuration file "{path}" must hold a mapping of config entries at the top level, '
        f"not {kind}."
    )
    with pytest.raises(ConfigFileError) as info:
        load_config_file(str(path))
    assert str(info.value) == expected
    rc, out, err = _with(script, str(path))
    assert rc == 1
    assert _one_line(err) == f"sacred.config.config_files.ConfigFileError: {expected}"


def test_pickle_config_file_must_hold_a_mapping(tmp_path):
    import pickle

    path = tmp_path / "list.pickle"
    path.write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(ConfigFileError, match="must hold a mapping"):
        load_config_file(str(path))


@pytest.mark.parametrize("content", ["", "# only a comment\n", "---\n"])
def test_empty_yaml_file_is_an_empty_config(tmp_path, script, content):
    path = _write(tmp_path, "empty.yaml", content)
    assert load_config_file(str(path)) == {}
    rc, out, err = _with(script, str(path))
    assert rc == 0, err
    assert "ran with 1" in out


def test_config_file_size_limit(tmp_path, monkeypatch):
    from sacred.config import config_files

    monkeypatch.setattr(config_files, "MAX_CONFIG_FILE_BYTES", 2**20)
    for name in ("big.json", "big.yaml"):
        path = _write(tmp_path, name, json.dumps({"a": "x" * 2**20}))
        with pytest.raises(ConfigFileError) as info:
            load_config_file(str(path))
        assert str(info.value) == (
            f'Configuration file "{path}" could not be loaded: the file is larger than 1 MiB'
        )


def test_malformed_yaml_is_one_line(tmp_path):
    path = _write(tmp_path, "bad.yaml", "a: [1, 2\nb: }")
    with pytest.raises(ConfigFileError) as info:
        load_config_file(str(path))
    assert "\n" not in str(info.value)
    assert str(info.value).startswith(f'Configuration file "{path}" could not be loaded: ')
