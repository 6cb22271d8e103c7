"""A run id the SQL schema cannot hold (``run.run_id`` is VARCHAR(24), as in the original):
an export gives the copy a number of the SQL store's, on SQLite and PostgreSQL alike, and the
copy records the id it had (``meta.exported_from``)."""

import subprocess
import sys

import pytest

pytest.importorskip("sqlalchemy")
pytest.importorskip("tinydb")
pytest.importorskip("tinydb_serialization")
pytest.importorskip("hashfs")

from sacred import Experiment  # noqa: E402
from sacred.observers import TinyDbObserver  # noqa: E402
from sacred.store import open_store  # noqa: E402
from sacred.store.cli import copy_runs  # noqa: E402

from .conftest import STORE_KINDS, _postgres_url, _sqlite_url  # noqa: E402

URLS = {"sqlite": _sqlite_url, "postgresql": _postgres_url}
SQL = [k for k in URLS if k in STORE_KINDS]


@pytest.fixture
def tinydb_runs(tmp_path):
    """A TinyDB folder with two runs (ids of 32 hex digits); returns its location."""
    folder = tmp_path / "tdb"
    for lr in (0.1, 0.2):
        ex = Experiment("long_ids")
        ex.add_config(lr=lr)

        @ex.main
        def main(_run, lr):
            _run.log_scalar("loss", lr)
            return lr * 2

        ex.observers.append(TinyDbObserver(str(folder)))
        ex.run(options={"--capture": "no"})
    return f"tinydb://{folder}"


@pytest.mark.parametrize("kind", SQL)
def test_tinydb_ids_get_numbers_in_sql(kind, tinydb_runs, tmp_path):
    url = URLS[kind](tmp_path)
    with open_store(tinydb_runs) as src:
        old_ids = src.find_ids()
        assert all(len(str(i)) == 32 for i in old_ids)
        if kind == "sqlite":
            open(url.split(":///", 1)[1], "ab").close()
        with open_store(url) as dst:
            copied = copy_runs(src, dst)
    assert [old for old, _ in copied] == old_ids
    assert sorted(new for _, new in copied) == [1, 2]
    with open_store(url) as copy:
        for old, new in copied:
            record = copy.get(new)
            assert record["meta"]["exported_from"] == {"store": tinydb_runs, "id": old}
            assert record["result"] == record["config"]["lr"] * 2
            assert copy.metrics(new)["loss"]["values"] == [record["config"]["lr"]]


@pytest.mark.parametrize("kind", SQL)
def test_the_cli_says_which_id_each_copy_got(kind, tinydb_runs, tmp_path):
    url = URLS[kind](tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "sacred.cli", "export", tinydb_runs, url],
        capture_output=True,
        text=True,
    )
    assert (done.returncode, done.stderr) == (0, "")
    with open_store(tinydb_runs) as src:
        old_ids = src.find_ids()
    assert done.stdout == "".join(f"run {old} -> {new}\n" for new, old in enumerate(old_ids, 1)) + (
        "Copied 2 runs.\n"
    )


def test_an_id_that_fits_is_kept(tmp_path):
    # 24 characters fit: kept, as every other id an SQL store can hold
    url = _sqlite_url(tmp_path)
    open(url.split(":///", 1)[1], "ab").close()
    with open_store(url) as dst:
        record = {"_id": "x" * 24, "experiment": {"name": "e"}, "status": "COMPLETED"}
        assert dst.import_run(dict(record)) == "x" * 24
        new = dst.import_run({**record, "_id": "y" * 25})
        assert isinstance(new, int)  # numbered by the store
        assert sorted(map(str, dst.find_ids())) == sorted([str(new), "x" * 24])
