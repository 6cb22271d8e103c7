import datetime
import importlib
import inspect
import subprocess
import sys

import pytest

import sacred.observers
from sacred.observers.base import RunObserver, td_format


def test_observers_all_is_exactly_the_public_names():
    assert sorted(sacred.observers.__all__) == sorted(
        [
            "FileStorageObserver",
            "RunObserver",
            "MongoObserver",
            "QueuedMongoObserver",
            "SqlObserver",
            "TinyDbObserver",
            "TinyDbReader",
            "SlackObserver",
            "TelegramObserver",
            "S3Observer",
            "QueueObserver",
            "GoogleCloudStorageObserver",
        ]
    )


def test_implemented_names_resolve_to_their_modules():
    from sacred.observers import FileStorageObserver, RunObserver

    assert FileStorageObserver.__module__ == "sacred.observers.file_storage.observer"
    assert RunObserver.__module__ == "sacred.observers.base"


def test_importing_observers_pulls_no_optional_dependency():
    code = (
        "import sys, sacred.observers, sacred.observers.file_storage, sacred.observers.mongo,"
        " sacred.observers.sql, sacred.observers.tinydb_hashfs, sacred.observers.s3_observer,"
        " sacred.observers.gcs_observer\n"
        "heavy = ['pymongo', 'sqlalchemy', 'tinydb', 'hashfs', 'boto3', 'google.cloud',"
        " 'numpy', 'pandas', 'mako', 'git', 'cpuinfo']\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError):
        sacred.observers.NoSuchObserver  # noqa: B018


def test_submodules_are_attributes():
    assert sacred.observers.file_storage is importlib.import_module("sacred.observers.file_storage")


def test_run_observer_defaults():
    obs = RunObserver()
    assert RunObserver.priority == 0
    now = datetime.datetime(2020, 1, 1)
    kw = {"ex_info": {}, "command": "c", "host_info": {}, "config": {}, "meta_info": {}, "_id": 1}
    assert obs.queued_event(queue_time=now, **kw) is None
    assert obs.started_event(start_time=now, **kw) is None
    assert obs.heartbeat_event(info={}, captured_out="", beat_time=now, result=None) is None
    assert obs.completed_event(stop_time=now, result=3) is None
    assert obs.interrupted_event(interrupt_time=now, status="INTERRUPTED") is None
    assert obs.failed_event(fail_time=now, fail_trace=[]) is None
    assert obs.resource_event(filename="f") is None
    assert obs.artifact_event(name="n", filename="f") is None
    assert obs.log_metrics(metrics_by_name={}, info={}) is None
    assert obs.join() is None


@pytest.mark.parametrize(
    "method, params",
    [
        ("queued_event", "ex_info command host_info queue_time config meta_info _id"),
        ("started_event", "ex_info command host_info start_time config meta_info _id"),
        ("heartbeat_event", "info captured_out beat_time result"),
        ("completed_event", "stop_time result"),
        ("interrupted_event", "interrupt_time status"),
        ("failed_event", "fail_time fail_trace"),
        ("resource_event", "filename"),
        ("artifact_event", "name filename metadata content_type"),
        ("log_metrics", "metrics_by_name info"),
        ("join", ""),
    ],
)
def test_run_observer_signatures(method, params):
    sig = inspect.signature(getattr(RunObserver, method))
    assert list(sig.parameters) == ["self"] + params.split()
    if method == "artifact_event":
        assert sig.parameters["metadata"].default is None
        assert sig.parameters["content_type"].default is None


@pytest.mark.parametrize(
    "delta, text",
    [
        (datetime.timedelta(seconds=0.5), "less than a second"),
        (datetime.timedelta(seconds=1), "1 second"),
        (datetime.timedelta(seconds=59), "59 seconds"),
        (datetime.timedelta(seconds=60), "1 minute"),
        (datetime.timedelta(hours=1, minutes=2, seconds=3), "1 hour, 2 minutes, 3 seconds"),
        (datetime.timedelta(days=2, seconds=5), "2 days, 5 seconds"),
        (datetime.timedelta(days=400), "1 year, 1 month, 5 days"),
    ],
)
def test_td_format(delta, text):
    assert td_format(delta) == text
