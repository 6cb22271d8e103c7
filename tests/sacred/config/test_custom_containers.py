import copy
import json
import pickle

import numpy as np
import pytest
import yaml

from sacred.config.custom_containers import (
    SIMPLIFY_TYPE,
    DogmaticDict,
    DogmaticList,
    ReadOnlyContainer,
    ReadOnlyDict,
    ReadOnlyList,
    fallback_dict,
    is_different,
    make_read_only,
    type_changed,
)
from sacred.config.utils import dogmatize, undogmatize
from sacred.utils import SacredError

READ_ONLY = "The configuration is read-only in a captured function!"


# ----------------------------------------------------------------- fallback_dict
def test_fallback_dict():
    fd = fallback_dict({"a": 1, "b": 2}, b=20, c=30)
    assert fd["a"] == 1
    assert fd["b"] == 20
    assert "a" in fd and "c" in fd and "z" not in fd
    assert fd.get("a") == 1 and fd.get("z", 5) == 5
    assert dict(fd) == {"b": 20, "c": 30}
    with pytest.raises(KeyError):
        fd["z"]


# ----------------------------------------------------------------- DogmaticDict
def test_dogmatic_dict_fixed_values_win():
    d = DogmaticDict(fixed={"a": 7})
    d["a"] = 8
    d["b"] = 9
    assert d == {"a": 7, "b": 9}
    assert d.modified == {"a"}


def test_dogmatic_dict_same_value_is_not_modified():
    d = DogmaticDict(fixed={"a": 7})
    d["a"] = 7
    assert d.modified == set()


def test_dogmatic_dict_revelation_adds_unassigned_fixed_keys():
    d = DogmaticDict(fixed={"a": 1, "b": DogmaticDict(fixed={"c": 2})})
    d["x"] = 0
    assert d.revelation() == {"a", "b", "b.c"}
    assert d == {"x": 0, "a": 1, "b": {"c": 2}}


def test_dogmatic_dict_merges_nested_dicts():
    d = dogmatize({"foo": {"b": 20, "c": 30}})
    d["foo"] = {"a": 1, "b": 2}
    assert d.revelation() == {"foo.c"}
    assert undogmatize(d) == {"foo": {"a": 1, "b": 20, "c": 30}}
    assert d.modified == {"foo", "foo.b"}


def test_dogmatic_dict_typechanges_nested():
    d = dogmatize({"foo": {"b": "x"}})
    d["foo"] = {"b": 2}
    assert d.typechanges == {"foo.b": (int, str)}


def test_dogmatic_dict_delete_fixed_key_is_ignored():
    d = DogmaticDict(fixed={"a": 1})
    d["a"] = 2
    d["b"] = 3
    del d["a"]
    del d["b"]
    assert d == {"a": 1}


def test_dogmatic_dict_update_respects_fixed():
    d = DogmaticDict(fixed={"a": 1})
    d.update({"a": 5, "b": 2}, c=3)
    d.update([("d", 4)])
    assert d == {"a": 1, "b": 2, "c": 3, "d": 4}


def test_dogmatic_dict_fallback_reads_and_writes():
    d = DogmaticDict(fallback={"fb": 10})
    assert d["fb"] == 10
    assert "fb" in d
    assert d.get("fb") == 10
    d["fb"] = 11
    assert d.fallback_writes == ["fb"]
    with pytest.raises(KeyError):
        d["missing"]


def test_dogmatic_list_cannot_be_changed():
    lst = DogmaticList([1, 2])
    lst.append(3)
    lst.extend([4])
    lst.insert(0, 5)
    lst[0] = 9
    del lst[0]
    lst += [7]
    lst *= 2
    lst.remove(1)
    lst.reverse()
    lst.sort()
    assert lst == [1, 2]
    assert lst.revelation() == set()


def test_dogmatize_and_undogmatize_round_trip():
    obj = {"a": [1, {"b": (2, [3])}], "c": {"d": 4}}
    dog = dogmatize(obj)
    assert isinstance(dog, DogmaticDict)
    assert isinstance(dog.fixed["a"], DogmaticList)
    assert isinstance(dog.fixed["a"][1], DogmaticDict)
    assert isinstance(dog.fixed["a"][1].fixed["b"], tuple)
    dog.revelation()
    plain = undogmatize(dog)
    assert plain == obj
    assert type(plain) is dict and type(plain["a"]) is list
    assert type(plain["a"][1]["b"]) is tuple


# ------------------------------------------------------------ type comparisons
def test_type_changed():
    assert not type_changed(None, 5)
    assert not type_changed(1, 2)
    assert type_changed(1, 2.0)
    assert type_changed(1.0, 2)
    assert type_changed("a", 1)
    assert not type_changed((1,), [1])
    assert not type_changed({}, DogmaticDict())
    assert not type_changed([], DogmaticList())
    assert not type_changed(1.0, np.float32(2.0))
    assert not type_changed(1, np.int64(2))
    assert not type_changed(True, np.bool_(False))
    assert type_changed(1, np.float64(2.0))
    assert SIMPLIFY_TYPE[tuple] is list
    assert SIMPLIFY_TYPE[np.float32] is float


def test_is_different():
    assert not is_different(1, 1)
    assert is_different(1, 2)
    assert not is_different(np.array([1, 2]), np.array([1, 2]))
    assert is_different(np.array([1, 2]), np.array([1, 3]))
    assert is_different(np.array([1, 2]), np.array([[1, 2]]))
    assert is_different(np.array([1, 2]), 5)
    assert not is_different([np.array([1])], [np.array([1])])
    assert is_different([np.array([1])], [np.array([2])])
    assert not is_different({"a": np.zeros(2)}, {"a": np.zeros(2)})


# ------------------------------------------------------------ read-only containers
@pytest.mark.parametrize(
    "method,args",
    [
        ("__setitem__", ("a", 1)),
        ("__delitem__", ("a",)),
        ("clear", ()),
        ("pop", ("a",)),
        ("popitem", ()),
        ("setdefault", ("z", 1)),
        ("update", ({"z": 1},)),
        ("__ior__", ({"z": 1},)),
    ],
)
def test_read_only_dict_mutations_raise(method, args):
    d = ReadOnlyDict({"a": 1})
    with pytest.raises(SacredError) as excinfo:
        getattr(d, method)(*args)
    assert str(excinfo.value) == READ_ONLY
    assert excinfo.value.filter_traceback == "always"
    assert d == {"a": 1}


@pytest.mark.parametrize(
    "method,args",
    [
        ("__setitem__", (0, 1)),
        ("__delitem__", (0,)),
        ("append", (1,)),
        ("extend", ([1],)),
        ("insert", (0, 1)),
        ("pop", ()),
        ("remove", (1,)),
        ("reverse", ()),
        ("sort", ()),
        ("clear", ()),
        ("__iadd__", ([1],)),
        ("__imul__", (2,)),
    ],
)
def test_read_only_list_mutations_raise(method, args):
    lst = ReadOnlyList([1, 2])
    with pytest.raises(SacredError) as excinfo:
        getattr(lst, method)(*args)
    assert str(excinfo.value) == READ_ONLY
    assert lst == [1, 2]


def test_read_only_operators_raise():
    d = make_read_only({"l": [1]})
    with pytest.raises(SacredError, match="read-only"):
        d["l"] += [2]
    with pytest.raises(SacredError, match="read-only"):
        d["x"] = 1
    assert d == {"l": [1]}


def test_custom_message():
    d = ReadOnlyDict({"a": 1}, message="nope")
    with pytest.raises(SacredError, match="^nope$"):
        d["a"] = 2
    nested = make_read_only({"a": [1]}, error_message="custom")
    with pytest.raises(SacredError, match="^custom$"):
        nested["a"].append(2)


def test_make_read_only_nested():
    ro = make_read_only({"a": [1, {"b": 2}], "t": (1, [2], {"c": 3}), "s": "x"})
    assert isinstance(ro, ReadOnlyDict) and isinstance(ro, ReadOnlyContainer)
    assert isinstance(ro["a"], ReadOnlyList)
    assert isinstance(ro["a"][1], ReadOnlyDict)
    assert type(ro["t"]) is tuple
    assert isinstance(ro["t"][1], ReadOnlyList)
    assert isinstance(ro["t"][2], ReadOnlyDict)
    assert ro == {"a": [1, {"b": 2}], "t": (1, [2], {"c": 3}), "s": "x"}


def test_read_only_pickle_round_trip():
    ro = make_read_only({"a": [1, {"b": 2}]}, error_message="msg")
    restored = pickle.loads(pickle.dumps(ro))
    assert restored == {"a": [1, {"b": 2}]}
    assert isinstance(restored, ReadOnlyDict)
    assert isinstance(restored["a"], ReadOnlyList)
    with pytest.raises(SacredError, match="^msg$"):
        restored["a"].append(3)


def test_read_only_copy_is_plain_and_shallow():
    ro = make_read_only({"a": [1], "b": 2})
    for c in (copy.copy(ro), ro.copy()):
        assert type(c) is dict
        c["x"] = 1
        assert isinstance(c["a"], ReadOnlyList)
    lst = make_read_only([[1], 2])
    c = copy.copy(lst)
    assert type(c) is list
    assert isinstance(c[0], ReadOnlyList)
    assert type(lst.copy()) is list


def test_read_only_deepcopy_is_fully_mutable():
    ro = make_read_only({"a": [1, {"b": [2]}]})
    dc = copy.deepcopy(ro)
    assert type(dc) is dict
    assert type(dc["a"]) is list
    assert type(dc["a"][1]) is dict
    dc["a"][1]["b"].append(3)
    assert ro == {"a": [1, {"b": [2]}]}


def test_read_only_json_and_yaml_as_plain():
    ro = make_read_only({"a": [1, {"b": 2}]})
    assert json.dumps(ro, sort_keys=True) == '{"a": [1, {"b": 2}]}'
    assert yaml.dump(ro) == "a:\n- 1\n- b: 2\n"
    assert yaml.safe_dump(ro) == "a:\n- 1\n- b: 2\n"


# ------------------------------------------ the original's fixed/fallback semantics
def test_dogmatic_dict_fixed_beats_fallback():
    d = DogmaticDict(fixed={"a": 0}, fallback={"a": 23})
    assert d["a"] == 0
    assert d.get("a") == 0


def test_dogmatic_dict_nested_fixed_merges_with_nested_fallback():
    d = DogmaticDict(fixed={"foo": {"bar": 20}}, fallback={"foo": {"bar": 10, "c": 5}})
    assert d["foo"]["bar"] == 20
    assert d["foo"]["c"] == 5


def test_dogmatic_dict_assigning_a_dict_keeps_fixed_and_fallback_values():
    d = DogmaticDict(fixed={"foo": {"bar": 20}}, fallback={"foo": {"bar": 10, "c": 5}})
    d["foo"] = {"bar": 30, "a": 1}
    assert d["foo"]["bar"] == 20
    assert d["foo"]["a"] == 1
    assert d["foo"]["c"] == 5


def test_dogmatic_list_pop_raises_type_error_and_leaves_the_list():
    lst = DogmaticList([1, 2, 3])
    with pytest.raises(TypeError):
        lst.pop()
    with pytest.raises(TypeError):
        lst.pop(0)
    assert lst == [1, 2, 3]
    # the other mutators stay silently ignored (config scopes rely on it)
    lst.clear()
    lst.append(4)
    assert lst == [1, 2, 3]
