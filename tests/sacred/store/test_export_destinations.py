"""`sacred export` creates its destination as the observers would: a new TinyDB folder, a new
prefix in an existing bucket (S3, GCS); a missing bucket is a one-line error naming it."""

import json
import os
import subprocess
import sys

import pytest

from sacred.store import open_store

from .conftest import _bucket_name, object_bucket


def sacred(*args, env=None):
    out = subprocess.run(
        [sys.executable, "-m", "sacred.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )
    return out.returncode, out.stdout, out.stderr


def _tinydb_libraries():
    pytest.importorskip("tinydb")
    pytest.importorskip("tinydb_serialization")
    pytest.importorskip("hashfs")


def _check_copy(location, ids=(1, 2, 3, 4, 5)):
    with open_store(location) as copy:
        assert sorted(copy.find_ids()) == list(ids)
        assert copy.metrics(1)["loss"]["values"] == [1.0, 0.5, 1 / 3]
        with copy.open_artifact(1, "model.txt") as f:
            assert f.read() == b"weights of a\n"


@pytest.mark.parametrize("nested", [False, True])
def test_export_into_a_new_tinydb_folder_creates_it(fresh_file_store, tmp_path, nested):
    _tinydb_libraries()
    _, runs = fresh_file_store
    folder = tmp_path / "new" / "deeper" if nested else tmp_path / "new"
    code, out, err = sacred("export", runs, f"tinydb://{folder}")
    assert (code, err) == (0, "")
    assert out.endswith("Copied 5 runs.\n")
    assert sorted(os.listdir(folder)) == ["hashfs", "metadata.json"]
    assert sorted(json.loads((folder / "metadata.json").read_text())) == ["metrics", "runs"]
    _check_copy(f"tinydb://{folder}")
    _check_copy(str(folder))  # the folder is a TinyDB store without the scheme too
    # and the TinyDbObserver's own reader sees the runs
    from sacred.observers.tinydb_hashfs.reader import TinyDbReader

    reader = TinyDbReader(str(folder))
    entries = reader.runs.all()
    assert sorted(e["_id"] for e in entries) == [1, 2, 3, 4, 5]
    first = next(i for i, e in enumerate(entries) if e["_id"] == 1)
    files = reader.fetch_files(indices=first)[0]
    assert files["artifacts"]["model.txt"].read() == b"weights of a\n"
    assert files["date"] == entries[first]["start_time"] and files["sources"]


def test_export_into_a_tinydb_folder_an_observer_made(fresh_file_store, tmp_path):
    _tinydb_libraries()
    from sacred.observers import TinyDbObserver

    _, runs = fresh_file_store
    TinyDbObserver(str(tmp_path / "db"))  # metadata.json is empty until a run is stored
    for location in (str(tmp_path / "db"), f"tinydb://{tmp_path / 'db'}"):
        code, out, err = sacred("export", runs, location, "--new-ids")
        assert (code, err) == (0, ""), location
        assert out.endswith("Copied 5 runs.\n")
    assert not (tmp_path / "db" / "1").exists()  # not a FileStorageObserver folder
    with open_store(str(tmp_path / "db")) as copy:
        assert len(copy.find_ids()) == 10


def test_export_back_from_tinydb(fresh_file_store, tmp_path):
    _tinydb_libraries()
    _, runs = fresh_file_store
    assert sacred("export", runs, f"tinydb://{tmp_path / 'db'}")[0] == 0
    code, out, err = sacred("export", f"tinydb://{tmp_path / 'db'}", str(tmp_path / "back"))
    assert (code, err) == (0, "")
    _check_copy(str(tmp_path / "back"))
    with open_store(runs) as a, open_store(str(tmp_path / "back")) as b:
        for run_id in a.find_ids():
            x, y = a.get(run_id), b.get(run_id)
            for field in ("config", "info", "result", "status", "start_time", "captured_out"):
                assert x.get(field) == y.get(field), (run_id, field)


# ---------------------------------------------------------------------- buckets
def _object_env(kind):
    from tests.services import service_url

    if kind == "s3":
        pytest.importorskip("boto3")
        return {
            "AWS_ENDPOINT_URL": service_url("SACRED_TEST_S3_URL"),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    pytest.importorskip("google.cloud.storage")
    return {"STORAGE_EMULATOR_HOST": service_url("SACRED_TEST_GCS_URL")}


SCHEMES = {"s3": "s3", "gcs": "gs"}


@pytest.mark.parametrize("kind", sorted(SCHEMES))
def test_export_into_a_new_prefix_of_an_existing_bucket(kind, fresh_file_store, tmp_path):
    env = _object_env(kind)
    _, runs = fresh_file_store
    bucket = object_bucket(kind, tmp_path)
    bucket.create_bucket()
    location = f"{SCHEMES[kind]}://{_bucket_name(kind, tmp_path)}/new/prefix"
    code, out, err = sacred("export", runs, location, env=env)
    assert (code, err) == (0, "")
    assert out.endswith("Copied 5 runs.\n")
    code, out, err = sacred("runs", "list", location, env=env)
    assert code == 0 and len(out.splitlines()) == 6


@pytest.mark.parametrize("kind", sorted(SCHEMES))
def test_export_into_a_missing_bucket_is_one_line(kind, fresh_file_store, tmp_path):
    env = _object_env(kind)
    _, runs = fresh_file_store
    name = _bucket_name(kind, tmp_path)  # never created
    code, out, err = sacred("export", runs, f"{SCHEMES[kind]}://{name}/runs", env=env)
    assert (code, out) == (1, "")
    assert err.startswith("sacred: error: There is no ") and err.count("\n") == 1
    assert f"bucket {name!r}" in err
    assert not object_bucket(kind, tmp_path).bucket_exists()  # not made either


def test_a_copy_under_a_new_id_says_where_it_came_from(fresh_file_store, tmp_path):
    _, runs = fresh_file_store
    target = str(tmp_path / "copy")
    assert sacred("export", runs, target, "-q", "tag == 'a'")[0] == 0
    with open_store(target) as copy:
        assert "exported_from" not in copy.get(1)["meta"]  # the same id: nothing to say
    code, out, _ = sacred("export", runs, target, "-q", "tag == 'a'", "--new-ids")
    assert (code, out) == (0, "run 1 -> 2\nCopied 1 run.\n")
    with open_store(target) as copy:
        assert copy.get(2)["meta"]["exported_from"] == {"store": runs, "id": 1}
