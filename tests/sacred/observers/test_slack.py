"""SlackObserver against a real HTTP server on 127.0.0.1 that records what it receives."""

import json
import logging
import pickle
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sacred import Experiment
from sacred.observers import SlackObserver
from sacred.observers.slack import DEFAULT_SLACK_PRIORITY
from sacred.utils import SacredInterrupt


class RecordingServer:
    """A threaded HTTP server that records every request and answers with ``respond``.

    ``requests`` is a list of dicts ``{method, path, headers, body}``; ``respond(request)``
    returns ``(status, body_bytes)``.
    """

    def __init__(self, respond=None):
        self.requests = []
        self.respond = respond or (lambda request: (200, b"ok"))
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                request = {
                    "method": "POST",
                    "path": self.path,
                    "headers": dict(self.headers),
                    "body": self.rfile.read(length),
                }
                server.requests.append(request)
                status, body = server.respond(request)
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def json_bodies(self):
        return [json.loads(r["body"]) for r in self.requests]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = RecordingServer()
    yield s
    s.close()


def free_port():
    """A port nobody listens on (bound once, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MyInterrupt(SacredInterrupt):
    STATUS = "MY_STATUS"


def make_experiment(observer, main):
    ex = Experiment("slack_demo")

    @ex.config
    def cfg():
        answer = 42  # noqa: F841

    ex.main(main)
    ex.observers.append(observer)
    return ex


def test_completed_run_posts_the_default_message(server):
    obs = SlackObserver(server.url + "/hook")

    def main(answer):
        time.sleep(1.1)
        return answer * 2

    run = make_experiment(obs, main).run()
    assert run.status == "COMPLETED"
    assert len(server.requests) == 1
    request = server.requests[0]
    assert request["path"] == "/hook"
    assert request["headers"]["Content-type"] == "application/json"
    assert json.loads(request["body"]) == {
        "username": "sacred-bot",
        "icon_emoji": ":angel:",
        "text": ":white_check_mark: *slack_demo* completed after _1 second_ with result=`84`",
    }


def test_interrupted_run_posts_the_interrupted_message(server):
    obs = SlackObserver(server.url, bot_name="bob", icon=":robot_face:")

    def main():
        raise MyInterrupt()

    with pytest.raises(MyInterrupt):
        make_experiment(obs, main).run()
    assert server.json_bodies() == [
        {
            "username": "bob",
            "icon_emoji": ":robot_face:",
            "text": ":warning: *slack_demo* interrupted after _less than a second_",
        }
    ]
    assert obs.run["status"] == "MY_STATUS"


def test_failed_run_posts_the_last_trace_line(server):
    obs = SlackObserver(server.url)

    def main():
        raise ValueError("the data is bad")

    with pytest.raises(ValueError):
        make_experiment(obs, main).run()
    assert server.json_bodies() == [
        {
            "username": "sacred-bot",
            "icon_emoji": ":angel:",
            "text": ":x: *slack_demo* failed after _less than a second_ "
            "with `ValueError: the data is bad`",
        }
    ]
    assert obs.run["error"] == "ValueError: the data is bad"
    assert obs.run["fail_trace"][0] == "Traceback (most recent call last):\n"


def test_custom_texts_see_every_field_of_the_run(server):
    obs = SlackObserver(
        server.url,
        completed_text="{_id} {command} {config[answer]} {host_info[hostname]} {result} "
        "{elapsed_time} {start_time:%Y}<{stop_time:%Y}>",
    )

    def finish():
        return "done"

    run = make_experiment(obs, finish).run()
    year = run.start_time.year
    hostname = run.host_info["hostname"]
    assert server.json_bodies()[0]["text"] == (
        f"None finish 42 {hostname} done less than a second {year}<{year}>"
    )


def test_a_text_set_to_none_skips_that_message(server):
    obs = SlackObserver(server.url)
    obs.completed_text = None
    make_experiment(obs, lambda: 1).run()
    assert server.requests == []

    obs.failed_text = None

    def fail():
        raise RuntimeError()

    with pytest.raises(RuntimeError):
        make_experiment(obs, fail).run()
    assert server.requests == []


def test_constructor_none_means_the_default_text(server):
    obs = SlackObserver(server.url, completed_text=None, interrupted_text=None, failed_text=None)
    assert obs.completed_text.startswith(":white_check_mark: *{experiment[name]}*")
    assert obs.interrupted_text.startswith(":warning:")
    assert obs.failed_text.startswith(":x:")
    assert obs.priority == DEFAULT_SLACK_PRIORITY == 10


def test_server_error_is_logged_and_does_not_fail_the_run(caplog):
    failing = RecordingServer(respond=lambda request: (500, b"boom"))
    try:
        obs = SlackObserver(failing.url)
        with caplog.at_level(logging.WARNING, logger="slack-observer"):
            run = make_experiment(obs, lambda: 3).run()
    finally:
        failing.close()
    assert run.status == "COMPLETED"
    assert run.result == 3
    assert len(failing.requests) == 1
    records = [r for r in caplog.records if r.name == "slack-observer"]
    assert [r.getMessage() for r in records] == [
        "Slack refused the completed message: HTTP 500 boom"
    ]


def test_server_down_is_logged_and_does_not_fail_the_run(caplog):
    obs = SlackObserver(f"http://127.0.0.1:{free_port()}/hook")

    def fail():
        raise KeyError("x")

    with caplog.at_level(logging.WARNING, logger="slack-observer"):
        with pytest.raises(KeyError):  # the run's own error, not the observer's
            make_experiment(obs, fail).run()
    records = [r for r in caplog.records if r.name == "slack-observer"]
    assert len(records) == 1
    assert records[0].getMessage().startswith("failed to send the failed message to Slack: ")
    assert "Connection refused" in records[0].getMessage()


def test_from_config_json(tmp_path, server):
    path = tmp_path / "slack.json"
    path.write_text(
        json.dumps(
            {
                "webhook_url": server.url + "/services/T0/B0/XYZ",
                "bot_name": "notifier",
                "icon": ":tada:",
                "priority": 3,
                "completed_text": "{experiment[name]} gave {result}",
            }
        )
    )
    obs = SlackObserver.from_config(str(path))
    assert obs.webhook_url == server.url + "/services/T0/B0/XYZ"
    assert obs.priority == 3
    assert obs.interrupted_text.startswith(":warning:")  # not in the file: the default
    make_experiment(obs, lambda: [1, 2]).run()
    assert server.requests[0]["path"] == "/services/T0/B0/XYZ"
    assert server.json_bodies() == [
        {"username": "notifier", "icon_emoji": ":tada:", "text": "slack_demo gave [1, 2]"}
    ]


def test_from_config_yaml_null_text_switches_the_message_off(tmp_path, server):
    path = tmp_path / "slack.yaml"
    path.write_text(f"webhook_url: {server.url}\ncompleted_text: null\n")
    obs = SlackObserver.from_config(path)
    assert obs.completed_text is None
    assert obs.bot_name == "sacred-bot"
    make_experiment(obs, lambda: 1).run()
    assert server.requests == []

    def interrupted():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        make_experiment(obs, interrupted).run()
    assert [b["text"] for b in server.json_bodies()] == [
        ":warning: *slack_demo* interrupted after _less than a second_"
    ]


def test_from_config_pickle(tmp_path):
    path = tmp_path / "slack.pickle"
    path.write_bytes(pickle.dumps({"webhook_url": "http://example.invalid/x", "icon": ":a:"}))
    obs = SlackObserver.from_config(path)
    assert (obs.webhook_url, obs.icon) == ("http://example.invalid/x", ":a:")


def test_from_config_needs_the_webhook_url(tmp_path):
    path = tmp_path / "slack.json"
    path.write_text('{"bot_name": "x"}')
    with pytest.raises(ValueError) as e:
        SlackObserver.from_config(path)
    assert str(e.value) == "Slack configuration file must contain an entry for 'webhook_url'!"


def test_missing_requests_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "requests", None)
    with pytest.raises(ImportError) as e:
        SlackObserver("http://127.0.0.1:1/")
    assert str(e.value) == (
        'The SlackObserver needs the "requests" package: pip install "sacred[slack]"'
    )
