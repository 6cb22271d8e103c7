"""What the Slack and Telegram observers share: the run summary their texts are made from.

The texts are ``str.format`` templates over ``observer.run``: ``_id``, ``config``,
``start_time``, ``experiment`` (the ex_info dict), ``command``, ``host_info``, and at the end
``stop_time``, ``elapsed_time`` (in words), ``result``, ``status`` (interrupted) or
``fail_trace`` and ``error`` (its last line, failed). A text set to None skips that message.
"""

from sacred.observers.base import RunObserver, td_format


def import_requests(observer_name: str, extra: str):
    """``requests``, or an ImportError that names the extra to install."""
    try:
        import requests
    except ImportError as e:
        raise ImportError(
            f'The {observer_name} needs the "requests" package: pip install "sacred[{extra}]"'
        ) from e
    return requests


def skip_null_texts(observer, d, text_keys):
    """In a config file a text given as null (None) switches that message off."""
    for key in text_keys:
        if key in d and d[key] is None:
            setattr(observer, key, None)
    return observer


class _RunNotifier(RunObserver):
    """Keeps the run summary and sends the end-of-run texts through ``self._send``.

    Subclasses set ``completed_text``, ``interrupted_text`` and ``failed_text`` and define
    ``_send(event, make_text, silent)``; ``make_text()`` returns the formatted text.
    """

    run = None

    def continued_event(self, ex_info, command, host_info, start_time, config, meta_info, _id):
        # a queued or resumed run starting: announced like any start
        self.started_event(ex_info, command, host_info, start_time, config, meta_info, _id)
        return _id

    def started_event(self, ex_info, command, host_info, start_time, config, meta_info, _id):
        self.run = {
            "_id": _id,
            "config": config,
            "start_time": start_time,
            "experiment": ex_info,
            "command": command,
            "host_info": host_info,
        }

    def get_completed_text(self) -> str:
        return self.completed_text.format(**self.run)

    def get_interrupted_text(self) -> str:
        return self.interrupted_text.format(**self.run)

    def get_failed_text(self) -> str:
        return self.failed_text.format(**self.run)

    def completed_event(self, stop_time, result):
        if self.completed_text is None:
            return
        self.run["result"] = result
        self._stopped(stop_time)
        self._send("completed", self.get_completed_text, silent=self._silent_completion())

    def interrupted_event(self, interrupt_time, status):
        if self.interrupted_text is None:
            return
        self.run["status"] = status
        self._stopped(interrupt_time)
        self._send("interrupted", self.get_interrupted_text, silent=False)

    def failed_event(self, fail_time, fail_trace):
        if self.failed_text is None:
            return
        self.run["fail_trace"] = fail_trace
        self.run["error"] = fail_trace[-1].strip()
        self._stopped(fail_time)
        self._send("failed", self.get_failed_text, silent=False)

    def _silent_completion(self) -> bool:
        return False

    def _stopped(self, stop_time):
        self.run["stop_time"] = stop_time
        self.run["elapsed_time"] = td_format(stop_time - self.run["start_time"])

    def _send(self, event, make_text, silent):
        raise NotImplementedError
