"""Values come back as they went in: numpy and pandas values, datetimes, tuples, int keys
(see tests/sacred/store/test_stored_data_safety.py for the values and their equality), and
non-ASCII text in config, output, metric names and artifact names."""

import datetime as dt
import warnings

import pytest

from sacred import Experiment
from sacred.safe_restore import UnsafeDataWarning
from tests.conformance.backends import ids, kinds
from tests.sacred.store.test_stored_data_safety import TINYDB_KEEPS, _assert_same, _rich

np = pytest.importorskip("numpy")
pd = pytest.importorskip("pandas")

TINYDB_TYPES = (
    "the TinyDbObserver writes through tinydb-serialization, as the original does: it has "
    "serializers for datetimes, arrays, DataFrames and Series only, so numpy scalars, dates, "
    "timedeltas, tuples and int keys cannot be stored (the original fails alike)"
)


def _config(every_backend=False):
    """Config values a config scope keeps (numpy scalars become Python numbers there);
    ``every_backend``: only those TinyDB holds too (arrays lose their dtype there)."""
    config = {
        "array": np.arange(6, dtype=np.float64).reshape(2, 3),
        "when": dt.datetime(2026, 12, 7, 8, 30, 1, 250000),
        "frame": pd.DataFrame({"lr": [0.1, 0.01], "name": ["a", "b"]}),
        "scalar": np.float64(0.25),  # a float in the config
    }
    if not every_backend:
        config.update(ints=np.arange(4, dtype=np.int32), pair=(1, "two"), by_int={1: "one"})
    return config


def _run_with(backend, values, every_backend=False):
    ex = Experiment("values")
    ex.add_config(_config(every_backend))

    @ex.main
    def main(_run):
        _run.info["rich"] = values
        return values

    ex.observers.append(backend.observer())
    return ex.run(options={"--capture": "sys"})


def _read(backend, run_id):
    with backend.store() as store, warnings.catch_warnings():
        warnings.simplefilter("error", UnsafeDataWarning)  # Sacred's own values are safe
        return store.get(run_id), store.find()[0], store.summaries(fields=["config"])[0]


def _check(backend, run, values, every_backend=False):
    record, found, summary = _read(backend, run._id)
    for got in (record, found):
        _assert_same(got["result"], values, "result")
        _assert_same(got["info"]["rich"], values, "info.rich")
    want_config = dict(_config(every_backend), scalar=0.25)
    if not every_backend:  # a config scope keeps tuples as lists
        want_config["pair"] = [1, "two"]
    for got in (record, found, summary):
        _assert_same({k: got["config"][k] for k in want_config}, want_config, "config")


@pytest.mark.parametrize("kind", kinds(tinydb=TINYDB_TYPES))
def test_numpy_and_pandas_values_come_back_equal(backend):
    values = _rich()
    run = _run_with(backend, values)
    _check(backend, run, values)


@pytest.mark.parametrize("kind", kinds())
def test_values_every_backend_holds_come_back_equal(backend):
    """Float arrays, datetimes and DataFrames: the values TinyDB can hold too."""
    values = {k: v for k, v in _rich().items() if k in TINYDB_KEEPS}
    values["array"] = values["array"].astype(np.float64)
    run = _run_with(backend, values, every_backend=True)
    _check(backend, run, values, every_backend=True)


NON_ASCII_CONFIG = {"größe": "日本語 ✓", "naïve": ["🚀", "ß"], "ключ": {"値": "Ωμέγα"}}
NON_ASCII_OUTPUT = "Grüße, 世界 🚀\nçà et là – ok\n"
NON_ASCII_METRICS = {"verlust_ü": [0.5, 0.25], "損失": [3.0, 2.0, 1.0]}
NON_ASCII_ARTIFACTS = {"modèle_ü.txt": "poids: ½\n".encode(), "データ.csv": "x,ü\n1,2\n".encode()}


@pytest.mark.parametrize("kind", kinds())
def test_non_ascii_config_output_metrics_and_artifacts(backend, tmp_path):
    ex = Experiment("ünïcode")
    ex.add_config(NON_ASCII_CONFIG)
    files = tmp_path / "files"
    files.mkdir()

    @ex.main
    def main(_run):
        print(NON_ASCII_OUTPUT, end="")
        for name, values in NON_ASCII_METRICS.items():
            for step, value in enumerate(values):
                _run.log_scalar(name, value, step)
        for name, content in NON_ASCII_ARTIFACTS.items():
            (files / name).write_bytes(content)
            # with a content type: the MongoObserver says nothing (see test_artifacts)
            _run.add_artifact(str(files / name), name, content_type="text/plain")

    ex.observers.append(backend.observer())
    run_id = ex.run(options={"--capture": "sys"})._id

    with backend.store() as store:
        record = store.get(run_id)
        assert {k: record["config"][k] for k in NON_ASCII_CONFIG} == NON_ASCII_CONFIG
        assert record["experiment"]["name"] == "ünïcode"
        assert record["captured_out"] == NON_ASCII_OUTPUT
        metrics = store.metrics(run_id)
        assert {name: m["values"] for name, m in metrics.items()} == NON_ASCII_METRICS
        assert sorted(store.artifacts(run_id)) == sorted(NON_ASCII_ARTIFACTS)
        for name, content in NON_ASCII_ARTIFACTS.items():
            with store.open_artifact(run_id, name) as f:
                assert f.read() == content, name
        for query in (
            "config.größe == '日本語 ✓'",
            "größe exists and naïve exists",
            "ключ.値 == 'Ωμέγα'",
            "metrics.損失.last == 1",
        ):
            assert ids(store.find_ids(query)) == ids([run_id]), query


# a name that is not UTF-8 as Python gives it (os.listdir, sys.argv: surrogateescape),
# which a stream with errors="surrogateescape" (a C locale, Python's UTF-8 mode) prints
NOT_UTF8 = "file: caf\udce9.txt\n"


@pytest.mark.parametrize("kind", kinds())
def test_output_that_is_not_utf8_is_kept(backend, monkeypatch):
    """Every store keeps the output of a run that printed text no UTF-8 encoder takes:
    U+FFFD in place of each such character, as ``--capture fd`` decodes such bytes, and
    the rest as printed."""
    import io

    terminal = io.TextIOWrapper(
        io.BytesIO(), encoding="utf-8", errors="surrogateescape", write_through=True
    )
    monkeypatch.setattr("sys.stdout", terminal)
    ex = Experiment("bytes")

    @ex.main
    def main():
        print("before")
        print(NOT_UTF8, end="")
        print("after ü")

    ex.observers.append(backend.observer())
    run = ex.run(options={"--capture": "sys"})
    assert terminal.buffer.getvalue() == b"before\nfile: caf\xe9.txt\nafter \xc3\xbc\n"
    with backend.store() as store:
        record = store.get(run._id)
    assert record["status"] == "COMPLETED"
    assert record["captured_out"] == "before\nfile: caf\ufffd.txt\nafter ü\n"


@pytest.mark.parametrize("kind", kinds())
def test_a_failure_naming_a_file_that_is_not_utf8_is_recorded(backend):
    ex = Experiment("bytes")

    @ex.main
    def main():
        raise FileNotFoundError("no such file: " + NOT_UTF8.split(": ")[1].strip())

    ex.observers.append(backend.observer())
    with pytest.raises(FileNotFoundError):
        ex.run(options={"--capture": "sys"})
    with backend.store() as store:
        (record,) = store.find()
    assert record["status"] == "FAILED"
    assert "FileNotFoundError: no such file: caf\ufffd.txt" in record["fail_trace"][-1]


@pytest.mark.parametrize("kind", kinds())
def test_metric_and_artifact_names_that_are_not_utf8_are_kept(backend, tmp_path):
    name = NOT_UTF8.split(": ")[1].strip()  # a file's name, as os.listdir gives it
    ex = Experiment("bytes")

    @ex.main
    def main(_run):
        _run.log_scalar("loss " + name, 1.0)
        path = tmp_path / "model.txt"
        path.write_bytes(b"weights")
        _run.add_artifact(str(path), name, content_type="text/plain")

    ex.observers.append(backend.observer())
    run = ex.run(options={"--capture": "sys"})
    with backend.store() as store:
        assert store.get(run._id)["status"] == "COMPLETED"
        assert {k: m["values"] for k, m in store.metrics(run._id).items()} == {
            "loss caf\ufffd.txt": [1.0]
        }
        assert store.artifacts(run._id) == ["caf\ufffd.txt"]
        with store.open_artifact(run._id, "caf\ufffd.txt") as f:
            assert f.read() == b"weights"


@pytest.mark.parametrize("kind", kinds())
def test_boolean_metric_values_are_kept(backend):
    """``log_scalar("converged", True)``: every store keeps the points (as True/False or
    1.0/0.0; PostgreSQL refused them)."""
    ex = Experiment("flags")

    @ex.main
    def main(_run):
        _run.log_scalar("converged", False)
        _run.log_scalar("converged", np.bool_(True))

    ex.observers.append(backend.observer())
    run = ex.run(options={"--capture": "sys"})
    with backend.store() as store:
        metric = store.metrics(run._id)["converged"]
    assert metric["steps"] == [0, 1]
    assert [float(v) for v in metric["values"]] == [0.0, 1.0]
