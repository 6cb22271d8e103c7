"""SlackObserver: post a message to a Slack incoming webhook when a run ends.

The texts are ``str.format`` templates filled with what the observer knows about the run:
``_id``, ``config``, ``start_time``, ``experiment`` (the ex_info dict), ``command``,
``host_info``, and at the end ``stop_time``, ``elapsed_time`` (in words), ``result``,
``status`` (interrupted) or ``fail_trace`` and ``error`` (failed). A text set to None
skips that message.

A notification is never worth a failed run: a webhook that is down or answers with an
error is only logged (to the ``slack-observer`` logger).
"""

import json
import logging

from sacred.config.config_files import load_config_file
from sacred.observers.base import RunObserver, td_format

__all__ = ("SlackObserver", "DEFAULT_SLACK_PRIORITY")

DEFAULT_SLACK_PRIORITY = 10

DEFAULT_COMPLETED_TEXT = (
    ":white_check_mark: *{experiment[name]}* completed after _{elapsed_time}_ "
    "with result=`{result}`"
)
DEFAULT_INTERRUPTED_TEXT = ":warning: *{experiment[name]}* interrupted after _{elapsed_time}_"
DEFAULT_FAILED_TEXT = ":x: *{experiment[name]}* failed after _{elapsed_time}_ with `{error}`"

logger = logging.getLogger("slack-observer")


def import_requests(observer_name: str, extra: str):
    """``requests``, or an ImportError that names the extra to install."""
    try:
        import requests
    except ImportError as e:
        raise ImportError(
            f'The {observer_name} needs the "requests" package: pip install "sacred[{extra}]"'
        ) from e
    return requests


def _or_default(text, default):
    return default if text is None else text


def skip_null_texts(observer, d, text_keys):
    """In a config file a text given as null (None) switches that message off."""
    for key in text_keys:
        if key in d and d[key] is None:
            setattr(observer, key, None)
    return observer


_TEXTS = ("completed_text", "interrupted_text", "failed_text")


class SlackObserver(RunObserver):
    """Sends a message to a Slack channel (through a webhook) when a run ends."""

    # seconds to wait for the webhook; the original waited forever
    request_timeout = 10.0

    @classmethod
    def from_config(cls, filename) -> "SlackObserver":
        """Create an observer from a config file (json, yaml, pickle) holding its arguments.

        The file needs ``webhook_url``; ``bot_name``, ``icon``, ``priority`` and the three
        texts are optional (a text given as null switches that message off).
        """
        d = load_config_file(filename)
        if "webhook_url" not in d:
            raise ValueError("Slack configuration file must contain an entry for 'webhook_url'!")
        return skip_null_texts(cls(**d), d, _TEXTS)

    def __init__(
        self,
        webhook_url: str,
        bot_name: str = "sacred-bot",
        icon: str = ":angel:",
        priority: int = DEFAULT_SLACK_PRIORITY,
        completed_text=None,
        interrupted_text=None,
        failed_text=None,
    ):
        import_requests("SlackObserver", "slack")  # fail now rather than silently at the end
        self.webhook_url = webhook_url
        self.bot_name = bot_name
        self.icon = icon
        self.priority = priority
        # None here means the default text; setting the attribute to None skips the message
        self.completed_text = _or_default(completed_text, DEFAULT_COMPLETED_TEXT)
        self.interrupted_text = _or_default(interrupted_text, DEFAULT_INTERRUPTED_TEXT)
        self.failed_text = _or_default(failed_text, DEFAULT_FAILED_TEXT)
        self.run = None

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
        self._send("completed", self.get_completed_text)

    def interrupted_event(self, interrupt_time, status):
        if self.interrupted_text is None:
            return
        self.run["status"] = status
        self._stopped(interrupt_time)
        self._send("interrupted", self.get_interrupted_text)

    def failed_event(self, fail_time, fail_trace):
        if self.failed_text is None:
            return
        self.run["fail_trace"] = fail_trace
        self.run["error"] = fail_trace[-1].strip()
        self._stopped(fail_time)
        self._send("failed", self.get_failed_text)

    def _stopped(self, stop_time):
        self.run["stop_time"] = stop_time
        self.run["elapsed_time"] = td_format(stop_time - self.run["start_time"])

    def _send(self, event, make_text):
        requests = import_requests("SlackObserver", "slack")
        try:
            data = {"username": self.bot_name, "icon_emoji": self.icon, "text": make_text()}
            response = requests.post(
                self.webhook_url,
                data=json.dumps(data),
                headers={"Content-type": "application/json", "Accept": "text/plain"},
                timeout=self.request_timeout,
            )
        except Exception as e:
            # An unreachable webhook is expected now and then; anything else (e.g. a broken
            # template) gets its traceback.
            trace = None if isinstance(e, requests.RequestException) else e
            logger.warning("failed to send the %s message to Slack: %s", event, e, exc_info=trace)
            return
        if not response.ok:
            logger.warning(
                "Slack refused the %s message: HTTP %s %s",
                event,
                response.status_code,
                response.text[:200],
            )
