"""GoogleCloudStorageObserver against the GCS server of scripts/services.sh on 127.0.0.1."""

import datetime
import hashlib
import json
import subprocess
import sys
import uuid

import pytest

from sacred.observers.gcs_observer import (
    DEFAULT_GCS_PRIORITY,
    GoogleCloudStorageObserver,
    gcs_option,
)
from tests.services import service_url

T0 = datetime.datetime(2026, 11, 27, 22, 43, 50, 227301)
T1 = datetime.datetime(2026, 11, 27, 22, 43, 51, 231358)
HOST = {"hostname": "vm", "os": ["Linux", "Linux-6"], "python_version": "3.11.7", "cpu": "x"}
BAD = "Your chosen bucket name doesn't follow Google Cloud Storage bucket naming rules: "


@pytest.fixture
def gcs_url(monkeypatch):
    url = service_url("SACRED_TEST_GCS_URL")
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", url)
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    return url


@pytest.fixture
def gcs_client(gcs_url):
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    return storage.Client(project="sacred-test", credentials=AnonymousCredentials())


@pytest.fixture
def bucket():
    return f"sacred-test-{uuid.uuid4().hex[:16]}"


def blob(client, bucket, key):
    found = client.bucket(bucket).get_blob(key)
    assert found is not None, f"{key} missing"
    return found


def get(client, bucket, key):
    return blob(client, bucket, key).download_as_bytes()


def get_json(client, bucket, key):
    return json.loads(get(client, bucket, key))


def keys(client, bucket):
    return sorted(b.name for b in client.list_blobs(bucket))


@pytest.fixture
def source_file(tmp_path):
    path = tmp_path / "demo.py"
    path.write_text("print('demo')\n")
    return path


def start(obs, source_file, _id=None):
    return obs.started_event(
        ex_info={
            "name": "demo",
            "base_dir": str(source_file.parent),
            "sources": [("demo.py", "x")],
            "dependencies": [],
            "repositories": [],
            "mainfile": "demo.py",
        },
        command="main",
        host_info=HOST,
        start_time=T0,
        config={"a": 1},
        meta_info={},
        _id=_id,
    )


@pytest.mark.parametrize(
    "name, problem",
    [
        ("gs://bucket", "Bucket names must not start with gs://"),
        ("ab", "Bucket names must contain 3-63 characters"),
        ("a" * 64, "Bucket names must contain 3-63 characters"),
        ("MyBucket", "Bucket names must not contain uppercase letters"),
        ("a..b", "Bucket names must not contain '..'"),
        ("googlebucket", "Bucket names must not contain 'goog' or 'g00g'"),
        ("my-g00g-bucket", "Bucket names must not contain 'goog' or 'g00g'"),
        ("192.168.5.4", "Bucket names must not be IP addresses"),
        (
            "-abc",
            "Bucket names must start and end with a letter or digit and contain only "
            "a-z, 0-9, '-', '_' and '.'",
        ),
    ],
)
def test_bad_bucket_names(name, problem, gcs_url):
    with pytest.raises(ValueError) as e:
        GoogleCloudStorageObserver(name, "exp")
    assert str(e.value) == BAD + problem


def test_missing_credentials_raise_connection_error(monkeypatch, tmp_path):
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path))  # no gcloud credentials either
    monkeypatch.setenv("GCE_METADATA_HOST", "127.0.0.1:9")  # and no metadata server
    monkeypatch.setenv("GCE_METADATA_IP", "127.0.0.1:9")
    with pytest.raises(ConnectionError) as e:
        GoogleCloudStorageObserver("my-bucket", "exp")
    assert str(e.value).endswith("GOOGLE_APPLICATION_CREDENTIALS?")


def test_attributes_and_equality(gcs_client, bucket):
    obs = GoogleCloudStorageObserver(bucket, "exp", client=gcs_client)
    assert (obs.bucket_id, obs.basedir, obs.priority) == (bucket, "exp", DEFAULT_GCS_PRIORITY)
    assert (obs.resource_dir, obs.source_dir) == ("exp/_resources", "exp/_sources")
    assert obs == GoogleCloudStorageObserver(bucket, "exp", client=gcs_client)
    assert obs != GoogleCloudStorageObserver(bucket, "other", client=gcs_client)


def test_importing_the_module_does_not_import_google_cloud():
    code = "import sacred.observers.gcs_observer, sys; print('google.cloud' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr


def test_events_are_stored_in_the_file_storage_layout(gcs_client, bucket, source_file, tmp_path):
    obs = GoogleCloudStorageObserver(bucket, "runs/exp", client=gcs_client)
    assert start(obs, source_file) == 1
    assert (
        start(GoogleCloudStorageObserver(bucket, "runs/exp", client=gcs_client), source_file) == 2
    )
    with pytest.raises(FileExistsError) as e:
        start(GoogleCloudStorageObserver(bucket, "runs/exp", client=gcs_client), source_file, 2)
    assert str(e.value) == "GCS dir at runs/exp/2 already exists"

    obs.log_metrics({"acc": {"steps": [1], "values": [0.5], "timestamps": [T1]}}, {})
    obs.heartbeat_event(info={"i": 1}, captured_out="one\n", beat_time=T1, result=None)
    obs.heartbeat_event(info={"i": 2}, captured_out="one\ntwo\n", beat_time=T1, result=None)
    artifact = tmp_path / "plot.png"
    artifact.write_bytes(b"\x89PNG")
    obs.artifact_event(name="plot.png", filename=str(artifact), content_type="image/png")
    obs.completed_event(stop_time=T1, result={"r": 1})

    md5 = hashlib.md5(source_file.read_bytes()).hexdigest()
    assert f"runs/exp/_sources/demo_{md5}.py" in keys(gcs_client, bucket)
    run = get_json(gcs_client, bucket, "runs/exp/1/run.json")
    assert run["experiment"]["sources"] == [["demo.py", f"_sources/demo_{md5}.py"]]
    assert (run["status"], run["result"], run["artifacts"]) == (
        "COMPLETED",
        {"r": 1},
        ["plot.png"],
    )
    assert blob(gcs_client, bucket, "runs/exp/1/run.json").content_type == "text/json"
    assert get(gcs_client, bucket, "runs/exp/1/cout.txt") == b"one\ntwo\n"
    assert blob(gcs_client, bucket, "runs/exp/1/cout.txt").content_type == "text/plain"
    assert get_json(gcs_client, bucket, "runs/exp/1/info.json") == {"i": 2}
    assert get_json(gcs_client, bucket, "runs/exp/1/config.json") == {"a": 1}
    assert get_json(gcs_client, bucket, "runs/exp/1/metrics.json") == {
        "acc": {"steps": [1], "values": [0.5], "timestamps": ["2026-11-27T22:43:51.231358"]}
    }
    assert get(gcs_client, bucket, "runs/exp/1/plot.png") == b"\x89PNG"


def make_experiment(tmp_path):
    from sacred import Experiment

    ex = Experiment("gcsdemo", base_dir=str(tmp_path), additional_cli_options=[gcs_option])

    @ex.config
    def cfg():
        n = 2  # noqa: F841

    @ex.main
    def main(n, _run):
        for i in range(n):
            print(f"step {i}")
            _run.log_scalar("loss", float(i), i)
        return n + 1

    return ex


def test_experiment_run_is_stored_and_read_back(gcs_client, bucket, tmp_path):
    ex = make_experiment(tmp_path)
    ex.observers.append(GoogleCloudStorageObserver(bucket, "exp", client=gcs_client))
    run = ex.run(config_updates={"n": 3}, options={"--capture": "sys"})
    assert run._id == 1
    stored = get_json(gcs_client, bucket, "exp/1/run.json")
    assert stored["status"] == "COMPLETED" and stored["result"] == 4
    assert stored["experiment"]["name"] == "gcsdemo"
    assert get(gcs_client, bucket, "exp/1/cout.txt") == b"step 0\nstep 1\nstep 2\n"
    assert get_json(gcs_client, bucket, "exp/1/metrics.json")["loss"]["values"] == [0, 1, 2]


def test_gcs_option_through_additional_cli_options(gcs_url, gcs_client, bucket, tmp_path):
    gcs_client.create_bucket(bucket)  # the option's client uses the emulator from the env
    ex = make_experiment(tmp_path)
    run = ex.run_commandline(["demo.py", "-C", "sys", "-G", f"gs://{bucket}/cli", "with", "n=1"])
    assert run.result == 2
    stored = get_json(gcs_client, bucket, f"cli/{run._id}/run.json")
    assert stored["meta"]["options"]["--gcs"] == f"gs://{bucket}/cli"
    assert get(gcs_client, bucket, f"cli/{run._id}/cout.txt") == b"step 0\n"


def test_missing_library_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "google.cloud.storage", None)
    with pytest.raises(ImportError, match=r'pip install "sacred\[gcs\]"'):
        GoogleCloudStorageObserver("my-bucket", "exp")
