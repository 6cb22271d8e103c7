"""Reading a store never runs code planted in it, and rebuilds Sacred's own tagged values.

Every backend is tested the same way: a real run is stored, then its stored config, info and
result are overwritten in the backend's own format with payloads that jsonpickle would execute.
Reading the run back (``get``, ``find``, ``summaries``) must leave them as inert data, with a
warning that names the field. Round trips check that numpy, pandas, datetimes, tuples and int
keys come back equal on every backend.
"""

import datetime as dt
import json
import os
import warnings

import pytest

from sacred import Experiment
from sacred.safe_restore import UnsafeDataWarning
from sacred.serializer import flatten
from tests.sacred.store.conftest import STORE_KINDS

np = pytest.importorskip("numpy")
pd = pytest.importorskip("pandas")


def _payloads(marker):
    """Flattened values that make jsonpickle create ``marker`` (each its own file)."""

    def system(n):
        return {"py/reduce": [{"py/function": "os.system"}, {"py/tuple": [f"touch {marker}{n}"]}]}

    return {
        "reduce": system(1),
        "function": {"py/function": "os.system"},
        "type": {"py/type": "subprocess.Popen"},
        "popen": {
            "py/object": "subprocess.Popen",
            "py/newargs": {"py/tuple": [["touch", f"{marker}2"]]},
        },
        "repr": {"py/repr": f"os/os.system('touch {marker}3')"},
        "key": {"json://" + json.dumps(system(4)): 1},
        "in_array": {"py/object": "numpy.ndarray", "dtype": "object", "values": [system(5)]},
        "in_frame": {
            "py/object": "pandas.DataFrame",
            "values": json.dumps({"a": [json.dumps(system(6))]}),
            "txt": True,
            "meta": {"dtypes_rle": [["py/jp", 1]], "index": "[0]", "columns": '["a"]'},
        },
        "in_datetime": {
            "py/object": "datetime.datetime",
            "__reduce__": [{"py/type": "datetime.datetime"}, ["B+oMBwcfOwAAew==", system(7)]],
        },
    }


def _run_once(make_observer, tmp_path, main):
    ex = Experiment("planted")

    @ex.config
    def cfg():
        n = 1  # noqa: F841

    ex.main(main)
    ex.observers.append(make_observer(tmp_path))
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        return ex.run(options={"--capture": "sys"})
    finally:
        os.chdir(cwd)


def _plant(kind, tmp_path, run_id, config, info, result):
    """Overwrite the stored config, info and result of run ``run_id`` in the backend itself."""
    if kind == "file":
        folder = tmp_path / "runs" / str(run_id)
        (folder / "config.json").write_text(json.dumps(config))
        (folder / "info.json").write_text(json.dumps(info))
        run = json.loads((folder / "run.json").read_text())
        run["result"] = result
        (folder / "run.json").write_text(json.dumps(run))
    elif kind in ("sqlite", "postgresql"):
        import sqlalchemy as sa

        from tests.sacred.store.conftest import _postgres_url, _sqlite_url

        url = _sqlite_url(tmp_path) if kind == "sqlite" else _postgres_url(tmp_path)
        engine = sa.create_engine(url)
        with engine.begin() as con:
            con.execute(
                sa.text("update run set config=:c, info=:i, result_json=:r"),  # the only run
                {"c": json.dumps(config), "i": json.dumps(info), "r": json.dumps(result)},
            )
        engine.dispose()
    elif kind == "mongomock":
        from tests.sacred.store.conftest import _mongomock_client

        runs = _mongomock_client(tmp_path)["sacred_store"]["runs"]
        runs.update_one(
            {"_id": run_id}, {"$set": {"config": config, "info": info, "result": result}}
        )
    elif kind == "tinydb":
        path = tmp_path / "tinydb" / "metadata.json"
        db = json.loads(path.read_text())
        for entry in db["runs"].values():
            entry.update(config=config, info=info, result=result)
        path.write_text(json.dumps(db))
    elif kind in ("s3", "gcs"):
        from tests.sacred.store.conftest import object_bucket

        bucket = object_bucket(kind, tmp_path)
        folder = f"runs/{run_id}"
        bucket.put(f"{folder}/config.json", json.dumps(config).encode())
        bucket.put(f"{folder}/info.json", json.dumps(info).encode())
        run = json.loads(bucket.read(f"{folder}/run.json")[0])
        run["result"] = result
        bucket.put(f"{folder}/run.json", json.dumps(run).encode())
    else:  # a new backend must say how to plant data in it
        raise AssertionError(f"no planting for {kind}")


@pytest.mark.parametrize("kind", sorted(STORE_KINDS))
def test_planted_payloads_stay_inert_on_every_store(kind, tmp_path):
    make_observer, open_store = STORE_KINDS[kind]
    marker = str(tmp_path / "pwned")
    run = _run_once(make_observer, tmp_path, lambda: 1)
    payloads = _payloads(marker)
    _plant(kind, tmp_path, run._id, {"n": payloads}, {"x": payloads}, payloads["reduce"])

    store = open_store(tmp_path)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            records = [store.get(run._id), *store.find(), *store.summaries(fields=())]
    finally:
        store.close()

    assert not [f for f in os.listdir(tmp_path) if f.startswith("pwned")]
    record = records[0]
    assert record["result"] == payloads["reduce"]  # kept as the data it is
    for name in ("reduce", "function", "type", "popen", "repr", "key", "in_datetime"):
        assert record["config"]["n"][name] == payloads[name], name
        assert record["info"]["x"][name] == payloads[name], name
    messages = {str(w.message) for w in caught if w.category is UnsafeDataWarning}
    assert any(m.startswith("config.n.") and "os.system" in m for m in messages), messages
    assert any(m.startswith("info.x.") for m in messages), messages
    assert any(m.startswith("result: 'py/reduce' of os.system") for m in messages), messages


# The TinyDbObserver writes through tinydb-serialization, as the original does: it has
# serializers for datetimes, arrays, DataFrames and Series only, and json.dumps turns tuples
# into lists and int keys into strings. Other values make the original's observer fail too.
TINYDB_KEEPS = ("array", "big_array", "when", "frame")


def _rich(kind=None):
    values = {
        "array": np.arange(12, dtype=np.float32).reshape(3, 4),
        "big_array": np.linspace(0, 1, 100).reshape(10, 10),
        "int64": np.int64(7),
        "float64": np.float64(0.25),
        "when": dt.datetime(2026, 12, 7, 8, 30, 1, 250000),
        "day": dt.date(2026, 1, 2),
        "span": dt.timedelta(days=1, seconds=5),
        "pair": (1, "two", (3.0,)),
        "by_int": {1: "one", 2: "two"},
        "frame": pd.DataFrame({"lr": [0.1, 0.01], "acc": [0.8, 0.9], "name": ["a", "b"]}),
    }
    if kind == "tinydb":  # arrays are JSON lists there: their dtype is not kept
        values = {k: v for k, v in values.items() if k in TINYDB_KEEPS}
        values["array"] = values["array"].astype(np.float64)
    return values


def _assert_same(got, want, path="value"):
    if isinstance(want, pd.DataFrame):
        pd.testing.assert_frame_equal(got, want, check_dtype=False)
        assert list(got.columns) == list(want.columns)
    elif isinstance(want, np.ndarray):
        assert isinstance(got, np.ndarray), path
        assert got.dtype == want.dtype and got.shape == want.shape, path
        np.testing.assert_array_equal(got, want)
    elif isinstance(want, dict):
        assert isinstance(got, dict) and set(got) == set(want), (path, got)
        for key in want:
            _assert_same(got[key], want[key], f"{path}.{key}")
    else:
        assert type(got) is type(want) and got == want, (path, got, want)


@pytest.mark.parametrize("kind", sorted(STORE_KINDS))
def test_sacreds_own_tagged_values_round_trip_on_every_store(kind, tmp_path):
    make_observer, open_store = STORE_KINDS[kind]

    def main(_run):
        _run.info["rich"] = _rich(kind)
        return _rich(kind)

    run = _run_once(make_observer, tmp_path, main)
    store = open_store(tmp_path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", UnsafeDataWarning)
            record = store.get(run._id)
            found = store.find()[0]
    finally:
        store.close()
    _assert_same(record["result"], _rich(kind), "result")
    _assert_same(record["info"]["rich"], _rich(kind), "info.rich")
    _assert_same(found["result"], _rich(kind), "result")


def test_what_sacred_writes_is_what_the_safe_decoder_reads():
    """Every allowed form, as jsonpickle writes it today, comes back like jsonpickle's own."""
    from sacred.safe_restore import safe_restore
    from sacred.serializer import restore

    values = _rich()
    values.update(
        set_={1, 2},
        bytes_=b"\x00\xff",
        bool_=np.bool_(True),
        strings=np.array(["a", "bc"]),
        objects=np.array([1, "a", None], dtype=object),
        view=np.arange(100)[::3],
        structured=np.array([(1, 2.0)] * 20, dtype=[("a", "i4"), ("b", "f8")]),
        aware=dt.datetime(2026, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=2), "X")),
        time_=dt.time(1, 2, 3),
        series=pd.Series([1.0, 2.0], index=["a", "b"], name="s"),
        stamp=pd.Timestamp("2020-01-01 10:00"),
        index=pd.date_range("2020-01-01", periods=3),
        datetime64=np.datetime64("2020-01-01"),
        complex_=1 + 2j,
        float_key={1.5: "x", (1, 2): "y"},
    )
    flat = json.loads(json.dumps(flatten(values)))
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnsafeDataWarning)
        safe = safe_restore(flat, "info")
    trusted = restore(flat)
    assert set(safe) == set(trusted)
    for key, want in trusted.items():
        got = safe[key]
        if isinstance(want, (pd.Series, pd.Index)):
            assert want.equals(got) and type(got) is type(want), key
        elif isinstance(want, (pd.DataFrame, np.ndarray, dict)):
            _assert_same(got, want, key)
        else:
            assert type(got) is type(want) and got == want, key


def test_the_sqlite_repro_reads_safely_in_the_cli_and_the_dashboard(tmp_path):
    """The review's repro: a config planted with sqlite3, then `sacred runs list/show`,
    `open_store(...).find()` and the dashboard's /api/run."""
    import subprocess
    import sys

    pytest.importorskip("sqlalchemy")
    pytest.importorskip("flask")
    import sqlite3

    from sacred.store import open_store
    from sacredboard.app import create_app

    marker = tmp_path / "pwned"
    db = tmp_path / "r.db"
    url = f"sqlite:///{db}"
    run = _run_once(STORE_KINDS["sqlite"][0], tmp_path, lambda: 1)
    payload = {"py/reduce": [{"py/function": "os.system"}, {"py/tuple": [f"touch {marker}"]}]}
    with sqlite3.connect(str(tmp_path / "runs.db")) as con:
        con.execute("update run set config=?", (json.dumps({"n": payload}),))
    os.replace(tmp_path / "runs.db", db)

    for args in (["runs", "list", url], ["runs", "show", url, str(run._id)]):
        out = subprocess.run(
            [sys.executable, "-m", "sacred.cli", *args], capture_output=True, text=True
        )
        assert out.returncode == 0, out.stderr
        assert "Traceback" not in out.stderr
        assert not marker.exists(), args
    with pytest.warns(UnsafeDataWarning, match=r"config\.n: 'py/reduce' of os\.system"):
        records = open_store(url).find()
    assert records[0]["config"]["n"] == payload
    client = create_app(url).test_client()
    with pytest.warns(UnsafeDataWarning):
        answer = client.get(f"/api/run/{run._id}")
    assert answer.status_code == 200
    assert not marker.exists()
