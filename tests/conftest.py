"""Shared fixtures for the whole suite."""

import copy
import logging
import os
import tempfile

import pytest

from sacred.settings import SETTINGS


def pytest_configure(config):
    # Like the original test configuration: no CPU/GPU probing in host info
    # (tests then see ``cpu: None`` and ``gpus: None``).
    SETTINGS.HOST_INFO.INCLUDE_CPU_INFO = False
    SETTINGS.HOST_INFO.INCLUDE_GPU_INFO = False
    # the FileStorageObserver keeps run-id hints in the user's cache: a session's own one
    # (subprocesses inherit it), so tests neither read nor leave files in ~/.cache
    os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="sacred-test-cache-")


def _restore(target, snapshot):
    for key, value in snapshot.items():
        if isinstance(value, dict):
            _restore(target[key], value)
        else:
            target[key] = value


@pytest.fixture(autouse=True)
def _restore_settings_and_root_logger():
    """Undo changes a test made to SETTINGS or to the root logger's level."""
    snapshot = copy.deepcopy(SETTINGS.toDict())
    root = logging.getLogger()
    level = root.level
    yield
    _restore(SETTINGS, snapshot)
    root.setLevel(level)


@pytest.fixture
def recording_observer():
    """A factory for observers that record every event they get, in order.

    ``obs.events`` is a list of ``(event_name, kwargs)``; ``obs.names()`` the names only.
    """
    from sacred.observers.base import RunObserver

    class RecordingObserver(RunObserver):
        def __init__(self, run_id=None, priority=0, fail_on=()):
            self.events = []
            self.run_id = run_id
            self.priority = priority
            self.fail_on = set(fail_on)

        def _record(self, name, kwargs):
            self.events.append((name, kwargs))
            if name in self.fail_on:
                raise RuntimeError(f"{name} failed on purpose")

        def names(self):
            return [name for name, _ in self.events]

        def get(self, name):
            return [kw for n, kw in self.events if n == name]

        def queued_event(self, ex_info, command, host_info, queue_time, config, meta_info, _id):
            self._record("queued_event", dict(locals_without_self(locals())))
            return self.run_id if _id is None else None

        def started_event(self, ex_info, command, host_info, start_time, config, meta_info, _id):
            self._record("started_event", dict(locals_without_self(locals())))
            return self.run_id if _id is None else None

        def heartbeat_event(self, info, captured_out, beat_time, result):
            self._record("heartbeat_event", dict(locals_without_self(locals())))

        def completed_event(self, stop_time, result):
            self._record("completed_event", dict(locals_without_self(locals())))

        def interrupted_event(self, interrupt_time, status):
            self._record("interrupted_event", dict(locals_without_self(locals())))

        def failed_event(self, fail_time, fail_trace):
            self._record("failed_event", dict(locals_without_self(locals())))

        def resource_event(self, filename):
            self._record("resource_event", dict(locals_without_self(locals())))

        def artifact_event(self, name, filename, metadata=None, content_type=None):
            self._record("artifact_event", dict(locals_without_self(locals())))

        def log_metrics(self, metrics_by_name, info):
            self._record("log_metrics", {"metrics_by_name": metrics_by_name, "info": info})

        def join(self):
            self._record("join", {})

        def __repr__(self):
            return f"RecordingObserver({self.run_id!r})"

    return RecordingObserver


def locals_without_self(values):
    return {k: v for k, v in values.items() if k not in ("self", "__class__")}
