"""Scalar metrics logged during a run, drained by the heartbeat.

A call to ``log_scalar_metric`` is one tuple appended to a list: it must stay
cheap (a training loop may call it millions of times). Datetimes are built only
when the heartbeat drains the measurements.

Thread safety: the main thread appends while the heartbeat thread drains.
``list.append``, slicing and ``del lst[:n]`` are each atomic, and the drain only
removes the first ``n`` items it has copied, so no measurement is ever lost.
"""

import datetime
import sys
import time
from collections import namedtuple
from operator import itemgetter

from sacred.utils import without_surrogates

__all__ = ("MetricsLogger", "ScalarMetricLogEntry", "linearize_metrics")

ScalarMetricLogEntry = namedtuple("ScalarMetricLogEntry", ["name", "step", "timestamp", "value"])

# fields of the queued (name, step, value, unix time) tuples
_get_step, _get_value, _get_time = itemgetter(1), itemgetter(2), itemgetter(3)

_EPOCH = datetime.datetime(1970, 1, 1)

if sys.version_info < (3, 12):
    # three times faster than the arithmetic below; deprecated (warns) from 3.12 on
    _to_utc_datetime = datetime.datetime.utcfromtimestamp
else:

    def _to_utc_datetime(timestamp: float, _epoch=_EPOCH, _td=datetime.timedelta):
        """A naive UTC datetime, like ``datetime.utcnow()`` at that instant."""
        return _epoch + _td(seconds=timestamp)


def _to_python_scalar(value):
    """numpy scalars become the equivalent Python value; anything else is kept."""
    numpy = sys.modules.get("numpy")  # numpy is never imported just for this
    if numpy is not None and isinstance(value, numpy.generic):
        return value.item()
    return value


class MetricsLogger:
    """Collects measurements of scalar metrics until the next heartbeat drains them."""

    def __init__(self):
        # (name, step, value, unix time) in logging order
        self._entries = []
        # the last step of each metric, for the automatic step counter
        self._metric_step_counter = {}

    def log_scalar_metric(self, metric_name, value, step=None):
        """Queue one measurement of ``metric_name``.

        The default step is the previous step of that metric + 1 (starting at 0);
        an explicit step also moves the counter.
        """
        timestamp = time.time()
        cls = value.__class__
        if cls is not float and cls is not int:
            value = _to_python_scalar(value)
        counter = self._metric_step_counter
        if step is None:
            step = counter.get(metric_name, -1) + 1
        elif step.__class__ is not int:
            step = _to_python_scalar(step)
        counter[metric_name] = step
        self._entries.append((metric_name, step, value, timestamp))

    def continue_steps(self, last_steps: dict) -> None:
        """Go on from these last steps (a resumed run): the next default step of a metric
        is its recorded last step + 1."""
        self._metric_step_counter.update(last_steps)

    def last_step(self, metric_name):
        """The last step of a metric (logged, or recorded before a resume); None if none."""
        return self._metric_step_counter.get(metric_name)

    def _take_entries(self):
        entries = self._entries
        n = len(entries)
        taken = entries[:n]
        del entries[:n]
        return taken

    def get_last_metrics(self):
        """Drain the queue: the measurements since the last call, in logging order."""
        return [
            ScalarMetricLogEntry(name, step, _to_utc_datetime(ts), value)
            for name, step, value, ts in self._take_entries()
        ]

    def drain_linearized(self):
        """Drain the queue and group it like ``linearize_metrics(get_last_metrics())``."""
        groups = {}
        for entry in self._take_entries():
            group = groups.get(entry[0])
            if group is None:
                group = groups[entry[0]] = []
            group.append(entry)
        by_name = {}
        for name, group in groups.items():
            if isinstance(name, str):
                name = without_surrogates(name)  # (a name that is not UTF-8: see there)
            series = {
                "steps": list(map(_get_step, group)),
                "values": list(map(_get_value, group)),
                "timestamps": list(map(_to_utc_datetime, map(_get_time, group))),
                "name": name,
            }
            if name in by_name:  # two such names, alike once replaced: one series
                for key in ("steps", "values", "timestamps"):
                    by_name[name][key] += series[key]
            else:
                by_name[name] = series
        return by_name


def linearize_metrics(logged_metrics):
    """Group a list of ``ScalarMetricLogEntry`` by metric name, keeping their order.

    Returns ``{name: {"steps": [...], "values": [...], "timestamps": [...], "name": name}}``.
    """
    metrics_by_name = {}
    for entry in logged_metrics:
        series = metrics_by_name.get(entry.name)
        if series is None:
            series = metrics_by_name[entry.name] = {
                "steps": [],
                "values": [],
                "timestamps": [],
                "name": entry.name,
            }
        series["steps"].append(entry.step)
        series["values"].append(entry.value)
        series["timestamps"].append(entry.timestamp)
    return metrics_by_name
