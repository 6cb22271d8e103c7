"""S3Observer against moto's standalone S3 server (a real HTTP endpoint on 127.0.0.1)."""

import datetime
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import uuid

import pytest

from sacred.observers.s3_observer import DEFAULT_S3_PRIORITY, S3Observer, replay_fallback
from tests.services import service_url

T0 = datetime.datetime(2026, 11, 27, 22, 43, 50, 227301)
T1 = datetime.datetime(2026, 11, 27, 22, 43, 51, 231358)
T2 = datetime.datetime(2026, 11, 27, 22, 43, 52, 233106)
HOST = {"hostname": "vm", "os": ["Linux", "Linux-6"], "python_version": "3.11.7", "cpu": "x"}
BAD_BUCKET = "Your chosen bucket name doesn't follow AWS bucket naming rules"
MD5 = "c301a405d6d4bf4376f03ec35b063214"  # of the source file (the observer computes it)


@pytest.fixture(autouse=True)
def aws_env(monkeypatch, tmp_path):
    """Fake credentials, a fixed region and no endpoint from the environment."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    for var in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def s3_url():
    return service_url("SACRED_TEST_S3_URL")


@pytest.fixture
def bucket():
    return f"sacred-test-{uuid.uuid4().hex[:16]}"


def client(url):
    import boto3

    return boto3.client("s3", endpoint_url=url, region_name="eu-central-1")


def get(url, bucket, key):
    return client(url).get_object(Bucket=bucket, Key=key)["Body"].read()


def get_json(url, bucket, key):
    return json.loads(get(url, bucket, key))


def keys(url, bucket):
    pages = client(url).get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", ()))


@pytest.fixture
def source_file(tmp_path):
    path = tmp_path / "demo.py"
    path.write_text("print('demo')\n")
    return path


def ex_info(source_file):
    return {
        "name": "demo",
        "base_dir": str(source_file.parent),
        "sources": [("demo.py", "2ab5bcea5c41a7a1c6c0b1b59d8f4ccd")],
        "dependencies": ["numpy==2.4.6"],
        "repositories": [],
        "mainfile": "demo.py",
    }


def start(obs, source_file, _id=None, config=None):
    return obs.started_event(
        ex_info=ex_info(source_file),
        command="main",
        host_info=HOST,
        start_time=T0,
        config=config or {"a": 1, "seed": 7},
        meta_info={"comment": "c"},
        _id=_id,
    )


def md5_of(path):
    import hashlib

    return hashlib.md5(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------- construction
@pytest.mark.parametrize(
    "name", ["ab", "a" * 64, "Upper-case", "-start", "end-", "a..b", "a_b", "192.168.5.4"]
)
def test_bad_bucket_names_are_rejected_with_the_original_message(name):
    with pytest.raises(ValueError) as e:
        S3Observer(name, "dir", region="eu-west-1")
    assert str(e.value) == BAD_BUCKET


@pytest.mark.parametrize("name", ["abc", "a" * 63, "my.bucket-1", "1-2-3"])
def test_good_bucket_names_are_accepted(name):
    obs = S3Observer(name, "dir", region="eu-west-1")
    assert (obs.bucket, obs.basedir, obs.priority) == (name, "dir", DEFAULT_S3_PRIORITY)
    assert obs.resource_dir == "dir/_resources"
    assert obs.source_dir == "dir/_sources"


def test_region_comes_from_the_aws_configuration_or_is_required(monkeypatch):
    assert S3Observer("abc", "d").region == "eu-central-1"
    assert S3Observer("abc", "d", region="us-west-2").region == "us-west-2"
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    with pytest.raises(ValueError, match="region name"):
        S3Observer("abc", "d")


def test_endpoint_from_argument_or_environment(monkeypatch):
    assert S3Observer("abc", "d").endpoint_url is None
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    assert S3Observer("abc", "d").endpoint_url == "http://127.0.0.1:1"
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:2")
    assert S3Observer("abc", "d").endpoint_url == "http://127.0.0.1:2"
    assert S3Observer("abc", "d", endpoint_url="http://h:3").endpoint_url == "http://h:3"


def test_equality_compares_bucket_and_basedir():
    assert S3Observer("abc", "d", region="x") == S3Observer("abc", "d", region="y")
    assert S3Observer("abc", "d", region="x") != S3Observer("abc", "e", region="x")
    assert S3Observer("abc", "d", region="x") != S3Observer("abd", "d", region="x")


def test_importing_the_module_does_not_import_boto3():
    code = "import sacred.observers.s3_observer, sys; print('boto3' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr


# ---------------------------------------------------------------- events, read back
def test_started_event_creates_bucket_and_writes_the_file_storage_layout(
    s3_url, bucket, source_file
):
    obs = S3Observer(bucket, "runs/exp", endpoint_url=s3_url)
    assert start(obs, source_file) == 1
    md5 = md5_of(source_file)
    assert keys(s3_url, bucket) == [
        "runs/exp/1/config.json",
        "runs/exp/1/cout.txt",
        "runs/exp/1/run.json",
        f"runs/exp/_sources/demo_{md5}.py",
    ]
    run = get_json(s3_url, bucket, "runs/exp/1/run.json")
    assert run == {
        "experiment": dict(ex_info(source_file), sources=[["demo.py", f"_sources/demo_{md5}.py"]]),
        "command": "main",
        "host": HOST,
        "start_time": "2026-11-27T22:43:50.227301",
        "meta": {"comment": "c"},
        "status": "RUNNING",
        "resources": [],
        "artifacts": [],
        "heartbeat": None,
    }
    text = get(s3_url, bucket, "runs/exp/1/config.json").decode()
    assert text == '{\n  "a": 1,\n  "seed": 7\n}'
    assert get(s3_url, bucket, "runs/exp/1/cout.txt") == b""
    assert get(s3_url, bucket, f"runs/exp/_sources/demo_{md5}.py") == b"print('demo')\n"
    head = client(s3_url).head_object(Bucket=bucket, Key="runs/exp/1/run.json")
    assert head["ContentType"] == "text/json"


def test_ids_count_up_and_given_ids_must_be_new(s3_url, bucket, source_file):
    assert start(S3Observer(bucket, "exp", endpoint_url=s3_url), source_file) == 1
    assert start(S3Observer(bucket, "exp", endpoint_url=s3_url), source_file) == 2
    assert start(S3Observer(bucket, "exp", endpoint_url=s3_url), source_file, _id="x7") == "x7"
    assert start(S3Observer(bucket, "exp", endpoint_url=s3_url), source_file) == 3
    with pytest.raises(FileExistsError) as e:
        start(S3Observer(bucket, "exp", endpoint_url=s3_url), source_file, _id="x7")
    assert str(e.value) == "S3 dir at exp/x7 already exists"
    # another basedir in the same bucket counts on its own
    assert start(S3Observer(bucket, "other", endpoint_url=s3_url), source_file) == 1


def test_concurrent_starts_get_distinct_ids(s3_url, bucket, source_file):
    start(S3Observer(bucket, "exp", endpoint_url=s3_url), source_file)  # bucket exists
    ids, barrier = [], threading.Barrier(8)

    def one():
        obs = S3Observer(bucket, "exp", endpoint_url=s3_url)
        barrier.wait()
        ids.append(start(obs, source_file))

    threads = [threading.Thread(target=one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(ids) == list(range(2, 10))


def test_heartbeats_metrics_artifacts_resources_and_completion(
    s3_url, bucket, source_file, tmp_path
):
    obs = S3Observer(bucket, "exp", endpoint_url=s3_url)
    start(obs, source_file)
    obs.log_metrics({}, {})
    obs.heartbeat_event(info={}, captured_out="line 1\n", beat_time=T1, result=None)
    assert get_json(s3_url, bucket, "exp/1/metrics.json") == {}
    assert "exp/1/info.json" not in keys(s3_url, bucket)  # only written when non-empty

    metric = {"steps": [0, 1], "values": [0.5, 0.25], "timestamps": [T1, T2], "name": "loss"}
    obs.log_metrics({"loss": metric}, {})
    obs.log_metrics({"loss": dict(metric, steps=[2], values=[0.125], timestamps=[T2])}, {})
    obs.heartbeat_event(info={"k": [1, 2]}, captured_out="line 1\nline 2\n", beat_time=T2, result=3)
    # the whole output, not only the part since the last heartbeat
    assert get(s3_url, bucket, "exp/1/cout.txt") == b"line 1\nline 2\n"
    assert get_json(s3_url, bucket, "exp/1/info.json") == {"k": [1, 2]}
    assert get_json(s3_url, bucket, "exp/1/metrics.json") == {
        "loss": {
            "steps": [0, 1, 2],
            "values": [0.5, 0.25, 0.125],
            "timestamps": [
                "2026-11-27T22:43:51.231358",
                "2026-11-27T22:43:52.233106",
                "2026-11-27T22:43:52.233106",
            ],
        }
    }

    resource = tmp_path / "data.csv"
    resource.write_text("1,2\n")
    obs.resource_event(filename=str(resource))
    obs.resource_event(filename=str(resource))  # not duplicated
    artifact = tmp_path / "model.bin"
    artifact.write_bytes(b"\x00weights")
    obs.artifact_event(name="model.bin", filename=str(artifact), content_type="x/model")
    obs.completed_event(stop_time=T2, result=42)

    run = get_json(s3_url, bucket, "exp/1/run.json")
    resource_key = f"exp/_resources/data_{md5_of(resource)}.csv"
    assert run["resources"] == [[str(resource), resource_key]]
    assert run["artifacts"] == ["model.bin"]
    assert (run["status"], run["result"], run["stop_time"]) == (
        "COMPLETED",
        42,
        "2026-11-27T22:43:52.233106",
    )
    assert run["heartbeat"] == "2026-11-27T22:43:52.233106"
    assert get(s3_url, bucket, resource_key) == b"1,2\n"
    assert get(s3_url, bucket, "exp/1/model.bin") == b"\x00weights"
    head = client(s3_url).head_object(Bucket=bucket, Key="exp/1/model.bin")
    assert head["ContentType"] == "x/model"


def test_failed_and_interrupted_runs(s3_url, bucket, source_file):
    obs = S3Observer(bucket, "exp", endpoint_url=s3_url)
    start(obs, source_file)
    obs.failed_event(fail_time=T2, fail_trace=["Traceback\n", "ValueError: x\n"])
    run = get_json(s3_url, bucket, "exp/1/run.json")
    assert (run["status"], run["fail_trace"]) == ("FAILED", ["Traceback\n", "ValueError: x\n"])
    start(obs, source_file)
    obs.interrupted_event(interrupt_time=T2, status="TIMEOUT")
    run = get_json(s3_url, bucket, "exp/2/run.json")
    assert (run["status"], run["stop_time"]) == ("TIMEOUT", "2026-11-27T22:43:52.233106")


def test_queued_runs_are_stored(s3_url, bucket, source_file):
    """Sacred 0.8.7 raises NotImplementedError here; like the newest upstream Sacred, this
    S3Observer stores a QUEUED run (see "Beyond the original" in docs/observers.md)."""
    obs = S3Observer(bucket, "exp", endpoint_url=s3_url)
    run_id = obs.queued_event(
        ex_info=ex_info(source_file),
        command="main",
        host_info=HOST,
        queue_time=T0,
        config={"a": 1, "seed": 7},
        meta_info={"comment": "", "queue_time": T0.isoformat()},
        _id=None,
    )
    assert run_id == 1
    run = get_json(s3_url, bucket, "exp/1/run.json")
    assert run["status"] == "QUEUED" and "start_time" not in run
    assert (run["command"], run["host"]) == ("main", HOST)
    assert run["meta"] == {"comment": "", "queue_time": T0.isoformat()}
    assert run["experiment"]["sources"] == [["demo.py", "_sources/demo_" + MD5 + ".py"]]
    assert get_json(s3_url, bucket, "exp/1/config.json") == {"a": 1, "seed": 7}
    assert get(s3_url, bucket, "exp/_sources/demo_" + MD5 + ".py") == b"print('demo')\n"
    assert keys(s3_url, bucket) == [
        "exp/1/config.json",
        "exp/1/run.json",
        "exp/_sources/demo_" + MD5 + ".py",
    ]


def test_unreachable_server_does_not_fail_the_start_and_journals_the_run(
    bucket, source_file, tmp_path, caplog
):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here
    obs = S3Observer(
        bucket, "exp", endpoint_url=f"http://127.0.0.1:{port}", failure_dir=str(tmp_path)
    )
    with caplog.at_level(logging.WARNING):
        assert start(obs, source_file) is None  # no id: the store did not get the run
    assert f"S3Observer could not reach the bucket '{bucket}' at http://127.0.0.1:{port}" in (
        caplog.text
    )
    (path,) = tmp_path.glob("*.jsonl")
    assert f"sacred sync {path}" in caplog.text
    assert json.loads(path.read_text().splitlines()[0])["event"] == "started_event"


# ---------------------------------------------------------------- whole experiments
def make_experiment(tmp_path, body=None):
    from sacred import Experiment

    ex = Experiment("s3demo", base_dir=str(tmp_path))

    @ex.config
    def cfg():
        n = 3  # noqa: F841

    @ex.main
    def main(n, _run):
        for i in range(n):
            print(f"step {i}")
            _run.log_scalar("loss", 1.0 / (i + 1), i)
        if body is not None:
            body(_run)
        path = tmp_path / "out.txt"
        path.write_text("result file")
        _run.add_artifact(str(path), "out.txt")
        return n * 2

    return ex


def test_experiment_run_is_stored_and_read_back(s3_url, bucket, tmp_path):
    ex = make_experiment(tmp_path)
    ex.observers.append(S3Observer(bucket, "my/runs", endpoint_url=s3_url))
    run = ex.run(config_updates={"n": 4}, options={"--capture": "sys"})
    assert run.result == 8 and run._id == 1
    stored = get_json(s3_url, bucket, "my/runs/1/run.json")
    assert stored["status"] == "COMPLETED" and stored["result"] == 8
    assert stored["experiment"]["name"] == "s3demo"
    assert stored["artifacts"] == ["out.txt"]
    assert get_json(s3_url, bucket, "my/runs/1/config.json") == {"n": 4, "seed": run.config["seed"]}
    cout = get(s3_url, bucket, "my/runs/1/cout.txt").decode()
    assert cout == "step 0\nstep 1\nstep 2\nstep 3\n"
    metrics = get_json(s3_url, bucket, "my/runs/1/metrics.json")
    assert metrics["loss"]["steps"] == [0, 1, 2, 3]
    assert metrics["loss"]["values"] == [1.0, 0.5, 1 / 3, 0.25]
    assert get(s3_url, bucket, "my/runs/1/out.txt") == b"result file"


def test_command_line_option_with_endpoint_from_environment(s3_url, bucket, tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_url)
    ex = make_experiment(tmp_path)
    argv = ["demo.py", "-C", "sys", "-S", f"s3://{bucket}/cli/exp", "with", "n=1"]
    run = ex.run_commandline(argv)
    assert run.result == 2
    assert get_json(s3_url, bucket, "cli/exp/1/run.json")["meta"]["options"]["--s3"] == (
        f"s3://{bucket}/cli/exp"
    )
    assert get(s3_url, bucket, "cli/exp/1/cout.txt") == b"step 0\n"


# ---------------------------------------------------------------- server lost mid-run
def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto(port):
    exe = os.path.join(os.path.dirname(sys.executable), "moto_server")
    proc = subprocess.Popen(
        [exe, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("moto_server did not start")


def stop_moto(proc):
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def private_moto():
    service_url("SACRED_TEST_S3_URL")  # moto must be installed where the services run
    procs = []

    def start_server(port=None):
        port = port or free_port()
        procs.append(start_moto(port))
        return procs[-1], f"http://127.0.0.1:{port}"

    yield start_server
    for proc in procs:
        if proc.poll() is None:
            stop_moto(proc)


def test_server_stopped_mid_run_keeps_the_run_alive_and_nothing_is_lost(
    private_moto, bucket, tmp_path, caplog
):
    server, url = private_moto()
    fallback_dir = tmp_path / "fallback"
    obs = S3Observer(bucket, "exp", endpoint_url=url, failure_dir=str(fallback_dir))
    obs.FINAL_RETRY_SECONDS = 0.5
    obs.RETRY_INTERVAL = 0.1
    artifact = tmp_path / "late.bin"

    def outage(_run):
        stop_moto(server)  # the S3 server goes away in the middle of the run
        print("after the outage")
        _run.log_scalar("loss", 0.01, 99)
        artifact.write_bytes(b"made while S3 was down")
        _run.add_artifact(str(artifact))
        time.sleep(0.3)  # heartbeats while the server is away

    ex = make_experiment(tmp_path, body=outage)
    ex.observers.append(obs)
    with caplog.at_level(logging.WARNING):
        run = ex.run(options={"--beat-interval": "0.1", "--capture": "sys"})
    assert run.status == "COMPLETED" and run.result == 6  # the run did not fail
    artifact.unlink()  # the original is gone: the fallback keeps its own copy

    files = sorted(fallback_dir.glob("*.jsonl"))
    assert len(files) == 1 and files[0].name.startswith("sacred_s3_fallback_1_")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(f"sacred sync {files[0]}" in w for w in warnings), warnings

    # the record itself: the whole run as events, ending with the completion
    records = [json.loads(line) for line in files[0].read_text().splitlines()]
    # (in the order of the events, each with its number)
    assert [r["event"] for r in records] == [
        "started_event",
        "artifact_event",
        "log_metrics",
        "artifact_event",
        "heartbeat_event",
        "completed_event",
    ]
    assert [r["seq"] for r in records] == sorted(r["seq"] for r in records)
    assert records[0]["kwargs"]["_id"] == 1 and records[0]["run"] == 1
    assert records[0]["kwargs"]["config"]["n"] == 3
    by_event = {r["event"]: r for r in records}
    artifacts = [r["kwargs"]["name"] for r in records if r["event"] == "artifact_event"]
    assert artifacts == ["late.bin", "out.txt"]
    assert by_event["heartbeat_event"]["kwargs"]["captured_out"] == (
        "step 0\nstep 1\nstep 2\nafter the outage\n"
    )
    assert by_event["log_metrics"]["kwargs"]["metrics_by_name"]["loss"]["steps"] == [0, 1, 2, 99]
    assert by_event["completed_event"]["kwargs"]["result"] == 6

    # replay into a fresh server (moto lost everything when it stopped)
    _, new_url = private_moto()
    target = S3Observer(bucket, "exp", endpoint_url=new_url, failure_dir=str(fallback_dir))
    assert replay_fallback(str(files[0]), target) == 1
    stored = get_json(new_url, bucket, "exp/1/run.json")
    assert stored["status"] == "COMPLETED" and stored["result"] == 6
    assert stored["artifacts"] == ["late.bin", "out.txt"]
    assert stored["start_time"] == run.start_time.isoformat()
    assert stored["stop_time"] == run.stop_time.isoformat()
    assert get(new_url, bucket, "exp/1/cout.txt").decode() == (
        "step 0\nstep 1\nstep 2\nafter the outage\n"
    )
    metrics = get_json(new_url, bucket, "exp/1/metrics.json")
    assert metrics["loss"]["steps"] == [0, 1, 2, 99]
    assert metrics["loss"]["values"] == [1.0, 0.5, 1 / 3, 0.01]
    assert get(new_url, bucket, "exp/1/late.bin") == b"made while S3 was down"
    assert get(new_url, bucket, "exp/1/out.txt") == b"result file"
    assert get_json(new_url, bucket, "exp/1/config.json")["n"] == 3
    source_keys = [k for k in keys(new_url, bucket) if k.startswith("exp/_sources/")]
    assert len(source_keys) == len(stored["experiment"]["sources"]) >= 1


def test_server_back_before_the_end_gets_everything_and_the_record_is_removed(
    private_moto, bucket, tmp_path, caplog
):
    port = free_port()
    state = {}
    state["server"], url = private_moto(port)
    fallback_dir = tmp_path / "fallback"
    obs = S3Observer(bucket, "exp", endpoint_url=url, failure_dir=str(fallback_dir))
    obs.RETRY_INTERVAL = 0.05

    def outage(_run):
        stop_moto(state["server"])
        print("while away")
        time.sleep(0.3)  # heartbeats fail: the record is written
        state["record"] = sorted(fallback_dir.glob("*.jsonl"))
        private_moto(port)  # back (empty, as moto keeps nothing)
        client(url).create_bucket(
            Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"}
        )

    ex = make_experiment(tmp_path, body=outage)
    ex.observers.append(obs)
    with caplog.at_level(logging.WARNING):
        run = ex.run(options={"--beat-interval": "0.1", "--capture": "sys"})
    assert run.status == "COMPLETED"
    [record] = state["record"]
    assert not record.exists() and list(fallback_dir.glob("*.jsonl")) == []
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(f"uploaded everything; removed {record}" in w for w in warnings), warnings
    stored = get_json(url, bucket, "exp/1/run.json")
    assert stored["status"] == "COMPLETED" and stored["result"] == 6
    assert get(url, bucket, "exp/1/cout.txt") == b"step 0\nstep 1\nstep 2\nwhile away\n"
    assert get_json(url, bucket, "exp/1/metrics.json")["loss"]["steps"] == [0, 1, 2]
    assert get(url, bucket, "exp/1/out.txt") == b"result file"


def test_missing_boto3_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "boto3", None)  # makes "import boto3" fail
    with pytest.raises(ImportError, match=r'pip install "sacred\[s3\]"'):
        S3Observer("abc", "d", region="eu-west-1")
