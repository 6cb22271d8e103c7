"""MetricsLogger: steps, values, timestamps, draining, grouping, threads."""

import datetime
import threading

import numpy as np
import pytest

from sacred.metrics_logger import MetricsLogger, ScalarMetricLogEntry, linearize_metrics


@pytest.fixture
def logger():
    return MetricsLogger()


def test_entry_fields():
    assert ScalarMetricLogEntry._fields == ("name", "step", "timestamp", "value")


def test_automatic_steps_per_metric_start_at_zero(logger):
    for value in (10, 20, 30):
        logger.log_scalar_metric("training.loss", value)
    logger.log_scalar_metric("training.accuracy", 0.5)
    logger.log_scalar_metric("training.loss", 40)
    entries = logger.get_last_metrics()
    assert [(e.name, e.step, e.value) for e in entries] == [
        ("training.loss", 0, 10),
        ("training.loss", 1, 20),
        ("training.loss", 2, 30),
        ("training.accuracy", 0, 0.5),
        ("training.loss", 3, 40),
    ]


def test_explicit_step_moves_the_counter(logger):
    logger.log_scalar_metric("m", 1, step=10)
    logger.log_scalar_metric("m", 2)
    logger.log_scalar_metric("m", 3, step=5)
    logger.log_scalar_metric("m", 4)
    assert [(e.step, e.value) for e in logger.get_last_metrics()] == [
        (10, 1),
        (11, 2),
        (5, 3),
        (6, 4),
    ]


def test_counter_survives_a_drain(logger):
    logger.log_scalar_metric("m", 1)
    logger.get_last_metrics()
    logger.log_scalar_metric("m", 2)
    assert [(e.step, e.value) for e in logger.get_last_metrics()] == [(1, 2)]


def test_numpy_values_and_steps_become_python_scalars(logger):
    logger.log_scalar_metric("m", np.float32(0.5), step=np.int64(3))
    logger.log_scalar_metric("m", np.int16(7))
    logger.log_scalar_metric("flag", True)
    entries = logger.get_last_metrics()
    assert [(e.step, e.value) for e in entries] == [(3, 0.5), (4, 7), (0, True)]
    assert type(entries[0].value) is float and type(entries[0].step) is int
    assert type(entries[1].value) is int
    assert type(entries[2].value) is bool


def test_timestamps_are_naive_utc_datetimes(logger):
    before = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    logger.log_scalar_metric("m", 1)
    after = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    (entry,) = logger.get_last_metrics()
    assert entry.timestamp.tzinfo is None
    slack = datetime.timedelta(milliseconds=1)
    assert before - slack <= entry.timestamp <= after + slack


def test_get_last_metrics_drains(logger):
    logger.log_scalar_metric("m", 1)
    assert len(logger.get_last_metrics()) == 1
    assert logger.get_last_metrics() == []


def test_linearize_metrics_groups_by_name_in_order():
    t = [datetime.datetime(2020, 1, 1, 0, 0, i) for i in range(4)]
    entries = [
        ScalarMetricLogEntry("a", 0, t[0], 1.0),
        ScalarMetricLogEntry("b", 5, t[1], "x"),
        ScalarMetricLogEntry("a", 1, t[2], 2.0),
        ScalarMetricLogEntry("b", 6, t[3], "y"),
    ]
    assert linearize_metrics(entries) == {
        "a": {"steps": [0, 1], "values": [1.0, 2.0], "timestamps": [t[0], t[2]], "name": "a"},
        "b": {"steps": [5, 6], "values": ["x", "y"], "timestamps": [t[1], t[3]], "name": "b"},
    }
    assert list(linearize_metrics(entries)) == ["a", "b"]
    assert linearize_metrics([]) == {}


def test_drain_linearized_equals_linearize_of_get_last_metrics():
    a, b = MetricsLogger(), MetricsLogger()
    for logger in (a, b):
        logger.log_scalar_metric("loss", 3.0)
        logger.log_scalar_metric("acc", 0.1, step=7)
        logger.log_scalar_metric("loss", 2.0)
    fast = a.drain_linearized()
    slow = linearize_metrics(b.get_last_metrics())
    assert list(fast) == ["loss", "acc"]
    for name in ("loss", "acc"):
        assert fast[name]["steps"] == slow[name]["steps"]
        assert fast[name]["values"] == slow[name]["values"]
        assert fast[name]["name"] == name
        assert all(isinstance(ts, datetime.datetime) for ts in fast[name]["timestamps"])
    assert fast["loss"]["steps"] == [0, 1] and fast["acc"]["steps"] == [7]
    assert a.drain_linearized() == {}


def test_no_point_lost_while_a_heartbeat_drains(logger):
    n = 200_000
    drained = []
    stop = threading.Event()

    def heartbeat():
        while not stop.is_set():
            drained.append(logger.drain_linearized())
        drained.append(logger.drain_linearized())

    beat = threading.Thread(target=heartbeat)
    beat.start()
    for i in range(n):
        logger.log_scalar_metric("m", i)
    stop.set()
    beat.join()
    steps = [s for batch in drained for s in batch.get("m", {}).get("steps", [])]
    values = [v for batch in drained for v in batch.get("m", {}).get("values", [])]
    assert steps == list(range(n))
    assert values == list(range(n))
    assert len([b for b in drained if b]) > 1
