import pickle
import sys

import numpy as np
import pytest

from sacred.config.config_files import (
    HANDLER_BY_EXT,
    ConfigFileError,
    Handler,
    get_handler,
    load_config_file,
    save_config_file,
    yaml_extensions,
)
from sacred.config.custom_containers import make_read_only

DATA = {"foo": 42, "bar": {"baz": [1, 2.5, "x"]}, "flag": True, "none": None}


def test_handlers():
    assert set(HANDLER_BY_EXT) == {".json", ".pickle", ".yaml", ".yml"}
    assert yaml_extensions == (".yaml", ".yml")
    assert all(isinstance(h, Handler) for h in HANDLER_BY_EXT.values())
    assert HANDLER_BY_EXT[".pickle"].mode == "b"
    assert HANDLER_BY_EXT[".json"].mode == ""
    assert get_handler("x/y.json") is HANDLER_BY_EXT[".json"]
    assert get_handler("x.yml") is HANDLER_BY_EXT[".yml"]


@pytest.mark.parametrize("ext", [".json", ".pickle", ".yaml", ".yml"])
def test_round_trip(tmp_path, ext):
    filename = str(tmp_path / f"config{ext}")
    save_config_file(DATA, filename)
    assert load_config_file(filename) == DATA


def test_json_format_is_sorted_and_indented(tmp_path):
    filename = tmp_path / "c.json"
    save_config_file({"b": 1, "a": {"d": (1, 2), "c": None}}, str(filename))
    assert filename.read_text() == (
        "{\n"
        '  "a": {\n'
        '    "c": null,\n'
        '    "d": {\n'
        '      "py/tuple": [\n'
        "        1,\n"
        "        2\n"
        "      ]\n"
        "    }\n"
        "  },\n"
        '  "b": 1\n'
        "}"
    )
    assert load_config_file(str(filename)) == {"b": 1, "a": {"d": (1, 2), "c": None}}


def test_json_restores_numpy_arrays(tmp_path):
    filename = str(tmp_path / "c.json")
    save_config_file({"arr": np.arange(4, dtype="float32").reshape(2, 2)}, filename)
    arr = load_config_file(filename)["arr"]
    assert arr.dtype == np.float32 and arr.shape == (2, 2)
    assert arr.tolist() == [[0.0, 1.0], [2.0, 3.0]]


def test_read_only_config_can_be_saved(tmp_path):
    ro = make_read_only({"a": 7, "lst": [1, 2], "d": {"x": "y"}})
    for ext in (".json", ".yaml", ".pickle"):
        filename = str(tmp_path / f"ro{ext}")
        save_config_file(ro, filename)
        assert load_config_file(filename) == {"a": 7, "lst": [1, 2], "d": {"x": "y"}}
    assert (tmp_path / "ro.yaml").read_text() == "a: 7\nd:\n  x: y\nlst:\n- 1\n- 2\n"
    assert '"py/object"' not in (tmp_path / "ro.json").read_text()


def test_unknown_extension():
    with pytest.raises(ValueError) as excinfo:
        get_handler("config.txt")
    assert str(excinfo.value) == (
        'Configuration file "config.txt" has invalid or unsupported extension ".txt".'
    )
    with pytest.raises(ValueError, match='extension ""'):
        load_config_file("no_extension")


def test_yaml_without_pyyaml(monkeypatch):
    monkeypatch.setitem(sys.modules, "yaml", None)
    with pytest.raises(KeyError) as excinfo:
        load_config_file("conf.yaml")
    assert excinfo.value.args[0] == (
        'Configuration file "conf.yaml" cannot be loaded as you do not have PyYAML installed.'
    )


def test_missing_file_names_the_file(tmp_path):
    filename = str(tmp_path / "missing.json")
    with pytest.raises(FileNotFoundError, match="missing.json"):
        load_config_file(filename)


@pytest.mark.parametrize(
    "name,content",
    [
        ("bad.json", b'{"a": 1,,}'),
        ("bad.yaml", b"a: [1, 2\nb: }"),
        ("bad.pickle", b"this is not a pickle"),
        ("empty.pickle", b""),
        ("missing_class.json", b'{"x": {"py/object": "nonexistent_module_xyz.Foo"}}'),
    ],
)
def test_malformed_file_names_the_file(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ConfigFileError) as excinfo:
        load_config_file(str(path))
    assert isinstance(excinfo.value, ValueError)
    assert str(excinfo.value).startswith(f'Configuration file "{path}" could not be loaded: ')
    assert excinfo.value.__cause__ is not None


def test_malformed_json_message(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text("{")
    with pytest.raises(ConfigFileError) as excinfo:
        load_config_file(str(path))
    assert str(excinfo.value) == (
        f'Configuration file "{path}" could not be loaded: JSONDecodeError: '
        "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"
    )


def test_pickle_keeps_python_objects(tmp_path):
    filename = str(tmp_path / "c.pickle")
    save_config_file({"t": (1, 2), "s": {1, 2}}, filename)
    with open(filename, "rb") as f:
        assert pickle.load(f) == {"t": (1, 2), "s": {1, 2}}
    assert load_config_file(filename) == {"t": (1, 2), "s": {1, 2}}
