import datetime
import json
import subprocess
import sys

import jsonpickle
import numpy as np
import pandas as pd
import pytest

import sacred.serializer
from sacred.config.custom_containers import make_read_only
from sacred.serializer import flatten, restore


def reference_flatten(obj):
    return json.loads(jsonpickle.encode(obj, keys=True))


def test_json_attribute_is_jsonpickle():
    assert sacred.serializer.json is jsonpickle
    assert sacred.serializer.json.decode(
        sacred.serializer.json.encode((1, 2), keys=True), keys=True
    ) == (1, 2)


@pytest.mark.parametrize(
    "obj",
    [
        1,
        2.5,
        "str",
        True,
        None,
        [1, 2, [3]],
        {"a": 1, "b": {"c": [1.5, None, True]}},
        {"z": 1, "a": 2},
        {"nan": float("inf"), "neg": -0.0, "big": 10**30},
    ],
)
def test_plain_json_is_unchanged_and_matches_jsonpickle(obj):
    flat = flatten(obj)
    assert flat == obj
    assert flat == reference_flatten(obj)
    assert json.dumps(flat) == json.dumps(reference_flatten(obj))
    assert restore(flat) == obj


def test_flatten_returns_a_copy():
    obj = {"a": [1, {"b": 2}]}
    flat = flatten(obj)
    flat["a"][1]["b"] = 3
    assert obj == {"a": [1, {"b": 2}]}
    restored = restore(obj)
    restored["a"].append(5)
    assert obj == {"a": [1, {"b": 2}]}


def test_shared_containers_match_jsonpickle():
    shared = [1]
    obj = {"x": shared, "y": shared}
    assert flatten(obj) == reference_flatten(obj) == {"x": [1], "y": {"py/id": 1}}


def test_tuple():
    assert flatten((1, 2)) == {"py/tuple": [1, 2]}
    assert restore(flatten((1, (2, 3)))) == (1, (2, 3))


def test_int_keys():
    assert flatten({1: "a"}) == {"json://1": "a"}
    assert restore(flatten({1: "a", "b": 2})) == {1: "a", "b": 2}


def test_numpy_array_and_scalar():
    arr = np.array([[1.0, 2.0]], dtype="float32")
    assert flatten(arr) == {
        "py/object": "numpy.ndarray",
        "dtype": "float32",
        "values": [[1.0, 2.0]],
    }
    restored = restore(flatten(arr))
    assert restored.dtype == np.float32 and restored.shape == (1, 2)
    assert (restored == arr).all()
    assert flatten(np.int64(3)) == {"py/object": "numpy.int64", "dtype": "int64", "value": 3}


def test_function_and_datetime():
    assert flatten(len) == {"py/function": "builtins.len"}
    dt = datetime.datetime(2020, 1, 2, 3, 4, 5)
    flat = flatten(dt)
    assert flat["py/object"] == "datetime.datetime"
    assert "__reduce__" in flat
    assert restore(flat) == dt


def test_dataframe_round_trip():
    df = pd.DataFrame({"a": [1, 2], "b": [0.5, 1.5]})
    restored = restore(flatten(df))
    assert isinstance(restored, pd.DataFrame)
    assert restored.equals(df)


def test_read_only_containers_flatten_as_plain():
    ro = make_read_only({"a": [1, {"b": 2}], "t": (1,)})
    assert flatten(make_read_only({"a": [1, {"b": 2}]})) == {"a": [1, {"b": 2}]}
    assert flatten(ro) == {"a": [1, {"b": 2}], "t": {"py/tuple": [1]}}


def test_restore_plain_dict_with_tags_uses_jsonpickle():
    assert restore({"a": {"py/tuple": [1]}}) == {"a": (1,)}


def test_restore_missing_class_raises():
    with pytest.raises(jsonpickle.errors.ClassNotFoundError):
        restore({"py/object": "nonexistent_module_abc.Klass"})


def test_import_does_not_import_numpy_or_jsonpickle():
    code = (
        "import sys, sacred.serializer as s\n"
        "assert 'numpy' not in sys.modules and 'jsonpickle' not in sys.modules\n"
        "assert s.flatten({'a': [1]}) == {'a': [1]}\n"
        "assert 'jsonpickle' not in sys.modules\n"
        "assert s.flatten((1,)) == {'py/tuple': [1]}\n"
        "assert 'numpy' not in sys.modules\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr
