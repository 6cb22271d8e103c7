"""SlackObserver: post a message to a Slack incoming webhook when a run ends.

The texts are ``str.format`` templates filled with what the observer knows about the run
(see ``sacred.observers._notify``). A text set to None skips that message.

A notification is never worth a failed run: a webhook that is down or answers with an
error is only logged (to the ``slack-observer`` logger).
"""

import json
import logging

from sacred.config.config_files import load_config_file
from sacred.observers._notify import _RunNotifier, import_requests, skip_null_texts

__all__ = ("SlackObserver", "DEFAULT_SLACK_PRIORITY")

DEFAULT_SLACK_PRIORITY = 10

DEFAULT_COMPLETED_TEXT = (
    ":white_check_mark: *{experiment[name]}* completed after _{elapsed_time}_ "
    "with result=`{result}`"
)
DEFAULT_INTERRUPTED_TEXT = ":warning: *{experiment[name]}* interrupted after _{elapsed_time}_"
DEFAULT_FAILED_TEXT = ":x: *{experiment[name]}* failed after _{elapsed_time}_ with `{error}`"

logger = logging.getLogger("slack-observer")


def _or_default(text, default):
    return default if text is None else text


_TEXTS = ("completed_text", "interrupted_text", "failed_text")


class SlackObserver(_RunNotifier):
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

    def _send(self, event, make_text, silent=False):  # Slack webhooks have no silent posts
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
