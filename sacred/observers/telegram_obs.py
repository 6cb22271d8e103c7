"""TelegramObserver: Telegram messages when a run starts (silently) and when it ends.

The original used python-telegram-bot; here the Bot API is called directly over HTTPS with
``requests`` (``POST {base_url}/bot<token>/sendMessage``). ``bot`` may still be any object
with a ``send_message(chat_id=, text=, disable_notification=, parse_mode=)`` method, such
as a python-telegram-bot ``Bot``.

The texts are ``str.format`` templates over the run: ``_id``, ``config``, ``start_time``,
``experiment``, ``command``, ``host_info``, and at the end ``stop_time``, ``elapsed_time``,
``result``, ``status`` or ``fail_trace``, ``error`` and ``backtrace`` (the joined trace);
the shared part is ``sacred.observers._notify``.
A text set to None skips that message. Send errors are only logged, to the
``telegram-observer`` logger: a notification never fails a run.
"""

import inspect
import logging
from urllib.parse import quote, urlsplit, urlunsplit

from sacred.config.config_files import load_config_file
from sacred.observers._notify import _RunNotifier, import_requests, skip_null_texts

__all__ = ("TelegramObserver", "DEFAULT_TELEGRAM_PRIORITY")

DEFAULT_TELEGRAM_PRIORITY = 10
DEFAULT_BASE_URL = "https://api.telegram.org"
MARKDOWN = "Markdown"

DEFAULT_STARTED_TEXT = (
    "\u267b *{experiment[name]}* started at _{start_time}_ on host `{host_info[hostname]}`"
)
DEFAULT_COMPLETED_TEXT = (
    "\u2705 *{experiment[name]}* completed after _{elapsed_time}_ with result=`{result}`"
)
DEFAULT_INTERRUPTED_TEXT = "\u26a0 *{experiment[name]}* interrupted after _{elapsed_time}_"
DEFAULT_FAILED_TEXT = (
    "\u274c *{experiment[name]}* failed after _{elapsed_time}_ with `{error}`\n\n"
    "Backtrace:\n```{backtrace}```"
)

_TEXTS = ("started_text", "completed_text", "interrupted_text", "failed_text")
_DEFAULTS = dict(
    zip(
        _TEXTS,
        (
            DEFAULT_STARTED_TEXT,
            DEFAULT_COMPLETED_TEXT,
            DEFAULT_INTERRUPTED_TEXT,
            DEFAULT_FAILED_TEXT,
        ),
    )
)

logger = logging.getLogger("telegram-observer")


class TelegramError(Exception):
    """The Bot API could not be reached or refused a message."""


def proxy_url_with_credentials(proxy_url: str, username=None, password=None) -> str:
    """``proxy_url`` with the credentials put in; only http(s) and socks5 proxies work."""
    parts = urlsplit(proxy_url)
    if parts.scheme not in ("http", "https", "socks5", "socks5h") or not parts.hostname:
        raise ValueError(
            "Proxy URL should be in format PROTOCOL://PROXY_HOST[:PROXY_PORT].\n"
            "HTTP and Socks5 are supported."
        )
    if parts.scheme.startswith("socks"):
        try:
            import socks  # noqa: F401  (PySocks, what requests needs for SOCKS)
        except ImportError as e:
            raise ImportError('A SOCKS proxy needs PySocks: pip install "requests[socks]"') from e
    if username is None and password is None:
        return proxy_url
    credentials = quote(username or "", safe="")
    if password is not None:
        credentials += ":" + quote(password, safe="")
    host = parts.netloc.rpartition("@")[2]  # credentials in the URL are replaced
    return urlunsplit(parts._replace(netloc=f"{credentials}@{host}"))


class TelegramBotClient:
    """The one Bot API method the observer needs, over plain HTTPS."""

    def __init__(
        self,
        token: str,
        base_url: str = DEFAULT_BASE_URL,
        proxy_url=None,
        username=None,
        password=None,
        timeout: float = 10.0,
    ):
        self._requests = import_requests("TelegramObserver", "telegram")
        self.token = token
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.proxies = None
        if proxy_url:
            url = proxy_url_with_credentials(proxy_url, username, password)
            self.proxies = {"http": url, "https": url}

    def send_message(self, chat_id, text, disable_notification=False, parse_mode=None, **kw):
        payload = {"chat_id": chat_id, "text": text, "disable_notification": disable_notification}
        if parse_mode is not None:
            payload["parse_mode"] = parse_mode
        payload.update(kw)
        url = f"{self.base_url}/bot{self.token}/sendMessage"
        try:
            response = self._requests.post(
                url, json=payload, timeout=self.timeout, proxies=self.proxies
            )
        except self._requests.RequestException as e:
            raise TelegramError(self._redact(str(e))) from None
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if not response.ok or not answer.get("ok", False):
            description = answer.get("description") or response.text[:200]
            raise TelegramError(f"HTTP {response.status_code}: {self._redact(description)}")
        return answer.get("result")

    def _redact(self, message: str) -> str:
        """The token is a password: keep it out of logs (it is part of every URL)."""
        return message.replace(self.token, "<token>") if self.token else message

    def __repr__(self):
        return f"TelegramBotClient(base_url={self.base_url!r})"


class TelegramObserver(_RunNotifier):
    """Sends Telegram messages about a run to one chat."""

    silent_completion = False

    @classmethod
    def from_config(cls, filename) -> "TelegramObserver":
        """Create an observer from a config file (json, yaml, pickle).

        It needs ``token`` and ``chat_id``; optional are ``proxy_url`` (http or socks5) with
        ``username`` and ``password``, ``silent_completion``, ``priority``, ``base_url`` and
        the four texts (null switches a message off).
        """
        d = load_config_file(filename)
        if "token" not in d or "chat_id" not in d:
            raise ValueError(
                "Telegram configuration file must contain entries for 'token' and 'chat_id'!"
            )
        kwargs = dict(d)
        token = kwargs.pop("token")
        return skip_null_texts(cls(token, **kwargs), d, _TEXTS)

    def __init__(
        self,
        bot,
        chat_id,
        silent_completion: bool = False,
        priority: int = DEFAULT_TELEGRAM_PRIORITY,
        **kwargs,
    ):
        """``bot`` is a bot token or an object with ``send_message``.

        Keyword arguments: the texts (``started_text``, ``completed_text``,
        ``interrupted_text``, ``failed_text``; None means the default), and, for a token,
        ``base_url`` (default https://api.telegram.org), ``proxy_url``, ``username``,
        ``password`` and ``timeout``. Other keys (e.g. ``token`` from a config file) are
        ignored.
        """
        if isinstance(bot, str):
            client_args = ("base_url", "proxy_url", "username", "password", "timeout")
            bot = TelegramBotClient(
                bot, **{k: kwargs[k] for k in client_args if kwargs.get(k) is not None}
            )
        self.bot = bot
        self.chat_id = chat_id
        self.silent_completion = silent_completion
        self.priority = priority
        for key in _TEXTS:
            text = kwargs.get(key)
            setattr(self, key, _DEFAULTS[key] if text is None else text)
        self.run = None

    def started_event(self, ex_info, command, host_info, start_time, config, meta_info, _id):
        super().started_event(ex_info, command, host_info, start_time, config, meta_info, _id)
        if self.started_text is not None:
            self._send("started", self.get_started_text, silent=True)

    def get_started_text(self) -> str:
        return self.started_text.format(**self.run)

    def get_failed_text(self) -> str:
        return self.failed_text.format(backtrace="".join(self.run["fail_trace"]), **self.run)

    def _silent_completion(self) -> bool:
        return self.silent_completion

    def _send(self, event, make_text, silent):
        try:
            text = make_text()
            try:
                self._send_message(text, silent, MARKDOWN)
            except Exception as e:
                # Names like my_experiment break Telegram's Markdown; send it plain instead
                # of losing the message.
                if "parse entities" not in str(e).lower():
                    raise
                self._send_message(text, silent, None)
        except Exception as e:
            # A refused or undeliverable message is expected now and then; anything else
            # (e.g. a broken template) gets its traceback.
            trace = None if isinstance(e, TelegramError) else e
            logger.warning(
                "failed to send %s_event message via telegram: %s", event, e, exc_info=trace
            )

    def _send_message(self, text, silent, parse_mode):
        result = self.bot.send_message(
            chat_id=self.chat_id,
            text=text,
            disable_notification=silent,
            parse_mode=parse_mode,
        )
        if inspect.isawaitable(result):  # python-telegram-bot >= 20 is async
            import asyncio

            asyncio.run(_await(result))


async def _await(awaitable):
    return await awaitable
