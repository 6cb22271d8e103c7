"""TelegramObserver against a real HTTP server on 127.0.0.1 that plays the Bot API."""

import base64
import json
import logging
import sys

import pytest

from sacred import Experiment
from sacred.observers import TelegramObserver
from sacred.observers.telegram_obs import DEFAULT_TELEGRAM_PRIORITY
from sacred.utils import SacredInterrupt
from tests.sacred.observers.test_slack import RecordingServer, free_port

TOKEN = "123456:ABC-secret-token"


def bot_api(request):
    """Answer like the Bot API: every sendMessage succeeds."""
    return 200, json.dumps({"ok": True, "result": {"message_id": 1}}).encode()


@pytest.fixture
def server():
    s = RecordingServer(respond=bot_api)
    yield s
    s.close()


class MyInterrupt(SacredInterrupt):
    STATUS = "MY_STATUS"


def make_experiment(observer, main, name="tg_demo"):
    ex = Experiment(name)

    @ex.config
    def cfg():
        lr = 0.5  # noqa: F841

    ex.main(main)
    ex.observers.append(observer)
    return ex


def message(text, silent=False, chat_id=777):
    return {
        "chat_id": chat_id,
        "text": text,
        "disable_notification": silent,
        "parse_mode": "Markdown",
    }


def started_text(run, name="tg_demo"):
    return f"\u267b *{name}* started at _{run.start_time}_ on host `{run.host_info['hostname']}`"


def telegram_warnings(caplog):
    return [r.getMessage() for r in caplog.records if r.name == "telegram-observer"]


def test_completed_run_sends_a_silent_start_and_a_completion(server):
    obs = TelegramObserver(TOKEN, chat_id=777, base_url=server.url)

    def main(lr):
        return lr * 4

    run = make_experiment(obs, main).run()
    assert [r["path"] for r in server.requests] == [f"/bot{TOKEN}/sendMessage"] * 2
    assert server.requests[0]["headers"]["Content-Type"] == "application/json"
    assert server.json_bodies() == [
        message(started_text(run), silent=True),
        message("\u2705 *tg_demo* completed after _less than a second_ with result=`2.0`"),
    ]


def test_silent_completion(server):
    obs = TelegramObserver(TOKEN, "@channel", silent_completion=True, base_url=server.url)
    make_experiment(obs, lambda: None).run()
    assert [b["disable_notification"] for b in server.json_bodies()] == [True, True]
    assert [b["chat_id"] for b in server.json_bodies()] == ["@channel", "@channel"]


def test_interrupted_run(server):
    obs = TelegramObserver(TOKEN, 777, base_url=server.url)

    def main():
        raise MyInterrupt()

    with pytest.raises(MyInterrupt):
        make_experiment(obs, main).run()
    assert server.json_bodies()[1:] == [
        message("\u26a0 *tg_demo* interrupted after _less than a second_")
    ]
    assert obs.run["status"] == "MY_STATUS"


def test_failed_run_sends_the_error_and_the_backtrace(server):
    obs = TelegramObserver(TOKEN, 777, base_url=server.url)

    def main():
        raise ValueError("the data is bad")

    ex = make_experiment(obs, main)
    with pytest.raises(ValueError):
        ex.run()
    run = ex.current_run
    trace = "".join(run.fail_trace)
    assert trace.startswith("Traceback (most recent call last):\n")
    assert server.json_bodies()[1:] == [
        message(
            "\u274c *tg_demo* failed after _less than a second_ with "
            "`ValueError: the data is bad`\n\nBacktrace:\n```" + trace + "```"
        )
    ]


def test_a_text_set_to_none_skips_that_message(server):
    obs = TelegramObserver(TOKEN, 777, base_url=server.url)
    obs.started_text = None
    obs.completed_text = None
    make_experiment(obs, lambda: 1).run()
    assert server.requests == []


def test_custom_texts_from_keyword_arguments(server):
    obs = TelegramObserver(
        TOKEN,
        777,
        base_url=server.url,
        started_text="go {config[lr]}",
        completed_text="{command} -> {result} after {elapsed_time}",
        failed_text=None,  # None in the constructor means the default
    )
    assert obs.failed_text.startswith("\u274c *{experiment[name]}*")
    assert obs.priority == DEFAULT_TELEGRAM_PRIORITY == 10

    def train():
        return "fine"

    make_experiment(obs, train).run()
    assert [b["text"] for b in server.json_bodies()] == [
        "go 0.5",
        "train -> fine after less than a second",
    ]


def test_bot_api_error_is_logged_without_the_token_and_the_run_completes(caplog):
    def refuse(request):
        body = {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked"}
        return 403, json.dumps(body).encode()

    failing = RecordingServer(respond=refuse)
    try:
        obs = TelegramObserver(TOKEN, 777, base_url=failing.url)
        with caplog.at_level(logging.WARNING, logger="telegram-observer"):
            run = make_experiment(obs, lambda: 5).run()
    finally:
        failing.close()
    assert (run.status, run.result) == ("COMPLETED", 5)
    assert len(failing.requests) == 2
    assert telegram_warnings(caplog) == [
        "failed to send started_event message via telegram: HTTP 403: Forbidden: bot was blocked",
        "failed to send completed_event message via telegram: HTTP 403: Forbidden: bot was blocked",
    ]


def test_server_error_500_does_not_fail_the_run(caplog):
    failing = RecordingServer(respond=lambda request: (500, b"Internal Server Error"))
    try:
        obs = TelegramObserver(TOKEN, 777, base_url=failing.url)

        def main():
            raise MyInterrupt()

        with caplog.at_level(logging.WARNING, logger="telegram-observer"):
            with pytest.raises(MyInterrupt):  # the run's own interrupt, nothing else
                make_experiment(obs, main).run()
    finally:
        failing.close()
    assert telegram_warnings(caplog) == [
        "failed to send started_event message via telegram: HTTP 500: Internal Server Error",
        "failed to send interrupted_event message via telegram: HTTP 500: Internal Server Error",
    ]


def test_server_down_does_not_fail_the_run_and_hides_the_token(caplog):
    obs = TelegramObserver(TOKEN, 777, base_url=f"http://127.0.0.1:{free_port()}")
    with caplog.at_level(logging.WARNING, logger="telegram-observer"):
        run = make_experiment(obs, lambda: 1).run()
    assert run.status == "COMPLETED"
    warnings = telegram_warnings(caplog)
    assert len(warnings) == 2
    assert all("Connection refused" in w for w in warnings)
    assert all("/bot<token>/sendMessage" in w for w in warnings)
    assert TOKEN not in caplog.text


def test_markdown_the_api_cannot_parse_is_sent_as_plain_text():
    def strict(request):
        if "parse_mode" in json.loads(request["body"]):
            body = {
                "ok": False,
                "error_code": 400,
                "description": "Bad Request: can't parse entities: "
                "Can't find end of the entity starting at byte offset 7",
            }
            return 400, json.dumps(body).encode()
        return bot_api(request)

    strict_server = RecordingServer(respond=strict)
    try:
        obs = TelegramObserver(TOKEN, 777, base_url=strict_server.url)
        obs.started_text = None
        make_experiment(obs, lambda: 1, name="my_bad_name").run()
    finally:
        strict_server.close()
    text = "\u2705 *my_bad_name* completed after _less than a second_ with result=`1`"
    assert strict_server.json_bodies() == [
        message(text),
        {"chat_id": 777, "text": text, "disable_notification": False},
    ]


def test_from_config_json(tmp_path, server):
    path = tmp_path / "telegram.json"
    path.write_text(
        json.dumps(
            {
                "token": TOKEN,
                "chat_id": "-100200",
                "base_url": server.url,
                "silent_completion": True,
                "priority": 7,
                "completed_text": "done: {result}",
            }
        )
    )
    obs = TelegramObserver.from_config(str(path))
    assert (obs.chat_id, obs.silent_completion, obs.priority) == ("-100200", True, 7)
    run = make_experiment(obs, lambda: 9).run()
    assert server.json_bodies() == [
        message(started_text(run), silent=True, chat_id="-100200"),
        message("done: 9", silent=True, chat_id="-100200"),
    ]


def test_from_config_yaml_with_custom_texts_and_a_null_one(tmp_path, server):
    path = tmp_path / "telegram.yml"
    path.write_text(
        f"token: '{TOKEN}'\n"
        "chat_id: 42\n"
        f"base_url: {server.url}\n"
        "started_text: null\n"
        "failed_text: 'boom: {error}'\n"
    )
    obs = TelegramObserver.from_config(path)
    assert obs.started_text is None

    def main():
        raise OSError("disk full")

    with pytest.raises(OSError):
        make_experiment(obs, main).run()
    assert server.json_bodies() == [message("boom: OSError: disk full", chat_id=42)]


def test_from_config_needs_token_and_chat_id(tmp_path):
    path = tmp_path / "telegram.json"
    path.write_text(json.dumps({"token": TOKEN}))
    with pytest.raises(ValueError) as e:
        TelegramObserver.from_config(path)
    assert str(e.value) == (
        "Telegram configuration file must contain entries for 'token' and 'chat_id'!"
    )


def test_http_proxy_with_credentials(tmp_path):
    proxy = RecordingServer(respond=bot_api)  # plays the proxy and the API behind it
    try:
        path = tmp_path / "telegram.json"
        path.write_text(
            json.dumps(
                {
                    "token": TOKEN,
                    "chat_id": 1,
                    "base_url": "http://api.telegram.invalid",
                    "proxy_url": proxy.url,
                    "username": "alice",
                    "password": "p@ss:word",
                }
            )
        )
        obs = TelegramObserver.from_config(path)
        obs.started_text = None
        make_experiment(obs, lambda: 1).run()
    finally:
        proxy.close()
    assert len(proxy.requests) == 1
    request = proxy.requests[0]
    assert request["path"] == f"http://api.telegram.invalid/bot{TOKEN}/sendMessage"
    expected = base64.b64encode(b"alice:p@ss:word").decode()
    assert request["headers"]["Proxy-Authorization"] == f"Basic {expected}"


def test_unsupported_proxy_scheme(tmp_path):
    path = tmp_path / "telegram.json"
    path.write_text(json.dumps({"token": TOKEN, "chat_id": 1, "proxy_url": "ftp://proxy:21"}))
    with pytest.raises(ValueError) as e:
        TelegramObserver.from_config(path)
    assert str(e.value) == (
        "Proxy URL should be in format PROTOCOL://PROXY_HOST[:PROXY_PORT].\n"
        "HTTP and Socks5 are supported."
    )


class BotObject:
    """A bot given as an object, like python-telegram-bot's ``Bot``."""

    def __init__(self):
        self.calls = []

    def send_message(self, chat_id, text, disable_notification=False, parse_mode=None):
        self.calls.append((chat_id, text, disable_notification, parse_mode))


class AsyncBotObject(BotObject):
    """python-telegram-bot >= 20: ``send_message`` is a coroutine."""

    async def send_message(self, chat_id, text, disable_notification=False, parse_mode=None):
        self.calls.append((chat_id, text, disable_notification, parse_mode))


@pytest.mark.parametrize("bot_class", [BotObject, AsyncBotObject])
def test_bot_object_with_send_message(bot_class):
    bot = bot_class()
    obs = TelegramObserver(bot, 5)
    run = make_experiment(obs, lambda: "ok").run()
    assert bot.calls == [
        (5, started_text(run), True, "Markdown"),
        (
            5,
            "\u2705 *tg_demo* completed after _less than a second_ with result=`ok`",
            False,
            "Markdown",
        ),
    ]


def test_missing_requests_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "requests", None)
    with pytest.raises(ImportError) as e:
        TelegramObserver(TOKEN, 1)
    assert str(e.value) == (
        'The TelegramObserver needs the "requests" package: pip install "sacred[telegram]"'
    )
    TelegramObserver(BotObject(), 1)  # a bot object needs no requests
