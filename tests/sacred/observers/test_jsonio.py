"""The fast indented JSON writer gives exactly json.dumps(obj, sort_keys=True, indent=2).

Every test runs twice: with orjson (a dependency) doing the bulk of the encoding, and with
the pure-Python path that is used where orjson is not installed.
"""

import datetime
import json
import os
import random

import orjson
import pytest

from sacred.observers import _jsonio
from sacred.observers._jsonio import (
    dumps,
    encode_items,
    is_plain,
    isoformat_items_fixed,
    scalar_items_bytes,
    write_atomic,
)


@pytest.fixture(autouse=True, params=["orjson", "pure Python"])
def encoder(request, monkeypatch):
    monkeypatch.setattr(_jsonio, "_orjson", orjson if request.param == "orjson" else False)
    return request.param


def test_orjson_options_are_the_ones_named():
    assert _jsonio._INDENT_SORTED == orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS


CASES = [
    {},
    [],
    0,
    "s",
    None,
    True,
    1.5,
    {"a": [1, 2.5, None, True, False, 'x\ny"é\u2028\\']},
    {"b": {}, "a": [], "c": [[], {}, [1, [2, {"z": 1}]]], "d": {"e": {"f": "g"}}},
    [1, {"a": 1}, [2, [3]], "x"],
    {"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf"), "big": 10**30},
    {
        "k": {10: 2, 9: 3, 8: {"a": 1}},
        "j": {2: 1, 1.5: "x"},
        "n": {None: 0},
        "b": {True: 1, False: 2},
    },
    {"py/tuple": [1, 2], "json://1": "x"},
    {"b": [{"x": [1, 2]}, {"y": {"z": [None]}}], "a": {"c": [[1.25, "q"], []]}},
]


@pytest.mark.parametrize("obj", CASES)
def test_same_as_json_dumps(obj):
    assert dumps(obj) == json.dumps(obj, sort_keys=True, indent=2)


def random_json(rng, depth=0):
    kind = rng.choice(
        ["int", "float", "str", "none", "bool", "list", "dict"] if depth < 4 else ["int", "str"]
    )
    if kind == "int":
        return rng.randint(-(10**12), 10**12)
    if kind == "float":
        return rng.uniform(-1, 1) * 10.0 ** rng.randint(-30, 30)
    if kind == "str":
        return "".join(rng.choice('ab"\\\n\té€ \x00') for _ in range(rng.randint(0, 6)))
    if kind == "none":
        return None
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "list":
        return [random_json(rng, depth + 1) for _ in range(rng.randint(0, 5))]
    return {str(rng.random()): random_json(rng, depth + 1) for _ in range(rng.randint(0, 5))}


def test_same_as_json_dumps_on_random_data():
    rng = random.Random(42)
    for _ in range(300):
        obj = random_json(rng)
        assert dumps(obj) == json.dumps(obj, sort_keys=True, indent=2)


def test_subclasses_of_builtin_types_are_encoded_like_json_does():
    class MyInt(int):
        pass

    class MyDict(dict):
        pass

    obj = {"a": [MyInt(3), 1], "b": MyDict(x=1)}
    assert dumps(obj) == json.dumps(obj, sort_keys=True, indent=2)


def test_unserializable_raises_type_error():
    with pytest.raises(TypeError):
        dumps({"a": [1, object()]})


def test_is_plain():
    assert is_plain({"a": [1, "x", None, {"b": 2.0}]})
    assert not is_plain({"a": (1, 2)})
    assert not is_plain({1: "x"})
    assert not is_plain({"py/object": "x"})
    shared = [1]
    assert not is_plain({"a": shared, "b": shared})  # jsonpickle would write a py/id
    assert not is_plain({"d": datetime.datetime(2020, 1, 1)})


def iso_reference(timestamps, level=3):
    return encode_items([t.isoformat() for t in timestamps], level).encode("ascii")


@pytest.mark.parametrize(
    "timestamps",
    [
        [],
        [datetime.datetime(2020, 1, 1)],
        [datetime.datetime(2020, 1, 1, 9, 5, 3, 7), datetime.datetime(2020, 1, 1, 9, 5, 3)],
        # across an hour, a day and a year, sorted
        [
            datetime.datetime(2020, 12, 31, 22, 59, 59, 999999),
            datetime.datetime(2020, 12, 31, 23, 0),
            datetime.datetime(2021, 1, 1, 0, 0, 0, 1),
            datetime.datetime(2021, 1, 1, 10, 0, 0, 1),
        ],
        # not sorted
        [
            datetime.datetime(2020, 1, 1, 5),
            datetime.datetime(2020, 1, 1, 3),
            datetime.datetime(2020, 1, 1, 5, 1),
        ],
        # time zones
        [datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)],
        [
            datetime.datetime(2020, 1, 1),
            datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc),
        ],
        [datetime.date(2020, 1, 1)],
        [datetime.datetime(1, 1, 1), datetime.datetime(999, 1, 1, 0, 0, 1)],
    ],
)
def test_isoformat_items(timestamps):
    text, fixed = isoformat_items_fixed(timestamps, 3)
    assert bytes(text) == iso_reference(timestamps)


def test_isoformat_items_many_random():
    rng = random.Random(1)
    base = datetime.datetime(2026, 11, 27, 22, 30)
    stamps = sorted(
        base + datetime.timedelta(microseconds=rng.randint(0, 4 * 3600 * 10**6))
        for _ in range(5000)
    )
    stamps[10] = stamps[10].replace(microsecond=0)
    assert bytes(isoformat_items_fixed(stamps, 3)[0]) == iso_reference(stamps)
    rng.shuffle(stamps)
    assert bytes(isoformat_items_fixed(stamps, 2)[0]) == iso_reference(stamps, 2)


def test_write_atomic_replaces_and_leaves_no_temp_file(tmp_path):
    path = tmp_path / "f.json"
    path.write_text("old")
    write_atomic(path, "new")
    assert path.read_text() == "new"
    write_atomic(str(path), ["a", "b"])
    assert path.read_text() == "ab"
    write_atomic(path, [b"x", memoryview(b"[yz]")[1:-1], "é".encode()])
    assert path.read_text(encoding="utf-8") == "xyzé"
    assert os.listdir(tmp_path) == ["f.json"]


def test_dumps_plain_agrees_with_is_plain():
    from sacred.observers._jsonio import NotPlain, dumps_plain

    shared = {"x": 1}
    for obj in CASES + [{"a": (1,)}, {"a": shared, "b": shared}, [[], []], {"p": {"py/id": 1}}]:
        try:
            text = dumps_plain(obj)
        except NotPlain:
            assert not is_plain(obj)
        else:
            assert is_plain(obj)
            assert text == json.dumps(obj, sort_keys=True, indent=2)


def _fixed_reference(stamps):
    return "".join(t.isoformat(timespec="microseconds") for t in stamps).encode("ascii")


@pytest.mark.parametrize(
    "per_second",
    [1 / 3600, 0.5, 4, 7, 8, 1000, 27_000],  # sparse to dense (a format a second)
)
def test_isoformat_items_fixed_for_naive_datetimes(per_second):
    rng = random.Random(int(per_second * 10))
    base = datetime.datetime(2026, 12, 31, 23, 59, 58)
    stamps = sorted(
        base + datetime.timedelta(seconds=rng.uniform(0, 2000 / per_second)) for _ in range(2000)
    )
    stamps[7] = stamps[7].replace(microsecond=0)
    stamps.sort()
    text, fixed = isoformat_items_fixed(stamps, 3)
    assert text == iso_reference(stamps)
    assert fixed == _fixed_reference(stamps)
    assert len(fixed) == 26 * len(stamps)
    rng.shuffle(stamps)  # not sorted: still right
    text, fixed = isoformat_items_fixed(stamps, 2)
    assert (text, fixed) == (iso_reference(stamps, 2), _fixed_reference(stamps))


@pytest.mark.parametrize(
    "zeros", [[0], [1999], [0, 1, 2], random.Random(3).sample(range(2000), 64), range(2000)]
)
def test_isoformat_items_fixed_writes_out_zero_fractions(zeros):
    base = datetime.datetime(2026, 11, 28, 3, 0, 0, 1)
    stamps = [base + datetime.timedelta(microseconds=999_983 * i) for i in range(2000)]
    for i in zeros:
        stamps[i] = stamps[i].replace(microsecond=0)
    text, fixed = isoformat_items_fixed(stamps, 3)
    assert (text, fixed) == (iso_reference(stamps), _fixed_reference(stamps))


@pytest.mark.parametrize(
    "stamps",
    [
        [datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)],
        [
            datetime.datetime(2020, 1, 1),
            datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc),
        ],
        [datetime.datetime(2020, 1, 1), "2020-01-01T00:00:00"],
        [datetime.date(2020, 1, 1)],
    ],
)
def test_isoformat_items_fixed_is_none_for_other_timestamps(stamps):
    text, fixed = isoformat_items_fixed(stamps, 3)
    expected = encode_items([t if type(t) is str else t.isoformat() for t in stamps], 3)
    assert text == expected.encode()
    assert fixed is None


def test_isoformat_items_fixed_of_nothing():
    assert isoformat_items_fixed([], 3) == (b"", b"")


def _items_reference(values, level):
    return json.dumps(values, separators=(",\n" + "  " * level, ": ")).encode()[1:-1]


FLOAT_EDGES = [
    1e-4, 9.999999999999999e-05, 1e-5, 1.5e-7, 1e-7, 1.2345e-10, 5e-324, 1e-100, 0.0, -0.0,
    10.00001, 100.00001, 1.00001, -0.00001, -1.5e-07, 1e15, 1e16, 1.2345678901234567e17,
    1.7976931348623157e308, 2.0**60, 0.1, 1 / 3,
]  # fmt: skip


@pytest.mark.parametrize("level", [1, 3])
def test_scalar_items_bytes_of_floats_are_repr_exactly(level):
    rng = random.Random(level)
    for values in (
        FLOAT_EDGES * 3,  # a few small ones: fixed up one by one
        [rng.random() for _ in range(5000)],  # a few below 1e-4 by chance
        [rng.uniform(-1, 1) * 10.0 ** rng.randint(-12, 20) for _ in range(5000)],  # many
        [rng.uniform(0, 1e-5) for _ in range(500)],  # all small
        [0.5, float("nan"), 1.0, 2.0, 3.0, 4.0] * 2,  # (orjson is tried from 9 items on)
        [0.5, float("inf"), -float("inf"), 1.0, 2.0, 3.0] * 2,
        [1, 2.5, True, None, False, 3, 4.0] * 2,
        [2**64, 1.5, 2, 3, 4, 5] * 2,  # beyond orjson's ints
        [-(2**63), 2**64 - 1, 0, 1, 2, 3] * 2,
    ):
        kinds = set(map(type, values))
        assert bytes(scalar_items_bytes(values, level, kinds)) == _items_reference(values, level)


def test_dumps_of_scalar_containers_with_text_and_floats():
    more = {f"k{i}": i * 1.5 for i in range(10)}  # orjson is tried from 9 items on
    for obj in (
        {"a": ["x,y", "z", "é", "w", "v", "u"] * 2},
        {"a": ["\x7f", "a", "b", "c", "d", "e"] * 2},
        {"a": ["0.00001", 1e-5, "b", "c", "d", "e"] * 2},
        {"a": ["null", 1.5, "b", "c", "d", "e"] * 2},
        {"a": [None, 1.5, 2.5, 3.5, 4.5, 5.5] * 2},
        {"a": {"k1": 1e-5, "k2": 2.0, "k3": None, "k4": "s", "k5": 10**30, **more}},
        {"a": {"b": 1, "a": 2, "d": 3.5, "c": "x", "e": True, "f": None, **more}},
        {"a": {1: "x", 2: "y", 3: "z", 4: "w", 5: "v", 6: 1, 7: 2, 8: 3, 9: 4, 10: 5}},
        {"a": {"é": 1.5, **more}},  # keys escaped too
        {"a": {"\x7f": 1, **more}},
        {"a": {"e-1": 1.5, "0.00001": 2.5, "null": 3.5, **more}},
        {"a": {"x": 1e-5, **more}},
        [[1.0, 2.0, 3.0, 4.0, 5.0, 1e-05] * 2],
    ):
        assert dumps(obj) == json.dumps(obj, sort_keys=True, indent=2)


def test_orjson_text_is_used_where_it_is_the_same(encoder):
    fast = _jsonio._fast_scalars
    rng = random.Random(0)
    used = [
        fast([rng.random() for _ in range(100)] + [1e-5, 1.5e-7], 3, {float}),
        fast(list(range(100)), 3, {int}),
        fast({f"k{i}": "v" for i in range(20)}, 1, {str}),
        fast(["a,b"] * 20, 2, {str}),
    ]
    assert all(text is not None for text in used) == (encoder == "orjson")
    for obj, kinds in (
        ([1.5, float("nan")] * 10, {float}),
        ([1.5, None] * 10, {float, type(None)}),
        (["é"] * 20, {str}),
        ({"é": 1} | {f"k{i}": 1 for i in range(20)}, {int}),
        ([2**64] * 20, {int}),
        ([1e-5] * 100, {float}),  # many to fix up: the standard encoder is cheaper
    ):
        assert fast(obj, 1, kinds) is None


def random_plain(rng, depth=0):
    """Plain data (str keys, no NaN) with text that looks like numbers."""
    kind = rng.choice(
        ["float", "small", "int", "str", "none", "bool", "list", "dict"][: 6 + 2 * (depth < 4)]
    )
    if kind == "float":
        return rng.uniform(-1, 1) * 10.0 ** rng.randint(-3, 20)
    if kind == "small":
        return rng.choice([1, -1]) * rng.random() * 10.0 ** rng.randint(-12, -5)
    if kind == "int":
        return rng.randint(-(10**15), 10**15)
    if kind == "str":
        return rng.choice(["x", " 0.00001", " 1e-7", ", 0.00001,", "é", "null", "a\nb", ""])
    if kind == "none":
        return None
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "list":
        return [random_plain(rng, depth + 1) for _ in range(rng.randint(0, 6))]
    keys = ["a", "b", " 0.00001", "1e-7", "null", "k"]
    return {
        rng.choice(keys) + str(i): random_plain(rng, depth + 1) for i in range(rng.randint(0, 6))
    }


def test_dumps_plain_on_random_nested_data():
    rng = random.Random(7)
    for _ in range(400):
        obj = {"top": [random_plain(rng) for _ in range(3)], "x": random_plain(rng)}
        assert _jsonio.dumps_plain(obj) == json.dumps(obj, sort_keys=True, indent=2)
        seen = set()
        text = _jsonio.dumps_plain_at(obj, 2, seen)
        assert text == json.dumps(obj, sort_keys=True, indent=2).replace("\n", "\n    ")


def test_dumps_plain_takes_orjson_for_plain_nested_data_only(encoder):
    records = [{"epoch": i, "lr": 1e-5 * i, "tags": ["a"], "s": {"m": -1.5e-7}} for i in range(50)]
    assert _jsonio._fast_plain(records, 1, set()) is not None or encoder != "orjson"
    shared = {"x": 1}
    for obj in (
        [{"a": 1.5, "b": float("nan")}],  # null would be written
        [{"a": 1.5, "b": float("inf")}, {"c": None}],
        [{"py/object": "x"}],  # a jsonpickle tag
        [shared, shared],  # jsonpickle would write a reference
        [{"a": (1, 2)}],
        [{1: "x"}],
        [{"a": [2**64]}],
        [{"é": [1]}],
    ):
        seen = set()
        assert _jsonio._fast_plain(obj, 1, seen) is None
        assert seen == set()
        try:
            text = _jsonio.dumps_plain(obj)
        except _jsonio.NotPlain:
            assert not is_plain(obj)
        else:
            assert text == json.dumps(obj, sort_keys=True, indent=2)
    outer = {"k": 1}
    seen = set()
    _jsonio.dumps_plain_at([outer], 1, seen)  # containers of one value...
    with pytest.raises(_jsonio.NotPlain):
        _jsonio.dumps_plain_at([[outer]], 1, seen)  # ...shared by the next one
