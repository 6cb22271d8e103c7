"""The observer interface: ``RunObserver`` and the ``td_format`` helper."""

import datetime

from sacred.utils import SacredError

__all__ = ("RunObserver", "td_format", "CannotContinueError")


class CannotContinueError(SacredError):
    """An observer cannot continue an existing record (see ``RunObserver.continued_event``)."""

    def __init__(self, message):
        super().__init__(message, print_traceback=False)

    @classmethod
    def of(cls, observer, _id) -> "CannotContinueError":
        return cls(
            f"The observer {type(observer).__name__} cannot continue the existing run {_id!r} "
            "(it has no continued_event): remove it, or run a new run instead"
        )


class RunObserver:
    """Base class of all observers: every event is a no-op, subclasses override what they need.

    A ``Run`` calls these methods with keyword arguments. ``started_event`` (and
    ``queued_event``) return the run id; the first observer to return one decides it.
    """

    priority = 0

    def queued_event(self, ex_info, command, host_info, queue_time, config, meta_info, _id):
        pass

    def started_event(self, ex_info, command, host_info, start_time, config, meta_info, _id):
        pass

    def continued_event(self, ex_info, command, host_info, start_time, config, meta_info, _id):
        """The run continues the record ``_id`` this observer already holds: a QUEUED run a
        worker claimed, or a stopped run resumed (``sacred.continuation``).

        The record becomes RUNNING again; its captured output, metrics, artifacts, resources
        and info are kept (new output, points and files are added to them). The heartbeats
        that follow carry the whole output, old text first. Without such a record, this
        is a ``started_event`` with that id. Returns ``_id``.

        Observers that cannot do this raise ``CannotContinueError`` (the default), so that a
        run never silently starts a second record.
        """
        raise CannotContinueError.of(self, _id)

    def heartbeat_event(self, info, captured_out, beat_time, result):
        pass

    def final_heartbeat_event(self, info, captured_out, beat_time, result):
        """The run's last beat, which its final event (completed, interrupted or failed)
        follows at once: an observer may write the two together (the SqlObserver does, in
        one transaction). By default, a heartbeat like the others."""
        self.heartbeat_event(
            info=info, captured_out=captured_out, beat_time=beat_time, result=result
        )

    def completed_event(self, stop_time, result):
        pass

    def interrupted_event(self, interrupt_time, status):
        pass

    def failed_event(self, fail_time, fail_trace):
        pass

    def resource_event(self, filename):
        pass

    def artifact_event(self, name, filename, metadata=None, content_type=None):
        pass

    def log_metrics(self, metrics_by_name, info):
        pass

    def join(self):
        pass


_PERIODS = (
    ("year", 60 * 60 * 24 * 365),
    ("month", 60 * 60 * 24 * 30),
    ("day", 60 * 60 * 24),
    ("hour", 60 * 60),
    ("minute", 60),
    ("second", 1),
)


def td_format(td_object: datetime.timedelta) -> str:
    """Describe a duration in words, e.g. ``"1 hour, 2 minutes, 3 seconds"``."""
    seconds = int(td_object.total_seconds())
    if seconds <= 0:
        return "less than a second"
    parts = []
    for name, length in _PERIODS:
        if seconds >= length:
            value, seconds = divmod(seconds, length)
            parts.append(f"{value} {name}" if value == 1 else f"{value} {name}s")
    return ", ".join(parts)
