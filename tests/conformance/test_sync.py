"""The backend is down at the start of a run, or goes down in its middle: the run goes on,
what the observer could not write goes to a journal, and ``sacred sync JOURNAL`` writes it
into the store once the backend is back; syncing again applies nothing twice."""

import os
import re
import time

import pymongo
import pytest

from sacred import Experiment
from sacred.store.cli import main as sacred_main
from tests.conformance.backends import QUEUE_INTERVAL, kinds
from tests.conformance.outage import Outage
from tests.sacred.store import conftest as stores

POINTS = 40
NO_JOURNAL = (
    "a folder store has no journal (docs/observers.md: the journal covers the SQL, MongoDB, "
    "S3, GCS and queued observers): a folder that cannot be written fails the run at its "
    "start, and the events after it went away are lost"
)
# A QueueObserver around a SqlObserver whose database is down from the start: the SqlObserver
# accepts the start and keeps the next events pending in memory, so the queue counts them as
# delivered and leaves them out of its journal; they reach a journal only if the final event
# reaches the SqlObserver before the queue gives up (join_timeout). Its attempts fail at once
# when the database is away (no waiting to create the tables), so here it does: the scenario
# passes. A database whose connections hang (a lost host) could still outlast join_timeout.
FROM_START = dict(file=NO_JOURNAL, tinydb=NO_JOURNAL)
MID_RUN = dict(file=NO_JOURNAL, tinydb=NO_JOURNAL)


def _experiment(tmp_path, observer, outage, mid_run):
    ex = Experiment("journaled")
    ex.add_config(lr=0.1)
    ex.observers.append(observer)
    artifact = tmp_path / "model.bin"
    resource = tmp_path / "data.csv"
    resource.write_text("a,b\n1,2\n")

    @ex.main
    def main(_run, lr):
        print("first part")
        for i in range(POINTS // 2):
            _run.log_scalar("loss", lr * i, i)
        _run.info["phase"] = "first"
        _run._emit_heartbeat()
        if mid_run:
            time.sleep(3 * QUEUE_INTERVAL)  # a queue has delivered the first part
            outage.down()
        print("second part")
        for i in range(POINTS // 2, POINTS):
            _run.log_scalar("loss", lr * i, i)
        _run.info["phase"] = "second"
        artifact.write_bytes(b"\x00weights")
        _run.add_artifact(str(artifact), "model.bin", content_type="application/octet-stream")
        _run.open_resource(str(resource))
        return {"score": 0.75}

    return ex


def _sacred_sync(capsys, *args):
    capsys.readouterr()
    code = sacred_main(["sync", *map(str, args)])
    out = capsys.readouterr()
    return code, out.out, out.err


def _services(backend, monkeypatch):
    """Let `sacred sync` open the location a journal records, as it would in life."""
    if backend.base == "mongomock":
        client = stores._mongomock_client(backend.path)

        class Opened:  # mongodb://... opens this process's mongomock database
            def __new__(cls, *args, **kwargs):
                return client

        monkeypatch.setattr(pymongo, "MongoClient", Opened)
    elif backend.base == "s3":
        from tests.services import service_url

        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", service_url("SACRED_TEST_S3_URL"))
    elif backend.base == "gcs":
        from tests.services import service_url

        monkeypatch.setenv("STORAGE_EMULATOR_HOST", service_url("SACRED_TEST_GCS_URL"))


def _check(backend, run_id=None):
    with backend.store() as store:
        (found,) = store.find_ids()
        if run_id is not None:
            assert str(found) == str(run_id)
        record = store.get(found)
        assert record["status"] == "COMPLETED"
        assert record["result"] == {"score": 0.75}
        assert record["config"]["lr"] == 0.1
        assert record["info"]["phase"] == "second"
        assert record["captured_out"] == "first part\nsecond part\n"
        loss = store.metrics(found)["loss"]
        assert loss["steps"] == list(range(POINTS))
        assert loss["values"] == [0.1 * i for i in range(POINTS)]
        assert store.artifacts(found) == ["model.bin"]
        with store.open_artifact(found, "model.bin") as f:
            assert f.read() == b"\x00weights"
        assert len(store.resources(found)) == 1


def _down_then_sync(backend, tmp_path, monkeypatch, capsys, mid_run):
    observer = backend.observer()
    outage = Outage(backend, observer, monkeypatch)
    ex = _experiment(tmp_path, observer, outage, mid_run)
    if not mid_run:
        outage.down()
    run = ex.run(options={"--capture": "sys"})
    assert run.status == "COMPLETED" and run._failed_observers == []
    journals = sorted(tmp_path.glob("sacred_*/*.jsonl"))
    assert len(journals) == 1, journals
    (path,) = journals
    outage.up()
    _services(backend, monkeypatch)

    code, out, err = _sacred_sync(capsys, path)
    assert (code, err) == (0, "")
    match = re.fullmatch(
        rf"run (\S+): (\d+) events applied, (\d+) already there \({re.escape(str(path))}\)\n", out
    )
    assert match, out
    _check(backend, None if match[1] == "None" else match[1])
    total = int(match[2]) + int(match[3])

    code, out, err = _sacred_sync(capsys, path)  # again: nothing twice
    assert (code, err) == (0, "")
    assert f": 0 events applied, {total} already there" in out
    _check(backend)
    os.remove(path)


@pytest.mark.parametrize("kind", kinds(**FROM_START))
def test_backend_down_from_the_start_then_sacred_sync(backend, tmp_path, monkeypatch, capsys):
    _down_then_sync(backend, tmp_path, monkeypatch, capsys, mid_run=False)


@pytest.mark.parametrize("kind", kinds(**MID_RUN))
def test_backend_down_mid_run_then_sacred_sync(backend, tmp_path, monkeypatch, capsys):
    _down_then_sync(backend, tmp_path, monkeypatch, capsys, mid_run=True)
