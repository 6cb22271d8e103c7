import os

import numpy as np
import pytest

from sacred.config.config_dict import ConfigDict
from sacred.config.config_scope import ConfigScope
from sacred.config.utils import chain_evaluate_config_scopes


def test_config_dict_returns_normalized_values():
    cd = ConfigDict({"a": 1, "t": (1, 2), "f": np.float32(0.5), "d": {"x": [np.int64(3)]}})
    result = cd()
    assert result == {"a": 1, "t": [1, 2], "f": 0.5, "d": {"x": [3]}}
    assert type(result["f"]) is float
    assert result.added == set() and result.modified == set() and result.docs == {}


def test_config_dict_allows_special_values():
    assert ConfigDict({"m": os, "fn": len})() == {"m": os, "fn": len}


def test_config_dict_invalid_key_raises_at_construction():
    with pytest.raises(KeyError, match='Invalid key "a.b"'):
        ConfigDict({"a.b": 1})
    with pytest.raises(KeyError, match='Invalid key "\\$x"'):
        ConfigDict({"nested": {"$x": 1}})


def test_config_dict_fixed_and_preset():
    cd = ConfigDict({"a": 1, "d": {"x": 1, "y": 2}})
    result = cd(fixed={"a": 10, "d": {"y": 20, "z": 30}, "new": 5}, preset={"p": 1, "d": {"w": 0}})
    assert result == {"a": 10, "d": {"x": 1, "y": 20, "z": 30, "w": 0}, "new": 5, "p": 1}
    assert result.added == {"d.z", "new"}
    assert result.modified == {"a", "d", "d.y"}


def test_config_dict_typechange():
    result = ConfigDict({"a": 1})(fixed={"a": "x"})
    assert result.typechanged == {"a": (int, str)}


def test_config_dict_ignores_fallback_and_is_not_mutated_by_calls():
    cd = ConfigDict({"d": {"x": 1}})
    assert cd(preset={"d": {"y": 2}}, fallback={"fb": 1}) == {"d": {"x": 1, "y": 2}}
    assert cd() == {"d": {"x": 1}}


def test_chain_evaluates_in_order_and_accumulates_dicts():
    @ConfigScope
    def cfg1():
        a = 1
        d = {"x": 1}

    @ConfigScope
    def cfg2(a):
        a *= 2
        b = a + 1

    cd = ConfigDict({"d": {"y": 2}})
    config, summaries = chain_evaluate_config_scopes([cfg1, cfg2, cd])
    assert config == {"a": 2, "d": {"x": 1, "y": 2}, "b": 3}
    assert len(summaries) == 3


def test_chain_later_scope_only_sees_declared_keys():
    @ConfigScope
    def cfg1():
        a = 1

    @ConfigScope
    def cfg2():
        b = a  # noqa: F821

    with pytest.raises(NameError):
        chain_evaluate_config_scopes([cfg1, cfg2])


def test_chain_with_fixed_preset_and_empty_chain():
    @ConfigScope
    def cfg():
        a = 1
        b = a + 1

    config, summaries = chain_evaluate_config_scopes([cfg], fixed={"a": 5}, preset={"p": 0})
    assert config == {"p": 0, "a": 5, "b": 6}
    assert summaries[0].modified == {"a"}
    config, summaries = chain_evaluate_config_scopes([], fixed={"x": {"y": 1}}, preset={"p": 0})
    assert config == {"p": 0, "x": {"y": 1}}
    assert summaries == []


def test_chain_with_fallback():
    @ConfigScope
    def cfg(ing):
        a = ing["v"] * 2

    config, _ = chain_evaluate_config_scopes([cfg], fallback={"ing": {"v": 4}})
    assert config == {"a": 8}
