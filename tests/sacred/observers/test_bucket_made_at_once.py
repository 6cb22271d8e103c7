"""Runs that start at the same moment on a bucket that does not exist yet: each observer
finds no bucket and creates it, and all but the first are told that it exists already (GCS:
409 "You already own this bucket"; S3 outside us-east-1: BucketAlreadyOwnedByYou). The bucket
is there, so each run is stored with its own id, none goes to a journal."""

import datetime
import logging
import threading
import uuid

import pytest

from tests.services import service_url

HOST = {"hostname": "vm", "os": ["Linux", "Linux-6"], "python_version": "3.11.7", "cpu": "x"}


def start(obs, tmp_path):
    (tmp_path / "demo.py").write_text("print('demo')\n")
    return obs.started_event(
        ex_info={
            "name": "demo",
            "base_dir": str(tmp_path),
            "sources": [("demo.py", "x")],
            "dependencies": [],
            "repositories": [],
            "mainfile": "demo.py",
        },
        command="main",
        host_info=HOST,
        start_time=datetime.datetime(2026, 11, 27, 22, 43, 50),
        config={"seed": 1},
        meta_info={},
        _id=None,
    )


@pytest.fixture
def s3(monkeypatch, tmp_path):
    """(make an observer, make the bucket as another writer) on moto, outside us-east-1."""
    url = service_url("SACRED_TEST_S3_URL")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    import boto3

    from sacred.observers import S3Observer

    name, region = f"sacred-test-{uuid.uuid4().hex[:16]}", "eu-central-1"

    def observer():
        return S3Observer(
            name, "exp", region=region, endpoint_url=url, failure_dir=str(tmp_path / "j")
        )

    def make_bucket():
        boto3.client("s3", endpoint_url=url, region_name=region).create_bucket(
            Bucket=name, CreateBucketConfiguration={"LocationConstraint": region}
        )

    return observer, make_bucket


@pytest.fixture
def gcs(monkeypatch, tmp_path):
    """(make an observer, make the bucket as another writer) on the GCS server of the tests."""
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", service_url("SACRED_TEST_GCS_URL"))
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    from sacred.observers import GoogleCloudStorageObserver

    client = storage.Client(project="sacred-test", credentials=AnonymousCredentials())
    name = f"sacred-test-{uuid.uuid4().hex[:16]}"

    def observer():
        return GoogleCloudStorageObserver(
            name, "exp", client=client, failure_dir=str(tmp_path / "j")
        )

    return observer, lambda: client.create_bucket(name)


@pytest.mark.parametrize("kind", ["s3", "gcs"])
def test_bucket_made_by_another_run_between_look_and_create(kind, request, tmp_path, caplog):
    make_observer, make_bucket = request.getfixturevalue(kind)
    obs = make_observer()
    looked = obs._bucket.bucket_exists

    def look_then_lose_the_race():
        found = looked()
        make_bucket()  # another run that started at the same moment creates it now
        return found

    obs._bucket.bucket_exists = look_then_lose_the_race
    with caplog.at_level(logging.WARNING):
        assert start(obs, tmp_path) == 1
    assert "journal" not in caplog.text
    assert not (tmp_path / "j").exists()
    assert make_observer()._bucket.exists("exp/1/run.json")


@pytest.mark.parametrize("kind", ["s3", "gcs"])
def test_runs_in_threads_start_at_once_on_a_new_bucket(kind, request, tmp_path, caplog):
    make_observer = request.getfixturevalue(kind)[0]
    observers = [make_observer() for _ in range(4)]
    barrier, ids = threading.Barrier(len(observers)), []

    def one(obs):
        barrier.wait()
        ids.append(start(obs, tmp_path))

    with caplog.at_level(logging.WARNING):
        threads = [threading.Thread(target=one, args=(obs,)) for obs in observers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert None not in ids, caplog.text
    assert not (tmp_path / "j").exists()
    assert sorted(ids) == [1, 2, 3, 4]
