import numpy as np
import pytest

from sacred.config.utils import (
    assert_is_valid_key,
    normalize_numpy,
    normalize_or_die,
    recursive_fill_in,
)
from sacred.settings import SETTINGS


@pytest.mark.parametrize("key", ["a.b", "$a", "x.", ".x"])
def test_mongo_incompatible_keys(key):
    with pytest.raises(KeyError) as excinfo:
        assert_is_valid_key(key)
    assert excinfo.value.args[0] == (
        f'Invalid key "{key}". Config-keys cannot contain "." or start with "$"'
    )


def test_mongo_rule_can_be_switched_off(monkeypatch):
    monkeypatch.setitem(SETTINGS.CONFIG, "ENFORCE_KEYS_MONGO_COMPATIBLE", False)
    assert_is_valid_key("a.b")
    assert_is_valid_key("$a")


@pytest.mark.parametrize("key", ["py/object", "py/tuple", "py/function", "json://1"])
def test_jsonpickle_incompatible_keys(key):
    with pytest.raises(KeyError, match="reserved jsonpickle tags"):
        assert_is_valid_key(key)


def test_jsonpickle_rule_can_be_switched_off(monkeypatch):
    monkeypatch.setitem(SETTINGS.CONFIG, "ENFORCE_KEYS_JSONPICKLE_COMPATIBLE", False)
    assert_is_valid_key("py/object")
    assert_is_valid_key("py/anything")


def test_keys_with_equals_sign(monkeypatch):
    with pytest.raises(KeyError) as excinfo:
        assert_is_valid_key("a=b")
    assert (
        excinfo.value.args[0]
        == 'Invalid key "a=b". Config keys may not contain an equals sign ("=").'
    )
    monkeypatch.setitem(SETTINGS.CONFIG, "ENFORCE_KEYS_NO_EQUALS", False)
    assert_is_valid_key("a=b")


def test_string_keys_only_when_enforced(monkeypatch):
    assert_is_valid_key(1)
    assert_is_valid_key((1, 2))
    monkeypatch.setitem(SETTINGS.CONFIG, "ENFORCE_STRING_KEYS", True)
    with pytest.raises(KeyError) as excinfo:
        assert_is_valid_key(1)
    assert (
        excinfo.value.args[0]
        == "Invalid key \"1\". Config-keys have to be strings, but was <class 'int'>"
    )
    assert_is_valid_key("fine")


def test_python_identifiers_only_when_enforced(monkeypatch):
    assert_is_valid_key("1abc")
    assert_is_valid_key("with space")
    monkeypatch.setitem(SETTINGS.CONFIG, "ENFORCE_VALID_PYTHON_IDENTIFIER_KEYS", True)
    for key in ("1abc", "with space", "a-b", ""):
        with pytest.raises(KeyError) as excinfo:
            assert_is_valid_key(key)
        assert excinfo.value.args[0] == f'Key "{key}" is not a valid python identifier'
    assert_is_valid_key("_ok1")


def test_valid_keys():
    for key in ("a", "a_b", "CamelCase", "with space", "1", "", "py", "pyobject", "ä"):
        assert_is_valid_key(key)


def test_normalize_numpy():
    assert type(normalize_numpy(np.float64(1.5))) is float
    assert type(normalize_numpy(np.int32(3))) is int
    assert type(normalize_numpy(np.bool_(True))) is bool
    arr = np.zeros(3)
    assert normalize_numpy(arr) is arr
    assert normalize_numpy("x") == "x"


def test_normalize_or_die():
    obj = {"a": (1, (2, np.int8(3))), "b": {"c": [np.float32(0.5)]}, "s": "x"}
    assert normalize_or_die(obj) == {"a": [1, [2, 3]], "b": {"c": [0.5]}, "s": "x"}
    with pytest.raises(KeyError, match='Invalid key "b.c"'):
        normalize_or_die({"a": {"b.c": 1}})
    with pytest.raises(KeyError):
        normalize_or_die([{"x=y": 1}])


def test_recursive_fill_in():
    config = {"a": 1, "d": {"x": 1}, "n": 5}
    recursive_fill_in(config, {"a": 2, "b": 3, "d": {"x": 2, "y": 3}, "n": {"z": 1}})
    assert config == {"a": 1, "d": {"x": 1, "y": 3}, "n": 5, "b": 3}
