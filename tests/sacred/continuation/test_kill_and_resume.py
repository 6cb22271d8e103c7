"""A run killed with -9, then resumed to COMPLETED under the same id, on every store kind
that another process can reach (mongomock lives in one process only): contiguous metric
steps and both output segments."""

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest

from sacred.store import open_store
from tests.sacred.store import conftest as stores

SCRIPT = """
import os, time
from sacred import Experiment, SETTINGS
from sacred.store.location import open_observer

SETTINGS.DEFAULT_BEAT_INTERVAL = 0.2
ex = Experiment("killable")
ex.observers.append(open_observer(os.environ["STORE"]))

@ex.config
def cfg():
    steps = 40

@ex.automain
def main(_run, steps):
    last = _run.last_step("loss")
    start = 0 if last is None else last + 1
    print(f"segment from step {start}", flush=True)
    for i in range(start, steps):
        _run.log_scalar("loss", 1.0 / (i + 1), i)
        time.sleep(0.05)
    return steps
"""


def _location(kind, tmp_path, env):
    if kind == "file":
        return str(tmp_path / "runs")
    if kind == "tinydb":
        return f"tinydb://{tmp_path / 'tinydb'}"
    if kind == "sqlite":
        return stores._sqlite_url(tmp_path)
    if kind == "postgresql":
        return stores._postgres_url(tmp_path)
    from tests.services import service_url

    bucket = f"sacred-kill-{uuid.uuid4().hex[:12]}"
    if kind == "s3":
        env.update(stores._TEST_AWS, AWS_ENDPOINT_URL=service_url("SACRED_TEST_S3_URL"))
        env["AWS_DEFAULT_REGION"] = "us-east-1"
        stores._s3_client().create_bucket(Bucket=bucket)
        return f"s3://{bucket}/runs"
    env["STORAGE_EMULATOR_HOST"] = service_url("SACRED_TEST_GCS_URL")
    stores._gcs_client().create_bucket(bucket)
    return f"gs://{bucket}/runs"


@pytest.fixture(params=sorted(k for k in stores.STORE_KINDS if k != "mongomock"))
def kind(request):
    return request.param


@pytest.mark.slow
def test_a_run_killed_with_minus_9_resumes_to_completed_under_its_id(kind, tmp_path):
    env = dict(os.environ)
    location = _location(kind, tmp_path, env)
    env["STORE"] = location
    (tmp_path / "exp.py").write_text(SCRIPT)
    proc = subprocess.Popen(
        [sys.executable, "exp.py"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    reader_env = {k: env[k] for k in env if k.startswith(("AWS_", "STORAGE_EMULATOR"))}
    saved = dict(os.environ)
    os.environ.update(reader_env)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                ids = open_store(location).find_ids()
                loss = open_store(location).metrics(ids[0]).get("loss") if ids else None
            except Exception:  # noqa: BLE001 (not created yet)
                loss = None
            if loss and len(loss["steps"]) >= 5:
                break
            time.sleep(0.1)
        else:
            pytest.fail("the run never got going")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        (run_id,) = open_store(location).find_ids()

        resumed = subprocess.run(
            [sys.executable, "-m", "sacred.store.cli", "resume", location, str(run_id), "--force"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert resumed.returncode == 0, resumed.stderr
        assert resumed.stdout.splitlines()[-1] == f"Run {run_id}: COMPLETED"
        store = open_store(location)
        assert store.find_ids() == [run_id]
        record = store.get(run_id)
        assert record["status"] == "COMPLETED" and record["result"] == 40
        assert store.metrics(run_id)["loss"]["steps"] == list(range(40))
        out = record["captured_out"]
        assert out.index("segment from step 0") < out.index("--- resumed (segment 2)")
        assert out.count("segment from step") == 2
        assert out.rindex("segment from step") > out.index("--- resumed (segment 2)")
        statuses = [s["status"] for s in record["meta"]["segments"]]
        assert statuses == ["PROBABLY_DEAD", "COMPLETED"]
    finally:
        os.environ.clear()
        os.environ.update(saved)
